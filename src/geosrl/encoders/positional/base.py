"""Base class for position encodings and shared numerics (frequency schedules, sin/cos of phases)."""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from ...coords import check_lonlat_shape, validate_lonlat
from ._checks import check_count, check_flag, check_order, check_positive

__all__ = ["PositionEncoding", "available_memory", "geometric_frequencies", "legacy_single_scale_frequencies",
           "sin_of", "sinusoids", "CHUNK_BYTES", "HALF_PI"]

HALF_PI = 0.5 * math.pi

#: bytes of one float64 ``(rows, output_dim)`` block: large inputs are encoded in chunks of that many
#: rows, so an encoding's float64 temporaries (phases, partial products) stay a few such blocks
#: whatever N, and the peak memory of a call is its output plus a few tens of MB
CHUNK_BYTES = 16 * 2**20


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
        self.validate = check_flag("validate", validate)

    def forward(self, lonlat: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
        """Encode ``(..., 2)`` (lon, lat) degrees → ``(..., output_dim)``.

        ``dtype`` is the output dtype (default: the input's). Phases are always formed in float64, so
        float64 coordinates with ``dtype=torch.float32`` give float32 features at float64 phase accuracy,
        with the trigonometry done in float32 (the fast path ``create_encoder`` uses for float32 networks).

        Large inputs are encoded ``CHUNK_BYTES // (8·output_dim)`` rows at a time into one preallocated
        output (when no gradient is needed), so the peak memory stays close to the output's size; an
        output larger than the free memory of its device raises :class:`MemoryError` before anything
        is allocated.
        """
        check_lonlat_shape(lonlat)
        if self.validate:
            validate_lonlat(lonlat)
        dtype = lonlat.dtype if dtype is None else dtype
        n = lonlat.numel() // 2
        rows = max(1, CHUNK_BYTES // (8 * max(self.output_dim, 2)))
        if n <= rows:
            return self.encode(lonlat, dtype)
        self._check_output_fits(n, dtype, lonlat.device)
        if torch.is_grad_enabled() and (lonlat.requires_grad or any(p.requires_grad for p in self.parameters())):
            return self.encode(lonlat, dtype)  # autograd keeps its saved tensors anyway
        flat = lonlat.reshape(n, 2)
        out = torch.empty(n, self.output_dim, dtype=dtype, device=lonlat.device)
        for start in range(0, n, rows):
            out[start:start + rows] = self.encode(flat[start:start + rows], dtype)
        return out.reshape(*lonlat.shape[:-1], self.output_dim)

    def _check_output_fits(self, n: int, dtype: torch.dtype, device: torch.device) -> None:
        """Raise :class:`MemoryError` when an ``(n, output_dim)`` output cannot fit in ``device``'s free memory."""
        row_bytes = self.output_dim * dtype.itemsize
        free = available_memory(device)
        if free is None or n * row_bytes + 2 * CHUNK_BYTES <= free:
            return
        fits = max(1, int(free // 2 // row_bytes))
        raise MemoryError(
            f"encoding {n:,} locations with {self.registry_name or type(self).__name__} needs "
            f"{n * row_bytes / 1e9:.2f} GB for its ({n:,}, {self.output_dim}) {dtype} output, but only "
            f"{free / 1e9:.2f} GB of {device.type} memory is available; encode in batches of at most "
            f"~{fits:,} rows (e.g. geosrl.embed_locations(encoder, lonlat, batch_size=...) or a loop over "
            f"lonlat.split(...)) and reduce or store each batch before the next"
        )

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
    frequency_num = check_count("frequency_num", frequency_num)
    min_radius = check_positive("min_radius", min_radius)
    max_radius = check_positive("max_radius", max_radius)
    check_order("min_radius", min_radius, "max_radius", max_radius)
    if frequency_num == 1 and min_radius != max_radius:
        raise ValueError(f"frequency_num = 1 needs min_radius == max_radius (one scale), got min_radius="
                         f"{min_radius!r} and max_radius={max_radius!r}; use frequency_num >= 2")
    if not math.isfinite(360.0 / min_radius):
        raise ValueError(f"min_radius={min_radius!r} is too small: its frequency 1/min_radius overflows float64")
    s = torch.arange(frequency_num, dtype=torch.float64)
    radii = min_radius * (max_radius / min_radius) ** (s / max(frequency_num - 1, 1))
    return 1.0 / radii


def legacy_single_scale_frequencies(frequency_num: int, max_radius: float) -> torch.Tensor:
    """TorchSpatial's sphereM+/dfs schedule (defect B4): ω_s = λ_max^(−s/(S−1)), λ_min ignored."""
    frequency_num = check_count("frequency_num", frequency_num)
    max_radius = check_positive("max_radius", max_radius)
    if frequency_num == 1:
        return torch.ones(1, dtype=torch.float64)
    s = torch.arange(frequency_num, dtype=torch.float64)
    return max_radius ** (-s / (frequency_num - 1))


def available_memory(device: torch.device) -> int | None:
    """Bytes that a new tensor on ``device`` can take: ``MemAvailable`` of /proc/meminfo on CPU, free
    device memory plus PyTorch's cached free blocks on CUDA; ``None`` when unknown (other platforms)."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device))
    if device.type == "cpu":
        try:
            with open("/proc/meminfo") as f:
                for line in f:
                    if line.startswith("MemAvailable:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            return None
    return None


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
    # without autograd the sine overwrites the phase (one float64 block less)
    out = sin_of(phase, dtype) if phase.requires_grad else phase.sin_().to(dtype)
    return out.reshape(*coords.shape[:-1], weight.shape[-1])
