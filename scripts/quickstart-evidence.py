#!/usr/bin/env python3
"""Trains the quickstart (configs/quickstart.toml) at λ = 0 and λ = 1 with seeds 1–3 and writes
the README's quickstart table: per transfer task, the median over the seeds of accuracy, DDP,
equal-opportunity difference (DEO) and the worst head family's DDP.

Usage: python3 scripts/quickstart-evidence.py OUT.json
Raw output: OUT.json holds every run's numbers, command, wall time, the commit, the machine and
the thread settings. Needs a release build (FAIRREP_BIN or target/release/fairrep).
"""
import json, os, platform, statistics, subprocess, sys, tempfile, time

SEEDS = [1, 2, 3]
LAMBDAS = [0, 1]


def main():
    out = sys.argv[1]
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    fairrep = os.environ.get("FAIRREP_BIN", os.path.join(repo, "target/release/fairrep"))
    work = tempfile.mkdtemp()
    runs = []
    for lam in LAMBDAS:
        for seed in SEEDS:
            run = os.path.join(work, f"l{lam}-s{seed}")
            cmd = [fairrep, "-q", "train", "--config", "configs/quickstart.toml", "--out", run,
                   "--set", f"seed={seed}", "--set", f"penalty.lambda={lam}"]
            t0 = time.time()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=repo)
            wall = time.time() - t0
            rep = json.load(open(os.path.join(run, "report.json")))
            for t in rep["tasks"]:
                if t["role"] != "transfer":
                    continue
                runs.append({"lambda": lam, "seed": seed, "task": t["name"],
                             "command": " ".join(["fairrep"] + cmd[1:4] + cmd[6:]),
                             "accuracy": t["accuracy"], "ddp": t["ddp"], "deo": t["deo"],
                             "worst_ddp": t.get("worst_ddp"), "majority": max(t["base_rate"], 1 - t["base_rate"]),
                             "wall_seconds": wall, "train_seconds": rep["train_seconds"]})
            print(f"λ={lam} seed {seed}: {wall:.1f} s", flush=True)
    med = lambda rows, k: statistics.median(r[k] for r in rows)
    summary = []
    for task in sorted({r["task"] for r in runs}, key=lambda t: t != "income"):
        row = {"task": task}
        for lam in LAMBDAS:
            rows = [r for r in runs if r["task"] == task and r["lambda"] == lam]
            row[str(lam)] = {k: med(rows, k) for k in ["accuracy", "ddp", "deo", "worst_ddp", "wall_seconds"]}
        summary.append(row)
    commit = subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    json.dump({"command": " ".join(sys.argv), "commit": commit,
               "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
               "threads": {k: os.environ.get(k) for k in ["RAYON_NUM_THREADS", "OMP_NUM_THREADS"]},
               "seeds": SEEDS, "summary": summary, "runs": runs}, open(out, "w"), indent=1)
    print("\n| transfer task | λ | accuracy | DDP | DEO | worst-head DDP |\n|---|---|---|---|---|---|")
    for row in summary:
        for lam in LAMBDAS:
            s = row[str(lam)]
            print(f"| {row['task']} | {lam} | {s['accuracy']:.4f} | {s['ddp']:.4f} | {s['deo']:.4f} | {s['worst_ddp']:.4f} |")
    walls = [r["wall_seconds"] for r in runs]
    print(f"\nwall time per run (train + evaluate): {min(walls):.1f}–{max(walls):.1f} s")


if __name__ == "__main__":
    main()
