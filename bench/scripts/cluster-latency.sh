#!/usr/bin/env bash
# What Redis adds to a request at the HTTP level: the same KeyPool build alone and with
# ConnectionStrings:Redis (budgets leased from a throwaway redis-server), in front of the emulator,
# wrk at 1 connection, interleaved rounds. Everything on 127.0.0.1, bounded, stopped by PID on exit.
#
#   bench/scripts/cluster-latency.sh [--rounds 3] [--duration 5]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
ROUNDS=3; DURATION=5
while [[ $# -gt 0 ]]; do
  case $1 in
    --rounds) ROUNDS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    *) echo "unknown option: $1" >&2; exit 2 ;;
  esac
done
TMP=$(mktemp -d /tmp/keypool-cluster-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$TMP"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 1 300); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 never opened" >&2; exit 1; }

dotnet build "$ROOT/src/KeyPool" -c Release -v quiet -nologo >/dev/null
KEYPOOL="dotnet $ROOT/src/KeyPool/bin/Release/net10.0/keypool.dll"
UP=18191; ALONE=18192; SHARED=18193; REDIS=18194
KEYS=(); for g in 1 2 3 4; do KEYS+=("xai-bench-cluster-key-$(printf '%020d' "$g")"); done
$KEYPOOL emulator --keys "$(IFS=,; echo "${KEYS[*]}")" --urls "http://127.0.0.1:$UP" --rpm 100000000 --tpm 100000000000 >"$TMP/emulator.log" 2>&1 &
PIDS+=("$!")
redis-server --port "$REDIS" --bind 127.0.0.1 --save '' --appendonly no --dir "$TMP" >"$TMP/redis.log" 2>&1 &
PIDS+=("$!")
wait_port "$UP"; wait_port "$REDIS"

start() { # port db [extra env]
  local port=$1 db=$2; shift 2
  env XAI_API_KEY="${KEYS[0]}" XAI_API_KEY_2="${KEYS[1]}" XAI_API_KEY_3="${KEYS[2]}" XAI_API_KEY_4="${KEYS[3]}" \
    KeyPool__ClientTokens__0=bench-token KeyPool__Upstream__BaseUrl="http://127.0.0.1:$UP/v1" \
    KeyPool__Budgets__RequestsPerMinute=100000000 KeyPool__Budgets__TokensPerMinute=100000000000 \
    Logging__LogLevel__Default=Warning ConnectionStrings__KeyPool="Data Source=$TMP/$db" "$@" \
    $KEYPOOL serve --urls "http://127.0.0.1:$port" >"$TMP/keypool-$port.log" 2>&1 &
  PIDS+=("$!")
  wait_port "$port"
}
start "$ALONE" alone.db
start "$SHARED" shared.db ConnectionStrings__Redis="127.0.0.1:$REDIS"
printf 'Authorization: Bearer bench-token\n' > "$TMP/headers"
run() { # port seconds -> RESULT line
  BENCH_USERS=200 BENCH_HEADERS_FILE="$TMP/headers" wrk -t1 -c1 -d"$2"s --latency -s "$ROOT/bench/scripts/chat.lua" \
    "http://127.0.0.1:$1/v1/chat/completions" 2>&1 | grep '^RESULT'
}
run "$ALONE" 3 >/dev/null; run "$SHARED" 3 >/dev/null # warm-up: users registered, JIT, leases
printf 'round\tpath\tRESULT\n'
for r in $(seq 1 "$ROUNDS"); do
  printf '%s\talone\t%s\n' "$r" "$(run "$ALONE" "$DURATION")"
  printf '%s\tredis\t%s\n' "$r" "$(run "$SHARED" "$DURATION")"
done
grep -c 'Shared state unavailable' "$TMP/keypool-$SHARED.log" >/dev/null && echo "warning: the Redis instance fell back during the run" || true
