#!/usr/bin/env bash
# Benchmark: `pii stream encrypt|decrypt` (Release ReadyToRun publish, raw AES keyring, 64 KiB frames, all cores) against
# `age -r <X25519 recipient>` / `age -d` on the same random file, file to file, measured in the same run.
# Prints the median wall time of each tool over RUNS runs, the ratios ours/age (target <= 1.0) and our peak RSS
# (from /usr/bin/time -v; target <= 64 MiB). Installs age with apt-get when missing.
# Usage: bench/stream/vs-age.sh            env: SIZE_MIB (default 500), RUNS (default 7), KEEP_TMP=1 keeps the files
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SIZE_MIB=${SIZE_MIB:-500}
RUNS=${RUNS:-7}

if ! command -v age >/dev/null || ! command -v age-keygen >/dev/null; then
  echo "installing age with apt-get" >&2
  apt-get install -y -q age >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q age >/dev/null; }
fi
[ -x /usr/bin/time ] || { apt-get install -y -q time >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q time >/dev/null; }; }

# The CLI as it is installed (README): a framework-dependent ReadyToRun publish, so start-up does not wait for the JIT.
OUT="$ROOT/Cli/bin/Release/publish-linux-x64"
dotnet publish "$ROOT/Cli/Pii.Cli.csproj" -c Release -r linux-x64 --self-contained false -p:PublishReadyToRun=true -o "$OUT" -nologo -v quiet >/dev/null
PII="$OUT/pii"
[ -x "$PII" ] || { echo "published pii not found at $PII" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/pii-stream-bench.XXXXXX")
[ "${KEEP_TMP:-0}" = 1 ] || trap 'rm -rf "$WORK"' EXIT

head -c "$((SIZE_MIB * 1024 * 1024))" /dev/urandom > "$WORK/plain"
age-keygen -o "$WORK/age-key.txt" 2>/dev/null
RECIPIENT=$(age-keygen -y "$WORK/age-key.txt")
AES_KEY=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
AES=(--aes-key-hex "$AES_KEY" --key-namespace bench --key-name bench-key)

# run NAME OUTPUT CMD... : runs CMD under /usr/bin/time -v, appends "wall_s max_rss_kib user_s sys_s" to $WORK/NAME.times
# OUTPUT (the previous run's) is deleted first: truncating 500 MiB of pages still being written back cost either
# tool up to 0.5 s of system time at random, which is the file system's noise, not the cipher's.
run() {
  local name=$1 output=$2; shift 2
  rm -f "$output"
  sync
  /usr/bin/time -v -o "$WORK/time.txt" "$@"
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$WORK/time.txt")
  rss=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$WORK/time.txt")
  echo "$wall $rss $(awk -F": " "/User time/ { u = \$2 } /System time/ { s = \$2 } END { print u, s }" "$WORK/time.txt")" >> "$WORK/$name.times"
}

for _ in $(seq "$RUNS"); do
  # Each tool decrypts right after it encrypted, so both read a ciphertext file of the same age (this VM's kernel
  # reclaims cold page-cache pages, and an older input file was read back from disk).
  run pii-enc "$WORK/plain.esdk" sh -c "\"$PII\" stream encrypt ${AES[*]} < \"$WORK/plain\" > \"$WORK/plain.esdk\""
  run pii-dec "$WORK/out.pii" sh -c "\"$PII\" stream decrypt ${AES[*]} < \"$WORK/plain.esdk\" > \"$WORK/out.pii\""
  run age-enc "$WORK/plain.age" sh -c "age -r $RECIPIENT < \"$WORK/plain\" > \"$WORK/plain.age\""
  run age-dec "$WORK/out.age" sh -c "age -d -i \"$WORK/age-key.txt\" < \"$WORK/plain.age\" > \"$WORK/out.age\""
  cmp -s "$WORK/plain" "$WORK/out.pii" || { echo "pii round trip differs" >&2; exit 1; }
  cmp -s "$WORK/plain" "$WORK/out.age" || { echo "age round trip differs" >&2; exit 1; }
done

median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
wall() { cut -d' ' -f1 "$WORK/$1.times" | median; }
fastest() { cut -d' ' -f1 "$WORK/$1.times" | sort -n | head -1; }
cpu() { awk '{ u += $3; s += $4 } END { printf "%.2f user + %.2f sys", u / NR, s / NR }' "$WORK/$1.times"; }
rss_mib() { cut -d' ' -f2 "$WORK/$1.times" | sort -n | tail -1 | awk '{ printf "%.1f", $1 / 1024 }'; }

echo "date:        $(date -u +%Y-%m-%dT%H:%MZ)   host: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "input:       ${SIZE_MIB} MiB random, file to file, median of ${RUNS} runs; ciphertext $(stat -c %s "$WORK/plain.esdk") bytes (pii), $(stat -c %s "$WORK/plain.age") bytes (age)"
echo "tools:       pii (Release ReadyToRun publish, raw AES keyring, 64 KiB frames, cipher thread + read-ahead/write-behind threads); $(age --version 2>/dev/null | head -1 | sed 's/^/age /') X25519"
# The VM's CPU time for the same work varies by up to 2x between runs (steal, frequency); the fastest run shows what
# each tool can do, the median what a run is likely to see. Both ratios are printed.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
for d in enc dec; do
  P=$(wall pii-$d); A=$(wall age-$d); PF=$(fastest pii-$d); AF=$(fastest age-$d)
  printf '%-12s pii %.2f s   age %.2f s   ratio %s (target <= 1.0)   fastest: %.2f / %.2f s, ratio %s   mean CPU pii %s, age %s\n' \
    "${d}rypt:" "$P" "$A" "$(ratio "$P" "$A")" "$PF" "$AF" "$(ratio "$PF" "$AF")" "$(cpu pii-$d)" "$(cpu age-$d)"
done
echo "peak RSS:    pii encrypt $(rss_mib pii-enc) MiB, pii decrypt $(rss_mib pii-dec) MiB (target <= 64); age encrypt $(rss_mib age-enc) MiB, age decrypt $(rss_mib age-dec) MiB"
