"""FairRepresentation as a scikit-learn transformer: fit/transform against the run it wrote
and the CLI, pickling, Pipeline with metadata routing, GridSearchCV over λ, bad input."""

import pickle
import subprocess
from pathlib import Path

import numpy as np
import pytest

import fairrep

import sklearn as sklearn
import pandas as pd
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

from test_fairrep import FAIRREP  # noqa: E402


def adult(n=2000):
    repo = Path(__file__).resolve().parents[3]
    names = [
        "age", "workclass", "fnlwgt", "education", "education-num", "marital-status",
        "occupation", "relationship", "race", "sex", "capital-gain", "capital-loss",
        "hours-per-week", "native-country", "income",
    ]
    df = pd.read_csv(repo / "data/adult/adult.data.gz", names=names, skipinitialspace=True, nrows=n)
    df = df.replace("?", np.nan)
    X = df[["age", "workclass", "fnlwgt", "relationship", "race", "capital-gain", "hours-per-week"]].copy()
    X["workclass"] = X["workclass"].astype("category")
    Y = pd.DataFrame({"married": df["marital-status"].str.startswith("Married").astype(int),
                      "long_hours": (df["hours-per-week"] > 40).astype(int)})
    y_income = (df["income"] == ">50K").astype(int).to_numpy()
    return X, Y, df["sex"].to_numpy(), y_income


def test_fit_transform_is_the_runs_encode_and_the_clis(tmp_path):
    X, Y, s, _ = adult()
    est = fairrep.FairRepresentation(lam=1.0, epochs=2, representation=8, seed=3)
    z = est.fit_transform(X, Y, sensitive_features=s)
    assert z.shape == (len(X), 8) and z.dtype == np.float32 and np.isfinite(z).all()
    assert est.n_features_in_ == 7 and list(est.feature_names_in_) == list(X.columns)
    assert len(est.history_) == 2 and est.report_["tasks"][0]["name"] == "y_married"
    # The run it wrote is a CLI run: `fairrep encode` on its training file gives the same z.
    saved = est.save(tmp_path / "saved")
    out = tmp_path / "z.csv"
    subprocess.run([FAIRREP, "encode", "--run", str(saved.path), "--input",
                    str(est.run_.path.parent / "data.csv"), "--header", "--out", str(out)], check=True,
                   capture_output=True)
    want = np.genfromtxt(out, delimiter=",", skip_header=1)
    assert np.abs(z - want).max() <= 1e-6


def test_pickle_round_trips_the_fitted_state():
    X, Y, s, _ = adult(800)
    est = fairrep.FairRepresentation(epochs=1, representation=4).fit(X, Y, sensitive_features=s)
    again = pickle.loads(pickle.dumps(est))
    assert np.array_equal(again.transform(X), est.transform(X))
    assert again.get_params() == est.get_params()


def test_get_and_set_params():
    est = fairrep.FairRepresentation()
    assert est.get_params()["lam"] == 1.0
    est.set_params(lam=0.5, penalty="sinkhorn")
    assert est.lam == 0.5 and est.penalty == "sinkhorn"
    assert isinstance(sklearn.base.clone(est), fairrep.FairRepresentation)


def test_pipeline_with_metadata_routing_and_grid_search_over_lambda():
    X, Y, s, y = adult(1500)
    with sklearn.config_context(enable_metadata_routing=True):
        enc = fairrep.FairRepresentation(epochs=1, representation=4).set_fit_request(sensitive_features=True)
        pipe = make_pipeline(enc, LogisticRegression(max_iter=500))
        pipe.fit(X, y, sensitive_features=s)
        assert pipe.score(X, y) > 0.7
        grid = GridSearchCV(pipe, {"fairrepresentation__lam": [0.0, 3.0]}, cv=2)
        grid.fit(X, y, sensitive_features=s)
        assert set(grid.cv_results_["param_fairrepresentation__lam"]) == {0.0, 3.0}


def test_bad_input_is_a_value_error():
    X, Y, s, _ = adult(300)
    with pytest.raises(ValueError, match="sensitive_features"):
        fairrep.FairRepresentation(epochs=1).fit(X, Y)
    with pytest.raises(ValueError, match="a single group"):
        fairrep.FairRepresentation(epochs=1).fit(X, Y, sensitive_features=np.array(["a"] * len(X)))
    with pytest.raises(ValueError, match=r"expected 300 values"):
        fairrep.FairRepresentation(epochs=1).fit(X, Y, sensitive_features=s[:10])
    with pytest.raises(ValueError, match=r"model\.representation"):
        fairrep.FairRepresentation(epochs=1, representation=0).fit(X, Y, sensitive_features=s)
    est = fairrep.FairRepresentation(epochs=1, representation=4).fit(X, Y, sensitive_features=s)
    with pytest.raises(ValueError, match=r"X has 2 features"):
        est.transform(np.zeros((3, 2)))
    with pytest.raises(ValueError, match=r"no column `age`.*did you mean `agee`"):
        est.transform(X.rename(columns={"age": "agee"}))


def test_a_cli_run_is_a_fitted_estimator_and_back(tmp_path):
    """A run trained by the CLI loads as a fitted FairRepresentation whose transform is the
    CLI's encode; the estimator saved again is a run the CLI reads."""
    repo = Path(__file__).resolve().parents[3]
    out = tmp_path / "cli-run"
    subprocess.run([FAIRREP, "train", "--config", str(repo / "configs/quickstart.toml"),
                    "--out", str(out), "--set", "training.epochs=1",
                    "--set", 'transfer.head_families=["logistic"]'], check=True, capture_output=True)
    est = fairrep.FairRepresentation.from_run(out)
    assert est.get_params()["lam"] == 1.0 and est.get_params()["epochs"] == 1
    run = fairrep.Run.load(out)
    df = pd.read_csv(repo / "data/adult/adult.test.gz", names=run.columns, skiprows=1,
                     skipinitialspace=True, nrows=300)
    z = est.transform(df[list(est.feature_names_in_)])
    zc = tmp_path / "z.csv"
    df.to_csv(tmp_path / "rows.csv", index=False)
    subprocess.run([FAIRREP, "encode", "--run", str(out), "--input", str(tmp_path / "rows.csv"),
                    "--header", "--out", str(zc)], check=True, capture_output=True)
    want = np.genfromtxt(zc, delimiter=",", skip_header=1)
    assert z.shape == want.shape
    assert np.array_equal(np.isnan(z), np.isnan(want)) and np.nanmax(np.abs(z - want)) <= 1e-6
    # An array in feature_names_in_'s order is the same rows.
    zz = est.transform(df[list(est.feature_names_in_)].to_numpy(dtype=object))
    assert np.nanmax(np.abs(zz - z)) == 0.0
    # And back: saved, the CLI evaluates it.
    est.save(tmp_path / "again")
    res = subprocess.run([FAIRREP, "eval", "--run", str(tmp_path / "again")], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
