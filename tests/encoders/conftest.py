import numpy as np
import pytest
import torch


@pytest.fixture
def points64() -> torch.Tensor:
    """200 random (lon, lat) points in degrees plus the corners and poles, float64."""
    rng = np.random.default_rng(0)
    pts = np.stack([rng.uniform(-180, 180, 200), rng.uniform(-90, 90, 200)], 1)
    edges = np.array([[-180, -90], [180, 90], [-180, 90], [180, -90], [0, 0], [179.999, 0.5], [-179.999, -0.5]])
    return torch.from_numpy(np.concatenate([pts, edges]))
