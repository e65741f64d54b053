"""A fairrep export's encoder, with numpy and safetensors only (and torch, when installed).

Written by `fairrep export --run RUN --out DIR` beside `model.safetensors` and `model.json`.

As a script, it writes the representation of raw rows, reading them as `fairrep encode` does:

    python3 fairrep_encoder.py --model DIR --input rows.csv --out z.csv [--header] [--skip-rows N]

`rows.csv` (`.csv.gz`, or `.parquet` when pyarrow is installed): raw rows. Their columns are
named as the run's data files were: by the run's `[data].columns` when it had them (the Adult
files), else by a header line; `--header` says the first line is a header whatever the run did.
Columns the run does not use are ignored. `z.csv` gets the columns `z0 … z{r-1}`, one row per
input row; a row with a missing value under the run's `missing = "drop_rows"` keeps its place
with empty fields.

As a library:

    import fairrep_encoder as fe
    model = fe.load("DIR")
    header, rows = fe.read_rows("rows.csv", model)   # as `fairrep encode` reads the file
    x, kept = model.preprocess(header, rows)   # float32 [n, p], bool [n]
    z = model.encode(x)                        # float64 [n, r]
    encoder = fe.torch_encoder("DIR")          # torch.nn.Module (needs torch): x -> z
"""

import argparse
import csv
import gzip
import json
import math
import os
import sys

import numpy as np
from safetensors.numpy import load_file

MISSING_CATEGORY = "<missing>"


def _activation(name, h):
    if name == "relu":
        return np.maximum(h, 0.0)
    if name == "tanh":
        return np.tanh(h)
    if name == "sigmoid":
        return 1.0 / (1.0 + np.exp(-h))
    if name == "gelu":
        erf = np.vectorize(math.erf)
        return 0.5 * h * (1.0 + erf(h / math.sqrt(2.0)))
    if name == "identity":
        return h
    raise ValueError(f"unknown activation {name!r}")


class Model:
    """The fitted preprocessing and the encoder of a fairrep export."""

    def __init__(self, directory):
        with open(os.path.join(directory, "model.json"), encoding="utf-8") as f:
            self.manifest = json.load(f)
        if self.manifest.get("format") != "fairrep-export":
            raise ValueError(f"{directory}/model.json is not a fairrep export")
        self.tensors = load_file(os.path.join(directory, "model.safetensors"))
        self.pre = self.manifest["preprocessing"]

    @property
    def features(self):
        """The encoder's input features, in order."""
        return self.pre["features"]

    def preprocess(self, header, rows):
        """Raw rows (lists of strings, columns named by `header`) -> (x float32 [n, p],
        kept bool [n]). Categories never seen in training encode as zeros."""
        pre = self.pre
        index = {name.strip(): i for i, name in enumerate(header)}
        missing = set(pre["reading"]["missing_values"])
        policy = pre["missing"]
        encoders = pre["encoders"]
        sensitive = pre["sensitive"]
        columns = []
        for e in encoders:
            if e["column"] not in index:
                raise ValueError(f"the input has no column `{e['column']}` (a feature)")
            columns.append(index[e["column"]])
        s_col = index.get(sensitive["column"])
        if sensitive["include_as_feature"] and s_col is None:
            raise ValueError(f"the input has no column `{sensitive['column']}` (a feature)")
        lookups = [
            {c: j for j, c in enumerate(e["categories"])} if e["kind"] == "one_hot" else None
            for e in encoders
        ]
        x = np.zeros((len(rows), len(pre["features"])), dtype=np.float64)
        kept = np.ones(len(rows), dtype=bool)
        for i, row in enumerate(rows):
            off = 0
            dropped = False
            for e, c, lookup in zip(encoders, columns, lookups):
                cell = row[c].strip()
                is_missing = cell in missing
                if is_missing and policy == "drop_rows":
                    dropped = True
                    break
                if is_missing and policy == "error":
                    raise ValueError(f"row {i + 1}, column `{e['column']}`: missing value")
                if lookup is not None:
                    j = lookup.get(MISSING_CATEGORY if is_missing else cell)
                    if j is not None:
                        x[i, off + j] = 1.0
                    off += len(lookup)
                else:
                    v = e["mean"] if is_missing else float(cell)
                    if not math.isfinite(v):
                        raise ValueError(f"row {i + 1}, column `{e['column']}`: {cell!r}")
                    x[i, off] = (v - e["mean"]) / e["std"]
                    off += 1
            if not dropped and sensitive["include_as_feature"]:
                cell = row[s_col].strip()
                if cell in missing and policy == "drop_rows":
                    dropped = True
                else:
                    for g, group in enumerate(sensitive["groups"]):
                        if _in_group(group, cell):
                            x[i, off + g] = 1.0
                            break
            if dropped:
                kept[i] = False
                x[i, :] = 0.0
        return x.astype(np.float32), kept

    def encode(self, x):
        """The representation z = encoder(x) of float32 features x [n, p], in float64."""
        enc = self.manifest["encoder"]
        h = np.asarray(x, dtype=np.float32).astype(np.float64)
        last = len(enc["layers"]) - 1
        for i, layer in enumerate(enc["layers"]):
            w = self.tensors[layer["weight"]].astype(np.float64)  # [out, in]
            b = self.tensors[layer["bias"]].astype(np.float64)
            h = h @ w.T + b
            if i < last:
                h = _activation(enc["activation"], h)
        return _activation(enc["representation_activation"], h)

    def cells(self, z):
        """The certified cell id (int64 [n]) of each row of z, with the partition `fairrep
        certify` fitted (exported when the run was certified before `fairrep export`)."""
        p = self.manifest.get("partition")
        if p is None:
            raise ValueError(
                "this export has no partition: run `fairrep certify` on the run, then export it again"
            )
        nodes = p["nodes"]
        z = np.asarray(z, dtype=np.float32)
        out = np.empty(z.shape[0], dtype=np.int64)
        for i in range(z.shape[0]):
            k = 0
            while nodes[k]["kind"] == "split":
                n = nodes[k]
                k = n["left"] if z[i, n["coordinate"]] < np.float32(n["threshold"]) else n["right"]
            out[i] = nodes[k]["cell"]
        return out


def _in_group(group, cell):
    """Whether `cell` belongs to a fitted sensitive group: its listed values, or its numeric
    range (gt, ge, lt, le), as fairrep decides."""
    bounds = [group.get(k) for k in ("gt", "ge", "lt", "le")]
    if all(b is None for b in bounds):
        return cell in group.get("values", [])
    try:
        v = float(cell)
    except ValueError:
        return False
    gt, ge, lt, le = bounds
    return (
        math.isfinite(v)
        and (gt is None or v > gt)
        and (ge is None or v >= ge)
        and (lt is None or v < lt)
        and (le is None or v <= le)
    )


def load(directory):
    """The export in `directory`."""
    return Model(directory)


def torch_encoder(directory):
    """The encoder as a `torch.nn.Module` (x float32 [n, p] -> z [n, r]), weights loaded."""
    import torch

    model = Model(directory)
    enc = model.manifest["encoder"]
    activations = {
        "relu": torch.nn.ReLU,
        "tanh": torch.nn.Tanh,
        "sigmoid": torch.nn.Sigmoid,
        "gelu": torch.nn.GELU,
        "identity": torch.nn.Identity,
    }

    class FairrepEncoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.ModuleList(
                torch.nn.Linear(layer["d_in"], layer["d_out"]) for layer in enc["layers"]
            )
            self.activation = activations[enc["activation"]]()
            self.representation_activation = activations[enc["representation_activation"]]()

        def forward(self, x):
            for i, layer in enumerate(self.layers):
                x = layer(x)
                if i < len(self.layers) - 1:
                    x = self.activation(x)
            return self.representation_activation(x)

    module = FairrepEncoder()
    state = {
        name[len("encoder."):]: torch.from_numpy(value.copy())
        for name, value in model.tensors.items()
        if name.startswith("encoder.")
    }
    module.load_state_dict(state)
    return module.eval()


def read_rows(path, model, header=False, skip_rows=0, delimiter=None):
    """(column names, rows of strings) of a file of raw rows, read as `fairrep encode --run`
    reads it for the run `model` was exported from (see the module's docstring)."""
    reading = model.pre["reading"]
    return _read(
        path,
        delimiter or reading["delimiter"],
        skip_rows,
        header,
        reading.get("columns"),
        (reading.get("missing_values") or [""])[0],
    )


def _read(path, delimiter, skip_rows, header, columns, null=""):
    """(column names, rows of strings) of `path`, as `fairrep encode` reads it: `header` or no
    run `columns` -> the first line (after `skip_rows`) names the columns; else `columns` do."""
    if path.endswith(".parquet"):
        try:
            import pyarrow.parquet as pq
        except ImportError as e:
            raise ValueError(f"{path}: reading Parquet needs pyarrow (pip install pyarrow)") from e
        table = pq.read_table(path)
        names = list(table.column_names)
        data = table.to_pydict()
        rows = [
            [null if data[c][i] is None else str(data[c][i]) for c in names]
            for i in range(table.num_rows)
        ][skip_rows:]
        return names, rows
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", newline="") as f:
        lines = csv.reader(f, delimiter=delimiter)
        rows = [r for r in lines if r and not (len(r) == 1 and not r[0].strip())]
    rows = rows[skip_rows:]
    if header or not columns:
        if not rows:
            raise ValueError(f"{path}: no header line")
        return [c.strip() for c in rows[0]], rows[1:]
    return list(columns), rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True, help="the export directory")
    parser.add_argument("--input", required=True, help="raw rows: CSV, CSV.gz or Parquet (with pyarrow)")
    parser.add_argument("--out", required=True, help="where to write z0 … as CSV")
    parser.add_argument("--delimiter", default=None, help="default: the run's")
    parser.add_argument("--skip-rows", type=int, default=0, help="lines to skip at the top")
    parser.add_argument(
        "--header",
        action="store_true",
        help="the first line names the columns (default: as the run's data files)",
    )
    parser.add_argument(
        "--cells", action="store_true", help="write the certified cell ids (column `cell`) instead of z"
    )
    args = parser.parse_args(argv)
    model = Model(args.model)
    header, rows = read_rows(args.input, model, args.header, args.skip_rows, args.delimiter)
    x, kept = model.preprocess(header, rows)
    z = model.encode(x)
    with open(args.out, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        if args.cells:
            cells = model.cells(z)
            w.writerow(["cell"])
            for i in range(z.shape[0]):
                w.writerow([int(cells[i])] if kept[i] else [""])
            print(f"{len(rows)} rows, {int((~kept).sum())} dropped -> {args.out}", file=sys.stderr)
            return
        w.writerow([f"z{j}" for j in range(z.shape[1])])
        for i in range(z.shape[0]):
            w.writerow([repr(float(v)) for v in z[i]] if kept[i] else [""] * z.shape[1])
    print(f"{len(rows)} rows, {int((~kept).sum())} dropped -> {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
