#!/usr/bin/env bash
# EF Core encrypted-property overhead (issue 12): builds the driver in Release and runs it; it starts PostgreSQL with
# the AppHost's launcher and prints plain vs encrypted save and load medians and their ratios.
# Usage: bench/efcore/run.sh [entities=10000] [runs=7]
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
dotnet build -c Release "$repo/bench/efcore/EfCoreBench" -v q -nologo >/dev/null
exec dotnet "$repo/bench/efcore/EfCoreBench/bin/Release/net10.0/efcore-bench.dll" "$@"
