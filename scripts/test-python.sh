#!/usr/bin/env bash
# The Python package (crates/fairrep-py) and its pytest suite.
#
# The extension is the workspace's own build of crates/fairrep-py (`cargo build --release
# --workspace --all-features`: the same features and target directory as the Rust tests, so
# burn is not compiled again), installed with the package's Python sources into a venv in the
# target directory (numpy, pandas, pyarrow, pytest, scikit-learn from PyPI).
# `pip install ./crates/fairrep-py` (maturin) builds the same crate; FAIRREP_PY_WHEEL=1 runs the suite on that wheel instead.
# FAIRREP_BIN: the release binary the suite compares with. Needs python3 (3.9+) with venv, pip.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$(pwd)/$target" ;; esac
export CARGO_TARGET_DIR="$target"
venv="$target/py-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check "numpy>=1.21" "pandas>=1.3" "pyarrow>=14" "polars>=1" "pytest>=7" "scikit-learn>=1.4"
started=$(date +%s)
if [ "${FAIRREP_PY_WHEEL:-0}" = 1 ]; then
  "$venv/bin/pip" install -q --disable-pip-version-check "maturin>=1.9,<2"
  rm -rf "$target/wheels"
  (cd crates/fairrep-py && "$venv/bin/maturin" build --release --locked --features wgpu,ndarray \
    -i "$venv/bin/python" -o "$target/wheels" -q)
  "$venv/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps "$target"/wheels/fairrep-*.whl
else
  cargo build --release --workspace --all-features --locked -q
  site="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
  suffix="$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')"
  rm -rf "$site/fairrep"
  mkdir -p "$site/fairrep"
  cp crates/fairrep-py/python/fairrep/*.py crates/fairrep-py/python/fairrep/*.pyi \
    crates/fairrep-py/python/fairrep/py.typed "$site/fairrep/"
  cp "$target/release/lib_fairrep.so" "$site/fairrep/_fairrep$suffix"
fi
echo "== the Python extension built and installed in $(( $(date +%s) - started )) s"
export FAIRREP_BIN="${FAIRREP_BIN:-$target/release/fairrep}"
"$venv/bin/python" -m pytest -q -p no:cacheprovider crates/fairrep-py/tests "$@"
