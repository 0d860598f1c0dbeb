"""Small, fast settings and synthetic data shared by the estimator tests."""

import numpy as np
import pytest

@pytest.fixture
def two_clusters():
    """200 points: class "west" around (-100, 40), class "east" around (20, 50); and block ids for GroupKFold."""
    rng = np.random.default_rng(0)
    west = rng.normal([-100.0, 40.0], 3.0, size=(100, 2))
    east = rng.normal([20.0, 50.0], 3.0, size=(100, 2))
    X = np.concatenate([west, east])
    y = np.array(["west"] * 100 + ["east"] * 100)
    groups = np.floor(X[:, 1] / 2).astype(int)  # 2° latitude bands
    return X, y, groups
