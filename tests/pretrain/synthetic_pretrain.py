"""Synthetic pre-training pairs for the pre-training tests (random locations and uint8 patches)."""

from __future__ import annotations

import numpy as np

from geosrl.pretrain.data import PretrainData


def synthetic_pairs(n: int, patch: int, contexts: list[str]) -> PretrainData:
    """``n`` pairs: locations uniform in lon, |lat| ≤ 80; ``(n, 4, patch, patch)`` random uint8 patches of the
    RGB + one-channel ``contexts``, with their normalisation stats."""
    rng = np.random.default_rng(0)
    lonlat = np.stack([rng.uniform(-180, 180, n), rng.uniform(-80, 80, n)], axis=1)
    patches = rng.integers(0, 256, size=(n, 4, patch, patch), dtype=np.uint8)
    stats = {"contexts": list(contexts), "mean": [0.5, 0.5, 0.5, 1.0], "std": [0.25, 0.25, 0.25, 1.0]}
    return PretrainData(lonlat, patches, np.zeros(n, np.int8), {"stats": stats, "description": "synthetic"})
