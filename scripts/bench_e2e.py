"""fairrep's training epoch against the same job in PyTorch, side by side (scripts/bench-e2e.sh).

The job (issue 15's): UCI Adult (data/adult), sex as the sensitive attribute, the quickstart's
three source tasks, an MLP encoder 128-64 -> z in R^32 (ReLU), one linear head per task, batch
256, Adam 1e-3, 2 threads each (RAYON_NUM_THREADS=2 for fairrep, torch.set_num_threads(2) and
OMP_NUM_THREADS=2 for PyTorch); with no penalty (lambda = 0), the Gaussian MMD^2 with the median
bandwidth (lambda = 1), and the debiased Sinkhorn divergence on the raw z on both sides
(fairrep's `penalty.scale = "none"`, GeomLoss's convention; blur 0.05, scaling 0.9, lambda =
0.02; GeomLoss on the PyTorch side), so both solve the same problem with the same ε-schedule
(GeomLoss's formula, which fairrep implements and its tests check); the schedule's length on the
PyTorch side's batches is reported.

Compared like for like: the training steps of an epoch (batches, forward, backward, Adam), from
`train_s` in fairrep's metrics.jsonl and measured around the PyTorch loop; medians over the
epochs after the first. fairrep's whole epoch as a user waits for it (steps, validation on the
validation split, checkpoint: consecutive `elapsed_s`) is printed beside it, and report.json's
`train_seconds / epochs` (every epoch, the first included) against PyTorch's median epoch of
steps; the PyTorch script validates nothing. The PyTorch side reads the same preprocessed Adult rows — the input matrix
from a fairrep export's own preprocessing (fairrep_encoder.py, checked against `fairrep encode`
in the test suite), the labels and groups from the run's task predicates and group mapping —
and takes a seeded subset as large as fairrep's training split (not the very same rows: the
split is internal to fairrep); the times per row are compared.

`--json OUT` writes the raw output: every number, the commands, the commit, the machine and the
thread settings.

`--scaling 30000,200000,2000000` also times fairrep alone on a seeded synthetic table of each
size (peak RSS from /usr/bin/time): the cost per epoch must grow linearly in the rows; a second
run of each samples its RSS every 50 ms and reports the peak of each phase (prepare, training,
evaluation; the phases from the `-v` log's `data prepared` and last `epoch done`).
"""
import argparse, csv, gzip, json, os, statistics, subprocess, sys, tempfile, time

import rss

os.environ["OMP_NUM_THREADS"] = "2"
os.environ["MKL_NUM_THREADS"] = "2"
import numpy as np
import torch

torch.set_num_threads(2)
THREADS = 2
FAIRREP_ENV = dict(os.environ, RAYON_NUM_THREADS=str(THREADS))
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = ["--set", "model.hidden=[128,64]", "--set", "model.representation=32",
         "--set", "transfer.baselines=false", "--set", "training.batch_size=256",
         "--set", "training.learning_rate=0.001"]
PENALTIES = {
    "none": ["--set", "penalty.lambda=0"],
    "mmd": ["--set", "penalty.kind=mmd", "--set", "penalty.lambda=1"],
    "sinkhorn": ["--set", "penalty.kind=sinkhorn", "--set", "penalty.lambda=0.02",
                 "--set", "penalty.blur=0.05", "--set", "penalty.scaling=0.9",
                 # the raw z, as GeomLoss gets it (the default scale is pair_distance)
                 "--set", "penalty.scale=none"],
}


def peak_rss_cmd(cmd):
    """Runs cmd; returns (stdout, peak RSS in MiB or None)."""
    if os.path.exists("/usr/bin/time"):
        out = subprocess.run(["/usr/bin/time", "-f", "PEAK_KIB %M"] + cmd, check=True,
                             capture_output=True, text=True, env=FAIRREP_ENV)
        peak = [l for l in out.stderr.splitlines() if l.startswith("PEAK_KIB")]
        return out.stdout, int(peak[-1].split()[1]) / 1024 if peak else None
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=FAIRREP_ENV)
    return out.stdout, None


def phase_peaks(cmd):
    """rss.phase_peaks with fairrep's thread setting."""
    return rss.phase_peaks(cmd, FAIRREP_ENV)


def epoch_seconds(run):
    """(training steps, whole epoch): medians over the epochs after the first, in seconds."""
    rec = [json.loads(l) for l in open(os.path.join(run, "metrics.jsonl"))]
    t = [r["elapsed_s"] for r in rec]
    whole = [b - a for a, b in zip(t, t[1:])] or t
    steps = [r["train_s"] for r in rec[1:]] or [rec[0]["train_s"]]
    return statistics.median(steps), statistics.median(whole)


def fairrep_train(exe, config, out, extra):
    cmd = [exe, "-q", "train", "--config", config, "--out", out, "--force"] + extra
    _, peak = peak_rss_cmd(cmd)
    report = json.load(open(os.path.join(out, "report.json")))
    fairrep_train.per_epoch = report["train_seconds"] / report["epochs"]
    return epoch_seconds(out), report["splits"]["train"], peak


def positive(pred, cell):
    (op, v), = pred.items()
    if op in ("in", "not_in"):
        hit = cell in v
        return hit if op == "in" else not hit
    if op in ("eq", "ne"):
        hit = float(cell) == v if isinstance(v, (int, float)) else cell == v
        return hit if op == "eq" else not hit
    x = float(cell)
    return {"gt": x > v, "ge": x >= v, "lt": x < v, "le": x <= v}[op]


def adult_training_rows(export_dir, rows):
    """fairrep's training rows of the run: features, source labels, groups."""
    sys.path.insert(0, export_dir)
    import fairrep_encoder
    model = fairrep_encoder.load(export_dir)
    pre = model.pre
    cols = ["age", "workclass", "fnlwgt", "education", "education-num", "marital-status",
            "occupation", "relationship", "race", "sex", "capital-gain", "capital-loss",
            "hours-per-week", "native-country", "income"]
    with gzip.open(os.path.join(REPO, "data/adult/adult.data.gz"), "rt") as f:
        raw = [r for r in csv.reader(f) if r and any(c.strip() for c in r)]
    x, kept = model.preprocess(cols, raw)
    x = x[kept]
    raw = [r for r, k in zip(raw, kept) if k]
    idx = {c: i for i, c in enumerate(cols)}
    sources = [t for t in pre["tasks"] if t["role"] == "source"]
    y = np.array([[float(positive(t["positive"], r[idx[t["column"]]].strip())) for t in sources]
                  for r in raw], dtype=np.float32)
    gmap = {v: g for g, grp in enumerate(pre["sensitive"]["groups"]) for v in grp["values"]}
    s = np.array([gmap[r[idx[pre["sensitive"]["column"]]].strip()] for r in raw])
    # As many rows as fairrep's training split (a seeded subset: the time per row is compared).
    pick = np.random.default_rng(1).permutation(len(x))[:rows]
    return torch.from_numpy(x[pick]), torch.from_numpy(y[pick]), torch.from_numpy(s[pick])


def mmd2_median(z, s):
    a, b = z[s == 0], z[s == 1]
    zz = torch.cat([a, b]).detach()
    d = torch.cdist(zz, zz)
    iu = torch.triu_indices(len(zz), len(zz), 1)
    sigma = d[iu[0], iu[1]].median().clamp_min(1e-12)
    k = lambda u, v: torch.exp(-torch.cdist(u, v).square() / (2 * sigma ** 2))
    return k(a, a).mean() + k(b, b).mean() - 2 * k(a, b).mean()


def schedule_length(a, b, blur=0.05, scaling=0.9, p=2):
    """GeomLoss's ε-schedule length for the clouds a, b (its own function)."""
    from geomloss._legacy.sinkhorn_divergence import epsilon_schedule, max_diameter
    diameter = max_diameter(a.detach().view(-1, a.shape[-1]), b.detach().view(-1, b.shape[-1]))
    return len(epsilon_schedule(p, diameter, blur, scaling))


def torch_epochs(x, y, s, penalty, epochs, schedules=None):
    import geomloss
    torch.manual_seed(1)
    p = x.shape[1]
    enc = torch.nn.Sequential(torch.nn.Linear(p, 128), torch.nn.ReLU(), torch.nn.Linear(128, 64),
                              torch.nn.ReLU(), torch.nn.Linear(64, 32))
    heads = torch.nn.Linear(32, y.shape[1])
    params = list(enc.parameters()) + list(heads.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)
    bce = torch.nn.BCEWithLogitsLoss()
    sink = geomloss.SamplesLoss("sinkhorn", p=2, blur=0.05, scaling=0.9, debias=True)
    lam = {"none": 0.0, "mmd": 1.0, "sinkhorn": 0.02}[penalty]
    g = torch.Generator().manual_seed(1)
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        order = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), 256):
            b = order[i:i + 256]
            if len(b) < 2:
                continue
            z = enc(x[b])
            loss = bce(heads(z), y[b])
            sb = s[b]
            if penalty != "none" and 0 < int(sb.sum()) < len(sb):
                if penalty == "mmd":
                    loss = loss + lam * mmd2_median(z, sb)
                else:
                    a, c = z[sb == 0], z[sb == 1]
                    loss = loss + lam * sink(a, c)
                    if schedules is not None:
                        schedules.append(schedule_length(a, c))
            opt.zero_grad()
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:] or times)


def synthetic(path, n, seed):
    """A seeded table: 8 numeric and 4 categorical columns, a group, three tasks."""
    rng = np.random.default_rng(seed)
    num = rng.normal(size=(n, 8)).astype(np.float32)
    cat = rng.integers(0, 6, size=(n, 4))
    grp = rng.integers(0, 2, size=n)
    num[:, 0] += 0.7 * grp
    logits = num[:, :3] + 0.5 * (cat[:, :3] == 2) + 0.3 * grp[:, None]
    lab = (logits + rng.normal(size=(n, 3)) > 0.2).astype(int)
    with open(path, "w") as f:
        f.write(",".join([f"n{j}" for j in range(8)] + [f"c{j}" for j in range(4)]
                         + ["g", "t0", "t1", "t2"]) + "\n")
        chunk = 200_000
        for i in range(0, n, chunk):
            block = np.concatenate([num[i:i + chunk].round(5).astype(str),
                                    np.char.add("k", cat[i:i + chunk].astype(str)),
                                    grp[i:i + chunk, None].astype(str),
                                    lab[i:i + chunk].astype(str)], axis=1)
            f.write("\n".join(",".join(r) for r in block) + "\n")


SYNTHETIC_CONFIG = """seed = 1
[data]
train = {{ path = "{path}" }}
test_fraction = 0.1
validation_fraction = 0.05
[data.features]
numeric = ["n0", "n1", "n2", "n3", "n4", "n5", "n6", "n7"]
categorical = ["c0", "c1", "c2", "c3"]
[data.sensitive]
column = "g"
[[tasks]]
name = "t0"
column = "t0"
positive = {{ eq = "1" }}
role = "source"
[[tasks]]
name = "t1"
column = "t1"
positive = {{ eq = "1" }}
role = "source"
[[tasks]]
name = "t2"
column = "t2"
positive = {{ eq = "1" }}
role = "transfer"
[training]
epochs = {epochs}
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fairrep", required=True)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--penalties", default="none,mmd,sinkhorn")
    ap.add_argument("--scaling", default="", help="rows of the synthetic tables, e.g. 30000,200000,2000000")
    ap.add_argument("--scaling-epochs", type=int, default=2)
    ap.add_argument("--json", default="", help="write the raw output here")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="bench-e2e-")
    config = os.path.join(REPO, "configs/quickstart.toml")
    epochs = ["--set", f"training.epochs={args.epochs}"]

    print("| penalty | rows (fairrep / PyTorch) | fairrep: steps s/epoch | PyTorch: steps s/epoch "
          "| fairrep / PyTorch per row | fairrep: whole epoch s | fairrep: train_seconds / epochs "
          "| ÷ PyTorch's steps | ε-schedule length (median) |")
    print("|---|---|---|---|---|---|---|---|---|")
    data = None
    raw = {"command": " ".join(sys.argv), "threads": THREADS,
           "env": {k: os.environ.get(k) for k in ["OMP_NUM_THREADS", "MKL_NUM_THREADS", "MIMALLOC_PURGE_DELAY"]},
           "fairrep_env": {"RAYON_NUM_THREADS": FAIRREP_ENV["RAYON_NUM_THREADS"]},
           "torch": torch.__version__, "machine": {"cpus": os.cpu_count()},
           "commit": subprocess.run(["git", "-C", REPO, "rev-parse", "HEAD"], capture_output=True,
                                    text=True).stdout.strip(),
           "rows": [], "scaling": []}
    for pen in args.penalties.split(","):
        run = os.path.join(work, f"fairrep-{pen}")
        (fr, whole), n, _ = fairrep_train(args.fairrep, config, run,
                                          MODEL + epochs + PENALTIES[pen])
        if data is None:
            export = os.path.join(work, "export")
            subprocess.run([args.fairrep, "-q", "export", "--run", run, "--out", export],
                           check=True, capture_output=True)
            data = adult_training_rows(export, n)
        schedules = [] if pen == "sinkhorn" else None
        pt = torch_epochs(*data, pen, args.epochs, schedules)
        ratio = (fr / n) / (pt / len(data[0]))
        assert len(data[0]) == n
        sched = statistics.median(schedules) if schedules else None
        per_epoch = fairrep_train.per_epoch
        print(f"| {pen} | {n} / {len(data[0])} | {fr:.3f} | {pt:.3f} | {ratio:.2f} | {whole:.3f} "
              f"| {per_epoch:.3f} | {per_epoch / pt:.2f} "
              f"| {'–' if sched is None else f'{sched:.0f}'} |", flush=True)
        raw["rows"].append({"penalty": pen, "fairrep_rows": n, "torch_rows": len(data[0]),
                            "fairrep_steps_s": fr, "torch_steps_s": pt, "ratio_per_row": ratio,
                            "fairrep_whole_epoch_s": whole,
                            "fairrep_train_seconds_per_epoch": per_epoch,
                            "train_seconds_per_epoch_over_torch_steps": per_epoch / pt,
                            "schedule_length_median": sched,
                            "fairrep_args": MODEL + epochs + PENALTIES[pen]})

    if args.scaling:
        print()
        print("| rows in the file | training rows | steps s/epoch | µs per row | whole epoch s "
              "| peak RSS (MiB) | peak RSS by phase: prepare / training / evaluation (MiB) |")
        print("|---|---|---|---|---|---|---|")
        for n in [int(v) for v in args.scaling.split(",")]:
            path = os.path.join(work, f"synthetic-{n}.csv")
            synthetic(path, n, 1)
            cfg = os.path.join(work, f"synthetic-{n}.toml")
            with open(cfg, "w") as f:
                f.write(SYNTHETIC_CONFIG.format(path=path, epochs=args.scaling_epochs))
            (sec, whole), rows, peak = fairrep_train(args.fairrep, cfg,
                                                     os.path.join(work, f"syn-{n}"), MODEL)
            peak = "?" if peak is None else f"{peak:.0f}"
            # Once more, its RSS sampled by phase (a second run: the same work).
            phases = phase_peaks([args.fairrep, "-v", "train", "--config", cfg, "--out",
                                  os.path.join(work, f"syn-{n}-phases"), "--force"] + MODEL)
            ph = " / ".join("?" if phases[k] is None else f"{phases[k]:.0f}"
                            for k in ("prepare", "training", "evaluation"))
            ph += f" (prepared in {phases['prepare_s']:.1f} s)"
            print(f"| {n} | {rows} | {sec:.3f} | {1e6 * sec / rows:.2f} | {whole:.3f} | {peak} "
                  f"| {ph} |", flush=True)
            raw["scaling"].append({"rows_in_file": n, "training_rows": rows, "steps_s": sec,
                                   "whole_epoch_s": whole, "peak_rss_mib": peak,
                                   "peak_rss_mib_by_phase": phases})
            os.remove(path)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(raw, f, indent=1)


if __name__ == "__main__":
    main()
