#!/usr/bin/env bash
# Issue 2 peer comparison: our randomized 50-byte field encrypt (AES-256-GCM + header + AAD, BenchmarkDotNet median)
# against `openssl speed -evp aes-256-gcm -bytes 64` per-operation time, measured in the same run. Target: ratio <= 4.
# Both sides are wall-clock (-elapsed for openssl), so CPU contention from other processes affects both alike.
# Usage: bench/field-vs-openssl.sh   (from anywhere; takes about two minutes)
set -euo pipefail
cd "$(dirname "$0")/.."

artifacts="$(mktemp -d)"
trap 'rm -rf "$artifacts"' EXIT

openssl_per_op_ns() {
  # "Doing AES-256-GCM for 3s on 64 size blocks: N AES-256-GCM's in T s" -> T / N in nanoseconds
  openssl speed -elapsed -evp aes-256-gcm -bytes 64 -seconds 3 2>&1 >/dev/null \
    | awk '/Doing .* on 64 size blocks/ { for (i = 1; i <= NF; i++) if ($i == "in") { printf "%.1f\n", $(i+1) / $(i-2) * 1e9 } }' \
    | sed 's/s$//'
}

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
openssl_before="$(openssl_per_op_ns)"

dotnet run -c Release --project bench/Pii.Bench -- \
  --filter '*FieldBenchmarks.EncryptRandomized50*' --job short --exporters json --artifacts "$artifacts" >"$artifacts/bdn.log"

openssl_after="$(openssl_per_op_ns)"
echo "load after:  $(cut -d' ' -f1-3 /proc/loadavg)"

ours_ns="$(python3 - "$artifacts" <<'PY'
import glob, json, sys
report = glob.glob(sys.argv[1] + "/results/*.json")[0]
for b in json.load(open(report))["Benchmarks"]:
    if b["Method"] == "EncryptRandomized50":
        print("%.1f" % b["Statistics"]["Median"])
PY
)"

python3 - "$openssl_before" "$openssl_after" "$ours_ns" <<'PY'
import sys
before, after, ours = (float(x) for x in sys.argv[1:4])
best = min(before, after)
print(f"openssl speed -evp aes-256-gcm -bytes 64: {before:.1f} ns/op before, {after:.1f} ns/op after (best {best:.1f})")
print(f"PiiAspire randomized 50-byte field encrypt (median): {ours:.1f} ns/op")
ratio = ours / best
print(f"ratio ours/openssl: {ratio:.2f}x (target <= 4x): {'PASS' if ratio <= 4 else 'FAIL'}")
PY
