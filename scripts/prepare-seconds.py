"""Seconds from the start of `fairrep -v train` to its `data prepared` log line (reading, fitting and
encoding the data); the run is then stopped. Usage: prepare-seconds.py FAIRREP_BINARY CONFIG [RUN_DIR]"""
import subprocess, sys, time
t0 = time.time()
p = subprocess.Popen([sys.argv[1], "-v", "train", "--config", sys.argv[2], "--out", sys.argv[3] if len(sys.argv) > 3 else "/tmp/fairrep-prepare-seconds", "--force"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env={"RAYON_NUM_THREADS": "2", "PATH": "/usr/bin:/bin"})
for line in p.stderr:
    if "data prepared" in line:
        print(f"{sys.argv[1]}: prepared in {time.time() - t0:.2f} s")
        break
p.kill(); p.wait()
