#!/usr/bin/env bash
# KeyPool side-by-side benchmark: one command, one run, writes docs/benchmarks.md and docs/benchmarks.png.
#
#   bench/run.sh                 # everything (≈ 10 min on 2 cores): proxy, stream, scale, micro
#   bench/run.sh --quick         # smoke run: 1 round of 3 s, small scale figures, no micro-benchmark
#   bench/run.sh --only proxy,stream --rounds 5 --duration 10
#   bench/run.sh --only proxy,stream --paths direct,keypool,keypool-b --variant-env KeyPool__X=Y --no-report   # A/B
#
# Phases: proxy (wrk at 1 and 50 connections, hey at a fixed 2,000 RPS), stream (100 SSE chunks:
# time to first byte and total), scale (sign-ups/s, import of 5,000,000 users, RSS while serving
# with 5,000,000 stored and 100,000 active), capacity (goodput and stickiness at saturation on a fake
# clock, a simulated day of 5,000,000 users), micro (BenchmarkDotNet of the per-request core path).
# Paths, interleaved per round: direct upstream, nginx reverse proxy, a bare YARP proxy (proxy phase only: the
# platform's ceiling), Portkey gateway, KeyPool; --paths picks
# among them and keypool-b (a second KeyPool process with the --variant-env settings, for A/B trials such as
# docs/forwarder-trial.md); --no-report leaves docs/ alone and prints the medians instead.
# Everything listens on 127.0.0.1, is bounded in time and stopped by PID on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench
OUT=$BENCH/.out
ROUNDS=3
DURATION=4
STREAM_REQUESTS=30
RATE=2000
SCALE_USERS=5000000
PHASES=proxy,stream,scale,capacity,micro
BUILD=1
LOG_INFO=1
QUICK=0
SELECTED=direct,nginx,yarp,portkey,keypool
REPORT=1
VARIANT_ENV=()

while [[ $# -gt 0 ]]; do
  case $1 in
    --quick) QUICK=1; ROUNDS=1; DURATION=3; STREAM_REQUESTS=20; SCALE_USERS=500000; PHASES=proxy,stream,scale,capacity; shift ;;
    --rounds) ROUNDS=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --only) PHASES=$2; shift 2 ;;
    --scale-users) SCALE_USERS=$2; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --no-log-info) LOG_INFO=0; shift ;;
    --paths) SELECTED=$2; shift 2 ;;
    --no-report) REPORT=0; shift ;;
    --variant-env) VARIANT_ENV+=("$2"); shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
done
has_phase() { [[ ",$PHASES," == *",$1,"* ]]; }
has_path() { [[ ",$SELECTED," == *",$1,"* ]]; }

# Ports (127.0.0.1 only), each used by one service at a time (require_free checks before a start).
UP_PORT=18081        # nginx: fixed JSON responder (the upstream of every path)
NGINX_PORT=18082     # nginx: reverse proxy to UP_PORT with keepalive
PORTKEY_PORT=18083   # Portkey gateway
KEYPOOL_PORT=18084   # KeyPool (Warning logging)
NGINX_SSE_PORT=18085 # nginx: reverse proxy to SSE_PORT, proxy_buffering off
KEYPOOL_INFO_PORT=18086 # KeyPool with Information logging (one extra path)
KEYPOOL_B_PORT=18087    # KeyPool variant B (--variant-env), for A/B trials
SSE_PORT=18091       # node: SSE responder, 100 chunks
YARP_PORT=18088      # bench/YarpProxy: a bare MapReverseProxy to UP_PORT (the platform's ceiling)

RUN=$OUT/run
TMP=$(mktemp -d /tmp/keypool-bench.XXXXXX)
mkdir -p "$OUT" "$RUN"
rm -f "$RUN"/*.tsv "$RUN"/*.txt "$RUN"/*.log 2>/dev/null || true
RESULTS=$RUN/results.tsv
META=$RUN/meta.txt
printf 'case\tpath\tround\trps\tp50_us\tp99_us\ttotal_p50_us\terrors\tcpu_us_per_req\n' > "$RESULTS"
: > "$META"
meta() { printf '%s=%s\n' "$1" "$2" >> "$META"; }
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  sleep 1
  for pid in "${PIDS[@]}"; do
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -rf "$TMP"
}
trap cleanup EXIT
stop_pid() { kill "$1" 2>/dev/null || true; for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || return 0; sleep 0.1; done; kill -9 "$1" 2>/dev/null || true; }

# A port already served would pass wait_port for a new service that died on "address in use" (once YARP's and
# variant B's were the same, and B's figures were YARP's).
serves() { curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/"; } # port
require_free() { # port name
  if serves "$1"; then log "port $1 is already served: $2 cannot start there"; exit 1; fi
}
wait_port() { # port name
  for _ in $(seq 150); do
    if serves "$1"; then return 0; fi
    sleep 0.2
  done
  log "$2 did not start on port $1"; exit 1
}
# CPU time a KeyPool process spent per request: robust where throughput is not, on a machine shared with other work.
CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
pid_of() { case $1 in keypool) echo "${KEYPOOL_PID:-}" ;; keypool-b) echo "${KEYPOOL_B_PID:-}" ;; keypool-info) echo "${KEYPOOL_INFO_PID:-}" ;; esac; }
cpu_per_request() { # pid ticks-before requests -> µs per request (empty without a pid)
  [[ -n $1 && $3 -gt 0 ]] || return 0
  echo "($(cpu_ticks "$1") - $2) * 1000000 / $CLK_TCK / $3" | bc
}
rss_kb() { awk '/^VmRSS/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
hwm_kb() { awk '/^VmHWM/{print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# ---------------------------------------------------------------- install what is missing
missing=()
command -v wrk >/dev/null || missing+=(wrk)
command -v nginx >/dev/null || missing+=(nginx-light)
command -v hey >/dev/null || missing+=(hey)
command -v gnuplot >/dev/null || missing+=(gnuplot-nox)
[[ -x /usr/bin/time ]] || missing+=(time)
command -v curl >/dev/null || missing+=(curl)
if [[ ${#missing[@]} -gt 0 ]]; then
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get -o DPkg::Lock::Timeout=300 install -y "${missing[@]}" >"$RUN/apt.log" 2>&1
fi
PORTKEY_VERSION=1.15.2
PORTKEY_ENTRY=$OUT/portkey/node_modules/@portkey-ai/gateway/build/start-server.js
if has_path portkey && [[ ! -f $PORTKEY_ENTRY ]]; then
  log "installing @portkey-ai/gateway@$PORTKEY_VERSION from npm"
  mkdir -p "$OUT/portkey"
  printf '{"private":true,"dependencies":{"@portkey-ai/gateway":"%s"}}\n' "$PORTKEY_VERSION" > "$OUT/portkey/package.json"
  (cd "$OUT/portkey" && timeout 300 npm install --no-audit --no-fund >"$RUN/npm.log" 2>&1)
fi
KEYPOOL=$OUT/keypool/keypool
if [[ $BUILD == 1 || ! -x $KEYPOOL ]]; then
  log "publishing KeyPool (Release)"
  timeout 600 dotnet publish "$ROOT/src/KeyPool" -c Release -o "$OUT/keypool" >"$RUN/publish.log" 2>&1 || { tail -20 "$RUN/publish.log"; exit 1; }
fi

YARP=$OUT/yarp/yarp-proxy
if [[ $BUILD == 1 || ! -x $YARP ]]; then
  log "publishing the bare YARP proxy (Release)"
  timeout 600 dotnet publish "$BENCH/YarpProxy" -c Release -o "$OUT/yarp" >"$RUN/publish-yarp.log" 2>&1 || { tail -20 "$RUN/publish-yarp.log"; exit 1; }
fi

# ---------------------------------------------------------------- machine
{
  meta cpu "$(lscpu | awk -F: '/Model name/{gsub(/^ +/,"",$2); print $2; exit}')"
  meta cores "$(nproc)"
  meta memory_mb "$(free -m | awk '/Mem:/{print $2}')"
  meta os "$(. /etc/os-release; echo "$PRETTY_NAME") / kernel $(uname -r)"
  meta dotnet "$(dotnet --version)"
  meta node "$(node --version)"
  meta nginx "$(nginx -v 2>&1 | sed 's/.*\///')"
  meta wrk "$(wrk -v 2>&1 | head -1 | awk '{print $2}')"
  meta portkey "$PORTKEY_VERSION"
  meta commit "$(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet -- src || echo '+uncommitted src changes')"
  meta rounds "$ROUNDS"; meta duration_s "$DURATION"; meta rate "$RATE"; meta stream_requests "$STREAM_REQUESTS"
  meta started "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  meta load_at_start "$(cut -d' ' -f1-3 /proc/loadavg)"
}

# ---------------------------------------------------------------- shared inputs
KEYS=()
for g in $(seq 1 31); do KEYS+=("xai-bench-key-$(printf %02d "$g")-0123456789abcdef"); done
KP_ENV=(XAI_API_KEY="${KEYS[0]}")
for g in $(seq 2 31); do KP_ENV+=("XAI_API_KEY_$g=${KEYS[$((g - 1))]}"); done
KP_ENV+=(
  KeyPool__ClientTokens__0=bench-client-token-0123456789
  KeyPool__AdminToken=bench-admin-token-0123456789
  KeyPool__Keys__CheckOnStart=false
  KeyPool__Budgets__RequestsPerMinute=100000000
  KeyPool__Budgets__TokensPerMinute=100000000000
  Logging__LogLevel__Default=Warning
)
keypool_env() { # db-file upstream-base-url -> env assignments on stdout (one per line)
  printf '%s\n' "${KP_ENV[@]}" "ConnectionStrings__KeyPool=Data Source=$1" "KeyPool__Upstream__BaseUrl=$2"
}
start_keypool() { # name port db upstream [extra env...]; sets KP_PID
  local name=$1 port=$2 db=$3 upstream=$4; shift 4
  mapfile -t envs < <(keypool_env "$db" "$upstream")
  local binary=$KEYPOOL
  # KEYPOOL_B_BIN: run variant B from another build (e.g. the commit before a change) for an A/B of code, not settings.
  [[ $name == keypool-b* && -n ${KEYPOOL_B_BIN:-} ]] && binary=$KEYPOOL_B_BIN
  require_free "$port" "$name"
  env "${envs[@]}" "$@" "$binary" serve --urls "http://127.0.0.1:$port" >"$RUN/$name.log" 2>&1 &
  KP_PID=$!; PIDS+=("$KP_PID")
  wait_port "$port" "$name"
}
import_users() { # db file [binary]
  mapfile -t envs < <(keypool_env "$1" "http://127.0.0.1:$UP_PORT/v1")
  env "${envs[@]}" "${3:-$KEYPOOL}" users import "$2" >>"$RUN/import.log" 2>&1
}

# Portkey: loadbalance over the same 31 keys; the config travels in a header, as Portkey documents.
portkey_headers() { # upstream-base-url file
  local targets="" sep=""
  for k in "${KEYS[@]}"; do targets+="$sep{\"provider\":\"openai\",\"api_key\":\"$k\",\"custom_host\":\"$1\",\"weight\":1}"; sep=","; done
  printf 'x-portkey-config: {"strategy":{"mode":"loadbalance"},"targets":[%s]}\n' "$targets" > "$2"
}
printf 'Authorization: Bearer bench-client-token-0123456789\n' > "$TMP/h-keypool"
printf 'Authorization: Bearer %s\n' "${KEYS[0]}" > "$TMP/h-direct"
cp "$TMP/h-direct" "$TMP/h-nginx"
cp "$TMP/h-direct" "$TMP/h-yarp"
portkey_headers "http://127.0.0.1:$UP_PORT/v1" "$TMP/h-portkey"
portkey_headers "http://127.0.0.1:$SSE_PORT/v1" "$TMP/h-portkey-sse"
cp "$TMP/h-keypool" "$TMP/h-keypool-info"
cp "$TMP/h-keypool" "$TMP/h-keypool-b"

CHAT_BODY='{"model":"grok-4.3","messages":[{"role":"user","content":"Say hello in one short sentence."}]}'
STREAM_BODY='{"model":"grok-4.3","stream":true,"messages":[{"role":"user","content":"Say hello in one short sentence."}]}'

# ---------------------------------------------------------------- references
mkdir -p "$OUT/nginx-tmp"
sed -e "s#@OUT@#$OUT#g" -e "s/@UP_PORT@/$UP_PORT/g" -e "s/@NGINX_PORT@/$NGINX_PORT/g" \
    -e "s/@SSE_PORT@/$SSE_PORT/g" -e "s/@NGINX_SSE_PORT@/$NGINX_SSE_PORT/g" \
    "$BENCH/conf/nginx.conf.in" > "$OUT/nginx.conf"
nginx -p "$OUT" -c "$OUT/nginx.conf" >"$RUN/nginx.log" 2>&1 &
NGINX_PID=$!; PIDS+=("$NGINX_PID")
node "$BENCH/scripts/sse-upstream.mjs" "$SSE_PORT" 100 1 >"$RUN/sse.log" 2>&1 &
PIDS+=("$!")
if has_path portkey; then
  NODE_ENV=production node "$BENCH/scripts/portkey-start.mjs" "$PORTKEY_ENTRY" "--port=$PORTKEY_PORT" --headless >"$RUN/portkey.log" 2>&1 &
  PORTKEY_PID=$!; PIDS+=("$PORTKEY_PID")
  wait_port "$PORTKEY_PORT" portkey
fi
wait_port "$UP_PORT" nginx; wait_port "$SSE_PORT" sse-upstream

path_url() { # path -> chat completions URL (non-streaming / streaming)
  case $1 in
    direct) echo "http://127.0.0.1:$UP_PORT/v1/chat/completions" ;;
    nginx) echo "http://127.0.0.1:$NGINX_PORT/v1/chat/completions" ;;
    yarp) echo "http://127.0.0.1:$YARP_PORT/v1/chat/completions" ;;
    portkey) echo "http://127.0.0.1:$PORTKEY_PORT/v1/chat/completions" ;;
    keypool) echo "http://127.0.0.1:$KEYPOOL_PORT/v1/chat/completions" ;;
    keypool-info) echo "http://127.0.0.1:$KEYPOOL_INFO_PORT/v1/chat/completions" ;;
    keypool-b) echo "http://127.0.0.1:$KEYPOOL_B_PORT/v1/chat/completions" ;;
  esac
}
stream_url() {
  case $1 in
    direct) echo "http://127.0.0.1:$SSE_PORT/v1/chat/completions" ;;
    nginx) echo "http://127.0.0.1:$NGINX_SSE_PORT/v1/chat/completions" ;;
    *) path_url "$1" ;;
  esac
}
curl_headers() { local args=() line; while IFS= read -r line; do args+=(-H "$line"); done < "$1"; printf '%s\0' "${args[@]}"; }

smoke() { # path url headers-file body expect
  local args; mapfile -d '' args < <(curl_headers "$3")
  local got; got=$(curl -s --max-time 10 "${args[@]}" -H 'Content-Type: application/json' -H 'X-KeyPool-User: u1' --data-binary "$4" "$2")
  if [[ $got != *"$5"* ]]; then log "smoke check of $1 failed: ${got:0:400}"; exit 1; fi
}

run_wrk() { # case path round threads connections
  local url; url=$(path_url "$2")
  local line pid ticks
  pid=$(pid_of "$2"); ticks=$([[ -n $pid ]] && cpu_ticks "$pid" || echo 0)
  line=$(BENCH_HEADERS_FILE="$TMP/h-$2" timeout $((DURATION + 30)) wrk -t"$4" -c"$5" -d"${DURATION}s" --timeout 5s \
           -s "$BENCH/scripts/chat.lua" "$url" 2>&1 | grep '^RESULT' || true)
  [[ -n $line ]] || { log "wrk $1 $2 gave no result"; return 0; }
  local rps p50 p99 he se
  rps=$(sed -E 's/.*rps=([0-9.]+).*/\1/' <<<"$line"); p50=$(sed -E 's/.*p50_us=([0-9]+).*/\1/' <<<"$line")
  p99=$(sed -E 's/.*p99_us=([0-9]+).*/\1/' <<<"$line"); he=$(sed -E 's/.*http_errors=([0-9]+).*/\1/' <<<"$line")
  se=$(sed -E 's/.*socket_errors=([0-9]+).*/\1/' <<<"$line")
  local requests cpu
  requests=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$line"); cpu=$(cpu_per_request "$pid" "$ticks" "$requests")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t\t%s\t%s\n' "$1" "$2" "$3" "$rps" "$p50" "$p99" "$((he + se))" "$cpu" >> "$RESULTS"
  log "$1 $2 r$3: $rps rps, p50 ${p50} us, p99 ${p99} us, errors $((he + se))${cpu:+, CPU $cpu us/request}"
}

run_rate() { # path round — hey: 20 workers × 100 RPS each = 2,000 RPS for DURATION s
  local url; url=$(path_url "$1")
  local args; mapfile -d '' args < <(curl_headers "$TMP/h-$1")
  local out
  out=$(timeout $((DURATION + 30)) hey -z "${DURATION}s" -c 20 -q $((RATE / 20)) -m POST -T application/json \
          "${args[@]}" -H "X-KeyPool-User: u$((RANDOM % 100000))" -d "$CHAT_BODY" "$url" 2>&1 || true)
  local rps p50 p99 errors
  rps=$(awk '/Requests\/sec/{print $2}' <<<"$out")
  p50=$(awk '/ 50% in /{printf "%d", $3 * 1e6}' <<<"$out"); p99=$(awk '/ 99% in /{printf "%d", $3 * 1e6}' <<<"$out")
  errors=$(awk '/\[[0-9]+\]/{gsub(/[\[\]]/,"",$1); if ($1 !~ /^2/) e += $2} END{print e + 0}' <<<"$out")
  printf 'rate\t%s\t%s\t%s\t%s\t%s\t\t%s\t\n' "$1" "$2" "$rps" "$p50" "$p99" "$errors" >> "$RESULTS"
  log "rate $1 r$2: $rps rps, p50 ${p50} us, p99 ${p99} us, errors $errors"
}

run_stream() { # path round — STREAM_REQUESTS sequential streamed requests on one connection
  local url; url=$(stream_url "$1")
  local hfile=$TMP/h-$1; [[ $1 == portkey ]] && hfile=$TMP/h-portkey-sse
  local args; mapfile -d '' args < <(curl_headers "$hfile")
  local cfg=$TMP/curl-$1.cfg
  : > "$cfg"
  for _ in $(seq "$STREAM_REQUESTS"); do printf 'url = "%s"\noutput = "/dev/null"\n' "$url" >> "$cfg"; done
  local pid ticks
  pid=$(pid_of "$1"); ticks=$([[ -n $pid ]] && cpu_ticks "$pid" || echo 0)
  timeout 120 curl -s -N -K "$cfg" "${args[@]}" -H 'Content-Type: application/json' -H "X-KeyPool-User: u$((RANDOM % 100000))" \
    --data-binary "$STREAM_BODY" -w '%{http_code} %{time_starttransfer} %{time_total} %{size_download}\n' > "$TMP/stream-$1.txt" || true
  # Skip the first request (connection set-up), then medians and p99 of TTFB, median of total.
  python3 - "$TMP/stream-$1.txt" "$1" "$2" "$(cpu_per_request "$pid" "$ticks" "$STREAM_REQUESTS")" >> "$RESULTS" <<'EOF'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
ok = [r for r in rows[1:] if r[0] == "200"]
bad = len(rows) - 1 - len(ok)
ttfb = sorted(float(r[1]) * 1e6 for r in ok) or [0]
total = sorted(float(r[2]) * 1e6 for r in ok) or [0]
p99 = ttfb[min(len(ttfb) - 1, int(round(0.99 * (len(ttfb) - 1))))]
print(f"stream\t{sys.argv[2]}\t{sys.argv[3]}\t0\t{statistics.median(ttfb):.0f}\t{p99:.0f}\t{statistics.median(total):.0f}\t{bad}\t{sys.argv[4]}")
EOF
  log "stream $1 r$2: $(tail -1 "$RESULTS" | cut -f5,7 | sed 's/\t/ us TTFB, total /') us"
}

# ---------------------------------------------------------------- proxy + stream phases
PATHS=()
for p in direct nginx yarp portkey keypool keypool-b; do has_path "$p" && PATHS+=("$p"); done
RATE_PATHS=("${PATHS[@]}")
if has_phase proxy || has_phase stream || has_phase scale; then
  seq -f 'u%.0f' 0 99999 > "$TMP/users-100k.txt"
  log "importing 100,000 users for the measured run"
  import_users "$TMP/bench.db" "$TMP/users-100k.txt"
  # Another build may know another schema: it imports its own copy.
  if has_path keypool-b && [[ -n ${KEYPOOL_B_BIN:-} ]]; then import_users "$TMP/bench-b.db" "$TMP/users-100k.txt" "$KEYPOOL_B_BIN"
  elif has_path keypool-b; then cp "$TMP/bench.db" "$TMP/bench-b.db"; fi
fi

if has_phase proxy; then
  if has_path yarp; then
    require_free "$YARP_PORT" yarp
    ASPNETCORE_URLS="http://127.0.0.1:$YARP_PORT" "$YARP" --upstream "http://127.0.0.1:$UP_PORT/" >"$RUN/yarp.log" 2>&1 &
    PIDS+=("$!")
    wait_port "$YARP_PORT" yarp
  fi
  start_keypool keypool "$KEYPOOL_PORT" "$TMP/bench.db" "http://127.0.0.1:$UP_PORT/v1"
  KEYPOOL_PID=$KP_PID
  if has_path keypool-b; then
    start_keypool keypool-b "$KEYPOOL_B_PORT" "$TMP/bench-b.db" "http://127.0.0.1:$UP_PORT/v1" "${VARIANT_ENV[@]}"
    KEYPOOL_B_PID=$KP_PID
  fi
  if [[ $LOG_INFO == 1 ]]; then
    cp "$TMP/bench.db" "$TMP/bench-info.db"
    start_keypool keypool-info "$KEYPOOL_INFO_PORT" "$TMP/bench-info.db" "http://127.0.0.1:$UP_PORT/v1" Logging__LogLevel__Default=Information
    KEYPOOL_INFO_PID=$KP_PID
    PATHS+=(keypool-info)
  fi
  for p in "${PATHS[@]}"; do smoke "$p" "$(path_url "$p")" "$TMP/h-$p" "$CHAT_BODY" '"total_tokens"'; done
  # KeyPool starts with an empty user cache: walk every user once (bounded) so the measured rounds
  # see the steady state the design asks for (no store read per request). Timed and reported.
  for p in "${PATHS[@]}"; do
    [[ $p == keypool* ]] || continue
    t0=$(date +%s.%N)
    BENCH_MODE=walk BENCH_THREADS=2 BENCH_HEADERS_FILE="$TMP/h-$p" timeout 60 wrk -t2 -c50 -d25s \
      -s "$BENCH/scripts/chat.lua" "$(path_url "$p")" >"$RUN/walk-$p.txt" 2>&1 || true
    meta "cache_walk_$p" "$(grep '^RESULT' "$RUN/walk-$p.txt" || echo none) seconds=$(echo "$(date +%s.%N) - $t0" | bc)"
    log "cache walk $p: $(grep '^RESULT' "$RUN/walk-$p.txt" || echo none)"
  done
  log "warm-up"
  SAVED=$DURATION; DURATION=2
  for p in "${PATHS[@]}"; do run_wrk warmup "$p" 0 2 50 >/dev/null 2>&1; done
  DURATION=$SAVED
  sed -i '/^warmup\t/d' "$RESULTS"
  for r in $(seq "$ROUNDS"); do
    for p in "${PATHS[@]}"; do run_wrk c1 "$p" "$r" 1 1; done
    for p in "${PATHS[@]}"; do run_wrk c50 "$p" "$r" 2 50; done
    for p in "${RATE_PATHS[@]}"; do run_rate "$p" "$r"; done
  done
  meta keypool_rss_after_mb "$(( $(rss_kb "$KEYPOOL_PID") / 1024 ))"
  meta keypool_peak_rss_mb "$(( $(hwm_kb "$KEYPOOL_PID") / 1024 ))"
  if [[ -n ${KEYPOOL_B_PID:-} ]]; then
    meta keypool_b_rss_after_mb "$(( $(rss_kb "$KEYPOOL_B_PID") / 1024 ))"
    meta keypool_b_peak_rss_mb "$(( $(hwm_kb "$KEYPOOL_B_PID") / 1024 ))"
  fi
  [[ -n ${PORTKEY_PID:-} ]] && meta portkey_rss_after_mb "$(( $(rss_kb "$PORTKEY_PID") / 1024 ))"
  log "KeyPool RSS after the run: $(( $(rss_kb "$KEYPOOL_PID") / 1024 )) MB (peak $(( $(hwm_kb "$KEYPOOL_PID") / 1024 )) MB)"

  if has_phase scale; then
    # Sign-ups: every request names a fresh user; the admin API assigns the least-loaded group.
    printf 'Authorization: Bearer bench-admin-token-0123456789\n' > "$TMP/h-admin"
    line=$(BENCH_MODE=signup BENCH_HEADERS_FILE="$TMP/h-admin" timeout $((DURATION + 30)) wrk -t2 -c16 -d"${DURATION}s" \
             -s "$BENCH/scripts/chat.lua" "http://127.0.0.1:$KEYPOOL_PORT/api/admin/users" 2>&1 | grep '^RESULT' || true)
    meta signup "$line"
    log "sign-ups: $line"
  fi
  stop_pid "$KEYPOOL_PID"
  [[ -n ${KEYPOOL_INFO_PID:-} ]] && stop_pid "$KEYPOOL_INFO_PID"
  [[ -n ${KEYPOOL_B_PID:-} ]] && stop_pid "$KEYPOOL_B_PID"
fi

if has_phase stream; then
  # KeyPool again, now in front of the SSE responder (same users, same store).
  start_keypool keypool-stream "$KEYPOOL_PORT" "$TMP/bench.db" "http://127.0.0.1:$SSE_PORT/v1"
  STREAM_PID=$KP_PID; KEYPOOL_PID=$KP_PID
  STREAM_PATHS=()
  for p in "${PATHS[@]}"; do [[ $p == keypool-info || $p == yarp ]] || STREAM_PATHS+=("$p"); done
  if has_path keypool-b; then
    start_keypool keypool-b-stream "$KEYPOOL_B_PORT" "$TMP/bench-b.db" "http://127.0.0.1:$SSE_PORT/v1" "${VARIANT_ENV[@]}"
    STREAM_B_PID=$KP_PID; KEYPOOL_B_PID=$KP_PID
  fi
  for p in "${STREAM_PATHS[@]}"; do
    case $p in
      keypool*) smoke "$p" "$(stream_url "$p")" "$TMP/h-$p" "$STREAM_BODY" '[DONE]' ;;
      portkey) smoke portkey "$(stream_url portkey)" "$TMP/h-portkey-sse" "$STREAM_BODY" '[DONE]' ;;
    esac
  done
  SAVED=$STREAM_REQUESTS; STREAM_REQUESTS=10
  for p in "${STREAM_PATHS[@]}"; do run_stream "$p" 0 2>/dev/null; done
  STREAM_REQUESTS=$SAVED
  sed -i '/^stream\t[a-z-]*\t0\t/d' "$RESULTS"
  for r in $(seq "$ROUNDS"); do
    for p in "${STREAM_PATHS[@]}"; do run_stream "$p" "$r"; done
  done
  stop_pid "$STREAM_PID"
  [[ -n ${STREAM_B_PID:-} ]] && stop_pid "$STREAM_B_PID"
fi

# ---------------------------------------------------------------- scale phase
if has_phase scale; then
  log "generating $SCALE_USERS user ids"
  awk -v n="$SCALE_USERS" 'BEGIN { for (i = 0; i < n; i++) print "m" i }' > "$TMP/users-scale.txt"
  log "importing $SCALE_USERS users into a fresh SQLite store"
  mapfile -t envs < <(keypool_env "$TMP/scale.db" "http://127.0.0.1:$UP_PORT/v1")
  if env "${envs[@]}" /usr/bin/time -f '%e %M' -o "$TMP/import.time" timeout 300 "$KEYPOOL" users import "$TMP/users-scale.txt" \
       >"$RUN/import-scale.log" 2>&1; then
    read -r secs peak_kb < "$TMP/import.time"
    meta import_users "$SCALE_USERS"; meta import_seconds "$secs"; meta import_peak_rss_mb "$((peak_kb / 1024))"
    log "import: $secs s, peak RSS $((peak_kb / 1024)) MB"
  else
    meta import_seconds "failed (see bench/.out/run/import-scale.log)"
    log "import failed"; tail -5 "$RUN/import-scale.log" >&2 || true
  fi
  # Serving with the big store: 100,000 active users (m0..m99999), RSS sampled every second.
  start_keypool keypool-scale "$KEYPOOL_PORT" "$TMP/scale.db" "http://127.0.0.1:$UP_PORT/v1"
  SCALE_PID=$KP_PID
  ( max=0; while kill -0 "$SCALE_PID" 2>/dev/null; do v=$(rss_kb "$SCALE_PID"); (( v > max )) && max=$v; echo "$max" > "$TMP/rss-max"; sleep 1; done ) &
  SAMPLER=$!; PIDS+=("$SAMPLER")
  BENCH_MODE=walk BENCH_THREADS=2 BENCH_USER_PREFIX=m BENCH_USERS=100000 BENCH_HEADERS_FILE="$TMP/h-keypool" timeout 150 \
    wrk -t2 -c50 -d25s -s "$BENCH/scripts/chat.lua" "$(path_url keypool)" >"$RUN/walk-scale.txt" 2>&1 || true
  meta scale_walk "$(grep '^RESULT' "$RUN/walk-scale.txt" || echo none)"
  line=$(BENCH_USER_PREFIX=m BENCH_USERS=100000 BENCH_HEADERS_FILE="$TMP/h-keypool" timeout $((3 * DURATION + 30)) \
           wrk -t2 -c50 -d"$((3 * DURATION))s" -s "$BENCH/scripts/chat.lua" "$(path_url keypool)" 2>&1 | grep '^RESULT' || true)
  meta scale_serving "$line"
  meta scale_rss_after_mb "$(( $(rss_kb "$SCALE_PID") / 1024 ))"
  meta scale_rss_max_mb "$(( $(cat "$TMP/rss-max" 2>/dev/null || echo 0) / 1024 ))"
  meta scale_peak_rss_mb "$(( $(hwm_kb "$SCALE_PID") / 1024 ))"
  log "serving with $SCALE_USERS stored: $line; RSS $(( $(rss_kb "$SCALE_PID") / 1024 )) MB (peak $(( $(hwm_kb "$SCALE_PID") / 1024 )) MB)"
  stop_pid "$SAMPLER"; stop_pid "$SCALE_PID"
fi

# ---------------------------------------------------------------- capacity: saturation and simulation
if has_phase capacity; then
  log "saturation tests (fake clock) and a simulated day of 5,000,000 users"
  timeout 900 dotnet test "$ROOT/tests/KeyPool.Tests" -c Release --filter "FullyQualifiedName~Capacity.SaturationTests" \
    --logger "console;verbosity=detailed" >"$RUN/saturation.log" 2>&1 || log "saturation tests failed (see bench/.out/run/saturation.log)"
  meta saturation_3x "$(grep -o 'served [0-9]* of [0-9]* (.*' "$RUN/saturation.log" | head -1)"
  meta saturation_half "$(grep -o 'sticky [0-9]* of [0-9]* (.*' "$RUN/saturation.log" | head -1)"
  "$KEYPOOL" simulate --users 5000000 --keys 31 --rpm 480 --tpm 2000000 --out "$RUN/simulate" >"$RUN/simulate.log" 2>&1 || log "simulate failed"
  meta simulate_5m "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("{:,} requests, {:.1f}% refused, {:.1f}% delayed, peak {} RPM per key, simulated in {} s".format(d["requests"], d["refusedRatio"]*100, d["delayedRatio"]*100, max(d["peakRpmPerKey"]), d["elapsedSeconds"]))' "$RUN/simulate/summary.json" 2>/dev/null || echo none)"
fi

# ---------------------------------------------------------------- micro-benchmark
if has_phase micro; then
  log "BenchmarkDotNet: per-request core path"
  rm -rf "$OUT/micro"
  (cd "$BENCH/KeyPool.Benchmarks" && timeout 600 dotnet run -c Release -- --artifacts "$OUT/micro" --filter '*RequestPath*' >"$RUN/micro.log" 2>&1) \
    || { log "micro-benchmark failed (see bench/.out/run/micro.log)"; tail -20 "$RUN/micro.log" >&2; }
fi

meta finished "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
meta load_at_end "$(cut -d' ' -f1-3 /proc/loadavg)"
if [[ $REPORT == 1 ]]; then
  python3 "$BENCH/scripts/report.py" "$RUN" "$OUT/micro" "$ROOT/docs" "$BENCH/notes.md"
  log "wrote docs/benchmarks.md and docs/benchmarks.png"
else
  python3 "$BENCH/scripts/medians.py" "$RESULTS" | tee "$RUN/medians.txt"
fi
