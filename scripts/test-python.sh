#!/usr/bin/env bash
# The Python package (crates/fairrep-py) and its pytest suite.
#
# The extension is built as `pip install ./crates/fairrep-py` builds it: a wheel by maturin (the
# PEP 517 backend), in the workspace's target directory, so burn and the library crates are not
# compiled again (from a warm target the wheel takes seconds: it shares burn's build with the
# Rust tests, measured). The wheel is installed into a venv in the target directory with numpy,
# pandas, pyarrow, polars, pytest and scikit-learn from PyPI.
# FAIRREP_BIN: the release binary the suite compares with. Needs python3 (3.9+) with venv, pip.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$(pwd)/$target" ;; esac
export CARGO_TARGET_DIR="$target"
venv="$target/py-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check "numpy>=1.21" "pandas>=1.3" "pyarrow>=14" "polars>=1" "pytest>=7" "scikit-learn>=1.4"
"$venv/bin/pip" install -q --disable-pip-version-check "maturin>=1.9,<2"
started=$(date +%s)
rm -rf "$target/wheels"
(cd crates/fairrep-py && "$venv/bin/maturin" build --release --locked --features wgpu,ndarray \
  -i "$venv/bin/python" -o "$target/wheels" -q)
"$venv/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps "$target"/wheels/fairrep-*.whl
echo "== the Python extension built and installed in $(( $(date +%s) - started )) s"
export FAIRREP_BIN="${FAIRREP_BIN:-$target/release/fairrep}"
"$venv/bin/python" -m pytest -q -p no:cacheprovider crates/fairrep-py/tests "$@"
