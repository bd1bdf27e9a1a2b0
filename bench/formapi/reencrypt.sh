#!/usr/bin/env bash
# DEK re-encryption throughput (issue 5): builds Release and runs bench/formapi/ReencryptBench, which starts MariaDB,
# the key service and both FormApi instances with the AppHost's launcher, bulk-loads N rows encrypted under an old
# DEK, then rotates the DEK through the back office's admin API while a light submission load runs, and prints rows/s.
# Everything it starts is stopped when it exits.
# Usage: bench/formapi/reencrypt.sh [rows=1000000] [submission-clients=2] [batch-size=FormApi default]
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
dotnet build -c Release "$repo/bench/formapi/ReencryptBench" -v q -nologo >/dev/null
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  host: $(nproc) cores (shared with other sessions), load avg: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "command: bench/formapi/reencrypt.sh ${*:-}"
dotnet "$repo/bench/formapi/ReencryptBench/bin/Release/net10.0/reencrypt-bench.dll" "$@"
