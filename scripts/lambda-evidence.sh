#!/usr/bin/env bash
# Runs a config at several λ and seeds and prints, per λ, the median over seeds of accuracy and
# DDP on every task, and the wall time of each run. Usage:
#   scripts/lambda-evidence.sh CONFIG "0 1" "1 2 3"
# (λ values and seeds as space-separated lists). Needs a release build of fairrep.
set -euo pipefail
config=${1:?config}; lambdas=${2:-"0 1"}; seeds=${3:-"1 2 3"}
bin=${FAIRREP_BIN:-target/release/fairrep}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for lam in $lambdas; do
  for seed in $seeds; do
    sed -e "s/^lambda = .*/lambda = $lam/" -e "s/^seed = .*/seed = $seed/" "$config" > "$work/c.toml"
    # Relative data paths are taken from the config's directory: keep the copy beside it.
    cp "$work/c.toml" "$(dirname "$config")/.evidence-$$.toml"
    start=$(date +%s.%N)
    "$bin" -q train --config "$(dirname "$config")/.evidence-$$.toml" --out "$work/l$lam-s$seed" > /dev/null
    end=$(date +%s.%N)
    rm -f "$(dirname "$config")/.evidence-$$.toml"
    echo "$lam $seed $(echo "$end - $start" | bc)" >> "$work/times"
  done
done
python3 - "$work" "$lambdas" "$seeds" <<'PY'
import json, statistics, sys
work, lambdas, seeds = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()
times = {}
for line in open(f"{work}/times"):
    lam, seed, t = line.split(); times[(lam, seed)] = float(t)
for lam in lambdas:
    reps = [json.load(open(f"{work}/l{lam}-s{s}/report.json")) for s in seeds]
    print(f"lambda = {lam}  (median of seeds {' '.join(seeds)}; run wall times: "
          + ", ".join(f"{times[(lam, s)]:.1f}s" for s in seeds) + ")")
    for i, t in enumerate(reps[0]["tasks"]):
        acc = statistics.median(r["tasks"][i]["accuracy"] for r in reps)
        ddp = statistics.median(r["tasks"][i]["ddp"] for r in reps)
        print(f"  {t['name']:<14} {t['role']:<8} accuracy {acc:.4f}  DDP {ddp:.4f}   "
              f"(per seed acc {[round(r['tasks'][i]['accuracy'], 4) for r in reps]}, "
              f"DDP {[round(r['tasks'][i]['ddp'], 4) for r in reps]})")
    mmd = statistics.median(r["representation"]["mmd2"] for r in reps)
    print(f"  representation MMD² (test) median {mmd:.5f}")
PY
