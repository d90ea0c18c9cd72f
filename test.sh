#!/usr/bin/env bash
# Runs every test project of KeyPool on a fresh Debian machine with the .NET SDK.
# Installs what is missing, runs all tests, and ends with one line: "N passed, N failed".
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

# The dashboard's browser tests drive Debian's Chromium (Playwright's own browser download is not used).
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium) >"$results/apt-chromium.log" 2>&1 \
    || echo "Could not install chromium (see TestResults/apt-chromium.log): the browser tests will fail." >&2
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
