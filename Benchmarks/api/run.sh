#!/usr/bin/env bash
# API benchmark (issue 5): wrk -t2 -c64 against a small key-value GET and a small topic read on a
# release `starbloom serve`, next to nginx serving a static response on the same machine, same run.
# Prints Markdown. Needs: a release build (scripts/bench builds it); installs wrk and nginx (apt).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=.build/release/starbloom
missing=()
for pkg in wrk nginx; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 && apt-get install -y -qq "${missing[@]}" >&2
fi
WORK="$(mktemp -d /var/tmp/starbloom-api-bench.XXXXXX)"
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
API_PORT="$(free_port)"; NGINX_PORT="$(free_port)"
SERVER_PID=""
cleanup() {
    [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null
    [ -f "$WORK/nginx.pid" ] && kill "$(cat "$WORK/nginx.pid")" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

cat > "$WORK/nginx.conf" <<NGINX
worker_processes 2;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 1024; }
http {
    access_log off;
    server {
        listen 127.0.0.1:$NGINX_PORT;
        location / { default_type application/json; return 200 '{"status":"ok"}'; }
    }
}
NGINX
nginx -c "$WORK/nginx.conf"

mkdir "$WORK/plugins"
start_server() { # a fresh `starbloom serve` on an empty data directory
    rm -rf "$WORK/data"
    cat > "$WORK/starbloom.toml" <<TOML
data_dir = "$WORK/data"
plugins_dir = "$WORK/plugins"
[admin]
port = $API_PORT
max_connections = 4096
TOML
    "$BIN" serve --config "$WORK/starbloom.toml" --log-level error >"$WORK/serve.out" 2>"$WORK/serve.log" &
    SERVER_PID=$!
    for _ in $(seq 1 100); do curl -s "http://127.0.0.1:$API_PORT/healthz" >/dev/null && break; sleep 0.1; done
}
stop_server() {
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
}
start_server
KEY="$(cat "$WORK/data/admin.key")"
# A key without a practical rate limit: the benchmark measures the server, not the limiter's refusals.
BENCH_KEY="$(STARBLOOM_API_KEY="$KEY" "$BIN" keys create bench --role reader --rate 10000000 --burst 10000000 --admin-url "http://127.0.0.1:$API_PORT" 2>/dev/null)"
curl -s -o /dev/null -X PUT -H "Authorization: Bearer $KEY" --data-binary '{"balance":"1000000000000000000"}' "http://127.0.0.1:$API_PORT/v1/kv/bench/alice"
curl -s -o /dev/null -X POST -H "Authorization: Bearer $KEY" \
    -d '{"records": [{"payload": "{\"n\":1}"}, {"payload": "{\"n\":2}"}, {"payload": "{\"n\":3}"}, {"payload": "{\"n\":4}"}, {"payload": "{\"n\":5}"}]}' \
    "http://127.0.0.1:$API_PORT/v1/topics/bench.events/records"

run() { # run URL [header]: prints requests/s
    local out
    out="$(wrk -t2 -c64 -d"${WRK_SECONDS:-10}"s ${2:+-H "$2"} "$1")"
    if grep -q "Non-2xx" <<<"$out"; then echo "non-2xx answers from $1" >&2; grep "Non-2xx" <<<"$out" >&2; fi
    awk '/Requests\/sec/ {print $2}' <<<"$out"
}
nginx_rps="$(run "http://127.0.0.1:$NGINX_PORT/")"
kv_rps="$(run "http://127.0.0.1:$API_PORT/v1/kv/bench/alice" "Authorization: Bearer $BENCH_KEY")"
topic_rps="$(run "http://127.0.0.1:$API_PORT/v1/topics/bench.events/records?limit=5" "Authorization: Bearer $BENCH_KEY")"
health_rps="$(run "http://127.0.0.1:$API_PORT/healthz")"
stop_server

# SSE fan-out: 1,000 subscribers (ten per topic over 100 topics), 10,000 records/s published; each
# record's delivery latency from the publisher's send to a subscriber's read (Benchmarks/api/sse_fanout.c).
# Then the same with one stalled subscriber that follows every topic and never reads.
cc -O2 -pthread -o "$WORK/sse_fanout" Benchmarks/api/sse_fanout.c
fanout() { # fanout STALLED DURABILITY: prints the client's key=value line
    start_server
    local key writer
    key="$(cat "$WORK/data/admin.key")"
    writer="$(STARBLOOM_API_KEY="$key" "$BIN" keys create fanout --role writer --rate 10000000 --burst 10000000 --admin-url "http://127.0.0.1:$API_PORT" 2>/dev/null)"
    for t in $(seq 0 99); do
        curl -s -o /dev/null -X PUT -H "Authorization: Bearer $key" -d "{\"durability\":\"$2\"}" "http://127.0.0.1:$API_PORT/v1/topics/bench.fan.$t"
    done
    local status=0
    "$WORK/sse_fanout" "$API_PORT" "$writer" "${FANOUT_SUBSCRIBERS:-1000}" 100 "${FANOUT_RATE:-10000}" "${FANOUT_SECONDS:-10}" "$1" "$SERVER_PID" || status=$?
    stop_server
    return "$status"
}
# A subscriber that missed, repeated or reordered a record fails the benchmark (exit 1).
# Topics with durability "none" measure delivery itself; "always" (the default) adds each publish's
# fsync wait, and an fsync stall delays every record scheduled behind it (latency counts from the
# scheduled send time).
fanout_live="$(fanout 0 none)" || { echo "SSE fan-out failed: $fanout_live" >&2; exit 1; }
fanout_stalled="$(fanout 1 none)" || { echo "SSE fan-out with a stalled subscriber failed: $fanout_stalled" >&2; exit 1; }
fanout_always="$(fanout 0 always)" || { echo "SSE fan-out (always) failed: $fanout_always" >&2; exit 1; }
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"; }

# The framework's floor: a bare Hummingbird server with one static route (Benchmarks/api/hello).
(cd Benchmarks/api/hello && swift build -c release >&2)
HELLO_PORT="$(free_port)"
Benchmarks/api/hello/.build/release/hello "$HELLO_PORT" 2>/dev/null &
SERVER_PID=$!
for _ in $(seq 1 100); do curl -s "http://127.0.0.1:$HELLO_PORT/healthz" >/dev/null && break; sleep 0.1; done
hello_rps="$(run "http://127.0.0.1:$HELLO_PORT/healthz")"
ratio() { python3 -c "print(f'{$1 / $2 * 100:.0f}%')"; }
echo "## HTTP API (wrk -t2 -c64, ${WRK_SECONDS:-10} s each, same run)"
echo
echo "| target | requests/s | vs. nginx |"
echo "|---|---|---|"
echo "| nginx $(nginx -v 2>&1 | sed 's/.*\///'), static 15-byte JSON (anchor) | $nginx_rps | 100% |"
echo "| GET /v1/kv/bench/alice (API key checked, cached value) | $kv_rps | $(ratio "$kv_rps" "$nginx_rps") |"
echo "| GET /v1/topics/bench.events/records?limit=5 (API key checked) | $topic_rps | $(ratio "$topic_rps" "$nginx_rps") |"
echo "| GET /healthz (no key) | $health_rps | $(ratio "$health_rps" "$nginx_rps") |"
echo "| bare Hummingbird $(cd Benchmarks/api/hello && swift package show-dependencies 2>/dev/null | grep -o "hummingbird.git@[0-9.]*" | head -1 | cut -d@ -f2), one static route, no middleware (the framework's floor) | $hello_rps | $(ratio "$hello_rps" "$nginx_rps") |"
echo
echo "## SSE fan-out (same run): ${FANOUT_SUBSCRIBERS:-1000} subscribers over 100 topics, ${FANOUT_RATE:-10000} records/s published, ${FANOUT_SECONDS:-10} s"
echo
echo "| case | delivered / expected | subscribers with a gap, repeat or wrong count | p50 ms | p99 ms | p99.9 ms | max ms | server RSS before → after |"
echo "|---|---|---|---|---|---|---|---|"
for line in "durability none, all reading:$fanout_live" "durability none, one stalled subscriber on every topic:$fanout_stalled" \
            "durability always (fsync per publish), all reading:$fanout_always"; do
    name="${line%%:*}"; data="${line#*:}"
    echo "| $name | $(field delivered "$data") / $(field expected "$data") | $(field wrong_subscribers "$data") | $(field p50_ms "$data") | $(field p99_ms "$data") | $(field p999_ms "$data") | $(field max_ms "$data") | $(( $(field rss_before_kib "$data") / 1024 )) → $(( $(field rss_after_kib "$data") / 1024 )) MiB |"
done
