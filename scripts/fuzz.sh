#!/usr/bin/env bash
# A long fuzzing campaign: scripts/fuzz.sh N [SEED] runs N mutated cases (tests/fuzz.rs) with
# the seed SEED (default: the time), printing each case that exits 1 or runs slow, and the
# count of each outcome. A failing case is shrunk and saved in target/fuzz-failures/ in the
# corpus format: once the bug is fixed, copy it into tests/fuzz_corpus/ (files that are the
# valid ones may be deleted) and it runs in every `scripts/test.sh`.
set -euo pipefail
cd "$(dirname "$0")/.."
cases="${1:?usage: scripts/fuzz.sh N [SEED]}"
seed="${2:-$(date +%s)}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
echo "== fuzzing: $cases cases, seed $seed"
FAIRREP_FUZZ_CASES="$cases" FAIRREP_FUZZ_SEED="$seed" \
  cargo test --release --workspace --all-features --locked --test fuzz -- --nocapture
