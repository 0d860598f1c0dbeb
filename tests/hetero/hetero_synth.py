"""Synthetic data for the heterogeneity tests (small, fast: closed-form linear heads)."""

from __future__ import annotations

import numpy as np

#: small parameter-free encoder so every fit is a few milliseconds
SMALL_ENC = {"frequency_num": 2, "min_radius": 0.1}

#: a cheap bootstrap null for tests about the partition's structure, not its calibration (39 replicates
#: at most, stopped after 5 exceedances; the calibrated default is 99 / 10)
QUICK_NULL = {"n_null": 39, "null_stop": 5}


def boundary_data(n: int = 1500, seed: int = 0, noise: float = 0.3):
    """y = β(region)·x + noise with β = +1 west of lon 0 and −1 east of it (box 40°×20°)."""
    rng = np.random.default_rng(seed)
    lonlat = np.stack([rng.uniform(-20, 20, n), rng.uniform(-10, 10, n)], 1)
    x = rng.standard_normal(n)
    true = (lonlat[:, 0] >= 0).astype(np.int64)
    y = np.where(true == 0, 1.0, -1.0) * x + noise * rng.standard_normal(n)
    return lonlat, x[:, None], y, true


def null_data(n: int, seed: int):
    """Homogeneous relationship: y = 0.8·x + smooth location effect + noise (nothing to split)."""
    rng = np.random.default_rng(seed)
    lonlat = np.stack([rng.uniform(-20, 20, n), rng.uniform(-10, 10, n)], 1)
    x = rng.standard_normal(n)
    y = 0.8 * x + np.sin(3 * np.radians(lonlat[:, 0])) + 0.5 * rng.standard_normal(n)
    return lonlat, x[:, None], y


def purity(regions: np.ndarray, true: np.ndarray) -> float:
    """Share of samples whose learned region's majority true label equals their own."""
    return float(sum(np.bincount(true[regions == r]).max() for r in np.unique(regions)) / len(true))
