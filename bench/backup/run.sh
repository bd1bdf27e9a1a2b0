#!/usr/bin/env bash
# BackupService benchmark (issue 11): builds BackupService and the driver in Release, then runs the driver, which starts
# PostgreSQL, MariaDB, s3rver and the key service with the AppHost's launcher, generates a records database whose
# plain `pg_dump -Fc` is >= 1 GiB, runs BackupService as its own process, and prints every figure side by side with its
# peer measured in the same run (medians of RUNS runs).
# Usage: RUNS=5 bench/backup/run.sh [rawMiB=3600]
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
dotnet build -c Release "$repo/services/BackupService" -v q -nologo >/dev/null
dotnet build -c Release "$repo/bench/backup/BackupBench" -v q -nologo >/dev/null
exec dotnet "$repo/bench/backup/BackupBench/bin/Release/net10.0/backup-bench.dll" "$@"
