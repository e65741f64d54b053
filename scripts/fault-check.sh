#!/usr/bin/env bash
# A full disk while training writes its run directory: trains the quickstart into a small tmpfs,
# fills the tmpfs once two epochs are checkpointed, and checks that fairrep stops with exit 1
# naming the path and "No space left on device", that the last complete checkpoint is intact,
# and that after freeing space `--resume` ends with the results of an uninterrupted run.
# Mounting a tmpfs needs root (or sudo without a password); the check fails without it.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
fairrep="$target/release/fairrep"
[ -x "$fairrep" ] || cargo build --release --all-features --locked -q
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
sudo_=""
[ "$(id -u)" -ne 0 ] && sudo_="sudo -n"
work="$(mktemp -d)"
disk="$work/disk"
mkdir -p "$disk"
cleanup() { $sudo_ umount "$disk" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
$sudo_ mount -t tmpfs -o size=16m,mode=1777 tmpfs "$disk" || {
  echo "fault-check: cannot mount a tmpfs (needs root or passwordless sudo)" >&2; exit 1; }

sed -e "s#\.\./data/adult#$(pwd)/data/adult#" -e 's/epochs = 20/epochs = 6/' \
  configs/quickstart.toml > "$work/config.toml"
extra=(--set transfer.baselines=false)
"$fairrep" -q train --config "$work/config.toml" --out "$work/full" "${extra[@]}" >/dev/null

run="$disk/run"
"$fairrep" -q train --config "$work/config.toml" --out "$run" "${extra[@]}" \
  >"$work/stdout" 2>"$work/stderr" &
pid=$!
while [ ! -f "$run/checkpoints/epoch-0002/state.json" ]; do
  kill -0 "$pid" 2>/dev/null || { echo "fault-check: the run ended before the disk was filled" >&2; exit 1; }
  sleep 0.01
done
dd if=/dev/zero of="$disk/filler" bs=64k 2>/dev/null || true   # until the disk is full
set +e
wait "$pid"
code=$?
set -e
echo "exit $code: $(grep error "$work/stderr" || true)"
[ "$code" -eq 1 ] || { echo "fault-check: expected exit 1, got $code" >&2; cat "$work/stderr" >&2; exit 1; }
grep -q "No space left on device" "$work/stderr" || { echo "fault-check: the error does not say the disk is full" >&2; exit 1; }
grep -q "$run" "$work/stderr" || { echo "fault-check: the error does not name the path" >&2; exit 1; }
grep -q "panicked" "$work/stderr" && { echo "fault-check: a panic" >&2; exit 1; }
[ ! -e "$run/report.json" ] || { echo "fault-check: a report was written on a full disk" >&2; exit 1; }
ls "$run/checkpoints" | grep -v '^\.tmp' >/dev/null

rm "$disk/filler"
"$fairrep" -q train --config "$work/config.toml" --out "$run" "${extra[@]}" --resume >/dev/null
python3 - "$work/full" "$run" <<'PY'
import json, sys
a, b = (json.load(open(f"{d}/report.json")) for d in sys.argv[1:])
for key in ["tasks", "representation"]:
    assert a[key] == b[key], f"{key} differs after the resume"
strip = lambda d: [{k: v for k, v in json.loads(l).items() if not k.endswith("_s")}
                   for l in open(f"{d}/metrics.jsonl")]
assert strip(sys.argv[1]) == strip(sys.argv[2]), "metrics.jsonl differs after the resume"
print("fault-check: the resumed run equals the uninterrupted one")
PY
