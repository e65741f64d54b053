#!/usr/bin/env bash
# Trains every shipped config (2 epochs) with two fairrep binaries and compares what they write:
# report.json and metrics.jsonl (timings removed), preprocessing.json, the FERM report, and the
# peak RSS of each run (/usr/bin/time). Used to check that a change to the data path keeps the
# results bit for bit (issue 28: the typed reading path).
#
# Usage: scripts/same-bits.sh OLD_BINARY NEW_BINARY [CONFIG ...]   (FAIRREP_DATA_DIR for the data)
set -euo pipefail
cd "$(dirname "$0")/.."
old=$1 new=$2; shift 2
configs=("$@"); [ ${#configs[@]} -gt 0 ] || configs=(configs/*.toml)
out=$(mktemp -d)
export RAYON_NUM_THREADS=2
for cfg in "${configs[@]}"; do
  name=$(basename "$cfg" .toml)
  for side in old new; do
    bin=$old; [ $side = new ] && bin=$new
    /usr/bin/time -f "%M" -o "$out/$name-$side.rss" "$bin" -q train --config "$cfg" \
      --out "$out/$name-$side" --set training.epochs=2 > "$out/$name-$side.log" 2>&1 \
      || echo "$name $side FAILED"
  done
  python3 - "$out/$name-old" "$out/$name-new" "$name" "$out/$name-old.rss" "$out/$name-new.rss" <<'PY'
import json, os, sys
a, b, name = sys.argv[1:4]
rss = [int(open(f).read().split()[-1]) // 1024 for f in sys.argv[4:6]]
def strip(d):
    if isinstance(d, dict):
        return {k: strip(v) for k, v in d.items() if not (k.endswith("seconds") or k.endswith("_s") or k == "config")}
    if isinstance(d, list):
        return [strip(v) for v in d]
    return d
res = []
for f in ("report.json", "preprocessing.json", "ferm.json"):
    pa, pb = os.path.join(a, f), os.path.join(b, f)
    if os.path.exists(pa) and os.path.exists(pb):
        res.append(f"{f} {'same' if strip(json.load(open(pa))) == strip(json.load(open(pb))) else 'DIFFERENT'}")
if os.path.exists(os.path.join(a, "metrics.jsonl")):
    m = [[strip(json.loads(l)) for l in open(os.path.join(d, "metrics.jsonl"))] for d in (a, b)]
    res.append(f"metrics.jsonl {'same' if m[0] == m[1] else 'DIFFERENT'}")
print(f"{name}: " + ", ".join(res) + f"; peak RSS {rss[0]} → {rss[1]} MiB", flush=True)
PY
done
rm -rf "$out"
