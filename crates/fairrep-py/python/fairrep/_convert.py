"""Python values and columns as fairrep reads them: one text form of a cell (shared by the
estimator's training file and ``Run.encode``), and columns as typed arrays — numbers as
float64 (numpy's own buffer when it already is one), text and categories as int64 codes into
their levels — so that no cell becomes a Python string on the way to Rust."""

from __future__ import annotations

import math
from typing import Any, List, Optional, Tuple

import numpy as np


def text(v: Any) -> Optional[str]:
    """A cell as the text fairrep reads from a file (``None``: missing). Booleans are
    ``true``/``false``; a float with an integer value is written without ``.0`` (as Rust
    writes an f64, and as a Parquet reader gives it), so ``13.0`` is the category ``13``."""
    if v is None:
        return None
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if math.isnan(f):
            return None
        if f.is_integer() and abs(f) < 1e16:
            return str(int(f))
        return repr(f)
    if isinstance(v, (bytes, bytearray)):
        return v.decode("utf-8").strip()
    try:
        import pandas as pd

        if v is pd.NA or v is pd.NaT:
            return None
    except ImportError:  # pragma: no cover
        pass
    return str(v).strip()


def _codes(values: Any) -> Tuple[np.ndarray, List[str]]:
    """Codes (int64, -1 missing) and levels of a column of arbitrary values."""
    try:
        import pandas as pd

        codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=True)
        uniques = list(uniques)
    except ImportError:  # pragma: no cover - without pandas: a dictionary
        index: dict = {}
        uniques, codes = [], np.empty(len(values), dtype=np.int64)
        for i, v in enumerate(values):
            codes[i] = index.setdefault(v, len(index))
            if codes[i] == len(uniques):
                uniques.append(v)
    levels = [text(u) for u in uniques]
    codes = np.asarray(codes, dtype=np.int64)
    # A level that is itself missing (NaN, pd.NA inside an object column) is a missing code.
    missing = [j for j, lv in enumerate(levels) if lv is None]
    if missing:
        codes = np.where(np.isin(codes, missing), -1, codes)
    return np.ascontiguousarray(codes), [lv if lv is not None else "" for lv in levels]


def is_numeric(dtype: Any) -> bool:
    """Whether a column of this dtype is numbers (integers or floats, not booleans)."""
    try:
        from pandas.api import types

        return bool(types.is_numeric_dtype(dtype) and not types.is_bool_dtype(dtype))
    except ImportError:  # pragma: no cover
        return getattr(dtype, "kind", "O") in "iuf"


def column(values: Any) -> Tuple[Optional[np.ndarray], Optional[np.ndarray], Optional[List[str]]]:
    """One column as ``(numbers, None, None)`` or ``(None, codes, levels)``."""
    dtype = getattr(values, "dtype", None)
    if dtype is not None and str(dtype) == "category":  # pandas categorical: its own codes
        codes = np.asarray(values.cat.codes, dtype=np.int64)
        return None, np.ascontiguousarray(codes), [text(c) or "" for c in values.cat.categories]
    if dtype is not None and is_numeric(dtype):
        if hasattr(values, "to_numpy"):  # pandas: nullable integers' NA as NaN
            arr = values.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            arr = np.asarray(values, dtype=np.float64)
        return np.ascontiguousarray(arr), None, None
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"expected a 1-D column, got shape {arr.shape}")
    if arr.dtype.kind in "iuf":
        return np.ascontiguousarray(arr, dtype=np.float64), None, None
    codes, levels = _codes(arr)
    return None, codes, levels


def columns(data: Any):
    """Names and typed columns (numbers, codes, levels: one list entry per column) of a pandas
    DataFrame or a dict of columns."""
    if hasattr(data, "columns") and hasattr(data, "iloc"):  # pandas
        items = [(str(c), data.iloc[:, j]) for j, c in enumerate(data.columns)]
    elif isinstance(data, dict):
        items = [(str(k), v) for k, v in data.items()]
    else:
        raise ValueError(
            "data: expected a pandas DataFrame, a pyarrow Table, a polars DataFrame (any object "
            f"with __arrow_c_stream__), a dict of columns or a file path, got {type(data).__name__}"
        )
    names, numbers, codes, levels = [], [], [], []
    for name, values in items:
        try:
            a, c, lv = column(values)
        except ValueError as e:
            raise ValueError(f"column `{name}`: {e}") from None
        names.append(name)
        numbers.append(a)
        codes.append(c)
        levels.append(lv)
    return names, numbers, codes, levels
