"""Points on the sphere: (lon, lat) degrees → unit vectors, area-uniform sampling, great-circle distance.

One home for the spherical geometry every layer needs (encoders, datasets, metrics, splits, hetero).
Functions accept NumPy arrays or torch tensors where noted and return the same kind.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = ["EARTH_RADIUS_KM", "chord_to_km", "great_circle_km", "lonlat_to_xyz", "uniform_lonlat",
           "uniform_lonlat_numpy"]

#: mean Earth radius (km), used for every km ↔ angle conversion in geosrl
EARTH_RADIUS_KM = 6371.0


def lonlat_to_xyz(lonlat: torch.Tensor | np.ndarray) -> torch.Tensor | np.ndarray:
    """Unit vectors ``(..., 3)`` = (cos φ cos θ, cos φ sin θ, sin φ) of ``(..., 2)`` (lon θ, lat φ) degrees.

    x points to (0°, 0°), z to the north pole. A tensor gives a tensor (differentiable, same dtype and
    device); anything else is read as a float64 NumPy array.
    """
    if isinstance(lonlat, torch.Tensor):
        lon, lat = lonlat[..., 0] * (math.pi / 180.0), lonlat[..., 1] * (math.pi / 180.0)
        cos_lat = torch.cos(lat)
        return torch.stack([cos_lat * torch.cos(lon), cos_lat * torch.sin(lon), torch.sin(lat)], dim=-1)
    lonlat = np.asarray(lonlat, dtype=np.float64)
    lon, lat = np.radians(lonlat[..., 0]), np.radians(lonlat[..., 1])
    cos_lat = np.cos(lat)
    return np.stack([cos_lat * np.cos(lon), cos_lat * np.sin(lon), np.sin(lat)], axis=-1)


def uniform_lonlat(n: int, generator: torch.Generator | None = None, device: torch.device | str | None = None,
                   dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``(n, 2)`` (lon, lat) degrees, area-uniform on the sphere, drawn with torch.

    ``u₁, u₂ ~ U(0, 1)`` (float64, from ``generator`` on the generator's device when given), then
    ``lon = 360u₁ − 180``, ``lat = asin(2u₂ − 1)·180/π``; the result is moved to ``device`` and ``dtype``.
    """
    gen_device = generator.device if generator is not None else device
    u = torch.rand(n, 2, generator=generator, device=gen_device, dtype=torch.float64)
    lon = 360.0 * u[:, 0] - 180.0
    lat = torch.asin((2.0 * u[:, 1] - 1.0).clamp(-1.0, 1.0)) * (180.0 / math.pi)
    return torch.stack([lon, lat], dim=1).to(device=device if device is not None else gen_device, dtype=dtype)


def uniform_lonlat_numpy(n: int, rng: np.random.Generator) -> np.ndarray:
    """``(n, 2)`` float64 (lon, lat) degrees, area-uniform on the sphere, drawn from a NumPy ``rng``.

    lon ~ U(−180, 180), lat = asin(z) with z ~ U(−1, 1).
    """
    lon = rng.uniform(-180.0, 180.0, n)
    lat = np.degrees(np.arcsin(rng.uniform(-1.0, 1.0, n)))
    return np.stack([lon, lat], axis=1)


def chord_to_km(chord: np.ndarray) -> np.ndarray:
    """Great-circle km of chord lengths between unit vectors (``2R·asin(chord/2)``)."""
    return 2.0 * EARTH_RADIUS_KM * np.arcsin(np.clip(np.asarray(chord, dtype=np.float64) / 2.0, 0.0, 1.0))


def great_circle_km(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Haversine distance in km between ``a`` ``(M, 2)`` and ``b`` ``(N, 2)`` (lon, lat) degrees: ``(M, N)``."""
    a, b = np.radians(np.asarray(a, dtype=np.float64)), np.radians(np.asarray(b, dtype=np.float64))
    dlon = b[None, :, 0] - a[:, None, 0]
    dlat = b[None, :, 1] - a[:, None, 1]
    h = np.sin(dlat / 2) ** 2 + np.cos(a[:, None, 1]) * np.cos(b[None, :, 1]) * np.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0, 1)))
