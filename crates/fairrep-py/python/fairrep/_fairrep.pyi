"""Type stubs of the extension module (the public API is `fairrep`, see __init__.py)."""

from typing import Any, List, Optional, Sequence, Tuple

import numpy as np
import numpy.typing as npt

__version__: str
BURN_VERSION: str

def backends() -> List[str]: ...
def divergence(
    x: npt.NDArray[np.float64],
    y: npt.NDArray[np.float64],
    kind: str,
    *,
    sigma: Optional[Sequence[float]] = None,
    kernel: Optional[str] = None,
    estimator: Optional[str] = None,
    blur: Optional[float] = None,
    scaling: Optional[float] = None,
    p: Optional[float] = None,
    reach: Optional[float] = None,
    debias: bool = True,
    scale: str = "none",
    tolerance: Optional[float] = None,
    max_iterations: int = 10000,
    backend: str = "flex",
    dtype: str = "f64",
    portable: bool = False,
) -> Tuple[str, npt.NDArray[np.float64]]: ...
def audit_predictions(
    y_true: npt.NDArray[np.bool_],
    y_pred: npt.NDArray[np.bool_],
    group: npt.NDArray[np.int64],
    names: List[str],
    y_score: Optional[npt.NDArray[np.float64]] = None,
) -> str: ...
def train(
    config: str,
    out: str,
    *,
    overrides: List[str] = ...,
    backend: str = "flex",
    force: bool = False,
    resume: bool = False,
    verbose: int = 1,
) -> str: ...
def encode_arrays(
    run: str,
    columns: List[str],
    numbers: List[Optional[npt.NDArray[np.float64]]],
    codes: List[Optional[npt.NDArray[np.int64]]],
    levels: List[Optional[List[str]]],
    *,
    backend: str = "flex",
) -> Tuple[npt.NDArray[np.float32], str]: ...
def encode_arrow(
    run: str,
    data: Any,
    *,
    backend: str = "flex",
) -> Tuple[npt.NDArray[np.float32], str]: ...
def encode_file(
    run: str,
    input: str,
    out: str,
    *,
    header: bool = False,
    skip_rows: int = 0,
    delimiter: Optional[str] = None,
    backend: str = "flex",
) -> str: ...
