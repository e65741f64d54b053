#!/usr/bin/env bash
# Checks that an exported run's Python module (numpy + safetensors, no torch) reproduces
# `fairrep encode` to 1e-5 on the Adult test file, read with a header line, and, after
# `fairrep certify`, `fairrep encode --cells`'s cell ids.
# Usage: scripts/check-export.sh [PYTHON]   (default: a venv in $CARGO_TARGET_DIR or target/,
# created with numpy and safetensors from PyPI when missing)
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
py="${1:-}"
if [ -z "$py" ]; then
  venv="$target/export-check-venv"
  if ! "$venv/bin/python" -c "import numpy, safetensors" 2>/dev/null; then
    echo "== creating $venv (numpy, safetensors)"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q numpy safetensors
  fi
  py="$venv/bin/python"
fi
fairrep="$target/release/fairrep"
[ -x "$fairrep" ] || cargo build --release --all-features --locked -q
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# A short quickstart run, its export, and the test file with a header line.
sed -e "s#\.\./data/adult#$(pwd)/data/adult#" -e 's/epochs = 20/epochs = 2/' \
  configs/quickstart.toml > "$work/config.toml"
"$fairrep" -q train --config "$work/config.toml" --out "$work/run" >/dev/null
"$fairrep" -q certify --run "$work/run" --cells 8 >/dev/null
"$fairrep" -q export --run "$work/run" --out "$work/export" >/dev/null
{
  echo "age,workclass,fnlwgt,education,education-num,marital-status,occupation,relationship,race,sex,capital-gain,capital-loss,hours-per-week,native-country,income"
  gzip -dc data/adult/adult.test.gz | tail -n +2
} > "$work/rows.csv"
"$fairrep" -q encode --run "$work/run" --input "$work/rows.csv" --header --out "$work/z_fairrep.csv" >/dev/null
"$py" "$work/export/fairrep_encoder.py" --model "$work/export" --input "$work/rows.csv" --header --out "$work/z_python.csv"
"$fairrep" -q encode --run "$work/run" --input "$work/rows.csv" --header --cells --out "$work/cells_fairrep.csv" >/dev/null
"$py" "$work/export/fairrep_encoder.py" --model "$work/export" --input "$work/rows.csv" --header --cells --out "$work/cells_python.csv"
"$py" - "$work/z_fairrep.csv" "$work/z_python.csv" <<'PY'
import csv, sys
a = list(csv.reader(open(sys.argv[1])))
b = list(csv.reader(open(sys.argv[2])))
assert a[0] == b[0], (a[0], b[0])
assert len(a) == len(b), (len(a), len(b))
worst, rows, empty = 0.0, 0, 0
for i, (x, y) in enumerate(zip(a[1:], b[1:])):
    if all(v == "" for v in x):
        assert all(v == "" for v in y), f"row {i + 1}: dropped by fairrep only"
        empty += 1
        continue
    for u, v in zip(x, y):
        worst = max(worst, abs(float(u) - float(v)))
    rows += 1
print(f"export check: {rows} rows, {empty} dropped in both, largest |z_fairrep - z_python| = {worst:.3g}")
assert rows > 15000, rows
assert worst <= 1e-5, worst
PY
"$py" - "$work/cells_fairrep.csv" "$work/cells_python.csv" <<'PY'
import csv, sys
a = list(csv.reader(open(sys.argv[1])))
b = list(csv.reader(open(sys.argv[2])))
assert a[0][0] == "cell" and b[0] == ["cell"], (a[0], b[0])
assert len(a) == len(b), (len(a), len(b))
same = sum(1 for x, y in zip(a[1:], b[1:]) if x[0] == y[0])
cells = {x[0] for x in a[1:] if x[0] != ""}
print(f"export check: cells equal on {same} of {len(a) - 1} rows ({len(cells)} distinct cells)")
# z differs by < 1e-5 between the two; a row that close to a threshold may change cells.
assert same >= 0.999 * (len(a) - 1), same
assert len(cells) > 1, cells
PY
# The Adult test file as shipped (no header: the run's column names; one line to skip; gzip),
# read by the module as `fairrep encode` reads it.
"$fairrep" -q encode --run "$work/run" --input data/adult/adult.test.gz --skip-rows 1 --out "$work/z_fairrep_raw.csv" >/dev/null
"$py" "$work/export/fairrep_encoder.py" --model "$work/export" --input data/adult/adult.test.gz --skip-rows 1 --out "$work/z_python_raw.csv"
"$py" - "$work/z_fairrep_raw.csv" "$work/z_python_raw.csv" <<'PY'
import csv, sys
a = list(csv.reader(open(sys.argv[1])))
b = list(csv.reader(open(sys.argv[2])))
assert a[0] == b[0] and len(a) == len(b), (a[0], b[0], len(a), len(b))
worst = max(
    (abs(float(u) - float(v)) for x, y in zip(a[1:], b[1:]) for u, v in zip(x, y) if u != "" or v != ""),
    default=0.0,
)
print(f"export check: the shipped test file (no header, --skip-rows 1): {len(a) - 1} rows, largest difference {worst:.3g}")
assert len(a) - 1 == 16281 and worst <= 1e-5, (len(a), worst)
PY
# The library snippet of docs/guide/representation.md, as written, on an export named R-export.
mkdir -p "$work/snippet"
ln -s "$work/export" "$work/snippet/R-export"
ln -s "$(pwd)/data" "$work/snippet/data"
awk '/^```python$/{on=1; next} /^```$/{on=0} on' docs/guide/representation.md > "$work/snippet/snippet.py"
case "$py" in */*) [ "${py#/}" != "$py" ] || py="$(pwd)/$py" ;; esac   # absolute, for the cd below
(cd "$work/snippet" && "$py" snippet.py) | tee "$work/snippet/out.txt"
grep -q "^(16281, 16) 15063$" "$work/snippet/out.txt"
echo "export check: the docs' Python snippet runs as written"
