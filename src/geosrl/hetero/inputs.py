"""Input checking shared by the heterogeneity-aware estimators.

Every public ``fit``/``predict`` funnels its arguments through :func:`geosrl.coords.as_lonlat`,
:func:`check_target` and :func:`check_features`, so bad input fails early with a message that names
the argument, the expected shape and the offending rows.
"""

from __future__ import annotations

import numpy as np

from ..coords import CoordinateError

__all__ = ["check_target", "check_features", "infer_task"]


def _first(idx: np.ndarray, k: int = 5) -> str:
    idx = np.asarray(idx).ravel()
    more = f" (and {len(idx) - k} more)" if len(idx) > k else ""
    return ", ".join(str(int(i)) for i in idx[:k]) + more


def check_target(y, n: int, task: str) -> np.ndarray:
    """Return ``y`` as ``(N,)`` (float64 for regression, original labels for classification), or raise.

    Raises:
        ValueError: length differs from ``n`` (the number of locations), NaN/inf values, or not 1-D.
    """
    y = np.asarray(y.detach().cpu().numpy() if hasattr(y, "detach") else y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim != 1:
        raise ValueError(f"y must be 1-D (N,), got shape {y.shape}")
    if len(y) != n:
        raise ValueError(f"y has {len(y)} values but lonlat has {n} rows; they must match")
    if task == "regression" or np.issubdtype(y.dtype, np.floating):
        try:
            yf = y.astype(np.float64)
        except (TypeError, ValueError):
            raise ValueError("y must be numeric for regression") from None
        bad = ~np.isfinite(yf)
        if bad.any():
            raise ValueError(f"y has {int(bad.sum())} NaN/inf value(s) at rows {_first(np.where(bad)[0])}; "
                             "drop or impute them before fitting")
        return yf if task == "regression" else y
    if y.dtype == object:
        if any(v is None or (isinstance(v, float) and not np.isfinite(v)) for v in y):
            raise ValueError("y has missing labels (None/NaN); drop them before fitting")
    return y


def check_features(features, n: int, expected_dim: int | None = None) -> np.ndarray | None:
    """Return features as ``(N, F)`` float64 (``None`` stays ``None``), or raise.

    Raises:
        ValueError: row count differs from ``n``, non-finite values, or a column count different
            from the one seen in ``fit`` (``expected_dim``).
    """
    if features is None:
        if expected_dim:
            raise ValueError(f"the model was fitted with {expected_dim} feature column(s); pass features=")
        return None
    f = np.asarray(features.detach().cpu().numpy() if hasattr(features, "detach") else features, dtype=np.float64)
    if f.ndim == 1:
        f = f[:, None]
    if f.ndim != 2:
        raise ValueError(f"features must have shape (N, F), got {f.shape}")
    if len(f) != n:
        raise ValueError(f"features has {len(f)} rows but lonlat has {n} rows; they must match")
    bad = ~np.isfinite(f).all(axis=1)
    if bad.any():
        raise ValueError(f"features has non-finite values in rows {_first(np.where(bad)[0])}")
    if expected_dim is not None and f.shape[1] != expected_dim:
        raise ValueError(f"features has {f.shape[1]} columns but the model was fitted with {expected_dim}")
    if expected_dim == 0 and f.shape[1]:
        raise ValueError("the model was fitted without features; pass features=None")
    return f


def infer_task(y: np.ndarray, task: str | None) -> str:
    """``"regression"`` or ``"classification"``: explicit ``task`` wins; otherwise integer, bool,
    string or object labels → classification and floats → regression."""
    if task is not None:
        if task not in ("regression", "classification"):
            raise ValueError(f"task must be 'regression', 'classification' or None, got {task!r}")
        return task
    y = np.asarray(y)
    return "regression" if np.issubdtype(y.dtype, np.floating) else "classification"
