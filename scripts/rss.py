"""The peak RSS of a `fairrep -v train` by phase, sampled from /proc (bench_e2e.py,
bench_stream.py)."""
import subprocess, tempfile, time
from datetime import datetime


def phase_peaks(cmd, env):
    """Runs cmd (a `fairrep -v train`), sampling its RSS every 50 ms; returns the peak RSS in
    MiB of each phase: reading and encoding the data (up to the log's `data prepared`), training
    (up to the last `epoch done`), and evaluation and the report (the rest), and the prepare's
    seconds."""
    with tempfile.TemporaryFile("w+") as err:
        started = time.time()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
        samples = []
        while proc.poll() is None:
            try:
                with open(f"/proc/{proc.pid}/status") as f:
                    kib = next(int(l.split()[1]) for l in f if l.startswith("VmRSS"))
                samples.append((time.time(), kib / 1024))
            except (OSError, StopIteration):
                pass
            time.sleep(0.05)
        if proc.returncode != 0:
            raise SystemExit(f"{cmd}: exit {proc.returncode}")
        err.seek(0)
        marks = {}
        for line in err:
            for key, text in (("prepared", "data prepared"), ("trained", "epoch done")):
                if text in line:
                    stamp = line.split()[0].rstrip("Z")[:26]
                    marks[key] = datetime.fromisoformat(stamp + "+00:00").timestamp()
    peak = lambda a, b: max((m for t, m in samples if a <= t < b), default=None)
    return {"prepare": peak(0, marks["prepared"]),
            "training": peak(marks["prepared"], marks["trained"]),
            "evaluation": peak(marks["trained"], float("inf")),
            "prepare_s": marks["prepared"] - started}
