"""Base class for position encodings and shared numerics (frequency schedules, sin/cos of phases)."""

from __future__ import annotations

import math
import types
from typing import Sequence

import torch
from torch import nn

from ...coords import check_lonlat_shape, validate_lonlat
from ..kernels import kernel_usable
from ...checks import check_count, check_flag, check_order, check_positive

__all__ = ["PositionEncoding", "SinusoidEncoding", "available_memory", "geometric_frequencies",
           "legacy_single_scale_frequencies", "sin_of", "sin_radians_into", "sin_turns", "sin_turns_into", "CHUNK_BYTES", "HALF_PI",
           "SINUSOID_CHUNK_BYTES", "TWO_PI"]

HALF_PI = 0.5 * math.pi

TWO_PI = 2.0 * math.pi

#: bytes of one float64 ``(rows, output_dim)`` block: large inputs are encoded in chunks of that many
#: rows, so an encoding's float64 temporaries (phases, partial products) stay a few such blocks
#: whatever N, and the peak memory of a call is its output plus a few tens of MB
CHUNK_BYTES = 16 * 2**20

#: bytes of the float64 phase block of :class:`SinusoidEncoding`'s eager fast path: small enough that
#: the phase, its float32 cast and the sines of a block stay in the CPU's cache between the four
#: passes (measured on the 2-core AMD EPYC: 2 MiB is as fast as any size from 1 to 4 MiB and 1.3–1.5×
#: faster than 16 MiB)
SINUSOID_CHUNK_BYTES = 2 * 2**20


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
        self._compiled_blocks: dict | None = None

    def forward(self, lonlat: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
        """Encode ``(..., 2)`` (lon, lat) degrees → ``(..., output_dim)``.

        ``dtype`` is the output dtype (default: the input's). Phases are always formed in float64, so
        float64 coordinates with ``dtype=torch.float32`` give float32 features at float64 phase accuracy,
        with the trigonometry done in float32 (the fast path ``create_encoder`` uses for float32 networks).

        Without autograd, inputs are encoded :meth:`_chunk_rows` rows at a time into one preallocated
        output, so the peak memory stays close to the output's size; an output larger than the free
        memory of its device raises :class:`MemoryError` before anything is allocated. Under
        ``torch.compile`` the whole input goes through :meth:`encode` in one piece (the compiler fuses
        it into one loop that needs no temporaries).
        """
        check_lonlat_shape(lonlat)
        if self.validate:
            validate_lonlat(lonlat)
        dtype = lonlat.dtype if dtype is None else dtype
        if torch.compiler.is_compiling():
            return self.encode(lonlat, dtype)
        n = lonlat.numel() // 2
        rows = self._chunk_rows()
        if n <= rows and not self.chunks_small_inputs:
            return self.encode(lonlat, dtype)
        if torch.is_grad_enabled() and (lonlat.requires_grad or any(p.requires_grad for p in self.parameters())):
            return self.encode(lonlat, dtype)  # autograd keeps its saved tensors anyway
        self._check_output_fits(n, dtype, lonlat.device)
        out = torch.empty(n, self.output_dim, dtype=dtype, device=lonlat.device)
        if getattr(self, "_compiled_blocks", None) is not None and out.device.type == "cpu":
            self._encode_compiled(lonlat.reshape(n, 2), out)
        else:
            self._encode_into(lonlat.reshape(n, 2), out, rows)
        return out.reshape(*lonlat.shape[:-1], self.output_dim)

    #: whether :meth:`forward` runs :meth:`_encode_into` even when the input fits in one chunk
    chunks_small_inputs = False

    def _chunk_rows(self) -> int:
        """Rows per chunk: ``CHUNK_BYTES`` of float64 output."""
        return max(1, CHUNK_BYTES // (8 * max(self.output_dim, 2)))

    def _encode_into(self, flat: torch.Tensor, out: torch.Tensor, rows: int) -> None:
        """Encode ``flat`` ``(n, 2)`` into ``out`` ``(n, output_dim)``, ``rows`` rows at a time."""
        for start in range(0, flat.shape[0], rows):
            out[start:start + rows] = self.encode(flat[start:start + rows], out.dtype)

    def compile_blocks(self, enabled: bool = True) -> "PositionEncoding":
        """Encode through a ``torch.compile``'d (inductor) function of a fixed-size block of rows.

        The compiler fuses the whole encoding of a block (phase, float64 range reduction, trigonometry,
        products) into one loop that writes straight into the output, which eager torch cannot do; each
        (dtype, device) pays a one-off compile of seconds (inductor's on-disk cache shortens it in later
        processes), so this pays off for large inputs (``benchmarks/throughput_cpu.py`` measures by how
        much per encoding) and is off by default. Blocks have a static shape, so any N reuses the one
        compiled function; autograd calls keep the eager path. CPU only: on CUDA the sinusoidal encodings
        already run as one fused Triton kernel (:mod:`geosrl.encoders.kernels`). Returns ``self``.
        """
        self._compiled_blocks = {} if check_flag("enabled", enabled) else None
        return self

    def _compile_rows(self) -> int:
        """Rows per compiled block: a float64 ``(rows, output_dim)`` block of ``SINUSOID_CHUNK_BYTES``."""
        return max(1, SINUSOID_CHUNK_BYTES // (8 * max(self.output_dim, 2)))

    def _encode_compiled(self, flat: torch.Tensor, out: torch.Tensor) -> None:
        """Encode ``flat`` ``(n, 2)`` into ``out`` ``(n, output_dim)`` with the compiled block function; the
        last partial block is padded with a valid coordinate (0, 0) and its rows copied."""
        key = (out.dtype, out.device)
        stage = self._compiled_blocks.get(key)
        if stage is None:
            def compiled_stage(inputs: torch.Tensor) -> torch.Tensor:
                return self._compiled_stage(inputs, out.dtype)
            # dynamo keeps one cache (of 8 entries) per code object: give every module its own code
            # object, so that encoders compiled in one process do not evict or fail each other
            own = types.FunctionType(compiled_stage.__code__.replace(), compiled_stage.__globals__,
                                     closure=compiled_stage.__closure__)
            stage = self._compiled_blocks[key] = torch.compile(own, fullgraph=True, dynamic=False)
        rows = self._compile_rows()
        n = flat.shape[0]
        whole = n - n % rows
        for start in range(0, whole, rows):
            self._finish_stage(stage(flat[start:start + rows]), out[start:start + rows])
        if whole < n:
            padded = flat.new_zeros(rows, 2)
            padded[:n - whole] = flat[whole:]
            tail = out.new_empty(rows, out.shape[1])
            self._finish_stage(stage(padded), tail)
            out[whole:] = tail[:n - whole]

    def _compiled_stage(self, inputs: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """What :meth:`compile_blocks` compiles, for a block ``(rows, 2)``: by default the whole encoding."""
        return self.encode(inputs, dtype)

    def _finish_stage(self, stage: torch.Tensor, target: torch.Tensor) -> None:
        """Write a compiled block's result into its rows of the output (eager)."""
        target.copy_(stage)

    def _check_output_fits(self, n: int, dtype: torch.dtype, device: torch.device) -> None:
        """Raise :class:`MemoryError` when an ``(n, output_dim)`` output cannot fit in ``device``'s free memory."""
        row_bytes = self.output_dim * dtype.itemsize
        if n * row_bytes <= CHUNK_BYTES:  # small outputs: not worth reading /proc/meminfo on every call
            return
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


def sin_turns(inputs: torch.Tensor, turn_weight: torch.Tensor, turn_offset: torch.Tensor,
              dtype: torch.dtype) -> torch.Tensor:
    """``sin(2π·(inputs @ turn_weight + turn_offset))`` in ``dtype``: ``(R, C)`` float64 → ``(R, F)``.

    For float32 (or narrower) output the phase is formed in float64 *turns* (whole periods), reduced
    exactly to ``(−1, 1)`` by ``frac`` (``t − trunc(t)`` is exact in binary floating point), and only
    then cast to ``dtype`` for the sine: a float32 sine of an argument below 2π in magnitude, so the
    error is a few float32 ulps (≤ 5·10⁻⁷ absolute) whatever the phase — 10⁶ rad as well as 10⁻⁶.
    For float64 output the phase is formed in radians and the float64 sine, which reduces its argument
    exactly, takes it directly. Differentiable (``frac`` passes the gradient through) and written so
    that ``torch.compile`` fuses it into one loop.
    """
    if dtype == torch.float64:  # the float64 sine reduces its argument exactly itself
        return _affine(inputs, turn_weight * TWO_PI, turn_offset * TWO_PI).sin()
    return (torch.frac(_affine(inputs, turn_weight, turn_offset)) * TWO_PI).to(dtype).sin()


def _affine(inputs: torch.Tensor, weight: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
    """``inputs @ weight + offset`` ``(R, C)`` → ``(R, F)`` as C elementwise multiply-adds (C ≤ 3), not a
    matmul: ``torch.compile`` fuses them with the sine into one loop (a matmul stays an opaque BLAS call
    that writes the whole float64 phase to memory first, which made compiled code slower than eager)."""
    out = offset + inputs[:, :1] * weight[0]
    for c in range(1, inputs.shape[1]):
        out = out + inputs[:, c:c + 1] * weight[c]
    return out


def sin_turns_into(inputs: torch.Tensor, turn_weight: torch.Tensor, turn_offset: torch.Tensor,
                   phase: torch.Tensor, cast: torch.Tensor, out: torch.Tensor) -> None:
    """:func:`sin_turns` for float32 (or narrower) output without autograd and without allocating:
    ``phase`` ``(R, F)`` float64 and ``cast`` ``(R, F)`` in ``out``'s dtype are scratch blocks, ``out``
    ``(R, F)`` receives the sines. Five passes over a cache-sized block: phase, ``frac``, ``2π·r`` in
    float64, one rounding into ``cast``, sine (a float64 × scalar written straight into float32 takes
    TensorIterator's casting loop, measured 3× slower than the in-place multiply and the copy together)."""
    torch.addmm(turn_offset, inputs, turn_weight, out=phase)
    phase.frac_()
    phase.mul_(TWO_PI)
    cast.copy_(phase)
    torch.sin(cast, out=out)


def sin_radians_into(inputs: torch.Tensor, weight: torch.Tensor, offset: torch.Tensor, out: torch.Tensor) -> None:
    """Float64 output: ``sin(inputs @ weight + offset)`` (radians) written into ``out`` ``(R, F)`` in two
    passes; the float64 sine reduces its argument exactly itself, so no ``frac`` pass is needed."""
    torch.addmm(offset, inputs, weight, out=out)
    out.sin_()


class SinusoidEncoding(PositionEncoding):
    """An encoding whose every column is a sine of an affine phase of a few float64 inputs, or the
    product of two such sines (the multi-scale encodings).

    A subclass registers its *factors* with :meth:`register_factors` — ``F`` sines
    ``sin(2π·(x @ W + b))`` of the inputs ``x = phase_inputs(lonlat)`` ``(..., C)``, ``W`` ``(C, F)``
    and ``b`` ``(F,)`` in turns — and, unless the factors are the output itself, a column table
    ``(output_dim, 2)`` of factor indices (−1: no second factor) and a strided :meth:`combine`. Each
    distinct sine is computed once per point (:attr:`sines_per_point`).

    Eager calls without autograd run through :func:`sin_turns_into`, a cache-sized block of rows at a
    time (``SINUSOID_CHUNK_BYTES``) written straight into the output — on CUDA with Triton installed,
    through one fused kernel (:mod:`geosrl.encoders.kernels.sinusoid`); ``torch.compile`` and
    autograd run :meth:`encode`, the same arithmetic as one expression.
    """

    chunks_small_inputs = True
    #: the factors are the output columns, in order (no :meth:`combine` step)
    factors_are_output = True

    def register_factors(self, turn_weight: torch.Tensor, turn_offset: torch.Tensor,
                         columns: torch.Tensor | None = None) -> None:
        """Register the factor sines (``turn_weight`` ``(C, F)``, ``turn_offset`` ``(F,)``, float64 turns)
        and, when the output is not the factors themselves, the column table ``(output_dim, 2)``."""
        self.register_float64("turn_weight", turn_weight)
        self.register_float64("turn_offset", turn_offset)
        self.factors_are_output = columns is None
        if columns is not None:
            self.register_buffer("columns", torch.as_tensor(columns, dtype=torch.long), persistent=False)

    def factor_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The factors' float64 ``(C, F)`` weight and ``(F,)`` offset, in turns."""
        return self.turn_weight, self.turn_offset

    @property
    def sines_per_point(self) -> int:
        """Distinct sines (transcendental values) computed per point: ``F``."""
        return int(self.turn_offset.numel())

    def phase_inputs(self, lonlat: torch.Tensor) -> torch.Tensor:
        """The inputs of the phases ``(..., C)`` float64; default (lon, lat) degrees."""
        return lonlat.to(torch.float64)

    #: :meth:`compile_blocks` compiles only the factor sines and multiplies them eagerly: for encodings
    #: whose products outnumber their sines (dfs: 256 products of 32 sines) the compiler would
    #: otherwise recompute a sine for every product
    compile_factors_only = False

    def _compiled_stage(self, inputs: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        if self.compile_factors_only:
            return sin_turns(self.phase_inputs(inputs), *self.factor_weights(), dtype)
        return super()._compiled_stage(inputs, dtype)

    def _finish_stage(self, stage: torch.Tensor, target: torch.Tensor) -> None:
        if self.compile_factors_only:
            self.combine(stage, target)
        else:
            super()._finish_stage(stage, target)

    def combine(self, factors: torch.Tensor, out: torch.Tensor) -> None:  # pragma: no cover - abstract
        """Write the output ``(R, output_dim)`` from the factor sines ``(R, F)`` (eager fast path)."""
        raise NotImplementedError

    def assemble(self, factors: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        """The output ``(R, output_dim)`` from the factor sines ``(R, F)`` as one expression of slices,
        products and a stack (autograd and ``torch.compile``, which fuses it with the sines: a gather by
        column index would not fuse)."""
        raise NotImplementedError

    def column_factors(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per output column, the index of its first and of its second factor (``F``: none) ``(D,)`` each."""
        if self.factors_are_output:
            first = torch.arange(self.output_dim, device=self.turn_offset.device)
            return first, torch.full_like(first, self.sines_per_point)
        second = self.columns[:, 1]
        return self.columns[:, 0], torch.where(second < 0, self.sines_per_point, second)

    def encode(self, lonlat: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        inputs = self.phase_inputs(lonlat)
        flat = inputs.reshape(-1, inputs.shape[-1])
        factors = sin_turns(flat, *self.factor_weights(), dtype)
        if not self.factors_are_output:
            factors = self.assemble(factors)
        return factors.reshape(*lonlat.shape[:-1], self.output_dim)

    def _chunk_rows(self) -> int:
        return max(1, min(CHUNK_BYTES, SINUSOID_CHUNK_BYTES) // (8 * max(self.sines_per_point, self.output_dim)))

    def _encode_into(self, flat: torch.Tensor, out: torch.Tensor, rows: int) -> None:
        if out.device.type == "cuda" and kernel_usable("cuda"):
            from ..kernels.sinusoid import encode_sinusoids  # imports Triton

            encode_sinusoids(self, flat, out)
            return
        rows = max(1, min(rows, flat.shape[0]))
        f = self.sines_per_point
        f64 = out.dtype == torch.float64  # float64 output: phases in radians, no scratch (sin_radians_into)
        phase = None if f64 else torch.empty(rows, f, dtype=torch.float64, device=out.device)
        cast = None if f64 else torch.empty(rows, f, dtype=out.dtype, device=out.device)
        factors = None if self.factors_are_output else torch.empty(rows, f, dtype=out.dtype, device=out.device)
        weight, offset = self.factor_weights()
        if f64:
            weight, offset = weight * TWO_PI, offset * TWO_PI
        for start in range(0, flat.shape[0], rows):
            block = out[start:start + rows]
            r = block.shape[0]
            target = block if factors is None else factors[:r]
            inputs = self.phase_inputs(flat[start:start + r])
            if f64:
                sin_radians_into(inputs, weight, offset, target)
            else:
                sin_turns_into(inputs, weight, offset, phase[:r], cast[:r], target)
            if factors is not None:
                self.combine(target, block)
