#!/usr/bin/env bash
# Issue 2 peer comparison: our randomized 50-byte field encrypt (AES-256-GCM + header + AAD, BenchmarkDotNet median)
# against `openssl speed -evp aes-256-gcm -bytes 64` per-operation time, measured in the same run. Target: ratio <= 4.
# Two comparisons, each like for like:
#   CPU time:  openssl's default timing (process CPU time) vs FieldCpuTimeBenchmarks (process CPU-time clock);
#   wall time: openssl -elapsed vs FieldBenchmarks --job short (wall clock; inflated alike when the machine is busy).
# Usage: bench/field-vs-openssl.sh   (from anywhere; takes about three minutes)
set -euo pipefail
cd "$(dirname "$0")/.."

artifacts="$(mktemp -d)"
trap 'rm -rf "$artifacts"' EXIT

# "Doing AES-256-GCM for 3s on 64 size blocks: N AES-256-GCM's in T s" -> T / N in nanoseconds.
openssl_per_op_ns() {
  openssl speed "$@" -evp aes-256-gcm -bytes 64 -seconds 3 2>&1 >/dev/null \
    | awk '/Doing .* on 64 size blocks/ { for (i = 1; i <= NF; i++) if ($i == "in") { printf "%.1f\n", $(i+1) / $(i-2) * 1e9 } }'
}

# Median of EncryptRandomized50 from a BenchmarkDotNet JSON report.
our_median_ns() {
  python3 - "$1" <<'PY'
import glob, json, sys
report = glob.glob(sys.argv[1] + "/results/*.json")[0]
for b in json.load(open(report))["Benchmarks"]:
    if b["Method"] == "EncryptRandomized50":
        print("%.1f" % b["Statistics"]["Median"])
PY
}

echo "date: $(date -u '+%Y-%m-%d %H:%M UTC'); load before: $(cut -d' ' -f1-3 /proc/loadavg)"
openssl_cpu="$(openssl_per_op_ns)"
openssl_wall="$(openssl_per_op_ns -elapsed)"

dotnet run -c Release --project bench/Pii.Bench -- --filter '*FieldCpuTimeBenchmarks.EncryptRandomized50*' \
  --exporters json --artifacts "$artifacts/cpu" >"$artifacts/cpu.log"
dotnet run -c Release --project bench/Pii.Bench -- --filter '*.FieldBenchmarks.EncryptRandomized50*' --job short \
  --exporters json --artifacts "$artifacts/wall" >"$artifacts/wall.log"
ours_cpu="$(our_median_ns "$artifacts/cpu")"
ours_wall="$(our_median_ns "$artifacts/wall")"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$openssl_cpu" "$ours_cpu" "$openssl_wall" "$ours_wall" <<'PY'
import sys
openssl_cpu, ours_cpu, openssl_wall, ours_wall = (float(x) for x in sys.argv[1:5])
for label, peer, ours in (("CPU time", openssl_cpu, ours_cpu), ("wall time", openssl_wall, ours_wall)):
    ratio = ours / peer
    verdict = "PASS" if ratio <= 4 else "FAIL"
    print(f"{label:9}: openssl aes-256-gcm 64 B {peer:8.1f} ns/op | PiiAspire randomized 50 B field encrypt {ours:8.1f} ns/op"
          f" | ratio {ratio:.2f}x (target <= 4x) {verdict}")
PY
