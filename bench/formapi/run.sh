#!/usr/bin/env bash
# DNC intake load test (issue 5): builds Release and runs bench/formapi/FormApiLoad, which starts MariaDB, the key
# service and both FormApi instances with the AppHost's launcher (the intake with the bench-only plaintext peer route,
# FormApi__BenchPlaintextPeer=true) and compares POST /api/dnc with the unencrypted peer in the same run.
# Usage: bench/formapi/run.sh [seconds-per-round=10] [rounds=3] [concurrency=32]
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
dotnet build -c Release "$repo/bench/formapi/FormApiLoad" -v q -nologo >/dev/null
echo "command: bench/formapi/run.sh $*  load: $(cut -d' ' -f1-3 /proc/loadavg)"
dotnet "$repo/bench/formapi/FormApiLoad/bin/Release/net10.0/formapi-load.dll" "$@"
