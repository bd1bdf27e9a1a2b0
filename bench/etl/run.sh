#!/usr/bin/env bash
# ETL throughput (issue 5): builds Release, starts real MariaDB + PostgreSQL + key service through the AppHost's
# launcher, seeds N encrypted DNC rows, times the worker's `--once` pass (cold process, empty suppression list) and
# prints rows/s per run and the median. Everything it starts is stopped when it exits.
# Usage: bench/etl/run.sh [rows=100000] [runs=3] [deks=4]
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
dotnet build -c Release "$repo/bench/etl/EtlBench" -v q -nologo >/dev/null
echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  host: $(nproc) cores (shared with other sessions), load avg: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "command: bench/etl/run.sh ${*:-}"
dotnet "$repo/bench/etl/EtlBench/bin/Release/net10.0/etl-bench.dll" "$@"
