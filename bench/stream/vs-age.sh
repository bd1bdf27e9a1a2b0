#!/usr/bin/env bash
# Benchmark: `pii stream encrypt|decrypt` (Release build, raw AES keyring, 64 KiB frames, all cores) against
# `age -r <X25519 recipient>` / `age -d` on the same random file, file to file, measured in the same run.
# Prints the median wall time of each tool over RUNS runs, the ratios ours/age (target <= 1.0) and our peak RSS
# (from /usr/bin/time -v; target <= 64 MiB). Installs age with apt-get when missing.
# Usage: bench/stream/vs-age.sh            env: SIZE_MIB (default 500), RUNS (default 3), KEEP_TMP=1 keeps the files
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SIZE_MIB=${SIZE_MIB:-500}
RUNS=${RUNS:-3}

if ! command -v age >/dev/null || ! command -v age-keygen >/dev/null; then
  echo "installing age with apt-get" >&2
  apt-get install -y -q age >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q age >/dev/null; }
fi
[ -x /usr/bin/time ] || { apt-get install -y -q time >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q time >/dev/null; }; }

dotnet build "$ROOT/Cli/Pii.Cli.csproj" -c Release -nologo -v quiet >/dev/null
PII="$ROOT/Cli/bin/Release/net10.0/pii"
[ -x "$PII" ] || { echo "Release build of pii not found at $PII" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pii-stream-bench.XXXXXX")
[ "${KEEP_TMP:-0}" = 1 ] || trap 'rm -rf "$WORK"' EXIT

head -c "$((SIZE_MIB * 1024 * 1024))" /dev/urandom > "$WORK/plain"
age-keygen -o "$WORK/age-key.txt" 2>/dev/null
RECIPIENT=$(age-keygen -y "$WORK/age-key.txt")
AES_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
AES=(--aes-key-hex "$AES_KEY" --key-namespace bench --key-name bench-key)

# run NAME CMD... : runs CMD under /usr/bin/time -v, appends "wall_seconds max_rss_kib" to $WORK/NAME.times
run() {
  local name=$1; shift
  sync
  /usr/bin/time -v -o "$WORK/time.txt" "$@"
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$WORK/time.txt")
  rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$WORK/time.txt")
  echo "$wall $rss" >> "$WORK/$name.times"
}

for _ in $(seq "$RUNS"); do
  run pii-enc sh -c "\"$PII\" stream encrypt ${AES[*]} < \"$WORK/plain\" > \"$WORK/plain.esdk\""
  run age-enc sh -c "age -r $RECIPIENT < \"$WORK/plain\" > \"$WORK/plain.age\""
  run pii-dec sh -c "\"$PII\" stream decrypt ${AES[*]} < \"$WORK/plain.esdk\" > \"$WORK/out.pii\""
  run age-dec sh -c "age -d -i \"$WORK/age-key.txt\" < \"$WORK/plain.age\" > \"$WORK/out.age\""
  cmp -s "$WORK/plain" "$WORK/out.pii" || { echo "pii round trip differs" >&2; exit 1; }
  cmp -s "$WORK/plain" "$WORK/out.age" || { echo "age round trip differs" >&2; exit 1; }
done

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
wall() { cut -d' ' -f1 "$WORK/$1.times" | median; }
rss_mib() { cut -d' ' -f2 "$WORK/$1.times" | sort -n | tail -1 | awk '{ printf "%.1f", $1 / 1024 }'; }

PE=$(wall pii-enc); AE=$(wall age-enc); PD=$(wall pii-dec); AD=$(wall age-dec)
echo "date:        $(date -u +%Y-%m-%dT%H:%MZ)   host: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "input:       ${SIZE_MIB} MiB random, file to file, median of ${RUNS} runs; ciphertext $(stat -c %s "$WORK/plain.esdk") bytes (pii), $(stat -c %s "$WORK/plain.age") bytes (age)"
echo "tools:       pii (Release, raw AES keyring, 64 KiB frames, 1 thread); $(age --version 2>/dev/null | head -1 | sed 's/^/age /') X25519"
printf 'encrypt:     pii %.2f s   age %.2f s   ratio %.2f (target <= 1.0)\n' "$PE" "$AE" "$(awk -v a="$PE" -v b="$AE" 'BEGIN { print a / b }')"
printf 'decrypt:     pii %.2f s   age %.2f s   ratio %.2f (target <= 1.0)\n' "$PD" "$AD" "$(awk -v a="$PD" -v b="$AD" 'BEGIN { print a / b }')"
echo "peak RSS:    pii encrypt $(rss_mib pii-enc) MiB, pii decrypt $(rss_mib pii-dec) MiB (target <= 64); age encrypt $(rss_mib age-enc) MiB, age decrypt $(rss_mib age-dec) MiB"
