"""One Triton kernel for every :class:`~geosrl.encoders.positional.base.SinusoidEncoding`.

Output column j of a point with phase inputs x ``(C,)`` (C ≤ 3, float64) is
``sin(2π·r_a)·sin(2π·r_b)`` with ``r = frac(x·w_j + b_j)`` in turns, the two factors' weights and
offsets read from a per-column table; a column without a second factor has ``w = 0, b = ¼``
(``sin(π/2) = 1`` exactly) and encodings without products skip the second factor altogether. The
phase and its reduction are float64; the sine is evaluated in the output dtype (``tl.sin``; accuracy checked against
the torch path by ``benchmarks/gpu_throughput.py``), so
each output value is written once and nothing else touches memory: the kernel's floor is the time
to write the output.

Importing this module imports Triton.
"""

from __future__ import annotations

import math

import torch
import triton
import triton.language as tl

__all__ = ["column_table", "encode_sinusoids", "launch"]

_TWO_PI = 2.0 * math.pi
BLOCK_ROWS, BLOCK_COLS = 32, 64


@triton.jit
def _sinusoid_kernel(x_ptr, out_ptr, wa_ptr, ba_ptr, wb_ptr, bb_ptr, n_rows, n_cols,
                     C: tl.constexpr, PRODUCTS: tl.constexpr, BLOCK_R: tl.constexpr, BLOCK_D: tl.constexpr):
    rows = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    cols = tl.program_id(1) * BLOCK_D + tl.arange(0, BLOCK_D)
    row_ok = rows < n_rows
    col_ok = cols < n_cols
    out_ty = out_ptr.dtype.element_ty
    turns_a = tl.zeros((BLOCK_R, BLOCK_D), dtype=tl.float64) + tl.load(ba_ptr + cols, mask=col_ok, other=0.0)[None, :]
    if PRODUCTS:
        turns_b = tl.zeros((BLOCK_R, BLOCK_D), dtype=tl.float64) + tl.load(bb_ptr + cols, mask=col_ok, other=0.0)[None, :]
    for c in tl.static_range(C):
        xc = tl.load(x_ptr + rows * C + c, mask=row_ok, other=0.0)[:, None]
        turns_a += xc * tl.load(wa_ptr + c * n_cols + cols, mask=col_ok, other=0.0)[None, :]
        if PRODUCTS:
            turns_b += xc * tl.load(wb_ptr + c * n_cols + cols, mask=col_ok, other=0.0)[None, :]
    value = tl.sin(((turns_a - tl.floor(turns_a)) * 6.283185307179586).to(out_ty))
    if PRODUCTS:
        value = value * tl.sin(((turns_b - tl.floor(turns_b)) * 6.283185307179586).to(out_ty))
    mask = row_ok[:, None] & col_ok[None, :]
    offsets = rows.to(tl.int64)[:, None] * n_cols + cols[None, :]  # N·D may exceed 2³¹
    tl.store(out_ptr + offsets, value, mask=mask)


def column_table(encoding) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, bool]:
    """Per output column, the float64 turn weights ``(C, D)`` and offsets ``(D,)`` of its first and
    second factor, and whether any column has a second factor."""
    weight, offset = encoding.factor_weights()
    first, second = encoding.column_factors()
    f = offset.numel()
    weight_1 = torch.cat([weight, weight.new_zeros(weight.shape[0], 1)], dim=1)  # factor F: sin(π/2) = 1
    offset_1 = torch.cat([offset, offset.new_full((1,), 0.25)])
    products = bool((second != f).any())
    return (weight[:, first].contiguous(), offset[first].contiguous(), weight_1[:, second].contiguous(),
            offset_1[second].contiguous(), products)


def launch(inputs: torch.Tensor, table, out: torch.Tensor) -> torch.Tensor:
    """Run the kernel: ``inputs`` ``(n, C)`` float64 contiguous → ``out`` ``(n, D)`` contiguous."""
    wa, ba, wb, bb, products = table
    n, c = inputs.shape
    d = out.shape[1]
    grid = (triton.cdiv(n, BLOCK_ROWS), triton.cdiv(d, BLOCK_COLS))
    _sinusoid_kernel[grid](inputs, out, wa, ba, wb, bb, n, d, C=c, PRODUCTS=products,
                           BLOCK_R=BLOCK_ROWS, BLOCK_D=BLOCK_COLS)
    return out


def encode_sinusoids(encoding, flat_lonlat: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """Encode ``flat_lonlat`` ``(n, 2)`` degrees into ``out`` ``(n, output_dim)`` with the fused kernel."""
    inputs = encoding.phase_inputs(flat_lonlat).contiguous()
    return launch(inputs, column_table(encoding), out)
