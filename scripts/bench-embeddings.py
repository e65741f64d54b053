#!/usr/bin/env python3
"""Training on an embedding table in Parquet (issue 28): a seeded table of n rows × 768 float32
(a FixedSizeList column, `[data.features] vectors`), a binary group and two tasks, trained for 1
epoch by each fairrep binary given (wall time and peak RSS from /usr/bin/time), 2 threads.
The reports' task tables are compared.

Usage: python scripts/bench-embeddings.py OUT.json BINARY [BINARY ...] [--rows 50000]
Needs numpy and pyarrow (target/py-venv has them).
"""
import argparse, json, os, subprocess, tempfile

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

CONFIG = """seed = 1
[data]
train = { path = "emb.parquet" }
test_fraction = 0.1
[data.features]
vectors = ["e"]
[data.sensitive]
column = "g"
[[tasks]]
name = "t0"
column = "t0"
positive = { eq = "1" }
role = "source"
[[tasks]]
name = "t1"
column = "t1"
positive = { eq = "1" }
role = "transfer"
[training]
epochs = 1
[transfer]
baselines = false
head_families = ["logistic"]
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("binaries", nargs="+")
    ap.add_argument("--rows", type=int, default=50_000)
    ap.add_argument("--dim", type=int, default=768)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="bench-emb-")
    rng = np.random.default_rng(0)
    n, d = a.rows, a.dim
    g = rng.integers(0, 2, n)
    x = rng.normal(size=(n, d)).astype(np.float32)
    x[:, 0] += 0.5 * g
    t0 = (x[:, 1] + 0.3 * g + rng.normal(size=n) > 0).astype(np.int64)
    t1 = (x[:, 2] - x[:, 3] + rng.normal(size=n) > 0).astype(np.int64)
    e = pa.FixedSizeListArray.from_arrays(pa.array(x.reshape(-1)), d)
    path = os.path.join(work, "emb.parquet")
    pq.write_table(pa.table({"e": e, "g": pa.array(g), "t0": t0, "t1": t1}), path, row_group_size=8192)
    with open(os.path.join(work, "emb.toml"), "w") as f:
        f.write(CONFIG)
    env = dict(os.environ, RAYON_NUM_THREADS="2")
    runs = []
    for i, exe in enumerate(a.binaries):
        out = os.path.join(work, f"run-{i}")
        r = subprocess.run(["/usr/bin/time", "-f", "WALL %e PEAK_KIB %M", exe, "-q", "train",
                            "--config", "emb.toml", "--out", out, "--force"],
                           cwd=work, env=env, capture_output=True, text=True, check=True)
        t = [l for l in r.stderr.splitlines() if l.startswith("WALL")][-1].split()
        rep = json.load(open(os.path.join(out, "report.json")))
        runs.append({"binary": exe, "version": subprocess.run([exe, "--version"], capture_output=True,
                                                               text=True).stdout.strip(),
                     "wall_seconds": float(t[1]), "peak_rss_mib": int(t[3]) / 1024,
                     "train_seconds": rep["train_seconds"], "tasks": rep["tasks"]})
        print(f"{exe}: {float(t[1]):.2f} s, peak RSS {int(t[3]) / 1024:.0f} MiB", flush=True)
    same = all(r["tasks"] == runs[0]["tasks"] for r in runs)
    print("the same task tables:", same)
    result = {"command": "scripts/bench-embeddings.py " + " ".join(os.sys.argv[1:]),
              "rows": n, "dim": d, "file_bytes": os.path.getsize(path), "threads": 2,
              "same_task_tables": same,
              "runs": [{k: v for k, v in r.items() if k != "tasks"} for r in runs]}
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
