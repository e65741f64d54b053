#!/usr/bin/env python3
"""Trains the quickstart (Adult, sex) under several penalty variants and seeds, certifies each run
(`fairrep certify`) and audits it (`fairrep audit`), and writes, per variant, the median over the
seeds of the income transfer task's accuracy, the logistic head's DDP, the worst head family's
DDP, the certified DP bound and accuracy of the quantised release, and the strongest probe's
lower bound on the groups' total variation.

Usage: python3 scripts/worst-head-evidence.py OUT.json [VARIANT ...]
(FAIRREP_SEEDS=4,5,6 for other seeds than 1, 2, 3.)
A variant is one of VARIANTS' names below, or NAME::KEY=VALUE;KEY=VALUE (config overrides).
Raw output: OUT.json holds every run's numbers, the command lines, the commit, the machine, the
thread settings and the wall times. Needs a release build (FAIRREP_BIN or target/release/fairrep).
"""
import json, os, platform, statistics, subprocess, sys, tempfile, time

VARIANTS = {
    "mmd λ=1 (quickstart)": ["--set", "penalty.lambda=1"],
    "mmd λ=3": ["--set", "penalty.lambda=3"],
    "mmd λ=10": ["--set", "penalty.lambda=10"],
    "mmd λ=3, five bandwidths": ["--set", "penalty.lambda=3", "--set", "penalty.bandwidth=[0.5,1,2,4,8]"],
    "mmd λ=3, whitened z": ["--set", "penalty.lambda=3", "--set", "penalty.scale=whiten"],
    "mmd λ=10, whitened z": ["--set", "penalty.lambda=10", "--set", "penalty.scale=whiten"],
    "sinkhorn λ=10": ["--set", "penalty.kind=sinkhorn", "--set", "penalty.lambda=10"],
    "sinkhorn λ=10, whitened z": ["--set", "penalty.kind=sinkhorn", "--set", "penalty.lambda=10", "--set", "penalty.scale=whiten"],
    "adversarial λ=3": ["--set", "penalty.kind=adversarial", "--set", "penalty.lambda=3"],
    "mmd λ=3, z of 4": ["--set", "penalty.lambda=3", "--set", "model.representation=4"],
    "mmd λ=3, small bandwidths": ["--set", "penalty.lambda=3", "--set", "penalty.bandwidth=[0.1,0.25,0.5,1,2]"],
    "adversarial λ=3, wide adversary": ["--set", "penalty.kind=adversarial", "--set", "penalty.lambda=3",
                                        "--set", "penalty.adversary.hidden=[128,128]"],
    "adversarial λ=1, wide adversary": ["--set", "penalty.kind=adversarial", "--set", "penalty.lambda=1",
                                        "--set", "penalty.adversary.hidden=[128,128]"],
    "adversarial λ=2, wide adversary, 40 epochs": ["--set", "penalty.kind=adversarial", "--set", "penalty.lambda=2",
                                                   "--set", "penalty.adversary.hidden=[128,128]",
                                                   "--set", "training.epochs=40"],
}
# The wide adversary against a wide encoder (two hidden layers of 128): configs/adult_worst_head.toml.
for lam in [2, 3, 5]:
    VARIANTS[f"adversarial λ={lam}, wide adversary, wide encoder"] = [
        "--set", "penalty.kind=adversarial", "--set", f"penalty.lambda={lam}",
        "--set", "penalty.adversary.hidden=[128,128]", "--set", "model.hidden=[128,128]"]
SEEDS = [int(x) for x in os.environ.get("FAIRREP_SEEDS", "1,2,3").split(",")]


def main():
    out = sys.argv[1]
    names = []
    for arg in sys.argv[2:]:
        if arg not in VARIANTS:
            if "::" not in arg:
                sys.exit(f"unknown variant {arg!r}: one of {list(VARIANTS)} or NAME::KEY=VALUE;KEY=VALUE")
            arg, sets = arg.split("::", 1)
            VARIANTS[arg] = [x for kv in sets.split(";") for x in ["--set", kv]]
        names.append(arg)
    names = names or list(VARIANTS)
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    fairrep = os.environ.get("FAIRREP_BIN", os.path.join(repo, "target/release/fairrep"))
    config = os.path.join(repo, "configs/quickstart.toml")
    work = tempfile.mkdtemp()
    runs = []
    for name in names:
        for seed in SEEDS:
            run = os.path.join(work, f"{len(runs)}")
            cmd = [fairrep, "-q", "train", "--config", config, "--out", run,
                   "--set", f"seed={seed}"] + VARIANTS[name]
            t0 = time.time()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            t1 = time.time()
            subprocess.run([fairrep, "-q", "certify", "--run", run], check=True, stdout=subprocess.DEVNULL)
            t2 = time.time()
            subprocess.run([fairrep, "-q", "audit", "--run", run], check=True, stdout=subprocess.DEVNULL)
            t3 = time.time()
            rep = json.load(open(os.path.join(run, "report.json")))
            cert = json.load(open(os.path.join(run, "certificate.json")))
            audit = json.load(open(os.path.join(run, "audit.json")))
            income = next(t for t in rep["tasks"] if t["name"] == "income")
            families = {f["family"]: f["ddp"] for f in income.get("head_families", [])}
            release = {h["family"]: h for h in cert["heads"] if h["task"] == "income"}
            unproc = next((u for u in rep.get("unprocessing", []) if u["task"] == "income"), None)
            runs.append({
                "variant": name, "seed": seed, "command": " ".join(cmd[1:]),
                "accuracy": income["accuracy"], "ddp": income["ddp"],
                "worst_ddp": income.get("worst_ddp"), "families": families,
                "certified_dp": cert["statements"][0]["upper_bound"], "cells": cert["cells"],
                "method": cert["method"],
                "release_accuracy": release["cell_majority"]["accuracy"],
                "release_worst_ddp": max(h["ddp"] for h in release.values()),
                "tv_lower_bound": max(s["tv_lower_bound"] for s in audit["strongest"]),
                "unprocessing": unproc,
                "seconds": {"train": t1 - t0, "certify": t2 - t1, "audit": t3 - t2},
            })
            print(f"{name} seed {seed}: acc {income['accuracy']:.4f} ddp {income['ddp']:.4f} "
                  f"worst {income.get('worst_ddp', float('nan')):.4f} certified {runs[-1]['certified_dp']:.4f} "
                  f"({cert['cells']} cells, release acc {runs[-1]['release_accuracy']:.4f}) "
                  f"TV ≥ {runs[-1]['tv_lower_bound']:.4f}  [{t1 - t0:.1f}+{t2 - t1:.1f}+{t3 - t2:.1f} s]",
                  flush=True)
    med = lambda rows, k: statistics.median(r[k] for r in rows)
    summary = []
    for name in names:
        rows = [r for r in runs if r["variant"] == name]
        summary.append({"variant": name, **{k: med(rows, k) for k in [
            "accuracy", "ddp", "worst_ddp", "certified_dp", "release_accuracy", "release_worst_ddp",
            "tv_lower_bound", "cells"]}})
    commit = subprocess.run(["git", "-C", repo, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "-C", repo, "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True).stdout.strip())
    json.dump({
        "command": " ".join(sys.argv), "commit": commit, "dirty_tree": dirty,
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "threads": {k: os.environ.get(k) for k in ["RAYON_NUM_THREADS", "OMP_NUM_THREADS"]},
        "seeds": SEEDS, "summary": summary, "runs": runs,
    }, open(out, "w"), indent=1)
    print("\n| variant | income accuracy | logistic DDP | worst-head DDP | certified DP (cells) | release accuracy | TV ≥ (strongest probe) |")
    print("|---|---|---|---|---|---|---|")
    for s in summary:
        print(f"| {s['variant']} | {s['accuracy']:.4f} | {s['ddp']:.4f} | {s['worst_ddp']:.4f} | "
              f"{s['certified_dp']:.4f} ({s['cells']:.0f}) | {s['release_accuracy']:.4f} | {s['tv_lower_bound']:.4f} |")


if __name__ == "__main__":
    main()
