#!/usr/bin/env python3
"""The Python binding's cost, measured (issue 27): `fairrep.train` against `fairrep train` on
the quickstart config (same seeds, alternating, threads pinned), and the peak memory of
`Run.encode` on 10^6 rows (a file, a DataFrame, a pyarrow Table), each in a fresh process.

Usage: target/py-venv/bin/python scripts/bench-python.py OUT.json
Needs the package installed in that interpreter (scripts/test-python.sh does it) and the
release binary (FAIRREP_BIN or target/release/fairrep). Writes the raw output as JSON with the
command, commit, machine and thread settings.
"""

import gzip
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FAIRREP = os.environ.get("FAIRREP_BIN", str(REPO / "target" / "release" / "fairrep"))
THREADS = "2"
ENV = dict(os.environ, RAYON_NUM_THREADS=THREADS, OMP_NUM_THREADS=THREADS)


def py(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, cwd=REPO)
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    out_path = Path(sys.argv[1])
    tmp = Path(tempfile.mkdtemp(prefix="bench-python-"))
    rows = []
    for seed in (1, 2, 3):
        for side in ("cli", "python"):
            run = tmp / f"{side}-{seed}"
            started = time.perf_counter()
            if side == "cli":
                subprocess.run(
                    [FAIRREP, "train", "--config", "configs/quickstart.toml", "--out", str(run),
                     "--set", f"seed={seed}", "-q"],
                    check=True, env=ENV, cwd=REPO, capture_output=True,
                )
                wall = time.perf_counter() - started
            else:
                r = py(
                    "import json, time, fairrep\n"
                    "t = time.perf_counter()\n"
                    f"fairrep.train('configs/quickstart.toml', overrides={{'seed': {seed}}}, out={str(run)!r}, verbose=0)\n"
                    "print(json.dumps({'wall': time.perf_counter() - t}))"
                )
                wall = r["wall"]
            report = json.loads((run / "report.json").read_text())
            rows.append({
                "side": side, "seed": seed, "wall_seconds": wall,
                "train_seconds": report["train_seconds"],
                "total_seconds": report["total_seconds"],
            })
    med = {s: statistics.median(r["wall_seconds"] for r in rows if r["side"] == s) for s in ("cli", "python")}
    med_total = {s: statistics.median(r["total_seconds"] for r in rows if r["side"] == s) for s in ("cli", "python")}
    # z of 10^6 rows: the Adult test file repeated, as a file (streamed by encode), as a pandas
    # DataFrame (numbers in place, strings as codes) and as a pyarrow Table (Arrow's C stream),
    # each in a fresh process; peak RSS from getrusage, and the RSS once the data are in memory.
    test = (REPO / "data/adult/adult.test.gz")
    lines = gzip.open(test, "rt").read().splitlines()[1:]
    lines = [l for l in lines if l.strip()]
    big = tmp / "adult-1m.csv"
    with open(big, "w") as f:
        n = 0
        while n < 1_000_000:
            for l in lines:
                if n == 1_000_000:
                    break
                f.write(l.rstrip(".").rstrip() + "\n")
                n += 1
    run = tmp / "cli-1"
    memory = {}
    memory["file"] = py(
        "import json, resource, time, fairrep\n"
        f"r = fairrep.Run.load({str(run)!r}); t = time.perf_counter()\n"
        f"z = r.encode({str(big)!r})\n"
        "print(json.dumps({'rows': z.shape[0], 'seconds': time.perf_counter() - t, "
        "'peak_rss_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))"
    )
    memory["dataframe"] = py(
        "import json, resource, time, pandas as pd, fairrep\n"
        f"r = fairrep.Run.load({str(run)!r})\n"
        f"df = pd.read_csv({str(big)!r}, names=r.columns, skipinitialspace=True)\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024; t = time.perf_counter()\n"
        "z = r.encode(df)\n"
        "print(json.dumps({'rows': z.shape[0], 'seconds': time.perf_counter() - t, "
        "'peak_rss_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "
        "'rss_after_reading_the_frame_mib': base}))"
    )
    memory["pyarrow"] = py(
        "import json, resource, time, pyarrow.csv as pc, fairrep\n"
        f"r = fairrep.Run.load({str(run)!r})\n"
        f"t = pc.read_csv({str(big)!r}, read_options=pc.ReadOptions(column_names=r.columns))\n"
        "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024; s = time.perf_counter()\n"
        "z = r.encode(t)\n"
        "print(json.dumps({'rows': z.shape[0], 'seconds': time.perf_counter() - s, "
        "'peak_rss_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "
        "'rss_after_reading_the_frame_mib': base}))"
    )
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO).stdout.strip()
    result = {
        "command": " ".join(sys.argv),
        "commit": commit,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}",
        "threads": {"RAYON_NUM_THREADS": THREADS, "OMP_NUM_THREADS": THREADS},
        "fit": rows,
        "median_wall_seconds": med,
        "python_over_cli": med["python"] / med["cli"],
        "median_total_seconds": med_total,
        "python_over_cli_total_seconds": med_total["python"] / med_total["cli"],
        "note": "wall: the CLI's includes process start; Python's is around fairrep.train in a "
        "started interpreter. total_seconds: report.json's, the same clock inside both.",
        "encode_1m_rows": memory,
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({"median_wall_seconds": med, "python_over_cli": result["python_over_cli"],
                      "python_over_cli_total_seconds": result["python_over_cli_total_seconds"],
                      "encode_1m_rows": memory}, indent=1))


if __name__ == "__main__":
    main()
