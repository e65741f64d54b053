#!/usr/bin/env bash
# The GPU benchmarks of the fused kernels, in one go, on a machine with a GPU and a Vulkan driver
# (NVIDIA: the proprietary driver ships its Vulkan ICD). Builds the bench binary once and writes
# Markdown tables to $OUT (default target/gpu-bench/):
#
#   fused-vs-portable.md  MMD² and Sinkhorn, forward + backward, fused vs portable on wgpu,
#                         n = m = 512 … 16,384, d = 16 and 64: time, device memory (CubeCL pool
#                         reservations and the largest single allocation), GFLOP/s (≥);
#   target.md             the issue's goal: Sinkhorn divergence forward + backward at
#                         n = m = 100,000, d = 64 (fused path only), under one second on an
#                         H100/H200-class GPU, and the kernels' share of the card's fp32 peak.
#   env.txt               GPU, driver, Vulkan device, versions.
#
# Usage: scripts/gpu-bench.sh [--quick]   (--quick: n ≤ 2048, for a check that it all runs)
# Settings: OUT=dir, FAIRREP_BENCH_PEAK_GFLOPS (fp32 peak of the card; guessed for H100/H200).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-target/gpu-bench}"
mkdir -p "$OUT"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"

command -v cargo >/dev/null || { echo "gpu-bench: cargo not found (Rust 1.95+ needed)" >&2; exit 1; }
{
  date -u
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv || echo "nvidia-smi: none"
  command -v vulkaninfo >/dev/null && vulkaninfo --summary 2>/dev/null | grep -E "deviceName|driverName|apiVersion" || echo "vulkaninfo: none"
  rustc --version; git rev-parse HEAD 2>/dev/null || true
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

if [ -z "${FAIRREP_BENCH_PEAK_GFLOPS:-}" ] && command -v nvidia-smi >/dev/null; then
  case "$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)" in
    *H100*SXM*|*H200*) export FAIRREP_BENCH_PEAK_GFLOPS=66900 ;; # dense fp32, no tensor cores
    *H100*PCIe*|*H100*) export FAIRREP_BENCH_PEAK_GFLOPS=51200 ;;
    *A100*) export FAIRREP_BENCH_PEAK_GFLOPS=19500 ;;
  esac
fi

echo "== building the bench (release)"
cargo bench --workspace --all-features --no-run --bench fused 2>&1 | tail -3

sizes="512,1024,2048,4096,8192,16384"; target_n=100000
if [ "${1:-}" = "--quick" ]; then sizes="512,1024,2048"; target_n=4096; fi

bench() { cargo bench --workspace --all-features --bench fused 2>/dev/null; }

echo "== fused vs portable on wgpu"
: > "$OUT/fused-vs-portable.md"
for d in 16 64; do
  echo "### d = $d" >> "$OUT/fused-vs-portable.md"
  FAIRREP_BENCH_BACKENDS=wgpu FAIRREP_BENCH_SIZES="$sizes" FAIRREP_BENCH_DIM=$d \
    bench | tee -a "$OUT/fused-vs-portable.md"
  echo >> "$OUT/fused-vs-portable.md"
done

echo "== target: Sinkhorn, n = m = $target_n, d = 64, fused"
FAIRREP_BENCH_BACKENDS=wgpu FAIRREP_BENCH_KINDS=sinkhorn,mmd FAIRREP_BENCH_PATHS=fused \
  FAIRREP_BENCH_SIZES="$target_n" FAIRREP_BENCH_DIM=64 FAIRREP_BENCH_REPEAT=5 \
  bench | tee "$OUT/target.md"
echo "tables in $OUT/"
