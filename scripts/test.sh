#!/usr/bin/env bash
# Runs every check and test of fairrep, from a fresh clone:
#   formatting (cargo fmt --check), lints (cargo clippy -D warnings) and the whole test suite.
# Tests use the release profile, the same build as the quickstart, so burn is compiled once.
# The CPU backend needs nothing beyond a Rust toolchain (1.95+) with rustfmt and clippy.
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1 || { echo "scripts/test.sh: '$1' not found: $2" >&2; exit 1; }; }
need cargo "install Rust 1.95 or newer (https://rustup.rs)"
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  command -v rustup >/dev/null 2>&1 && rustup component add rustfmt clippy
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --release --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --release --workspace --locked
