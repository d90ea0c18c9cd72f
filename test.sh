#!/usr/bin/env bash
# Runs every test project of KeyPool on a fresh Debian machine with the .NET SDK.
# Installs what is missing (Chromium, PostgreSQL, Redis), runs all tests, and ends with one line:
# "N passed, N failed". The tests start their own throwaway PostgreSQL and Redis servers on free
# loopback ports (tests/KeyPool.TestServers); nothing here starts a service for good.
set -uo pipefail
cd "$(dirname "$0")"

results="$PWD/TestResults"
rm -rf "$results"
mkdir -p "$results"

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

if ! command -v dotnet >/dev/null 2>&1; then
  echo "The .NET 10 SDK is required (dotnet on PATH)." >&2
  exit 1
fi

# Debian packages the tests drive: Chromium (dashboard), PostgreSQL and Redis (scale-out stores), nginx (rolling restarts).
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    # Another apt run (an unattended upgrade) may hold the lock for a while: wait for it rather than fail.
    (apt-get -o DPkg::Lock::Timeout=600 update \
      && DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y --no-install-recommends "${missing[@]}") \
      >"$results/apt.log" 2>&1 \
      || echo "Could not install ${missing[*]} (see TestResults/apt.log): the tests that need them will fail." >&2
  else
    echo "Missing ${missing[*]}: install them (as root) or the tests that need them will fail." >&2
  fi
fi
# The Debian packages start their own services; the tests use private ones, so stop those.
if [ "$(id -u)" -eq 0 ]; then
  (service redis-server stop; service postgresql stop; service nginx stop) >/dev/null 2>&1 || true
fi
# PostgreSQL refuses to run as root: the test servers run as this unprivileged user when the tests run as root.
if [ "$(id -u)" -eq 0 ] && ! id keypool-test >/dev/null 2>&1; then
  useradd --system --no-create-home --shell /usr/sbin/nologin keypool-test
fi

dotnet restore KeyPool.slnx || exit 1
dotnet build KeyPool.slnx --no-restore -c Release || exit 1

dotnet test KeyPool.slnx --no-build -c Release \
  --logger "trx" --logger "console;verbosity=minimal" \
  --results-directory "$results"
status=$?

passed=0
failed=0
for trx in "$results"/*.trx; do
  [ -f "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -n 1)
  p=$(sed -n 's/.* passed="\([0-9]*\)".*/\1/p' <<<"$counters")
  f=$(sed -n 's/.* failed="\([0-9]*\)".*/\1/p' <<<"$counters")
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0}))
done
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
  failed=1 # a test host crashed or a project failed without a count
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
