"""Reductions over the ragged layout: per-geometry sums/min/max of rows sorted by geometry index.

Edges and vertices of a :class:`~geosrl.geometry.batch.GeometryBatch` are stored geometry by
geometry, so per-geometry reductions are segment reductions (``torch.segment_reduce``), which are
differentiable and, unlike ``index_add_``/``scatter_reduce_``, stay fast on a busy multi-threaded CPU.
"""

from __future__ import annotations

import torch

__all__ = ["segment_max", "segment_min", "segment_sum"]


def _reduce(values: torch.Tensor, index: torch.Tensor, num: int, reduce: str, initial: float) -> torch.Tensor:
    lengths = torch.bincount(index, minlength=num)
    return torch.segment_reduce(values, reduce, lengths=lengths, axis=0, unsafe=True, initial=initial)


def segment_sum(values: torch.Tensor, index: torch.Tensor, num: int) -> torch.Tensor:
    """``(num, ...)`` sums of the rows of ``values`` ``(N, ...)`` per ``index`` ``(N,)`` (non-decreasing)."""
    return _reduce(values, index, num, "sum", 0.0)


def segment_max(values: torch.Tensor, index: torch.Tensor, num: int, initial: float) -> torch.Tensor:
    """Per-geometry maxima ``(num, ...)``; ``initial`` for geometries without rows. ``index`` non-decreasing."""
    return _reduce(values, index, num, "max", initial)


def segment_min(values: torch.Tensor, index: torch.Tensor, num: int, initial: float) -> torch.Tensor:
    """Per-geometry minima ``(num, ...)``; ``initial`` for geometries without rows. ``index`` non-decreasing."""
    return _reduce(values, index, num, "min", initial)
