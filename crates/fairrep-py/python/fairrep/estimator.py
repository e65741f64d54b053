"""``FairRepresentation``: fairrep's training as a scikit-learn transformer.

``fit(X, y, sensitive_features=s)`` writes the rows and a config to a private directory and
trains it exactly as ``fairrep train`` would (the same preprocessing: one-hot for text and
categorical columns, standardisation for numbers, the missing-value policy); ``transform(X)``
is the run's ``encode``. Every column of ``y`` is a source task (binary: two distinct values,
the larger one positive; regression: more than two numbers).
"""

from __future__ import annotations

import csv
import io
import os
import tarfile
import tempfile
from pathlib import Path
from typing import Any, List, Optional, Sequence

import numpy as np

from ._convert import text

try:  # scikit-learn is optional: without it the class still works, without sklearn's mixins
    from sklearn.base import BaseEstimator, TransformerMixin
except ImportError:  # pragma: no cover - exercised only without scikit-learn
    class BaseEstimator:  # type: ignore[no-redef]
        def get_params(self, deep: bool = True):
            return {k: getattr(self, k) for k in _PARAMS}

        def set_params(self, **params):
            for k, v in params.items():
                if k not in _PARAMS:
                    raise ValueError(f"invalid parameter {k!r} for FairRepresentation")
                setattr(self, k, v)
            return self

    class TransformerMixin:  # type: ignore[no-redef]
        def fit_transform(self, X, y=None, **fit_params):
            return self.fit(X, y, **fit_params).transform(X)


_PARAMS = (
    "penalty",
    "lam",
    "hidden",
    "representation",
    "epochs",
    "batch_size",
    "learning_rate",
    "dropout",
    "missing",
    "seed",
    "backend",
    "verbose",
)

_SENSITIVE = "__fairrep_sensitive"


def _frame(X: Any, names: Optional[List[str]] = None):
    """Column names and columns of X, checked as scikit-learn checks them (its messages): a
    DataFrame keeps its names, an array gets x0, x1, …"""
    if hasattr(X, "tocsr") or hasattr(X, "toarray"):  # scipy.sparse
        raise TypeError(
            "FairRepresentation does not support sparse input: sparse data was passed, a dense "
            "array or a DataFrame is required (X.toarray())"
        )
    if hasattr(X, "columns") and hasattr(X, "iloc"):  # pandas
        cols = [str(c) for c in X.columns]
        columns, is_frame = [X.iloc[:, j] for j in range(X.shape[1])], True
        shape = X.shape
    else:
        arr = np.asarray(X)
        if arr.ndim != 2:
            raise ValueError(
                f"Expected a 2-D array or a DataFrame, got an array of shape {arr.shape}: "
                "Reshape your data either using array.reshape(-1, 1) if your data has a single "
                "feature or array.reshape(1, -1) if it contains a single sample."
            )
        if np.iscomplexobj(arr):
            raise ValueError("Complex data not supported")
        cols = names if names is not None else [f"x{j}" for j in range(arr.shape[1])]
        columns, is_frame, shape = [arr[:, j] for j in range(arr.shape[1])], False, arr.shape
    if shape[0] == 0:
        raise ValueError(f"Found array with 0 sample(s) (shape={shape}) while a minimum of 1 is required.")
    if shape[1] == 0:
        raise ValueError(f"Found array with 0 feature(s) (shape={shape}) while a minimum of 1 is required.")
    return cols, columns, is_frame


def _is_text(col: Any) -> bool:
    dtype = getattr(col, "dtype", None)
    if dtype is None:
        return True
    kind = getattr(dtype, "kind", "O")
    return kind in ("O", "U", "S", "b") or str(dtype) in ("category", "string", "bool")


def _cell(v: Any) -> str:
    """A cell of the training file (empty: missing)."""
    t = text(v)
    return "" if t is None else t


class FairRepresentation(TransformerMixin, BaseEstimator):
    """A fair representation learned by fairrep: an MLP encoder trained on the source tasks
    ``y`` under a penalty between the sensitive groups' representations.

    Parameters mirror the config file: ``penalty`` (``"mmd"``, ``"sinkhorn"``,
    ``"adversarial"``) and its weight ``lam`` (``penalty.lambda``), the encoder's ``hidden``
    widths and ``representation`` size, ``epochs``, ``batch_size``, ``learning_rate``,
    ``dropout``, the ``missing`` policy (``"impute"``, ``"drop_rows"``, ``"error"``), ``seed``,
    ``backend`` (``"flex"``, or ``"wgpu"``/``"ndarray"`` when built) and ``verbose`` (0: no
    progress bar). They are checked by the config's own rules when ``fit`` runs.

    Fitted attributes: ``n_features_in_``, ``feature_names_in_`` (for a DataFrame with string
    column names), ``history_`` (one record per epoch), ``report_`` (the run's report.json),
    ``run_`` (the :class:`fairrep.Run` in a private directory; ``save(dir)`` copies it).
    """

    def __init__(
        self,
        penalty: str = "mmd",
        lam: float = 1.0,
        hidden: Sequence[int] = (64,),
        representation: int = 16,
        epochs: int = 10,
        batch_size: int = 256,
        learning_rate: float = 1e-3,
        dropout: float = 0.0,
        missing: str = "impute",
        seed: int = 0,
        backend: str = "flex",
        verbose: int = 0,
    ):
        self.penalty = penalty
        self.lam = lam
        self.hidden = hidden
        self.representation = representation
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.dropout = dropout
        self.missing = missing
        self.seed = seed
        self.backend = backend
        self.verbose = verbose

    # scikit-learn's metadata routing: `sensitive_features` is requested by `fit`.
    def __sklearn_tags__(self):  # pragma: no cover - sklearn >= 1.6 only
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = self.missing != "error"
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        tags.target_tags.required = True
        # z is float32 whatever the input's precision (the encoder computes in f32).
        tags.transformer_tags.preserves_dtype = ["float32"]
        return tags

    def fit(self, X: Any, y: Any = None, *, sensitive_features: Any = None) -> "FairRepresentation":
        """Trains the encoder on the source tasks ``y`` (1-D: one task; 2-D or a DataFrame:
        one task per column; binary or regression) with the groups ``sensitive_features``
        (one per row)."""
        from . import _toml_value, train

        names, columns, is_frame = _frame(X)
        n = len(columns[0])
        if y is None:
            raise ValueError(
                "FairRepresentation requires y to be passed, but the target y is None: one or "
                "more source tasks (a column each)"
            )
        if n < 2:
            raise ValueError(f"FairRepresentation needs 2 or more rows; got n_samples = {n}")
        if sensitive_features is None:
            raise ValueError(
                "fit needs sensitive_features: the sensitive group of each row "
                "(fit(X, y, sensitive_features=s))"
            )
        task_names, tasks = _tasks(y, n)
        s = np.asarray(sensitive_features)
        if s.ndim != 1 or len(s) != n:
            raise ValueError(f"sensitive_features: expected {n} values (one per row), got shape {s.shape}")
        if len({_cell(v) for v in s}) < 2:
            raise ValueError("sensitive_features: a single group; the penalty needs two or more")
        self._cleanup()
        self._tmp = tempfile.TemporaryDirectory(prefix="fairrep-")
        root = Path(self._tmp.name)
        data = root / "data.csv"
        with open(data, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(names + task_names + [_SENSITIVE])
            cols = [list(c) for c in columns] + tasks + [list(s)]
            for i in range(n):
                w.writerow([_cell(c[i]) for c in cols])
        text_cols = [nm for nm, c in zip(names, columns) if _is_text(c)]
        numeric = [nm for nm in names if nm not in text_cols]
        lines = [
            f"seed = {_toml_value(self.seed)}",
            "[data]",
            'train = { path = "data.csv" }',
            'test = { path = "data.csv" }',
            'missing_values = [""]',
            f"missing = {_toml_value(self.missing)}",
            "[data.features]",
            f"categorical = {_toml_value(text_cols)}",
            f"numeric = {_toml_value(numeric)}",
            "[data.sensitive]",
            f"column = {_toml_value(_SENSITIVE)}",
        ]
        for name, col in zip(task_names, tasks):
            values = sorted({v for v in col if v != ""}, key=_order)
            lines += ["[[tasks]]", f"name = {_toml_value(name)}", f"column = {_toml_value(name)}", 'role = "source"']
            if len(values) <= 2:
                if len(values) < 2:
                    raise ValueError(f"y: task `{name}` has a single value; a binary task needs two")
                lines.append(f"positive = {{ eq = {_toml_value(values[-1])} }}")
            else:
                lines.append('kind = "regression"')
        lines += [
            "[model]",
            f"hidden = {_toml_value(list(self.hidden))}",
            f"representation = {_toml_value(self.representation)}",
            f"dropout = {_toml_value(self.dropout)}",
            "[penalty]",
            f"kind = {_toml_value(self.penalty)}",
            f"lambda = {_toml_value(self.lam)}",
            "[training]",
            f"epochs = {_toml_value(self.epochs)}",
            f"batch_size = {_toml_value(min(int(self.batch_size), max(2, int(0.9 * n))))}",
            f"learning_rate = {_toml_value(self.learning_rate)}",
            "[transfer]",
            "head_families = []",
            "baselines = false",
        ]
        (root / "config.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.run_ = train(root / "config.toml", out=root / "run", backend=self.backend, verbose=self.verbose)
        self.n_features_in_ = len(names)
        if is_frame and all(isinstance(c, str) for c in getattr(X, "columns", [])):
            self.feature_names_in_ = np.asarray(names, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_
        self._columns = names
        self.report_ = self.run_.report
        self.history_ = self.run_.history
        return self

    def transform(self, X: Any) -> np.ndarray:
        """The representation z of the rows of ``X`` (float32, rows × ``representation``),
        through the fitted preprocessing."""
        if not hasattr(self, "run_"):
            from sklearn.exceptions import NotFittedError  # type: ignore

            raise NotFittedError("this FairRepresentation is not fitted yet: call fit first")
        names, columns, is_frame = _frame(X)
        if not is_frame and len(names) == len(self._columns):
            names = list(self._columns)  # an array's columns, in the order fit saw them
        if len(names) != self.n_features_in_:
            raise ValueError(
                f"X has {len(names)} features, but FairRepresentation is expecting "
                f"{self.n_features_in_} features as input"
            )
        return self.run_.encode(dict(zip(names, columns)), backend=self.backend)

    def fit_transform(self, X: Any, y: Any = None, **fit_params) -> np.ndarray:
        """``fit(X, y, **fit_params).transform(X)``."""
        return self.fit(X, y, **fit_params).transform(X)

    def save(self, path: Any) -> "Any":
        """Copies the fitted run directory to ``path`` (the CLI's `eval`, `encode`, `export`
        read it); returns the :class:`fairrep.Run` there."""
        import shutil

        from . import Run

        shutil.copytree(self.run_.path, path)
        return Run(path)

    @classmethod
    def from_run(cls, path: Any, *, backend: str = "flex", verbose: int = 0) -> "FairRepresentation":
        """A fitted estimator from a run directory written by ``fairrep train`` (or by
        :meth:`save`): its hyper-parameters from the run's config, ``transform`` through the
        run's encoder. ``feature_names_in_`` are the run's feature columns (in the order of
        its preprocessing; the sensitive column last when it is a feature): a DataFrame is
        taken by those names, an array in that order."""
        import json

        from . import Run

        run = Run(path)
        cfg = run.config
        est = cls(
            penalty=cfg["penalty"]["kind"],
            lam=cfg["penalty"]["lambda"],
            hidden=tuple(cfg["model"]["hidden"]),
            representation=cfg["model"]["representation"],
            epochs=cfg["training"]["epochs"],
            batch_size=cfg["training"]["batch_size"],
            learning_rate=cfg["training"]["learning_rate"],
            dropout=cfg["model"]["dropout"],
            missing=cfg["data"]["missing"],
            seed=cfg["seed"],
            backend=backend,
            verbose=verbose,
        )
        with open(run.path / "preprocessing.json", encoding="utf-8") as f:
            pre = json.load(f)
        names: List[str] = []
        for e in pre["encoders"]:
            if e["column"] not in names:
                names.append(e["column"])
        if pre["sensitive"]["include_as_feature"] and pre["sensitive"]["column"] not in names:
            names.append(pre["sensitive"]["column"])
        est.run_ = run
        est._columns = names
        est.n_features_in_ = len(names)
        est.feature_names_in_ = np.asarray(names, dtype=object)
        est.report_ = run.report
        est.history_ = run.history
        return est

    # Pickling: the fitted state is the run directory, carried as a tar archive.
    def __getstate__(self):
        state = {k: v for k, v in self.__dict__.items() if k not in ("_tmp", "run_")}
        if hasattr(self, "run_"):
            buf = io.BytesIO()
            with tarfile.open(fileobj=buf, mode="w:gz") as tar:
                tar.add(self.run_.path, arcname="run")
            state["_run_archive"] = buf.getvalue()
        return state

    def __setstate__(self, state):
        archive = state.pop("_run_archive", None)
        self.__dict__.update(state)
        if archive is not None:
            from . import Run

            self._tmp = tempfile.TemporaryDirectory(prefix="fairrep-")
            with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
                tar.extractall(self._tmp.name)
            self.run_ = Run(Path(self._tmp.name) / "run")

    def _cleanup(self):
        tmp = self.__dict__.pop("_tmp", None)
        if tmp is not None:
            tmp.cleanup()


def _order(v: str):
    try:
        return (0, float(v), v)
    except ValueError:
        return (1, 0.0, v)


def _tasks(Y: Any, n: int):
    """Task names and their columns as text."""
    if hasattr(Y, "columns") and hasattr(Y, "iloc"):
        names = [f"y_{c}" for c in Y.columns]
        cols = [[_cell(v) for v in Y.iloc[:, j]] for j in range(Y.shape[1])]
    else:
        arr = np.asarray(Y)
        if arr.ndim == 1:
            arr = arr[:, None]
        if arr.ndim != 2:
            raise ValueError(f"y: expected 1-D or 2-D, got shape {arr.shape}")
        names = [f"y{j}" for j in range(arr.shape[1])]
        cols = [[_cell(v) for v in arr[:, j]] for j in range(arr.shape[1])]
    for nm, c in zip(names, cols):
        if len(c) != n:
            raise ValueError(f"y: {len(c)} rows but X has {n}")
        if any(v == "" for v in c):
            raise ValueError(f"y: task `{nm}` has a missing value at row {c.index('')}")
    return names, cols
