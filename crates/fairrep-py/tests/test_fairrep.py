"""The Python package against the command line, GeomLoss's and fairlearn's reference values,
and bad input. Run by scripts/test.sh (scripts/test-python.sh) with FAIRREP_BIN set to the
release binary the Rust tests built; FAIRREP_DATA_DIR is not needed (Adult ships in data/)."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import fairrep

REPO = Path(__file__).resolve().parents[3]
FAIRREP = os.environ.get("FAIRREP_BIN", str(REPO / "target" / "release" / "fairrep"))
DIVERGENCES = json.loads((REPO / "crates/fairrep-losses/tests/fixtures/divergences.json").read_text())
METRICS = json.loads((REPO / "crates/fairrep-metrics/tests/fixtures/metrics.json").read_text())
QUICKSTART = REPO / "configs" / "quickstart.toml"


def clouds():
    x = np.array(DIVERGENCES["inputs"]["X"], dtype=np.float64)
    y = np.array(DIVERGENCES["inputs"]["Y"], dtype=np.float64)
    return x, y


def cli(*args, cwd=None):
    out = subprocess.run([FAIRREP, *args], capture_output=True, text=True, cwd=cwd)
    assert out.returncode == 0, out.stderr
    return out.stdout


def cli_divergence(tmp_path, x, y, *args):
    px, py_ = tmp_path / "x.csv", tmp_path / "y.csv"
    np.savetxt(px, x, delimiter=",", fmt="%.17g")
    np.savetxt(py_, y, delimiter=",", fmt="%.17g")
    return json.loads(cli("divergence", "--x", str(px), "--y", str(py_), *args))


# -- divergences ------------------------------------------------------------------------------


def test_sinkhorn_equals_geomloss_reference():
    x, y = clouds()
    ref = DIVERGENCES["geomloss_sinkhorn_blur_0.1"]["geomloss_scaling_0.5"]
    d = fairrep.divergence(x, y, "sinkhorn", blur=0.1, gradient=True)
    assert abs(d.value - ref["value"]) <= 1e-9 * abs(ref["value"])
    assert abs(np.linalg.norm(d.grad_x) - ref["grad_norm"]) <= 1e-6 * ref["grad_norm"]
    assert d.grad_x.shape == x.shape and d.path == "fused-cpu-f64"


def test_mmd_equals_the_closed_form_reference():
    x, y = clouds()
    ref = DIVERGENCES["mmd2_sigma1"]
    d = fairrep.divergence(x, y, "mmd", sigma=1.0, gradient=True)
    assert abs(d.value - ref["value"]) <= 1e-10 * ref["value"]
    assert abs(np.linalg.norm(d.grad_x) - ref["grad_norm"]) <= 1e-8 * ref["grad_norm"]
    many = fairrep.divergence(x, y, "mmd", sigma=[0.25, 0.5, 1, 2, 4])
    want = DIVERGENCES["mmd2_5bw_sigma_0.25_0.5_1_2_4"]["value"]
    assert abs(many.value - want) <= 1e-10 * want


@pytest.mark.parametrize(
    "kind,args,kwargs",
    [
        ("sinkhorn", [], {}),
        ("sinkhorn", ["--blur", "0.3", "--scaling", "0.9", "--p", "1"], {"blur": 0.3, "scaling": 0.9, "p": 1}),
        ("sinkhorn", ["--scale", "batch-rms"], {"scale": "batch_rms"}),
        ("mmd", [], {}),
        ("mmd", ["--estimator", "unbiased", "--sigma", "0.5"], {"estimator": "unbiased", "sigma": 0.5}),
    ],
)
def test_divergence_equals_the_command_line(tmp_path, kind, args, kwargs):
    x, y = clouds()
    want = cli_divergence(tmp_path, x, y, "--kind", kind, *args)
    got = fairrep.divergence(x, y, kind, gradient=True, **kwargs)
    assert abs(got.value - want["value"]) <= 1e-6 * abs(want["value"])
    assert abs(np.linalg.norm(got.grad_x) - want["grad_norm_x"]) <= 1e-6 * want["grad_norm_x"]
    assert got.details["convention"] == want["convention"]


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(20, 3)), rng.normal(0.5, 1, size=(25, 3))
    # Sinkhorn iterated to convergence: its gradient (the envelope theorem's) is exact there.
    for kind, kw in (("mmd", {"sigma": 1.0}), ("sinkhorn", {"blur": 0.5, "tolerance": 1e-12})):
        d = fairrep.divergence(x, y, kind, gradient=True, **kw)
        h = 1e-5
        for i, j in ((0, 0), (7, 2), (19, 1)):
            xp, xm = x.copy(), x.copy()
            xp[i, j] += h
            xm[i, j] -= h
            fd = (fairrep.divergence(xp, y, kind, **kw).value - fairrep.divergence(xm, y, kind, **kw).value) / (2 * h)
            assert abs(fd - d.grad_x[i, j]) <= 1e-4 * max(1e-3, abs(fd)), (kind, i, j, fd, d.grad_x[i, j])


def test_float32_inputs_compute_in_float32():
    x, y = clouds()
    d32 = fairrep.divergence(x.astype(np.float32), y.astype(np.float32), "sinkhorn", gradient=True)
    d64 = fairrep.divergence(x, y, "sinkhorn")
    assert d32.path == "fused-cpu-f32" and d32.grad_x.dtype == np.float32
    assert abs(d32.value - d64.value) <= 1e-4 * abs(d64.value)


def test_divergence_bad_input_is_a_clear_value_error():
    x, y = clouds()
    with pytest.raises(ValueError, match=r"x has 8 columns but y has 3"):
        fairrep.divergence(x, y[:, :3])
    bad = x.copy()
    bad[4, 2] = np.nan
    with pytest.raises(ValueError, match=r"x: non-finite value at row 4, column 2"):
        fairrep.divergence(bad, y)
    with pytest.raises(ValueError, match=r"expected a 2-D array"):
        fairrep.divergence(np.zeros((2, 2, 2)), y)
    with pytest.raises(ValueError, match=r"blur"):
        fairrep.divergence(x, y, "sinkhorn", blur=-1.0)
    with pytest.raises(ValueError, match=r"blur: .*kind=\"mmd\""):
        fairrep.divergence(x, y, "mmd", blur=0.1)
    with pytest.raises(ValueError, match=r"kind: unknown variant `wasserstein`"):
        fairrep.divergence(x, y, "wasserstein")
    with pytest.raises(ValueError, match=r"kind=\"adversarial\" is not a divergence"):
        fairrep.divergence(x, y, "adversarial")
    with pytest.raises(ValueError, match=r"backend: `cuda` is not one of"):
        fairrep.divergence(x, y, backend="cuda")


# -- audits -----------------------------------------------------------------------------------


@pytest.mark.parametrize("case", METRICS["cases"], ids=lambda c: c["name"])
def test_audit_predictions_equals_fairlearn(case):
    got = fairrep.audit_predictions(
        case["y_true"], case["y_pred"], sensitive_features=case["sensitive"], y_score=case["y_score"]
    )
    for key in (
        "demographic_parity_difference",
        "demographic_parity_ratio",
        "equalized_odds_difference",
        "equalized_odds_ratio",
        "equal_opportunity_difference",
        "equal_opportunity_ratio",
        "accuracy",
        "balanced_accuracy",
        "roc_auc",
    ):
        assert abs(got[key] - case[key]) <= 1e-12, key
    for rate, per in case["by_group"].items():
        for g, v in per.items():
            assert abs(got["by_group"][rate][g] - v) <= 1e-12, (rate, g)
    assert got["n"] == case["n"] and sorted(got["groups"]) == sorted(case["groups"])


def test_audit_predictions_equals_the_command_line(tmp_path):
    case = METRICS["cases"][0]
    path = tmp_path / "p.csv"
    rows = ["y,yhat,g,p"] + [
        f"{t},{p},{g},{s!r}" for t, p, g, s in zip(case["y_true"], case["y_pred"], case["sensitive"], case["y_score"])
    ]
    path.write_text("\n".join(rows) + "\n")
    want = json.loads(cli("audit-predictions", "--input", str(path), "--y-true", "y", "--y-pred", "yhat", "--group", "g", "--score", "p"))
    got = fairrep.audit_predictions(case["y_true"], case["y_pred"], sensitive_features=case["sensitive"], y_score=case["y_score"])
    assert got == want


def test_audit_bad_input():
    with pytest.raises(ValueError, match=r"y_pred has 2 rows but y_true has 3"):
        fairrep.audit_predictions([1, 0, 1], [1, 0], sensitive_features=["a", "b", "a"])
    with pytest.raises(ValueError, match=r"sensitive_features: missing value \(NaN\) at row 1"):
        fairrep.audit_predictions([1, 0], [1, 0], sensitive_features=[0.0, np.nan])
    with pytest.raises(ValueError, match=r"y_score: non-finite value at row 0"):
        fairrep.audit_predictions([1, 0], [1, 0], sensitive_features=["a", "b"], y_score=[np.inf, 0.5])
    # One group: parity is defined (0) and said to be over one group by fairlearn's rules.
    one = fairrep.audit_predictions([1, 0, 1], [1, 1, 0], sensitive_features=["a", "a", "a"])
    assert one["groups"] == ["a"] and one["demographic_parity_difference"] == 0.0


# -- runs -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "q"
    r = fairrep.train(
        QUICKSTART,
        overrides={"training.epochs": 2, "transfer.head_families": ["logistic"]},
        out=out,
        verbose=0,
    )
    return r


def test_train_writes_the_cli_run_directory(run):
    for f in ("config.toml", "report.json", "metrics.jsonl", "model.bpk", "preprocessing.json"):
        assert (run.path / f).is_file(), f
    assert run.report["tasks"][0]["name"]
    assert len(run.history) == 2
    # The CLI reads what Python wrote.
    text = cli("eval", "--run", str(run.path))
    assert "income" in text


def test_encode_equals_the_command_line(run, tmp_path):
    test_file = REPO / "data" / "adult" / "adult.test.gz"
    out = tmp_path / "z.csv"
    cli("encode", "--run", str(run.path), "--input", str(test_file), "--skip-rows", "1", "--out", str(out))
    want = np.genfromtxt(out, delimiter=",", skip_header=1, dtype=np.float64)
    got = run.encode(test_file, skip_rows=1)
    assert got.shape == want.shape
    assert np.array_equal(np.isnan(got), np.isnan(want))  # rows dropped for a missing value
    assert np.nanmax(np.abs(got - want)) <= 1e-6


def test_encode_a_dataframe_with_missing_values_equals_the_file(run, tmp_path):
    import pandas as pd
    cfg = run.path / "config.toml"
    text = cfg.read_text()
    test_file = REPO / "data" / "adult" / "adult.test.gz"
    names = json.loads((run.path / "preprocessing.json").read_text())["reading"]["columns"]
    df = pd.read_csv(test_file, names=names, skiprows=1, skipinitialspace=True, nrows=500, dtype=str)
    df["workclass"] = df["workclass"].replace("?", np.nan).astype("category")
    df["age"] = pd.to_numeric(df["age"])
    got = run.encode(df)
    small = tmp_path / "small.csv"
    df.astype(object).fillna("?").to_csv(small, index=False)
    want = run.encode(small, header=True)
    assert got.shape == (500, want.shape[1])
    assert np.allclose(got, want, atol=1e-6, equal_nan=True)
    assert "missing" in text


def test_encode_a_pyarrow_table_and_a_dict_equal_the_dataframe(run):
    import pandas as pd
    import pyarrow as pa
    names = run.columns
    df = pd.read_csv(REPO / "data/adult/adult.test.gz", names=names, skiprows=1,
                     skipinitialspace=True, nrows=300)
    df.loc[3, "workclass"] = None
    want = run.encode(df)
    got = run.encode(pa.Table.from_pandas(df, preserve_index=False))
    assert np.array_equal(np.isnan(got), np.isnan(want)) and np.isnan(want[3]).all()
    assert np.nanmax(np.abs(got - want)) == 0.0
    as_dict = {c: df[c].tolist() for c in df.columns}
    assert np.nanmax(np.abs(run.encode(as_dict) - want)) == 0.0


def test_encode_unknown_column_names_it(run):
    import pandas as pd
    names = json.loads((run.path / "preprocessing.json").read_text())["reading"]["columns"]
    df = pd.DataFrame([["1"] * len(names)], columns=names).rename(columns={"age": "agee"})
    with pytest.raises(ValueError, match=r"no column `age` .*did you mean `agee`"):
        run.encode(df)


def test_train_streams_a_config_with_data_stream(tmp_path):
    """A config with `[data.stream]` trains streamed from Python as from the CLI: the report says
    how many rows came from how many shards, and the run encodes new rows."""
    import gzip

    lines = gzip.open(REPO / "data/adult/adult.data.gz", "rt").read().splitlines()
    shards = tmp_path / "shards"
    shards.mkdir()
    half = len(lines) // 2
    for k, part in enumerate([lines[:half], lines[half:]]):
        (shards / f"part-{k}.csv").write_text("\n".join(part) + "\n")
    text = QUICKSTART.read_text().replace("../data/adult/", str(REPO / "data/adult") + "/")
    text = text.replace(str(REPO / "data/adult/adult.data.gz"), str(shards))
    cfg = tmp_path / "streamed.toml"
    cfg.write_text(text + '\n[data.stream]\nmode = "always"\nshuffle_rows = 4096\n')
    r = fairrep.train(
        cfg,
        overrides={"training.epochs": 1, "transfer.head_families": ["logistic"]},
        out=tmp_path / "run",
        verbose=0,
    )
    streamed = r.report["splits"]["streamed"]
    assert streamed["shards"] == 2 and streamed["shuffle_rows"] == 4096
    assert 26_000 < streamed["train_rows"] < 28_000
    z = r.encode(REPO / "data/adult/adult.test.gz", skip_rows=1)
    assert z.shape[0] > 15_000


def test_train_bad_config_is_a_value_error_naming_the_key(tmp_path):
    with pytest.raises(ValueError, match=r"training\.epochs"):
        fairrep.train(QUICKSTART, overrides=["training.epochs=-3"], out=tmp_path / "bad", verbose=0)
    with pytest.raises(FileNotFoundError, match=r"nope\.toml"):
        fairrep.train(tmp_path / "nope.toml", out=tmp_path / "bad2", verbose=0)


def test_ctrl_c_stops_training_with_the_last_checkpoint_intact(tmp_path):
    """A KeyboardInterrupt (what Ctrl-C raises) during fit, once the first epoch's checkpoint
    is written, stops training between two steps; the run then resumes from the checkpoint and
    finishes."""
    out = tmp_path / "int"
    overrides = {"training.epochs": 8, "transfer.head_families": ["logistic"]}
    code = f"""
import _thread, threading, time, sys, pathlib
import fairrep
def later():
    while not list(pathlib.Path({str(out)!r}).glob('checkpoints/epoch-0001')):
        time.sleep(0.02)
    _thread.interrupt_main()
threading.Thread(target=later, daemon=True).start()
try:
    fairrep.train({str(QUICKSTART)!r}, overrides={overrides!r}, out={str(out)!r}, verbose=0)
except KeyboardInterrupt as e:
    print("INTERRUPTED", e)
    sys.exit(0)
print("NOT INTERRUPTED")
sys.exit(1)
"""
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "INTERRUPTED training interrupted" in res.stdout, res.stdout
    assert "--resume continues from it" in res.stdout, res.stdout
    assert not (out / "report.json").exists()
    done = len((out / "metrics.jsonl").read_text().splitlines())
    assert 1 <= done < 8
    r = fairrep.train(QUICKSTART, overrides=overrides, out=out, resume=True, verbose=0)
    assert len(r.history) == 8 and (out / "report.json").is_file()


def adult_frame(run, nrows):
    import pandas as pd

    return pd.read_csv(REPO / "data/adult/adult.test.gz", names=run.columns, skiprows=1,
                       skipinitialspace=True, nrows=nrows)


def test_encode_pandas_dtypes_equal_the_file(run, tmp_path):
    """Every pandas column kind, with missing cells, encodes as the same rows read from a CSV
    file: float64 with NaN (read in place), nullable Int64 with NA, a categorical, object
    strings with None, a float column of whole numbers used as numbers."""
    import pandas as pd

    df = adult_frame(run, 400)
    want_frame = df.astype(object).copy()
    df["age"] = df["age"].astype("Int64")
    df.loc[5, "age"] = pd.NA
    df["fnlwgt"] = df["fnlwgt"].astype(np.float64)
    df.loc[7, "fnlwgt"] = np.nan
    df["education"] = df["education"].astype("category")
    df.loc[9, "education"] = None
    df["occupation"] = df["occupation"].astype(object)
    df.loc[11, "occupation"] = None
    df["hours-per-week"] = df["hours-per-week"].astype(np.float64)
    for i, c in ((5, "age"), (7, "fnlwgt"), (9, "education"), (11, "occupation")):
        want_frame.loc[i, c] = "?"
    small = tmp_path / "dtypes.csv"
    want_frame.to_csv(small, index=False)
    want = run.encode(small, header=True)
    got = run.encode(df)
    assert got.shape == want.shape and got.dtype == np.float32
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert np.nanmax(np.abs(got - want)) <= 1e-6


def test_encode_polars_and_an_arrow_stream_of_many_batches(run):
    """Arrow data through the PyCapsule interface (`__arrow_c_stream__`): a polars DataFrame
    and a pyarrow RecordBatchReader of 13-row batches equal the DataFrame's z."""
    import polars as pl
    import pyarrow as pa

    df = adult_frame(run, 300)
    df.loc[4, "workclass"] = None
    want = run.encode(df)
    got = run.encode(pl.from_pandas(df))
    assert np.array_equal(np.isnan(got), np.isnan(want))
    assert np.nanmax(np.abs(got - want)) == 0.0
    table = pa.Table.from_pandas(df, preserve_index=False)
    reader = pa.RecordBatchReader.from_batches(table.schema, table.to_batches(max_chunksize=13))
    got = run.encode(reader)
    assert np.nanmax(np.abs(got - want)) == 0.0 and got.shape == want.shape
    # Dictionary-encoded (categorical) Arrow columns.
    got = run.encode(table.cast(pa.schema([
        pa.field(f.name, pa.dictionary(pa.int32(), pa.string()) if pa.types.is_string(f.type) else f.type)
        for f in table.schema
    ])))
    assert np.nanmax(np.abs(got - want)) == 0.0


def test_encode_arrow_bad_columns_are_named(run):
    import pyarrow as pa

    table = pa.Table.from_pandas(adult_frame(run, 20), preserve_index=False)
    dates = pa.array([None] * 20, type=pa.date32())
    bad = table.set_column(table.schema.get_field_index("age"), "age", dates)
    with pytest.raises(ValueError, match=r"column `age` .*has type Date32"):
        run.encode(bad)
    with pytest.raises(ValueError, match=r"no column `fnlwgt`"):
        run.encode(table.drop_columns(["fnlwgt"]))
    with pytest.raises(ValueError, match=r"`fnlwgt`: `x` is not a finite number"):
        df = adult_frame(run, 5).astype(object)
        df.loc[2, "fnlwgt"] = "x"
        run.encode(df)


def test_predict_and_evaluate_equal_the_command_line(run, tmp_path):
    """`Run.predict` on a file and on a DataFrame, and `Run.evaluate`, are what
    `fairrep predict --evaluate --json` writes and prints."""
    import pandas as pd

    test_file = REPO / "data" / "adult" / "adult.test.gz"
    out = tmp_path / "p.csv"
    printed = json.loads(cli("predict", "--run", str(run.path), "--input", str(test_file),
                             "--skip-rows", "1", "--out", str(out), "--evaluate", "--json"))
    want = pd.read_csv(out)
    got = run.predict(test_file, skip_rows=1)
    assert list(got.columns) == list(want.columns) and "income_score" in got.columns
    pd.testing.assert_frame_equal(got, want, rtol=0, atol=1e-12)
    ev = run.evaluate(test_file, skip_rows=1)
    assert ev["rows"] == printed["rows"] and ev["evaluation"] == printed["evaluation"]
    assert set(ev["evaluation"]) == {t["name"] for t in run.config["tasks"]}
    # Rows in memory (a DataFrame with missing cells, and polars) are predicted alike.
    df = adult_frame(run, 500)
    df.loc[2, "workclass"] = None
    small = tmp_path / "small.csv"
    df.fillna("?").to_csv(small, index=False)
    want = run.predict(small, header=True)
    pd.testing.assert_frame_equal(run.predict(df), want, rtol=0, atol=1e-12)
    import polars as pl

    pd.testing.assert_frame_equal(run.predict(pl.from_pandas(df), tasks=["income"]),
                                  want[["income_score", "income_pred"]], rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match=r"--task nope: the run has no such task"):
        run.predict(df, tasks=["nope"])


def test_export_writes_what_the_command_line_writes(run, tmp_path):
    manifest = run.export(tmp_path / "py")
    cli("export", "--run", str(run.path), "--out", str(tmp_path / "cli"))
    for f in ("model.safetensors", "model.json", "fairrep_encoder.py"):
        assert (tmp_path / "py" / f).read_bytes() == (tmp_path / "cli" / f).read_bytes(), f
    assert manifest == json.loads((tmp_path / "cli" / "model.json").read_text())
