#!/usr/bin/env bash
# The profile of issue 15's training job at λ = 0 (the quickstart with an MLP 128-64 -> z in R^32,
# batch 256, Adam 1e-3, five epochs, 2 threads): `perf record -g`, then the symbols above 1% of
# the samples by self time. Writes OUT (default docs/evidence/benchmarks/profile-lambda0.txt)
# with the command, commit and machine at its top. Needs linux perf and a release build.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-docs/evidence/benchmarks/profile-lambda0.txt}"
fairrep="${CARGO_TARGET_DIR:-target}/release/fairrep"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cmd=("$fairrep" -q train --config configs/quickstart.toml --out "$work/run"
  --set 'model.hidden=[128,64]' --set model.representation=32 --set transfer.baselines=false
  --set training.batch_size=256 --set training.learning_rate=0.001 --set penalty.lambda=0
  --set training.epochs=5)
RAYON_NUM_THREADS=2 perf record -q -F 999 -g -o "$work/perf.data" -- "${cmd[@]}" >/dev/null 2>&1
{
  echo "# scripts/profile-step.sh — commit $(git rev-parse HEAD), $(nproc) CPUs, RAYON_NUM_THREADS=2"
  echo "# command: ${cmd[*]/$work/WORK}"
  echo "# epochs (train_s = optimiser steps, valid_s = validation), from metrics.jsonl:"
  python3 -c "
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    print(f'#   epoch {r[\"epoch\"]}: train_s {r[\"train_s\"]:.3f}  valid_s {r[\"valid_s\"]:.3f}')
" "$work/run/metrics.jsonl"
  echo "# perf report --no-children --percent-limit 1 (self time by symbol):"
  perf report -q -i "$work/perf.data" --no-children --percent-limit 1 --stdio -g none \
    --sort symbol 2>/dev/null | sed -e 's/[[:space:]]*-[[:space:]]*-[[:space:]]*$//' -e 's/[[:space:]]*$//' | grep -v '^$'
} > "$out"
cat "$out"
