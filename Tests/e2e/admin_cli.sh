#!/usr/bin/env bash
# End to end: a real `starbloom serve` driven by the real CLI and curl.
# Proves: bundled plugins load and run; plugins list/info/enable/disable/restart/validate/call/rescan
# work with clear errors and non-zero exits on bad input; a C plugin built with one cc line is
# discovered by rescan and runs; a garbage .so is refused while the host keeps running; metrics are
# exposed; SIGTERM stops the host cleanly.
source "$(dirname "$0")/lib/common.sh"
ADMIN="http://127.0.0.1:$PORT"
sb() { "$BIN" "$@" --admin-url "$ADMIN"; }
wait_for() { # wait_for seconds command...
    local deadline=$((SECONDS + $1)); shift
    until "$@"; do [ $SECONDS -ge $deadline ] && return 1; sleep 0.2; done
}
record_count() { curl -s "$ADMIN/v1/topics" | python3 -c "import json,sys; t={x['name']:x['published'] for x in json.load(sys.stdin)}; print(t.get('$1',0))"; }
has_records() { [ "$(record_count "$1")" -gt "${2:-0}" ]; }
state_of() { curl -s "$ADMIN/v1/instances/$1" | python3 -c "import json,sys; print(json.load(sys.stdin)['status']['state'])"; }
is_state() { [ "$(state_of "$1")" = "$2" ]; }

cd "$WORK"
mkdir plugins
cat > starbloom.toml <<TOML
data_dir = "$WORK/data"
plugins_dir = "$WORK/plugins"
[admin]
port = $PORT
[host]
rescan_interval_ms = 0   # this script rescans explicitly; automatic rescans would race its checks
[[instances]]
name = "e2e-source"
plugin = "synthetic-source"
restart = { policy = "on-failure", backoff_min_ms = 50, max_restarts = 3 }
[instances.settings]
topic = "e2e.events"
rate = 200
payload_size = 64
[[instances]]
name = "e2e-stamp"
plugin = "swift-stamp"
inputs = ["e2e.*"]
output = "stamped.e2e"
TOML

"$BIN" serve --log-level warning >"$WORK/serve.log" 2>&1 &
SERVER_PID=$!
check "admin API comes up" wait_for 30 curl -sf "$ADMIN/healthz" -o /dev/null
# The first start created an admin key in data/admin.key (the CLI run from here reads it itself).
check "the first start wrote an admin key readable only by its owner" [ "$(stat -c %a "$WORK/data/admin.key")" = 600 ]
KEY="$(cat "$WORK/data/admin.key")"
curl() { command curl -H "Authorization: Bearer $KEY" "$@"; }
check "the key was printed once on stderr" contains "$(cat "$WORK/serve.log")" "$KEY"
check "a route without a key is 401" [ "$(command curl -s -o /dev/null -w '%{http_code}' "$ADMIN/v1/instances")" = 401 ]

out="$(sb plugins list)"
check "plugins list shows both bundled plugins" contains "$out" "synthetic-source"
check "plugins list shows the Swift plugin" contains "$out" "swift-stamp"
check "source instance is running" wait_for 10 is_state e2e-source running
check "records flow through the Swift processor" wait_for 10 has_records stamped.e2e 5
check "stamped records carry the stamp header" contains "$(curl -s "$ADMIN/v1/topics/stamped.e2e/records?limit=1")" '"stamped-by":"e2e-stamp"'

out="$(sb plugins info synthetic-source)"
check "plugins info shows typed settings" contains "$out" "payload_size"
check "plugins info shows commands" contains "$out" "set-rate RATE:int"
out="$(sb plugins call e2e-source status)"
check "plugins call runs a command through libffi" contains "$out" "seq="
out="$(sb plugins call e2e-source set-rate fast 2>&1)"; code=$?
check "a bad command argument exits non-zero" [ $code -ne 0 ]
check "a bad command argument names the parameter" contains "$out" "argument 'rate' must be an integer"
out="$(sb plugins call e2e-source set-rate 2>&1)"; code=$?
check "a missing command argument is refused" contains "$out" "takes 1 argument(s), got 0"

out="$(sb plugins disable e2e-source)"
check "disable stops the instance" contains "$out" "e2e-source: stopped"
before="$(record_count e2e.events)"; sleep 0.5
check "a disabled source publishes nothing" [ "$(record_count e2e.events)" = "$before" ]
out="$(sb plugins enable e2e-source)"
check "enable starts it again" contains "$out" "e2e-source: running"
check "records continue after enable" wait_for 10 has_records e2e.events "$before"
out="$(sb plugins restart e2e-stamp)"
check "restart brings the processor back to running" contains "$out" "e2e-stamp: running"

out="$(sb plugins validate synthetic-source rate=fast 2>&1)"; code=$?
check "validate rejects a wrong type, naming the field" contains "$out" "setting 'rate' must be an integer"
check "validate exits non-zero on invalid settings" [ $code -ne 0 ]
out="$(sb plugins validate synthetic-source rait=5 2>&1)"
check "validate rejects an unknown key" contains "$out" "setting 'rait' is unknown"
check "validate accepts good settings" contains "$(sb plugins validate synthetic-source rate=5 topic=a.b)" "valid"
out="$(sb plugins enable no-such-instance 2>&1)"; code=$?
check "an unknown instance is a one-line error with non-zero exit" [ $code -ne 0 ]
check "the error names the instance" contains "$out" "instance 'no-such-instance' does not exist"

# A third-party plugin: one cc line against the header alone, dropped in, discovered by rescan.
cc -std=c99 -shared -fPIC -O2 -fvisibility=hidden -I "$ROOT/SDK/include" "$ROOT/SDK/examples/minimal_source.c" -o plugins/libexample_source.so
printf 'not an elf file' > plugins/libgarbage.so
out="$(sb plugins rescan)"
check "rescan discovers a newly dropped C plugin" contains "$out" "loaded: example-source"
check "rescan refuses a non-ELF file with a reason" contains "$out" "is not an ELF shared library"
code=$(curl -s -o "$WORK/create.json" -w '%{http_code}' -X POST "$ADMIN/v1/instances" -H 'content-type: application/json' \
    -d '{"name":"third-party","plugin":"example-source","settings":{"topic":"tp.counter","interval_ms":20}}')
check "an instance of the new plugin is created at runtime" [ "$code" = "201" ]
check "the third-party plugin publishes" wait_for 10 has_records tp.counter 2
code=$(curl -s -o "$WORK/bad.json" -w '%{http_code}' -X POST "$ADMIN/v1/instances" -H 'content-type: application/json' \
    -d '{"name":"bad-one","plugin":"example-source","settings":{"interval_ms":"soon"}}')
check "creating an instance with bad settings is 422" [ "$code" = "422" ]
check "the 422 is a problem document naming the field" contains "$(cat "$WORK/bad.json")" "setting 'interval_ms' must be an integer"

code=$(curl -s -o "$WORK/p.json" -w '%{http_code}' "$ADMIN/v1/topics/e2e.events/records?partition=abc")
check "a malformed partition is a 400 problem" [ "$code" = "400" ]
check "the 400 names the parameter" contains "$(cat "$WORK/p.json")" "query parameter 'partition'"
code=$(curl -s -o "$WORK/o.json" -w '%{http_code}' "$ADMIN/v1/topics/e2e.events/records?from=999999999")
check "an offset past the end is a 400 problem" [ "$code" = "400" ]
check "the 400 says the offset is beyond the end" contains "$(cat "$WORK/o.json")" "beyond the end"
code=$(curl -s -o "$WORK/t.json" -w '%{http_code}' "$ADMIN/v1/topics/bad%20topic/records")
check "an invalid topic name is a 400 problem" [ "$code" = "400" ]

metrics="$(curl -s "$ADMIN/metrics")"
check "metrics expose per-instance counters" contains "$metrics" 'starbloom_instance_records_out_total{instance="e2e-source",plugin="synthetic-source"}'
check "metrics expose instance state" contains "$metrics" 'starbloom_instance_state{instance="third-party",plugin="example-source",state="running"} 1'
check "metrics expose plugin-registered metrics" contains "$metrics" "starbloom_plugin_synthetic_source_records_generated"
check "metrics expose the key-value cache" contains "$metrics" "starbloom_cache_hits_total"
check "version names the ABI" contains "$("$BIN" version)" "plugin ABI 1.1"
"$BIN" plugins frobnicate >/dev/null 2>&1; code=$?
check "an unknown subcommand exits non-zero" [ $code -ne 0 ]

kill -TERM "$SERVER_PID"
stopped() { ! kill -0 "$SERVER_PID" 2>/dev/null; }
check "SIGTERM stops the host within 15 s" wait_for 15 stopped
SERVER_PID=""

echo "admin_cli: $((checks - failures)) passed, $failures failed"
if [ "$failures" -ne 0 ]; then echo "--- serve.log"; tail -50 "$WORK/serve.log"; exit 1; fi
