"""Frequency sets for the spectral encoder: FFT grid, geometric polar set, learned (initialised from geometric).

All sets are **angular** frequencies ``(M, 2)`` float64 in radians per frame unit, restricted to an
open half-plane (``k_y > 0``, or ``k_y = 0`` and ``k_x > 0``): real measures have Hermitian spectra,
``F(−k) = conj F(k)``, so the other half adds nothing. ``k = 0`` is excluded, since ``F(0)`` is the
measure, which the shape frame fixes to 1 (areas, lines) and the batch carries in ``measure``.
"""

from __future__ import annotations

import math

import torch

__all__ = ["fft_grid_frequencies", "polar_frequencies"]


def fft_grid_frequencies(size: tuple[int, int] = (16, 16), period: float = 8.0) -> torch.Tensor:
    """DDSL-style integer grid ``k = (2π / period)·(p, q)``, ``p ∈ [−f_x/2, f_x/2)``, ``q ∈ [0, f_y/2]``, half-plane.

    Args:
        size: ``(f_x, f_y)`` grid size; even numbers.
        period: length (frame units) of the periodic box; in the shape frame, areas have unit area, so
            a period of 8 leaves room for elongated shapes.

    Returns:
        ``(M, 2)`` float64 with ``M = f_x·f_y/2 + f_x/2 − 1`` (135 for 16×16). It contains the
        ``k_x = 0`` and ``k_y = 0`` lines, where axis-aligned edges are degenerate for simplex forms.
    """
    fx, fy = (int(s) for s in size)
    if fx < 2 or fy < 2 or fx % 2 or fy % 2:
        raise ValueError(f"fft grid size must be even and >= 2 per axis, got {size}")
    if not (period > 0 and math.isfinite(period)):
        raise ValueError(f"period must be positive and finite, got {period}")
    p = torch.arange(-fx // 2, fx // 2, dtype=torch.float64)
    q = torch.arange(0, fy // 2 + 1, dtype=torch.float64)
    pp, qq = torch.meshgrid(p, q, indexing="ij")
    keep = (qq > 0) | ((qq == 0) & (pp > 0))
    return torch.stack([pp[keep], qq[keep]], dim=1) * (2 * math.pi / period)


def polar_frequencies(
    num_radii: int = 8, num_angles: int = 8, k_min: float = 0.5, k_max: float = 32.0
) -> torch.Tensor:
    """Polar set: radii geometric from ``k_min`` to ``k_max`` (rad per frame unit), angles ``π·j/num_angles``.

    Wavelengths run from ``2π/k_min`` (whole shape) to ``2π/k_max`` (finest detail).

    Returns:
        ``(num_radii·num_angles, 2)`` float64, radius-major order.
    """
    if num_radii < 1 or num_angles < 1:
        raise ValueError(f"num_radii and num_angles must be >= 1, got {num_radii}, {num_angles}")
    if not (0 < k_min <= k_max and math.isfinite(k_max)):
        raise ValueError(f"need 0 < k_min <= k_max < inf, got {k_min}, {k_max}")
    s = torch.arange(num_radii, dtype=torch.float64)
    radii = k_min * (k_max / k_min) ** (s / max(num_radii - 1, 1))
    angles = torch.arange(num_angles, dtype=torch.float64) * (math.pi / num_angles)
    unit = torch.stack([torch.cos(angles), torch.sin(angles)], dim=1)
    return (radii[:, None, None] * unit[None, :, :]).reshape(-1, 2)
