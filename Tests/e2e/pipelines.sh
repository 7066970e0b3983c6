#!/usr/bin/env bash
# End to end: pipelines on a real `starbloom serve`, driven with curl and the real CLI.
# Proves: PUT /v1/pipelines/NAME creates a running pipeline (201) listed by the API and the CLI;
# records published through the REST API come out filtered and reshaped, exactly once; a record that
# is not JSON goes to dlq.pipeline.NAME with starbloom-error and starbloom-source; a window pipeline
# emits its result, then a correction (revision 1, previous result in a header) after a revert, puts
# the corrected result in its kv output and the difference in its series output, and sends a late
# event to its late topic; validation errors are 422 problem+json naming the position or the key; a
# second PUT with changed steps is 200 and keeps the input offsets; `pipelines apply FILE` and
# `pipelines delete NAME` work; a processor step calls a plugin instance, and waits (dead-lettering
# nothing) while its instance is missing; non-admin keys get 403; after a SIGKILL the pipelines come
# back with their window state and no output is repeated. See docs/PIPELINES.md.
source "$(dirname "$0")/lib/common.sh"
API="http://127.0.0.1:$PORT"
status() { curl -s -o /dev/null -w '%{http_code}' "$@"; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
sb() { "$BIN" "$@" --admin-url "$API"; }
wait_for() { # wait_for seconds command...
    local deadline=$((SECONDS + $1)); shift
    until "$@"; do [ $SECONDS -ge $deadline ] && return 1; sleep 0.2; done
}
# The payloads of a topic's partition 0, one per line (nothing when the topic does not exist yet).
payloads() { curl -s "$API/v1/topics/$1/records?limit=1000" | json "'\n'.join(r['payload'] for r in d['records'])"; }
# One header of the record at an offset.
header() { curl -s "$API/v1/topics/$1/records?from=$2&limit=1" | json "d['records'][0]['headers'].get('$3', '')"; }
# wait_payloads seconds topic expected: polls until the topic holds exactly `expected`; shows both if it never does.
wait_payloads() {
    local topic="$2" expected="$3" deadline=$((SECONDS + $1))
    while [ $SECONDS -lt $deadline ]; do [ "$(payloads "$topic")" = "$expected" ] && return 0; sleep 0.2; done
    echo "     expected in $topic:"; sed 's/^/       /' <<<"$expected"
    echo "     found:"; payloads "$topic" | sed 's/^/       /'
    return 1
}
pipeline_field() { curl -s "$API/v1/pipelines/$1" | json "d$2"; }
# problem URL-args...: "CODE problem: DETAIL" when the answer is problem+json, else "CODE other: BODY".
problem() {
    local out; out="$(curl -s -D "$WORK/headers" "$@")"
    local code; code="$(awk 'NR==1{print $2}' "$WORK/headers")"
    if grep -qi '^content-type: application/problem+json' "$WORK/headers"; then
        echo "$code problem: $(json "d['detail']" <<<"$out")"
    else
        echo "$code other: $out"
    fi
}

cd "$WORK"
mkdir plugins
cat > starbloom.toml <<TOML
data_dir = "$WORK/data"
plugins_dir = "$WORK/plugins"
[admin]
port = $PORT
[[instances]]            # a processor without inputs: it serves pipeline steps only
name = "stamp"
plugin = "swift-stamp"
TOML
start_server() {
    "$BIN" serve --config starbloom.toml --log-level warning >> "$WORK/serve.log" 2>&1 &
    SERVER_PID=$!
    disown "$SERVER_PID" 2>/dev/null # no "Killed" line when cleanup ends it
    for _ in $(seq 1 100); do command curl -s "$API/healthz" >/dev/null && break; sleep 0.2; done
}
start_server
KEY="$(cat "$WORK/data/admin.key")"
curl() { command curl -H "Authorization: Bearer $KEY" "$@"; }
export STARBLOOM_API_KEY="$KEY" # for the CLI

# --- a filter + map pipeline over the REST API ---
orders='{
  "inputs": ["orders.in"],
  "checkpoint_interval_ms": 50,
  "steps": [
    {"type": "filter", "where": "amount > 100 and user != \"test\""},
    {"type": "map", "drop": ["secret"], "rename": {"id": "order_id"}, "set": {"double": "amount * 2", "who": "upper(user)"}}
  ],
  "outputs": [{"topic": "orders.out"}]
}'
check "PUT /v1/pipelines/orders creates it (201)" equals "$(status -X PUT -H 'content-type: application/json' -d "$orders" "$API/v1/pipelines/orders")" 201
check "GET /v1/pipelines lists it" equals "$(curl -s "$API/v1/pipelines" | json "[p['name'] for p in d['pipelines']]")" "['orders']"
check "GET /v1/pipelines/orders shows the definition as given" equals "$(pipeline_field orders "['definition']['steps'][0]['where']")" 'amount > 100 and user != "test"'
is_running() { [ "$(pipeline_field "$1" "['status']['state']")" = running ]; }
check "the pipeline is running" wait_for 10 is_running orders
check "starbloom pipelines list shows it running" contains "$(sb pipelines list)" "^orders  running"

curl -s -o /dev/null -X POST -d '{"records": [
  {"key": "o1", "payload": "{\"id\":1,\"user\":\"ann\",\"amount\":\"250\",\"secret\":\"s\"}"},
  {"key": "o2", "payload": "{\"id\":2,\"user\":\"bob\",\"amount\":50,\"secret\":\"s\"}"},
  {"key": "o3", "payload": "{\"id\":3,\"user\":\"test\",\"amount\":500,\"secret\":\"s\"}"},
  {"key": "o4", "payload": "{\"id\":4,\"user\":\"cy\",\"amount\":1000000000000000000000,\"secret\":\"s\"}"},
  {"key": "o5", "payload": "not json"}]}' "$API/v1/topics/orders.in/records"
expected_orders='{"order_id":1,"user":"ann","amount":"250","double":500,"who":"ANN"}
{"order_id":4,"user":"cy","amount":1000000000000000000000,"double":"2000000000000000000000","who":"CY"}'
check "orders.out holds exactly the filtered, reshaped records (uint256 exact)" wait_payloads 10 orders.out "$expected_orders"
check "outputs keep the input's key" equals "$(curl -s "$API/v1/topics/orders.out/records" | json "[r['key'] for r in d['records']]")" "['o1', 'o4']"
check "outputs carry the starbloom-pipeline header" equals "$(header orders.out 0 starbloom-pipeline)" orders
check "the non-JSON record is in dlq.pipeline.orders" wait_payloads 10 dlq.pipeline.orders "not json"
check "...with starbloom-error naming the step and the cause" contains "$(header dlq.pipeline.orders 0 starbloom-error)" "^step 0 (filter): payload is not a JSON object"
check "...and starbloom-source naming topic/partition/offset" equals "$(header dlq.pipeline.orders 0 starbloom-source)" "orders.in/0/4"
counters() { [ "$(pipeline_field orders "['status']" | python3 -c "import ast,sys; s=ast.literal_eval(sys.stdin.read()); print(s['processed'], s['emitted'], s['dead_lettered'])")" = "5 2 1" ]; }
check "status counts processed=5 emitted=2 dead_lettered=1" wait_for 10 counters

# --- windows: result, revert → correction, kv and series outputs, late topic ---
trades='{
  "inputs": ["trades.in"],
  "checkpoint_interval_ms": 50,
  "steps": [{"type": "window", "kind": "tumbling", "size": "10s", "time_field": "ts", "time_unit": "s",
             "group_by": ["token"], "aggregates": {"transfers": "count", "volume": "sum(amount)"}}],
  "outputs": [{"topic": "trades.out"}, {"kv": "trades", "key": "token"},
              {"series": "trades", "values": ["volume"], "tags": ["token"]}]
}'
check "PUT /v1/pipelines/trades (window) is 201" equals "$(status -X PUT -d "$trades" "$API/v1/pipelines/trades")" 201
curl -s -o /dev/null -X POST -d '{"records": [
  {"payload": "{\"ts\":1,\"token\":\"USDC\",\"amount\":\"1000000000000000000000\"}"},
  {"payload": "{\"ts\":2,\"token\":\"USDC\",\"amount\":\"2\"}"},
  {"payload": "{\"ts\":25,\"token\":\"USDC\",\"amount\":\"1\"}"},
  {"payload": "{\"ts\":2,\"token\":\"USDC\",\"amount\":\"2\"}", "headers": {"starbloom-revert": "1"}},
  {"payload": "{\"ts\":3,\"token\":\"USDC\",\"amount\":\"5\"}"}]}' "$API/v1/topics/trades.in/records"
result0='{"token":"USDC","window_start":0,"window_end":10,"transfers":2,"volume":"1000000000000000000002","revision":0}'
result1='{"token":"USDC","window_start":0,"window_end":10,"transfers":1,"volume":"1000000000000000000000","revision":1}'
check "the window result, then its correction after the revert" wait_payloads 10 trades.out "$result0
$result1"
check "results are keyed by their group value" equals "$(curl -s "$API/v1/topics/trades.out/records" | json "[r['key'] for r in d['records']]")" "['USDC', 'USDC']"
check "the result has starbloom-revision 0" equals "$(header trades.out 0 starbloom-revision)" 0
check "the correction has starbloom-revision 1" equals "$(header trades.out 1 starbloom-revision)" 1
check "the correction carries the result it replaces" equals "$(header trades.out 1 starbloom-previous-result)" "$result0"
check "the kv output holds the corrected result" equals "$(curl -s "$API/v1/kv/trades/USDC")" "$result1"
series_sum() { curl -s "$API/v1/series/trades.volume?from=0&to=60000000000&step=10000000000&agg=sum" | json "d['results'][0]['buckets'][0]['value'] == 1e21"; }
check "the series output sums to the corrected volume (the correction wrote the difference)" equals "$(series_sum)" True
check "the event after the watermark went to late.pipeline.trades" wait_payloads 10 late.pipeline.trades '{"ts":3,"token":"USDC","amount":"5"}'
check "...with the reason in starbloom-error" contains "$(header late.pipeline.trades 0 starbloom-error)" "^late: 1 of its window(s) already closed"

# --- processor steps (bundled swift-stamp plugin) ---
check "PUT a pipeline with a processor step is 201" equals \
    "$(status -X PUT -d '{"inputs": ["stamp.in"], "checkpoint_interval_ms": 50, "steps": [{"type": "processor", "instance": "stamp"}], "outputs": [{"topic": "stamp.out"}]}' "$API/v1/pipelines/stamped")" 201
curl -s -o /dev/null -X POST -d '{"record": {"payload": "{\"a\":1}"}}' "$API/v1/topics/stamp.in/records"
check "records pass through the processor instance" wait_payloads 10 stamp.out '{"a":1}'
check "...which stamped them" equals "$(header stamp.out 0 stamped-by)" stamp
check "PUT naming a missing instance is 201 (instances are looked up while running)" equals \
    "$(status -X PUT -d '{"inputs": ["ghost.in"], "steps": [{"type": "processor", "instance": "ghost"}], "outputs": [{"topic": "ghost.out"}]}' "$API/v1/pipelines/ghost")" 201
curl -s -o /dev/null -X POST -d '{"record": {"payload": "{\"a\":1}"}}' "$API/v1/topics/ghost.in/records"
waits_for_ghost() { [ "$(pipeline_field ghost "['status'].get('last_error', '')")" = "no instance named 'ghost' (processor instances: stamp); the pipeline waits until it exists" ]; }
check "...it waits, saying why in last_error" wait_for 10 waits_for_ghost
check "...and dead-letters nothing" equals "$(pipeline_field ghost "['status']['dead_lettered']"):$(payloads dlq.pipeline.ghost)" "0:"
check "an invalid instance name is 422 problem" contains \
    "$(problem -X PUT -d '{"inputs": ["a"], "steps": [{"type": "processor", "instance": "Bad Name"}], "outputs": [{"topic": "b"}]}' "$API/v1/pipelines/x")" "^422 problem: .*not a valid instance name"
curl -s -o /dev/null -X DELETE "$API/v1/pipelines/stamped"
curl -s -o /dev/null -X DELETE "$API/v1/pipelines/ghost"

# --- validation ---
bad_expression='{"name": "v", "inputs": ["a"], "steps": [{"type": "filter", "where": "amount >> 3"}], "outputs": [{"topic": "b"}]}'
check "validate: a bad expression is 422 problem naming the position" equals \
    "$(problem -X POST -d "$bad_expression" "$API/v1/pipelines/validate")" \
    "422 problem: pipeline 'v': steps[0] (filter): where \"amount >> 3\": at 9: expected a value after '>', found '>'"
check "validate: a good definition is valid and changes nothing" equals \
    "$(curl -s -X POST -d '{"name": "v", "inputs": ["a"], "outputs": [{"topic": "b"}]}' "$API/v1/pipelines/validate" | json "(d['valid'], d['name'])")" "(True, 'v')"
check "validate created nothing" equals "$(status "$API/v1/pipelines/v")" 404
check "PUT with an unknown key is 422 problem naming it" equals \
    "$(problem -X PUT -d '{"inputs": ["a"], "outputs": [{"topic": "b"}], "colour": "red"}' "$API/v1/pipelines/x")" \
    "422 problem: pipeline 'x': unknown key 'colour'"
check "PUT with an unknown step key is 422 problem naming the step" equals \
    "$(problem -X PUT -d '{"inputs": ["a"], "steps": [{"type": "map", "set": {"y": "x"}, "sett": {}}], "outputs": [{"topic": "b"}]}' "$API/v1/pipelines/x")" \
    "422 problem: pipeline 'x': steps[0] (map): unknown key 'sett'"
check "PUT with no outputs is 422 problem" contains "$(problem -X PUT -d '{"inputs": ["a"]}' "$API/v1/pipelines/x")" "^422 problem: pipeline 'x': 'outputs' must name"
check "PUT with a body naming another pipeline is 422 problem" contains \
    "$(problem -X PUT -d '{"name": "y", "inputs": ["a"], "outputs": [{"topic": "b"}]}' "$API/v1/pipelines/x")" "^422 problem: .*make it match the path"
check "PUT with an invalid name is 400 problem" contains "$(problem -X PUT -d '{"inputs": ["a"], "outputs": [{"topic": "b"}]}' "$API/v1/pipelines/a.b")" "^400 problem"
check "nothing was created by the refused PUTs" equals "$(status "$API/v1/pipelines/x")" 404

# --- runtime change: new steps, same offsets ---
orders_v2='{"inputs": ["orders.in"], "checkpoint_interval_ms": 50,
  "steps": [{"type": "map", "select": ["id", "amount"], "set": {"v": "2"}}], "outputs": [{"topic": "orders.out"}]}'
check "a second PUT with changed steps is 200" equals "$(status -X PUT -d "$orders_v2" "$API/v1/pipelines/orders")" 200
check "GET shows the new definition" equals "$(pipeline_field orders "['definition']['steps'][0]['type']")" map
curl -s -o /dev/null -X POST -d '{"record": {"payload": "{\"id\":6,\"user\":\"dee\",\"amount\":\"7\"}"}}' "$API/v1/topics/orders.in/records"
check "only the new record goes through the new steps (offsets kept, nothing re-read)" wait_payloads 10 orders.out "$expected_orders
{\"id\":6,\"amount\":\"7\",\"v\":2}"

# --- the CLI: validate, apply, show, delete ---
cat > pipes.toml <<'TOML'
[[pipelines]]
name = "from-file"
inputs = ["file.in"]
steps = [ { type = "filter", where = "ok == true" } ]
outputs = [ { topic = "file.out" } ]
TOML
cat > bad.toml <<'TOML'
[[pipelines]]
name = "bad"
inputs = ["file.in"]
steps = [ { type = "filter", where = "ok = true" } ]
outputs = [ { topic = "file.out" } ]
TOML
check "pipelines validate FILE accepts a good file" equals "$(sb pipelines validate pipes.toml)" "from-file: valid"
check "pipelines validate FILE refuses a bad expression, naming the position" bash -c "out=\$('$BIN' pipelines validate bad.toml --admin-url '$API' 2>&1); [ \$? -ne 0 ] && grep -q 'at 4: unexpected' <<<\"\$out\""
check "pipelines apply FILE applies it" equals "$(sb pipelines apply pipes.toml)" "applied from-file"
check "the applied pipeline is there (GET 200)" equals "$(status "$API/v1/pipelines/from-file")" 200
curl -s -o /dev/null -X POST -d '{"records": [{"payload": "{\"ok\":true,\"n\":1}"}, {"payload": "{\"ok\":false,\"n\":2}"}]}' "$API/v1/topics/file.in/records"
check "...and runs" wait_payloads 10 file.out '{"ok":true,"n":1}'
check "pipelines show prints its definition" equals "$(sb pipelines show from-file | json "d['definition']['name']")" from-file
check "pipelines delete NAME deletes it" equals "$(sb pipelines delete from-file)" "deleted from-file"
check "...it is gone (GET 404 problem)" contains "$(problem "$API/v1/pipelines/from-file")" "^404 problem: pipeline 'from-file' does not exist"
check "...and no longer listed" equals "$(curl -s "$API/v1/pipelines" | json "[p['name'] for p in d['pipelines']]")" "['orders', 'trades']"
check "deleting it again exits non-zero" bash -c "! '$BIN' pipelines delete from-file --admin-url '$API' 2>/dev/null"

# --- roles ---
reader="$("$BIN" keys create pipeline-reader --role reader --admin-url "$API" 2>/dev/null)"
writer="$("$BIN" keys create pipeline-writer --role writer --admin-url "$API" 2>/dev/null)"
as() { local key="$1"; shift; command curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $key" "$@"; }
check "a reader key gets 403 on GET /v1/pipelines" equals "$(as "$reader" "$API/v1/pipelines")" 403
check "a reader key gets 403 on validate" equals "$(as "$reader" -X POST -d "$orders" "$API/v1/pipelines/validate")" 403
check "a writer key gets 403 on PUT" equals "$(as "$writer" -X PUT -d "$orders" "$API/v1/pipelines/w")" 403
check "a writer key gets 403 on DELETE" equals "$(as "$writer" -X DELETE "$API/v1/pipelines/orders")" 403
check "the CLI with a reader key exits non-zero" bash -c "! STARBLOOM_API_KEY='$reader' '$BIN' pipelines list --admin-url '$API' 2>/dev/null"
check "no key is 401" equals "$(command curl -s -o /dev/null -w '%{http_code}' "$API/v1/pipelines")" 401

# --- SIGKILL and restart: definitions, window state and outputs survive, nothing is repeated ---
kill -9 "$SERVER_PID"
gone() { ! kill -0 "$SERVER_PID" 2>/dev/null; }
wait_for 10 gone
start_server
check "after SIGKILL and restart both API-made pipelines are back" equals "$(curl -s "$API/v1/pipelines" | json "[p['name'] for p in d['pipelines']]")" "['orders', 'trades']"
check "...running" wait_for 10 is_running trades
curl -s -o /dev/null -X POST -d '{"record": {"payload": "{\"ts\":40,\"token\":\"USDC\",\"amount\":\"9\"}"}}' "$API/v1/topics/trades.in/records"
check "the window open before the kill closes with its event (state restored from the checkpoint)" wait_payloads 10 trades.out "$result0
$result1
{\"token\":\"USDC\",\"window_start\":20,\"window_end\":30,\"transfers\":1,\"volume\":\"1\",\"revision\":0}"
curl -s -o /dev/null -X POST -d '{"record": {"payload": "{\"id\":7,\"amount\":1}"}}' "$API/v1/topics/orders.in/records"
check "orders continues from its offsets: one new output, none repeated" wait_payloads 10 orders.out "$expected_orders
{\"id\":6,\"amount\":\"7\",\"v\":2}
{\"id\":7,\"amount\":1,\"v\":2}"
sleep 0.5
check "...and still exactly those after a pause" equals "$(payloads orders.out | wc -l)" 4
check "the dead-letter topic was not repeated either" equals "$(payloads dlq.pipeline.orders)" "not json"

# --- DELETE over the API ---
check "DELETE /v1/pipelines/trades is 204" equals "$(status -X DELETE "$API/v1/pipelines/trades")" 204
check "GET after DELETE is 404" equals "$(status "$API/v1/pipelines/trades")" 404
check "DELETE again is 404 problem" contains "$(problem -X DELETE "$API/v1/pipelines/trades")" "^404 problem"

check "the server is still alive" equals "$(status "$API/healthz")" 200
echo "$checks checks, $failures failed"
[ "$failures" -eq 0 ]
