#!/usr/bin/env bash
# fairrep against GeomLoss 0.3.1 and POT 0.9.7, side by side in one run, on this machine's CPU.
#
# Creates a Python venv (default target/peers-venv; FAIRREP_PEERS_VENV overrides) with torch
# 2.15.0 (CPU use only: the CUDA wheels are not installed), GeomLoss 0.3.1 and POT 0.9.7.post1,
# builds fairrep in release mode, then runs scripts/bench_peers.py, which prints a table of
# forward + backward times (median of repeats, f32, 2 threads), time ratios, and the accuracy
# of each value against a converged float64 value of the same quantity.
#
# Usage: scripts/bench-peers.sh [--quick] [--sizes 512,2048,8192] [--dims 16,128] [--repeat 3]
#        [--sinkhorn-max-n 2048]   (--quick: n ≤ 2048 only)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${FAIRREP_PEERS_VENV:-target/peers-venv}
if ! "$venv/bin/python" -c "import torch, geomloss, ot" 2>/dev/null; then
  python3 -m venv "$venv"
  wheels=$(mktemp -d)
  "$venv/bin/pip" download -q --no-deps -d "$wheels" torch==2.15.0
  "$venv/bin/pip" install -q --no-deps "$wheels"/torch-*.whl
  rm -rf "$wheels"
  "$venv/bin/pip" install -q filelock typing-extensions sympy networkx jinja2 fsspec \
    numpy scipy geomloss==0.3.1 pot==0.9.7.post1
fi
cargo build --release --all-features -q
exec "$venv/bin/python" scripts/bench_peers.py --fairrep "${CARGO_TARGET_DIR:-target}/release/fairrep" "$@"
