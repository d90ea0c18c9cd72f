#!/usr/bin/env bash
# Profiles KeyPool's proxy path under wrk load (50 connections, random users of 100,000, warm user cache):
# CPU samples with perf (JIT frames resolved through DOTNET_PerfMapEnabled) and runtime counters
# (allocation rate, GC, thread pool) with dotnet-counters. Output in bench/.out/profile/.
#
#   bench/profile.sh [seconds]      # default 10; run bench/run.sh once before (it publishes KeyPool)
#
# 127.0.0.1 only; every process started here is stopped by PID on exit.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
OUT=$BENCH/.out
PROF=$OUT/profile
SECONDS_LOAD=${1:-10}
KEYPOOL=$OUT/keypool/keypool
TOOLS=$OUT/tools
UP_PORT=18181 NGINX_PORT=18182 NGINX_SSE_PORT=18185 SSE_PORT=18191 KP_PORT=18184
[[ -x $KEYPOOL ]] || { echo "run bench/run.sh first (it publishes KeyPool to $OUT/keypool)" >&2; exit 1; }
command -v perf >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y linux-perf >/dev/null
[[ -x $TOOLS/dotnet-counters ]] || timeout 300 dotnet tool install --tool-path "$TOOLS" dotnet-counters >/dev/null
mkdir -p "$PROF" "$OUT/nginx-tmp-profile"
TMP=$(mktemp -d /tmp/keypool-profile.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 1; for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done; rm -rf "$TMP"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 150); do curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/" && return 0; sleep 0.2; done; echo "port $1 did not open" >&2; exit 1; }

sed -e "s#@OUT@#$TMP#g" -e "s#$TMP/nginx-tmp#$OUT/nginx-tmp-profile#g" -e "s/@UP_PORT@/$UP_PORT/g" -e "s/@NGINX_PORT@/$NGINX_PORT/g" \
    -e "s/@SSE_PORT@/$SSE_PORT/g" -e "s/@NGINX_SSE_PORT@/$NGINX_SSE_PORT/g" "$BENCH/conf/nginx.conf.in" > "$TMP/nginx.conf"
nginx -p "$TMP" -c "$TMP/nginx.conf" >/dev/null 2>&1 &
PIDS+=("$!")
wait_port "$UP_PORT"

ENVS=(XAI_API_KEY=xai-bench-key-01-0123456789abcdef)
for g in $(seq 2 31); do ENVS+=("XAI_API_KEY_$g=xai-bench-key-$(printf %02d "$g")-0123456789abcdef"); done
ENVS+=(KeyPool__ClientTokens__0=bench-client-token-0123456789 KeyPool__AdminToken=bench-admin-token-0123456789 KeyPool__Keys__CheckOnStart=false
       KeyPool__Budgets__RequestsPerMinute=100000000 KeyPool__Budgets__TokensPerMinute=100000000000
       Logging__LogLevel__Default=Warning "ConnectionStrings__KeyPool=Data Source=$TMP/profile.db"
       "KeyPool__Upstream__BaseUrl=http://127.0.0.1:$UP_PORT/v1" DOTNET_PerfMapEnabled=1)
seq -f 'u%.0f' 0 99999 > "$TMP/users.txt"
env "${ENVS[@]}" "$KEYPOOL" users import "$TMP/users.txt" >/dev/null 2>&1
env "${ENVS[@]}" "$KEYPOOL" serve --urls "http://127.0.0.1:$KP_PORT" >"$PROF/keypool.log" 2>&1 &
KP=$!; PIDS+=("$KP")
wait_port "$KP_PORT"
printf 'Authorization: Bearer bench-client-token-0123456789\n' > "$TMP/h"
URL=http://127.0.0.1:$KP_PORT/v1/chat/completions
# Warm-up: every user once (fills the user cache, as bench/run.sh does), then JIT/tiering settles.
BENCH_MODE=walk BENCH_THREADS=2 BENCH_HEADERS_FILE=$TMP/h timeout 60 wrk -t2 -c50 -d25s -s "$BENCH/scripts/chat.lua" "$URL" >/dev/null 2>&1
BENCH_HEADERS_FILE=$TMP/h timeout 60 wrk -t2 -c50 -d5s -s "$BENCH/scripts/chat.lua" "$URL" >/dev/null 2>&1

timeout $((SECONDS_LOAD + 20)) "$TOOLS/dotnet-counters" collect -p "$KP" --refresh-interval 1 --format csv -o "$PROF/counters.csv" \
  --counters System.Runtime,Microsoft.AspNetCore.Hosting,System.Net.Http >/dev/null 2>&1 &
COUNTERS=$!; PIDS+=("$COUNTERS")
sleep 1
timeout $((SECONDS_LOAD + 20)) perf record -F 499 -g -p "$KP" -o "$TMP/perf.data" -- sleep "$SECONDS_LOAD" >/dev/null 2>&1 &
PERF=$!; PIDS+=("$PERF")
BENCH_HEADERS_FILE=$TMP/h timeout $((SECONDS_LOAD + 30)) wrk -t2 -c50 -d"${SECONDS_LOAD}s" -s "$BENCH/scripts/chat.lua" "$URL" | tee "$PROF/wrk.txt"
wait "$PERF" || true
kill -INT "$COUNTERS" 2>/dev/null || true; wait "$COUNTERS" 2>/dev/null || true
cp "/tmp/perf-$KP.map" "$TMP/" 2>/dev/null || true
perf report -i "$TMP/perf.data" --no-children --sort dso --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -25 > "$PROF/perf-by-dso.txt" || true
perf report -i "$TMP/perf.data" --no-children --sort symbol --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -60 > "$PROF/perf-top-symbols.txt" || true
perf report -i "$TMP/perf.data" --children --sort symbol --stdio -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -80 > "$PROF/perf-inclusive.txt" || true
echo "--- CPU by binary"; cat "$PROF/perf-by-dso.txt"
echo "--- top self symbols"; head -40 "$PROF/perf-top-symbols.txt"
echo "--- counters (last sample of each)"
python3 - "$PROF/counters.csv" <<'EOF'
import csv, sys
last = {}
for row in csv.reader(open(sys.argv[1])):
    if len(row) >= 5 and row[0] != "Timestamp":
        last[(row[1], row[2])] = row[4]
for (provider, name), value in sorted(last.items()):
    print(f"{provider:28} {name[:70]:70} {value}")
EOF
rm -f "/tmp/perf-$KP.map"
