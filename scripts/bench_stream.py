"""Training on embeddings streamed from Parquet shards (issue 28), with the peak RSS of each phase.

The table: a seeded synthetic stand-in for foundation-model embeddings — `emb`, 768 float32 per
row (a linear image of an 8-dimensional latent plus noise), a sensitive attribute `s` and three
binary tasks that depend on the latent (two source tasks, one transfer task), in shards of
100,000 rows (`part-00000.parquet` …, no compression: random floats do not compress), and a
20,000-row test file; the first N rows (whole shards) are the N-row table. The job: an MLP
encoder 768 -> 64 -> z in R^32, the MMD penalty (λ = 1), batch 256, one epoch,
`validation_fraction = 0.01`, 2 threads (RAYON_NUM_THREADS=2), `transfer.baselines = false`
(raw-feature baselines on 768 columns are not what is measured here).

Each case runs `fairrep -v train` while its RSS is sampled every 50 ms (scripts/rss.py): the
peak of each phase (prepare: reading, fitting, encoding; training; evaluation and report), the
prepare's seconds, and report.json's `train_seconds` per training row. Cases: N rows in memory
(`[data.stream]` absent) and streamed (`mode = "always"`, the default `shuffle_rows` and
`fit_rows`), for each N of `--rows`; `--memory-max` skips the in-memory case above that many
rows (its typed table alone is rows × 768 × 8 bytes).

    target/py-venv/bin/python scripts/bench_stream.py --fairrep target/release/fairrep \
        --dir /var/tmp/emb --rows 200000,2000000 --json docs/evidence/benchmarks/stream.json

`--json OUT` writes every number, the commands, the commit and the machine; `--env K=V` sets a
variable for fairrep (e.g. `MIMALLOC_PURGE_DELAY=100`, see docs/guide/streaming.md).
"""
import argparse, json, os, platform, subprocess, sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import rss

WIDTH, LATENT, SHARD_ROWS, TEST_ROWS = 768, 8, 100_000, 20_000
ENV = dict(os.environ, RAYON_NUM_THREADS="2")


def table(rng, rows, mix):
    """`rows` rows: the latent's image and noise as `emb`, and the labels."""
    u = rng.standard_normal((rows, LATENT)).astype(np.float32)
    noise = lambda: rng.standard_normal(rows).astype(np.float32)
    emb = u @ mix + 0.5 * rng.standard_normal((rows, WIDTH)).astype(np.float32)
    flat = pa.array(emb.reshape(-1), type=pa.float32())
    return pa.table({
        "emb": pa.FixedSizeListArray.from_arrays(flat, WIDTH),
        "s": pa.array(np.where(u[:, 0] + 0.8 * noise() > 0, "f", "m")),
        "y1": pa.array((u[:, 0] + u[:, 1] + 0.5 * noise() > 0).astype(np.int8)),
        "y2": pa.array((u[:, 2] - u[:, 1] + 0.5 * noise() > 0).astype(np.int8)),
        "y3": pa.array((u[:, 0] + u[:, 3] + 0.5 * noise() > 0).astype(np.int8)),
    })


def generate(root, rows):
    """The shards of the largest table (seed 28), once; each N-row table a directory of links."""
    os.makedirs(os.path.join(root, "shards"), exist_ok=True)
    mix = np.random.default_rng(28).standard_normal((LATENT, WIDTH)).astype(np.float32)
    mix /= np.sqrt(LATENT)
    shards = -(-max(rows) // SHARD_ROWS)
    for k in range(shards):
        path = os.path.join(root, "shards", f"part-{k:05d}.parquet")
        if not os.path.exists(path):
            pq.write_table(table(np.random.default_rng(1000 + k), SHARD_ROWS, mix), path,
                           compression="none", row_group_size=16_384)
    test = os.path.join(root, "test.parquet")
    if not os.path.exists(test):
        pq.write_table(table(np.random.default_rng(999), TEST_ROWS, mix), test,
                       compression="none")
    for n in rows:
        d = os.path.join(root, f"rows-{n}")
        os.makedirs(d, exist_ok=True)
        for k in range(n // SHARD_ROWS):
            link = os.path.join(d, f"part-{k:05d}.parquet")
            if not os.path.exists(link):
                os.symlink(os.path.join(root, "shards", f"part-{k:05d}.parquet"), link)


CONFIG = """seed = 1
[data]
train = {{ path = "{train}" }}
test = {{ path = "{test}" }}
validation_fraction = 0.01
[data.features]
vectors = ["emb"]
[data.sensitive]
column = "s"
{stream}
[[tasks]]
name = "y1"
column = "y1"
positive = {{ eq = 1 }}
role = "source"
[[tasks]]
name = "y2"
column = "y2"
positive = {{ eq = 1 }}
role = "source"
[[tasks]]
name = "y3"
column = "y3"
positive = {{ eq = 1 }}
role = "transfer"
[model]
hidden = [64]
representation = 32
[penalty]
kind = "mmd"
lambda = 1.0
[training]
epochs = 1
batch_size = 256
[transfer]
baselines = false
"""


def run_case(exe, root, n, streamed):
    name = f"{'streamed' if streamed else 'memory'}-{n}"
    cfg = os.path.join(root, f"{name}.toml")
    with open(cfg, "w") as f:
        f.write(CONFIG.format(train=os.path.join(root, f"rows-{n}"),
                              test=os.path.join(root, "test.parquet"),
                              stream='[data.stream]\nmode = "always"' if streamed else ""))
    out = os.path.join(root, f"run-{name}")
    cmd = [exe, "-v", "train", "--config", cfg, "--out", out, "--force"]
    phases = rss.phase_peaks(cmd, ENV)
    report = json.load(open(os.path.join(out, "report.json")))
    splits = report["splits"]
    rows = splits["streamed"]["train_rows"] if streamed else splits["train"]
    per_epoch = report["train_seconds"] / report["epochs"]
    return {"case": name, "rows": n, "streamed": streamed, "train_rows": rows,
            "fit_rows": splits["train"], "prepare_s": phases["prepare_s"],
            "train_s_per_epoch": per_epoch, "us_per_row": 1e6 * per_epoch / rows,
            "peak_mib": {k: phases[k] for k in ("prepare", "training", "evaluation")},
            "total_s": report["total_seconds"],
            "transfer_auc": next(t["auc"] for t in report["tasks"] if t["name"] == "y3"),
            "command": " ".join(cmd)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fairrep", required=True)
    ap.add_argument("--dir", required=True, help="where the shards are written (≈ 3.1 KB a row)")
    ap.add_argument("--rows", default="200000,2000000")
    ap.add_argument("--memory-max", type=int, default=200_000)
    ap.add_argument("--env", action="append", default=[],
                    help="KEY=VALUE for fairrep's environment (e.g. MIMALLOC_PURGE_DELAY=100)")
    ap.add_argument("--json")
    a = ap.parse_args()
    for kv in a.env:
        k, v = kv.split("=", 1)
        ENV[k] = v
    rows = [int(r) for r in a.rows.split(",")]
    generate(a.dir, rows)
    results = []
    for n in rows:
        for streamed in ([False, True] if n <= a.memory_max else [True]):
            r = run_case(a.fairrep, a.dir, n, streamed)
            results.append(r)
            p = r["peak_mib"]
            print(f"{r['case']:>18}: prepare {r['prepare_s']:.1f} s, train {r['train_s_per_epoch']:.1f} s "
                  f"({r['us_per_row']:.2f} µs/row over {r['train_rows']} rows), peak MiB prepare "
                  f"{p['prepare']:.0f} / training {p['training']:.0f} / evaluation "
                  f"{p['evaluation']:.0f}, AUC(y3) {r['transfer_auc']:.3f}", flush=True)
    by = {r["case"]: r for r in results}
    for n in rows:
        m, s = by.get(f"memory-{n}"), by.get(f"streamed-{n}")
        if m and s:
            print(f"{n} rows: streamed / in memory, time per row {s['us_per_row'] / m['us_per_row']:.2f}x")
    if len(rows) > 1:
        a0, a1 = by[f"streamed-{rows[0]}"], by[f"streamed-{rows[-1]}"]
        print(f"streamed, {rows[-1]} vs {rows[0]} rows: time per row {a1['us_per_row'] / a0['us_per_row']:.2f}x")
    if a.json:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
        with open(a.json, "w") as f:
            json.dump({"results": results, "commit": commit, "machine": platform.platform(),
                       "cpus": os.cpu_count(), "threads": ENV["RAYON_NUM_THREADS"],
                       "env": a.env}, f, indent=1)


if __name__ == "__main__":
    sys.exit(main())
