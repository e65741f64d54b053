"""fairrep from Python: fair, transferable representations.

The Rust library (``fairrep._fairrep``, built by maturin) does the work with the GIL
released; this package checks and converts arguments (numpy arrays, pandas frames, pyarrow
tables, file paths) and returns numpy arrays and plain Python values.

- :func:`divergence` — the MMD² or the Sinkhorn divergence between two point clouds, with
  GeomLoss's conventions, and its gradient with respect to ``x``;
- :func:`audit_predictions` — fairlearn's fairness metrics of any model's binary predictions;
- :func:`train` and :class:`Run` — a training run of a config file, exactly as
  ``fairrep train`` writes it, and the representation of new rows (``Run.encode``).

Errors keep fairrep's messages (the key, column, file or line they name): bad input raises
``ValueError``, an unreadable or unwritable file ``OSError``, Ctrl-C during training
``KeyboardInterrupt`` (the run's last checkpoint stays intact: ``train(..., resume=True)``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

from . import _convert, _fairrep

__all__ = [
    "Divergence",
    "FairRepresentation",
    "Run",
    "audit_predictions",
    "backends",
    "divergence",
    "train",
]

__version__ = _fairrep.__version__
BURN_VERSION = _fairrep.BURN_VERSION

PathLike = Union[str, "os.PathLike[str]"]


def backends() -> List[str]:
    """The compute backends this build has (``flex`` always; ``wgpu``, ``ndarray`` when built
    with those cargo features)."""
    return list(_fairrep.backends())


def _points(a: Any, name: str) -> np.ndarray:
    """A 2-D float32/float64 array of points, C-contiguous, finite."""
    if hasattr(a, "detach") and hasattr(a, "numpy"):  # a torch tensor
        a = a.detach().cpu().numpy()
    arr = np.asarray(a)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array (points × dimensions), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name}: empty array of shape {arr.shape}")
    if arr.dtype not in (np.float32, np.float64):
        if not np.issubdtype(arr.dtype, np.number):
            raise ValueError(f"{name}: expected numbers, got dtype {arr.dtype}")
        arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(f"{name}: non-finite value at row {bad[0]}, column {bad[1]}")
    return arr


@dataclass
class Divergence:
    """The result of :func:`divergence`."""

    value: float
    """The divergence (MMD² is twice GeomLoss's ``SamplesLoss("gaussian")``)."""
    grad_x: Optional[np.ndarray]
    """The gradient of ``value`` with respect to ``x`` (``gradient=True``), shape of ``x``."""
    kind: str
    convention: str
    """What ``value`` is, in words."""
    path: str
    """Where it was computed: ``fused-cpu-f32``/``-f64``, ``fused-gpu`` or ``portable``."""
    details: Dict[str, Any] = field(default_factory=dict)
    """Everything ``fairrep divergence`` prints (bandwidths, ε, the schedule's length…)."""

    def __float__(self) -> float:
        return self.value


def divergence(
    x: Any,
    y: Any,
    kind: str = "sinkhorn",
    *,
    sigma: Union[None, float, Sequence[float]] = None,
    kernel: Optional[str] = None,
    estimator: Optional[str] = None,
    blur: Optional[float] = None,
    scaling: Optional[float] = None,
    p: Optional[float] = None,
    reach: Optional[float] = None,
    debias: bool = True,
    scale: str = "none",
    tolerance: Optional[float] = None,
    max_iterations: int = 10_000,
    gradient: bool = False,
    backend: str = "flex",
    portable: bool = False,
) -> Divergence:
    """The divergence between the rows of ``x`` (n × d) and ``y`` (m × d), uniform weights.

    GeomLoss 0.3.1's conventions and defaults: the points as given (``scale`` scales the
    pooled points as fairrep's penalty scales a batch: ``batch_rms``, ``pair_distance``,
    ``whiten``); ``kind="mmd"`` is twice ``SamplesLoss("gaussian")`` (``sigma``: one bandwidth
    or several, summed; default the median pairwise distance), ``kernel`` ``gaussian`` |
    ``laplacian`` | ``energy``, ``estimator`` ``biased`` | ``unbiased`` | ``linear``;
    ``kind="sinkhorn"`` is ``SamplesLoss("sinkhorn")`` (``blur`` 0.05, ``scaling`` 0.5, ``p``
    2, debiased, GeomLoss's ε-schedule). The computation runs in the inputs' precision:
    float32 when both are float32, else float64. ``gradient=True`` also returns
    ∂value/∂x. The arguments are checked by the rules of the config's ``[penalty]``.
    """
    xa, ya = _points(x, "x"), _points(y, "y")
    if xa.shape[1] != ya.shape[1]:
        raise ValueError(f"x has {xa.shape[1]} columns but y has {ya.shape[1]}")
    dtype = "f32" if xa.dtype == np.float32 and ya.dtype == np.float32 else "f64"
    if sigma is not None:
        sigma = [float(sigma)] if np.isscalar(sigma) else [float(s) for s in sigma]
    text, grad = _fairrep.divergence(
        np.ascontiguousarray(xa, dtype=np.float64),
        np.ascontiguousarray(ya, dtype=np.float64),
        kind,
        sigma=sigma,
        kernel=kernel,
        estimator=estimator,
        blur=blur,
        scaling=scaling,
        p=p,
        reach=reach,
        debias=debias,
        scale=scale,
        tolerance=tolerance,
        max_iterations=max_iterations,
        backend=backend,
        dtype=dtype,
        portable=portable,
    )
    details = json.loads(text)
    return Divergence(
        value=details["value"],
        grad_x=grad.astype(xa.dtype, copy=False) if gradient else None,
        kind=details["kind"],
        convention=details["convention"],
        path=details["path"],
        details=details,
    )


def _labels(a: Any, name: str, pos_label: Any) -> np.ndarray:
    arr = np.asarray(a)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D array, got shape {arr.shape}")
    if arr.dtype == bool:
        return np.ascontiguousarray(arr)
    if arr.dtype.kind == "f" and np.isnan(arr).any():
        raise ValueError(f"{name}: missing value (NaN) at row {int(np.argmax(np.isnan(arr)))}")
    return np.ascontiguousarray(arr == pos_label)


def audit_predictions(
    y_true: Any,
    y_pred: Any,
    *,
    sensitive_features: Any,
    y_score: Any = None,
    pos_label: Any = 1,
) -> Dict[str, Any]:
    """fairlearn's metrics of binary predictions, overall and by group: what
    ``fairrep audit-predictions`` prints, as a dict.

    ``demographic_parity_difference``/``_ratio``, ``equal_opportunity_difference``/``_ratio``,
    ``equalized_odds_difference``/``_ratio``, ``accuracy``, ``balanced_accuracy``,
    ``roc_auc`` (with ``y_score``) and ``by_group`` (``selection_rate``, ``tpr``, ``fpr``,
    ``accuracy``, each keyed by the group's name). Differences and ratios are between the
    extreme groups, as fairlearn's ``MetricFrame`` computes them; a metric undefined on the
    data is ``None``. A value equal to ``pos_label`` is positive.
    """
    t = _labels(y_true, "y_true", pos_label)
    p = _labels(y_pred, "y_pred", pos_label)
    sf = np.asarray(sensitive_features)
    if sf.ndim != 1:
        raise ValueError(f"sensitive_features: expected a 1-D array, got shape {sf.shape}")
    for name, a in (("y_pred", p), ("sensitive_features", sf)):
        if len(a) != len(t):
            raise ValueError(f"{name} has {len(a)} rows but y_true has {len(t)}")
    if sf.dtype.kind == "f" and np.isnan(sf).any():
        raise ValueError(
            f"sensitive_features: missing value (NaN) at row {int(np.argmax(np.isnan(sf)))}"
        )
    names, ids = np.unique(sf.astype(str), return_inverse=True)
    score = None
    if y_score is not None:
        score = np.ascontiguousarray(np.asarray(y_score, dtype=np.float64))
        if score.shape != t.shape:
            raise ValueError(f"y_score has shape {score.shape}, y_true {t.shape}")
        if not np.isfinite(score).all():
            raise ValueError(
                f"y_score: non-finite value at row {int(np.argmax(~np.isfinite(score)))}"
            )
    text = _fairrep.audit_predictions(
        t, p, np.ascontiguousarray(ids.reshape(-1), dtype=np.int64), [str(n) for n in names], score
    )
    return json.loads(text)


class Run:
    """A run directory written by ``fairrep train`` or :func:`train`."""

    def __init__(self, path: PathLike, report: Optional[Dict[str, Any]] = None):
        self.path = Path(path)
        if not (self.path / "config.toml").is_file():
            raise ValueError(f"{self.path}: not a run directory (no config.toml)")
        self._report = report

    @classmethod
    def load(cls, path: PathLike) -> "Run":
        """Opens the run directory ``path``."""
        return cls(path)

    @property
    def report(self) -> Dict[str, Any]:
        """``report.json``: the test table of every task, the representation's bias, the
        timings, the warnings."""
        if self._report is None:
            with open(self.path / "report.json", encoding="utf-8") as f:
                self._report = json.load(f)
        return self._report

    @property
    def columns(self) -> Optional[List[str]]:
        """The column names the run reads header-less files with (``[data].columns``), or
        ``None`` when its files name their columns in a header line."""
        with open(self.path / "preprocessing.json", encoding="utf-8") as f:
            return json.load(f)["reading"]["columns"]

    @property
    def history(self) -> List[Dict[str, Any]]:
        """``metrics.jsonl``: one record per epoch (losses, penalties, seconds)."""
        with open(self.path / "metrics.jsonl", encoding="utf-8") as f:
            return [json.loads(line) for line in f if line.strip()]

    def encode(
        self,
        data: Any,
        *,
        header: bool = False,
        skip_rows: int = 0,
        delimiter: Optional[str] = None,
        backend: str = "flex",
    ) -> np.ndarray:
        """The representation z (n × r, float32) of ``data``: a pandas DataFrame, Arrow data
        (a pyarrow Table, a polars DataFrame: any object with ``__arrow_c_stream__``), a dict
        of columns, or the path of a CSV/CSV.gz/Parquet file, read as ``fairrep encode`` reads
        it (the run's column names and delimiter unless ``header``, ``skip_rows``,
        ``delimiter`` say otherwise). The run's columns are taken by name, through the run's
        fitted preprocessing; a missing cell (``None``, NaN, null) is a missing value; a row
        dropped for one (``missing = "drop_rows"``) is NaN in z.

        Columns travel typed, never a string per cell: a float64 numpy column is read in
        place, other numbers are converted to float64, text and categorical columns become
        integer codes and their levels (pandas' categorical codes as they are); Arrow data
        are read a record batch at a time through Arrow's C stream interface. A number used
        as a category is the text of its value (``13.0`` is the category ``13``)."""
        if isinstance(data, (str, os.PathLike)):
            import tempfile

            with tempfile.TemporaryDirectory() as tmp:
                out = Path(tmp) / "z.npy"
                _fairrep.encode_file(
                    str(self.path),
                    str(data),
                    str(out),
                    header=header,
                    skip_rows=skip_rows,
                    delimiter=delimiter,
                    backend=backend,
                )
                return np.load(out)
        if _is_arrow(data):
            z, _counts = _fairrep.encode_arrow(str(self.path), data, backend=backend)
            return z
        names, numbers, codes, levels = _convert.columns(data)
        z, _counts = _fairrep.encode_arrays(
            str(self.path), names, numbers, codes, levels, backend=backend
        )
        return z

    @property
    def config(self) -> Dict[str, Any]:
        """The run's resolved config (``config.toml`` with every default filled in)."""
        return json.loads(_fairrep.run_config(str(self.path)))

    def predict(
        self,
        data: Any,
        *,
        tasks: Optional[Sequence[str]] = None,
        header: bool = False,
        skip_rows: int = 0,
        delimiter: Optional[str] = None,
        backend: str = "flex",
    ) -> Any:
        """Every task's predictions for ``data`` (what ``fairrep predict`` writes): for each
        task (``tasks``: a subset by name) ``<task>_score`` (a probability, or a regression
        task's value) and, for a binary task, ``<task>_pred`` (score ≥ the run's threshold),
        post-processed where the run was and ``data`` has the sensitive column; a row dropped
        for a missing value is NaN. A pandas DataFrame (a dict of numpy arrays without
        pandas). ``data`` is what :meth:`encode` takes."""
        scores, _summary = self._predict(data, tasks, False, header, skip_rows, delimiter, backend)
        return scores

    def evaluate(
        self,
        data: Any,
        *,
        tasks: Optional[Sequence[str]] = None,
        header: bool = False,
        skip_rows: int = 0,
        delimiter: Optional[str] = None,
        backend: str = "flex",
    ) -> Dict[str, Any]:
        """Each task measured on the rows of ``data`` that have its label and the sensitive
        column (``fairrep predict --evaluate --json``): ``rows``, ``postprocessed`` and
        ``evaluation`` — per binary task what :func:`audit_predictions` returns (accuracy,
        AUC, parity gaps, by group), per regression task RMSE/MAE/R² and the groups' score
        distances."""
        _scores, summary = self._predict(data, tasks, True, header, skip_rows, delimiter, backend)
        summary.pop("out", None)
        return summary

    def _predict(self, data, tasks, evaluate, header, skip_rows, delimiter, backend):
        import tempfile

        with tempfile.TemporaryDirectory(prefix="fairrep-") as tmp:
            if not isinstance(data, (str, os.PathLike)):
                # Rows in memory are written to a file that `predict` streams.
                data, header, skip_rows, delimiter = _to_file(self, data, Path(tmp)), True, 0, ","
            out = Path(tmp) / "predictions.csv"
            text = _fairrep.predict_file(
                str(self.path),
                str(data),
                str(out),
                tasks=list(tasks or []),
                header=header,
                skip_rows=skip_rows,
                delimiter=delimiter,
                evaluate=evaluate,
                backend=backend,
            )
            return _read_scores(out), json.loads(text)

    def export(self, out: PathLike, *, backend: str = "flex") -> Dict[str, Any]:
        """``fairrep export``: writes ``model.safetensors`` (PyTorch's names and layouts),
        ``model.json`` and the standalone ``fairrep_encoder.py`` into ``out``; returns
        ``model.json``'s content."""
        return json.loads(_fairrep.export(str(self.path), str(out), backend=backend))

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"


def _to_file(run: "Run", data: Any, tmp: Path) -> Path:
    """Rows in memory as a file ``predict`` reads: Arrow data as Parquet (pyarrow), a
    DataFrame or a dict of columns as CSV, cells in the text ``encode`` gives them, missing
    cells as the run's first missing-value token."""
    if _is_arrow(data):
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:  # pragma: no cover
            raise ValueError("data: predicting Arrow data in memory needs pyarrow (or pass a file)")
        path = tmp / "rows.parquet"
        pq.write_table(pa.table(data), path)
        return path
    import csv

    with open(run.path / "preprocessing.json", encoding="utf-8") as f:
        null = (json.load(f)["reading"]["missing_values"] or [""])[0]
    names, numbers, codes, levels = _convert.columns(data)
    cols = []
    for a, c, lv in zip(numbers, codes, levels):
        if a is not None:
            cols.append([_convert.text(v) or null for v in a.tolist()])
        else:
            table = np.asarray(list(lv) + [null], dtype=object)
            cols.append(table[np.where(c < 0, len(lv), c)].tolist())
    path = tmp / "rows.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(names)
        w.writerows(zip(*cols))
    return path


def _read_scores(path: Path) -> Any:
    """``predict``'s CSV output: a pandas DataFrame, or a dict of float arrays (NaN for the
    empty fields of dropped rows)."""
    try:
        import pandas as pd

        return pd.read_csv(path)
    except ImportError:  # pragma: no cover
        import csv

        with open(path, encoding="utf-8") as f:
            rows = list(csv.reader(f))
        return {
            name: np.array([float(r[j]) if r[j] else np.nan for r in rows[1:]])
            for j, name in enumerate(rows[0])
        }


def _is_arrow(data: Any) -> bool:
    """Arrow data read through the PyCapsule interface: a pyarrow Table or RecordBatchReader,
    a polars DataFrame… (a pandas DataFrame, which also has ``__arrow_c_stream__`` when pyarrow
    is installed, is read column by column without it)."""
    is_pandas = hasattr(data, "iloc") and hasattr(data, "columns")
    return hasattr(data, "__arrow_c_stream__") and not is_pandas


def train(
    config: PathLike,
    *,
    overrides: Union[None, Dict[str, Any], Sequence[str]] = None,
    out: Optional[PathLike] = None,
    backend: str = "flex",
    force: bool = False,
    resume: bool = False,
    verbose: int = 1,
) -> Run:
    """Trains the config file ``config`` as ``fairrep train`` does and returns the run.

    ``overrides``: ``{"penalty.lambda": 0.5}`` or ``["penalty.lambda=0.5"]`` (``--set``);
    ``out``: the run directory (default ``runs/<config name>-<n>``, the first ``n`` free);
    ``verbose=0``: no progress bar. The GIL is released while training; Ctrl-C stops it
    between two steps with ``KeyboardInterrupt`` (the last checkpoint is intact:
    ``resume=True`` continues from it).
    """
    config = Path(config)
    if isinstance(overrides, dict):
        sets = [f"{k}={_toml_value(v)}" for k, v in overrides.items()]
    else:
        sets = list(overrides or [])
    if out is None:
        n = 1
        while (Path("runs") / f"{config.stem}-{n}").exists():
            n += 1
        out = Path("runs") / f"{config.stem}-{n}"
    text = _fairrep.train(
        str(config),
        str(out),
        overrides=sets,
        backend=backend,
        force=force,
        resume=resume,
        verbose=int(verbose),
    )
    return Run(out, report=json.loads(text))


def _toml_value(v: Any) -> str:
    """A Python value as TOML (``--set``'s right-hand side, the estimator's config)."""
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        return repr(float(v))
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    raise ValueError(f"overrides: cannot write {v!r} as a TOML value")


from .estimator import FairRepresentation  # noqa: E402  (it imports train and Run from here)
