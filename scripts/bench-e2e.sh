#!/usr/bin/env bash
# fairrep's training epoch against the same job in PyTorch (+ GeomLoss for the Sinkhorn
# penalty), side by side in one run, on this machine's CPU (2 threads each): seconds per epoch
# and per row for no penalty, MMD² and Sinkhorn, and the ratio; with --scaling, fairrep alone on
# seeded synthetic tables of the given sizes (time per epoch and peak memory).
#
# Creates a Python venv (default target/peers-venv, shared with scripts/bench-peers.sh;
# FAIRREP_PEERS_VENV overrides) with torch 2.15.0 (CPU use only), GeomLoss 0.3.1, numpy and
# safetensors, builds fairrep in release mode, then runs scripts/bench_e2e.py.
#
# Usage: scripts/bench-e2e.sh [--epochs 4] [--penalties none,mmd,sinkhorn]
#        [--scaling 30000,200000,2000000] [--scaling-epochs 2]
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${FAIRREP_PEERS_VENV:-target/peers-venv}
if ! "$venv/bin/python" -c "import torch, geomloss, ot, safetensors" 2>/dev/null; then
  python3 -m venv "$venv"
  if ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
    wheels=$(mktemp -d)
    "$venv/bin/pip" download -q --no-deps -d "$wheels" torch==2.15.0
    "$venv/bin/pip" install -q --no-deps "$wheels"/torch-*.whl
    rm -rf "$wheels"
  fi
  "$venv/bin/pip" install -q filelock typing-extensions sympy networkx jinja2 fsspec \
    numpy scipy geomloss==0.3.1 pot==0.9.7.post1 safetensors
fi
cargo build --release --all-features -q
target="${CARGO_TARGET_DIR:-target}"
exec "$venv/bin/python" scripts/bench_e2e.py --fairrep "$target/release/fairrep" "$@"
