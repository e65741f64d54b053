"""How much of a batch's penalty is group difference, and how much is sampling noise.

For a representation written by `fairrep encode --keep <group column>` (CSV), draws batches of
the training batch size, and for each batch computes, with GeomLoss 0.3.1 (an implementation
independent of fairrep), the debiased Sinkhorn divergence (p = 2) between the two groups'
rows and the Gaussian MMD² with the median bandwidth, on z centred and divided by the batch's
RMS entry ("rms", fairrep's `scale = "batch_rms"`) or by its RMS distance between two rows
("pair", `scale = "pair_distance"`, the default).
"true" is the mean divergence between the real groups; "null" is the mean divergence after a
random relabelling of the same batch (same group sizes): the floor that sampling alone gives.
A penalty whose true/null ratio is near 1 cannot tell the groups apart at this batch size: its
gradient is noise.

Usage (the venv of scripts/bench-peers.sh has torch and geomloss):
  target/peers-venv/bin/python scripts/penalty_floor.py z.csv sex [--batch 256] [--batches 40]
"""
import argparse
import csv

import numpy as np
import torch
from geomloss import SamplesLoss

torch.set_default_dtype(torch.float64)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("csv")
    ap.add_argument("group")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--batches", type=int, default=40)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    with open(a.csv) as f:
        rows = list(csv.reader(f))
    hdr = rows[0]
    gi = hdr.index(a.group)
    zc = [i for i, h in enumerate(hdr) if h.startswith("z")]
    keep = [r for r in rows[1:] if r[zc[0]] != ""]
    g = np.array([r[gi] for r in keep])
    z = np.array([[float(r[i]) for i in zc] for r in keep])
    levels = sorted(set(g))
    if len(levels) != 2:
        raise SystemExit(f"error: {a.group} has {len(levels)} groups; this script compares two")
    rng = np.random.default_rng(a.seed)
    res = {}

    def add(key, v):
        res.setdefault(key, []).append(v)

    for _ in range(a.batches):
        idx = rng.choice(len(z), a.batch, replace=False)
        zb = torch.tensor(z[idx])
        zb = zb - zb.mean(0)
        d = torch.cdist(zb, zb)
        iu = torch.triu_indices(a.batch, a.batch, 1)
        med = d[iu[0], iu[1]].median()
        labels = {"true": g[idx], "null": rng.permutation(g[idx])}
        rms = zb.pow(2).mean().sqrt()
        scaled = {"rms": zb / rms, "pair": zb / (rms * (2 * zb.shape[1]) ** 0.5)}
        for how, blurs in [("rms", [0.05, 0.5, 4]), ("pair", [0.7])]:
            for blur in blurs:
                loss = SamplesLoss("sinkhorn", p=2, blur=blur, scaling=0.9, debias=True)
                for lab, gb in labels.items():
                    m = gb == levels[0]
                    add((f"sinkhorn, scale {how}, blur {blur}", lab),
                        loss(scaled[how][m], scaled[how][~m]).item())
        for lab, gb in labels.items():
            m = torch.tensor(gb == levels[0])
            k = torch.exp(-d**2 / (2 * med**2))
            mmd = k[m][:, m].mean() + k[~m][:, ~m].mean() - 2 * k[m][:, ~m].mean()
            add(("mmd², median bandwidth", lab), mmd.item())
    print(f"{a.csv}: groups {levels}, {a.batches} batches of {a.batch}")
    print("| divergence | true | null | true / null |")
    print("|---|---|---|---|")
    for name in dict.fromkeys(k[0] for k in res):
        t, n = np.mean(res[(name, "true")]), np.mean(res[(name, "null")])
        print(f"| {name} | {t:.4g} | {n:.4g} | {t / n:.2f} |")


if __name__ == "__main__":
    main()
