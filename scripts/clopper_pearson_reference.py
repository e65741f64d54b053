#!/usr/bin/env python3
"""Writes crates/fairrep-certify/tests/fixtures/clopper_pearson.json: two-sided Clopper-Pearson
intervals computed with SciPy (scipy.stats.beta.ppf), the reference for fairrep-certify's
`clopper_pearson`. Run: python3 scripts/clopper_pearson_reference.py (needs scipy)."""
import json, pathlib, sys
import scipy
from scipy.stats import beta

cases = []
for n in [1, 2, 5, 10, 37, 100, 1000, 5021, 100000]:
    for x in sorted({0, 1, n // 7, n // 3, n // 2, n - 1, n}):
        for alpha in [0.05, 0.01, 0.05 / 64, 1e-6]:
            lo = 0.0 if x == 0 else float(beta.ppf(alpha / 2, x, n - x + 1))
            hi = 1.0 if x == n else float(beta.ppf(1 - alpha / 2, x + 1, n - x))
            cases.append({"successes": x, "trials": n, "alpha": alpha, "lower": lo, "upper": hi})
out = pathlib.Path(__file__).resolve().parent.parent / "crates/fairrep-certify/tests/fixtures/clopper_pearson.json"
out.write_text(json.dumps({
    "source": f"scipy {scipy.__version__}: lower = beta.ppf(alpha/2, x, n-x+1), upper = beta.ppf(1-alpha/2, x+1, n-x); 0 and 1 at the ends",
    "command": "python3 scripts/clopper_pearson_reference.py",
    "cases": cases}, indent=1) + "\n")
print(f"{len(cases)} cases -> {out}", file=sys.stderr)
