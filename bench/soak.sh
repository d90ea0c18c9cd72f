#!/usr/bin/env bash
# Soak: a real `keypool serve` (release build) in front of the upstream emulator for 10 minutes (or --seconds N):
# thousands of users, plain and streamed chat, an upstream fault every 3 s, a key reload every 5 s. Reports RSS,
# open file descriptors and sockets after warm-up and at the end, requests by status, and usage recorded vs what
# the upstream counted. Exits non-zero if usage differs or RSS/fds grew beyond the stated tolerance.
#   bench/soak.sh [--seconds N] [--users N] [--workers N] [--keys N]
set -euo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

keypool=src/KeyPool/bin/Release/net10.0/keypool.dll
soak=bench/KeyPool.Soak/bin/Release/net10.0/KeyPool.Soak.dll
# ./test.sh builds both in Release; build only what is missing.
[ -f "$keypool" ] || dotnet build src/KeyPool -c Release >/dev/null
[ -f "$soak" ] || dotnet build bench/KeyPool.Soak -c Release >/dev/null

exec dotnet "$soak" --keypool "$PWD/$keypool" "$@"
