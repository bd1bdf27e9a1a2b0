#!/usr/bin/env bash
# Cold start of the built AppHost to every resource healthy, N runs (default 5), with the load average of each.
# "Healthy" = the five services answer /health 200: each waits (WaitFor) for its servers, databases, logins, buckets
# and the provisioned key service, so that is the moment the last of the 22 resources is healthy.
# Usage: bench/apphost/cold-start.sh [runs=5] [fresh]   (fresh: an empty state folder each run: initdb etc.)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=${1:-5}
fresh=${2:-}
dotnet build AppHost -v q -nologo > /dev/null
state=$(mktemp -d /tmp/piiaspire-coldstart-XXXXXX)
chmod 755 "$state"
for run in $(seq 1 "$runs"); do
  if [ -n "$fresh" ]; then rm -rf "$state"/*; fi
  load=$(cut -d' ' -f1-3 /proc/loadavg)
  start=$(date +%s.%N)
  dotnet run --project AppHost --no-build -- --PiiAspire:StateDirectory="$state" > "$state.log" 2>&1 &
  runner=$!
  for port in 5080 5081 5082 5083 5084; do
    until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health")" = 200 ]; do
      sleep 0.2
      if [ "$(echo "$(date +%s.%N) - $start > 300" | bc)" = 1 ]; then echo "run $run: not healthy in 300 s" >&2; kill -TERM "$runner"; exit 1; fi
    done
  done
  printf 'run %s: all resources healthy after %.1f s (load average at start: %s)\n' "$run" "$(echo "$(date +%s.%N) - $start" | bc)" "$load"
  pkill -TERM -f "$PWD/AppHost/bin/.*/Pii.AppHost" || true
  wait "$runner" || true
  while pgrep -f "$state" > /dev/null; do sleep 0.5; done
done
rm -rf "$state" "$state.log"
