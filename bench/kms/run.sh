#!/usr/bin/env bash
# Key service load test: builds Release, starts the Kms in non-dev mode (config file, SQLite, master key file,
# audit device on) on a free loopback port, runs bench/kms/KmsLoad, prints the figures, stops the Kms.
# Usage: bench/kms/run.sh [seconds-per-scenario]
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
seconds="${1:-10}"
work="$(mktemp -d)"
mkdir -p "$work/data" "$work/secrets"
kms_pid=""
cleanup() { if [ -n "$kms_pid" ]; then kill "$kms_pid" 2>/dev/null || true; wait "$kms_pid" 2>/dev/null || true; fi; rm -rf "$work"; }
trap cleanup EXIT

dotnet build -c Release "$repo/services/Kms" -v q -nologo >/dev/null
dotnet build -c Release "$repo/bench/kms/KmsLoad" -v q -nologo >/dev/null

port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')"
python3 -c 'import os; print(os.urandom(32).hex())' > "$work/secrets/master.key"
cat > "$work/kms.json" <<JSON
{ "listener": {"tcp": {"address": "127.0.0.1:$port"}},
  "storage": {"sqlite": {"path": "$work/data/kms.db"}},
  "master_key": {"file": "$work/secrets/master.key"},
  "audit": {"file": {"path": "$work/data/audit.log"}},
  "root_token_file": "$work/secrets/root-token" }
JSON

# Development as under the AppHost (ASPIRE-CONVENTIONS.md): it also maps /alive, the peer measured first.
env -u ASPNETCORE_URLS ASPNETCORE_ENVIRONMENT=Development dotnet "$repo/services/Kms/bin/Release/net10.0/Pii.Kms.dll" -config="$work/kms.json" >"$work/kms.out" 2>&1 &
kms_pid=$!
for _ in $(seq 1 100); do
  curl -sf "http://127.0.0.1:$port/v1/sys/health" >/dev/null 2>&1 && break
  sleep 0.2
done

echo "date: $(date -u +%Y-%m-%dT%H:%MZ)  host: $(nproc) cores, loopback, audit device on"
echo "command: bench/kms/run.sh $seconds"
dotnet "$repo/bench/kms/KmsLoad/bin/Release/net10.0/kms-load.dll" "http://127.0.0.1:$port/" "$(cat "$work/secrets/root-token")" "$seconds"
echo "audit log: $(wc -l < "$work/data/audit.log") lines; chain check:"
dotnet build -c Release "$repo/Cli" -v q -nologo >/dev/null
dotnet "$repo/Cli/bin/Release/net10.0/pii.dll" audit verify "$work/data/audit.log"
