"""Regression metrics (sklearn definitions), on the label scale given.

``R² = 1 − Σ(y−ŷ)²/Σ(y−ȳ)²`` (negative when worse than the mean; NaN for a constant target),
``MAE = mean|y−ŷ|``, ``RMSE = √mean(y−ŷ)²``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["mae", "r2", "regression_metrics", "rmse"]


def _pair(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true, dtype=np.float64).ravel()
    p = np.asarray(y_pred, dtype=np.float64).ravel()
    if y.shape != p.shape:
        raise ValueError(f"y_true and y_pred differ in shape: {y.shape} vs {p.shape}")
    return y, p


def r2(y_true, y_pred) -> float:
    """Coefficient of determination ``1 − SS_res/SS_tot`` (NaN when the target is constant)."""
    y, p = _pair(y_true, y_pred)
    ss_tot = float(np.sum((y - y.mean()) ** 2)) if y.size else 0.0
    if ss_tot == 0.0:
        return float("nan")
    return 1.0 - float(np.sum((y - p) ** 2)) / ss_tot


def mae(y_true, y_pred) -> float:
    """Mean absolute error, in label units."""
    y, p = _pair(y_true, y_pred)
    return float(np.mean(np.abs(y - p))) if y.size else float("nan")


def rmse(y_true, y_pred) -> float:
    """Root mean squared error, in label units."""
    y, p = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((y - p) ** 2))) if y.size else float("nan")


def regression_metrics(y_true, y_pred) -> dict[str, float]:
    """``{"r2", "mae", "rmse"}``."""
    return {"r2": r2(y_true, y_pred), "mae": mae(y_true, y_pred), "rmse": rmse(y_true, y_pred)}

