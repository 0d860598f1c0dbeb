"""Base class for position encodings and shared numerics (frequency schedules, sin/cos of phases)."""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from ...coords import check_lonlat_shape, validate_lonlat

__all__ = ["PositionEncoding", "geometric_frequencies", "legacy_single_scale_frequencies", "sin_of", "sinusoids",
           "HALF_PI"]

HALF_PI = 0.5 * math.pi


class PositionEncoding(nn.Module):
    """A position encoding ``(..., 2)`` (lon, lat) degrees → ``(..., output_dim)``.

    Subclasses implement :meth:`encode` in pure torch and set ``output_dim``. Buffers named in
    ``_keep_dtype`` (float64 frequencies, random matrices, anchors) only change device under
    ``.to()``, ``.float()`` or ``.half()``, so phases stay accurate whatever the working dtype.

    Args:
        validate: check coordinates on every call (one device-to-host sync). ``False`` skips the
            value checks for hot loops and ``torch.compile``; shape and dtype checks always run.
    """

    output_dim: int
    registry_name: str = ""
    native_net: str = "ffn"
    #: names of buffers that keep their dtype when the module is cast
    _keep_dtype: tuple[str, ...] = ()

    def __init__(self, validate: bool = True) -> None:
        super().__init__()
        self.validate = bool(validate)

    def forward(self, lonlat: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
        """Encode ``(..., 2)`` (lon, lat) degrees → ``(..., output_dim)``.

        ``dtype`` is the output dtype (default: the input's). Phases are always formed in float64, so
        float64 coordinates with ``dtype=torch.float32`` give float32 features at float64 phase accuracy,
        with the trigonometry done in float32 (the fast path ``create_encoder`` uses for float32 networks).
        """
        check_lonlat_shape(lonlat)
        if self.validate:
            validate_lonlat(lonlat)
        return self.encode(lonlat, lonlat.dtype if dtype is None else dtype)

    def encode(self, lonlat: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:  # pragma: no cover - abstract
        """Subclass hook: ``(..., 2)`` degrees (already checked) → ``(..., output_dim)`` in ``dtype``."""
        raise NotImplementedError

    def register_float64(self, name: str, values: torch.Tensor | Sequence[float], persistent: bool = False) -> None:
        """Register a float64 buffer that keeps its dtype under module casts."""
        self.register_buffer(name, torch.as_tensor(values, dtype=torch.float64).clone(), persistent=persistent)
        self._keep_dtype = tuple(self._keep_dtype) + (name,)

    def _apply(self, fn, recurse: bool = True):  # type: ignore[override]
        kept = {n: self._buffers[n] for n in self._keep_dtype if self._buffers.get(n) is not None}
        super()._apply(fn, recurse)
        for n, old in kept.items():
            new = self._buffers[n]
            if new is not None and new.dtype != old.dtype:
                self._buffers[n] = old.to(device=new.device)
        return self

    def extra_repr(self) -> str:
        return f"output_dim={self.output_dim}, validate={self.validate}"


def geometric_frequencies(frequency_num: int, min_radius: float, max_radius: float) -> torch.Tensor:
    """TorchSpatial's geometric schedule: ω_s = 1/λ_s, λ_s = λ_min·(λ_max/λ_min)^(s/(S−1)).

    Returns a float64 tensor ``(S,)``; ω_0 = 1/λ_min (finest), ω_{S−1} = 1/λ_max (coarsest).
    S = 1 is allowed only when ``min_radius == max_radius``.
    """
    _check_schedule(frequency_num, min_radius, max_radius)
    if frequency_num == 1:
        return torch.tensor([1.0 / min_radius], dtype=torch.float64)
    s = torch.arange(frequency_num, dtype=torch.float64)
    radii = min_radius * (max_radius / min_radius) ** (s / (frequency_num - 1))
    return 1.0 / radii


def legacy_single_scale_frequencies(frequency_num: int, max_radius: float) -> torch.Tensor:
    """TorchSpatial's sphereM+/dfs schedule (defect B4): ω_s = λ_max^(−s/(S−1)), λ_min ignored."""
    if frequency_num < 1:
        raise ValueError(f"frequency_num must be >= 1, got {frequency_num}")
    if frequency_num == 1:
        return torch.ones(1, dtype=torch.float64)
    s = torch.arange(frequency_num, dtype=torch.float64)
    return float(max_radius) ** (-s / (frequency_num - 1))


def _check_schedule(frequency_num: int, min_radius: float, max_radius: float) -> None:
    if int(frequency_num) != frequency_num or frequency_num < 1:
        raise ValueError(f"frequency_num must be a positive integer, got {frequency_num}")
    if not (min_radius > 0 and max_radius > 0 and math.isfinite(min_radius) and math.isfinite(max_radius)):
        raise ValueError(f"min_radius and max_radius must be positive and finite, got {min_radius}, {max_radius}")
    if min_radius > max_radius:
        raise ValueError(f"min_radius ({min_radius}) must not exceed max_radius ({max_radius})")
    if frequency_num == 1 and min_radius != max_radius:
        raise ValueError("frequency_num = 1 needs min_radius == max_radius (one scale)")


def sin_of(phase: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``sin`` of a float64 phase tensor (rad), returned in ``dtype``.

    The sine is evaluated in float64 (vectorised in torch, about as fast per element as the float64
    range reduction a float32 sine would need first) and cast once, so phases of 10³–10⁶ rad stay
    accurate whatever the output dtype.
    """
    out = torch.sin(phase)
    return out if dtype == torch.float64 else out.to(dtype)


def sinusoids(coords: torch.Tensor, weight: torch.Tensor, offset: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``sin(coords @ weight + offset)`` in ``dtype``: ``(..., C)`` → ``(..., D)``.

    ``weight`` ``(C, D)`` and ``offset`` ``(D,)`` are float64; the phase is one float64 matmul.
    Cosines are columns with offset π/2 (the π/2 added in float64: error ≤ one ulp of the phase), so an
    encoding lays out its whole output, in its final column order, as one contiguous phase matrix —
    no stacking or interleaving copies, which cost more than the sines on CPU.
    """
    flat = coords.to(torch.float64).reshape(-1, coords.shape[-1])
    # the offset rides along as a row of the weight against a column of ones: one plain matmul,
    # several times faster on CPU than addmm's broadcast copy of the bias into the output
    flat = torch.cat([flat, flat.new_ones(flat.shape[0], 1)], dim=1)
    phase = flat @ torch.cat([weight, offset.unsqueeze(0)], dim=0)
    return sin_of(phase, dtype).reshape(*coords.shape[:-1], weight.shape[-1])
