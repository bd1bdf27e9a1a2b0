#!/usr/bin/env bash
# DocumentService benchmarks (issue 6): builds DocumentService and the driver in Release, then runs the driver, which
# starts PostgreSQL + s3rver + the key service with the AppHost's launcher, runs DocumentService as its own process,
# and prints upload-vs-plain-S3 throughput, peak RSS, range-read latency and concurrent-download figures.
# Usage: bench/documents/run.sh [sizeMiB=500] [rangeReads=200] [clients=500]
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
dotnet build -c Release "$repo/services/DocumentService" -v q -nologo >/dev/null
dotnet build -c Release "$repo/bench/documents/DocumentsBench" -v q -nologo >/dev/null
exec dotnet "$repo/bench/documents/DocumentsBench/bin/Release/net10.0/documents-bench.dll" "$@"
