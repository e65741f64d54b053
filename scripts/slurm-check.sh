#!/usr/bin/env bash
# A sweep on a real Slurm: starts a single-node Slurm cluster from Debian's packages (slurmctld,
# slurmd, munge; installed with apt when missing) on this machine, submits the job array that
# `fairrep sweep --emit slurm` writes for a small grid, waits for it, and checks that
# `fairrep report` over its runs equals the report of the same sweep run locally.
# Needs root (or passwordless sudo) to install and start the daemons; fails without them.
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"
fairrep="$(pwd)/$target/release/fairrep"
case "$target" in /*) fairrep="$target/release/fairrep" ;; esac
[ -x "$fairrep" ] || cargo build --release --all-features --locked -q
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
sudo_=""
[ "$(id -u)" -ne 0 ] && sudo_="sudo -n"
started=$(date +%s)

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
  echo "== installing Slurm and munge (apt)"
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq --no-install-recommends \
    slurmctld slurmd slurm-client munge >/dev/null
fi

work="$(mktemp -d /tmp/fairrep-slurm.XXXXXX)"
chmod 755 "$work"
conf="$work/etc"
mkdir -p "$conf" "$work/state" "$work/spool" "$work/log"
cleanup() {
  [ -f "$work/slurmd.pid" ] && $sudo_ kill "$(cat "$work/slurmd.pid")" 2>/dev/null || true
  [ -f "$work/slurmctld.pid" ] && $sudo_ kill "$(cat "$work/slurmctld.pid")" 2>/dev/null || true
  [ -f "$work/munged.pid" ] && $sudo_ kill "$(cat "$work/munged.pid")" 2>/dev/null || true
  sleep 1
  $sudo_ rm -rf "$work"
}
trap cleanup EXIT

# munge: a fresh key, its own socket, run as root (-f: no ownership checks in a scratch dir).
$sudo_ dd if=/dev/urandom of="$work/munge.key" bs=1024 count=1 2>/dev/null
$sudo_ chmod 400 "$work/munge.key"
socket="$work/munge.socket"
$sudo_ munged -f --key-file="$work/munge.key" --socket="$socket" \
  --pid-file="$work/munged.pid" --log-file="$work/log/munged.log" --seed-file="$work/munge.seed"

host="$(hostname -s)"
cpus="$(nproc)"
mem_mb="$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)"
cat > "$conf/slurm.conf" <<CONF
ClusterName=fairrep-check
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
SlurmctldPort=16817
SlurmdPort=16818
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
NodeName=$host CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=check Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$conf/slurm.conf"
$sudo_ env SLURM_CONF="$SLURM_CONF" slurmctld -i
$sudo_ env SLURM_CONF="$SLURM_CONF" slurmd
for _ in $(seq 60); do
  sinfo -h -o %T 2>/dev/null | grep -q idle && break
  sleep 1
done
sinfo -h -o "%P %D %T" | grep -q idle || {
  echo "slurm-check: the node did not come up" >&2; sinfo >&2 || true
  tail -20 "$work/log/slurmctld.log" "$work/log/slurmd.log" >&2 || true; exit 1; }
echo "== Slurm $(sinfo -V | awk '{print $2}') up: $(sinfo -h -o '%P %D %c %T')"

# A small grid: 2 penalties × 2 λ, 2 epochs of the quickstart.
sed -e "s#\.\./data/adult#$(pwd)/data/adult#" -e 's/epochs = 20/epochs = 2/' \
  configs/quickstart.toml > "$work/config.toml"
grid=(--config "$work/config.toml" --lambda 0,1 --penalty mmd,sinkhorn --seeds 1
      --set transfer.baselines=false)
"$fairrep" -q sweep "${grid[@]}" --emit slurm --out "$work/cluster"
if ! (cd "$work" && sbatch --wait --quiet "$work/cluster/sweep.slurm"); then
  echo "slurm-check: a task of the job array failed" >&2
  for f in "$work"/cluster/slurm-*.out; do echo "--- $f" >&2; cat "$f" >&2; done
  exit 1
fi
echo "== the job array ran: $(ls -d "$work"/cluster/*/report.json | wc -l) runs finished on Slurm"
"$fairrep" -q report "$work/cluster" --out "$work/report-cluster" >/dev/null

"$fairrep" -q sweep "${grid[@]}" --out "$work/local" >/dev/null 2>&1
"$fairrep" -q report "$work/local" --out "$work/report-local" >/dev/null
python3 - "$work/report-cluster" "$work/report-local" <<'PY'
import json, sys
def load(d):
    r = json.load(open(f"{d}/report.json"))
    def strip(v):
        # Where the runs are, and how long they took, differ; nothing else may.
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items()
                    if k not in ("run", "runs", "dir", "path") and not k.endswith("_s")
                    and not k.endswith("seconds")}
        if isinstance(v, list):
            return [strip(x) for x in v]
        return v
    return strip(r)
a, b = load(sys.argv[1]), load(sys.argv[2])
points = sum(len(t["points"]) for t in a["tasks"])
assert points >= 4, f"only {points} points in the report"
assert a == b, "the report over the Slurm runs differs from the local sweep's"
print(f"slurm-check: the report over the Slurm job array equals the local sweep's")
PY
echo "slurm-check: $(( $(date +%s) - started )) s in all"
