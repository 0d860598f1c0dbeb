"""``resnet1d``: the vertex-sequence baseline (Mai et al. 2023 style), circular-padded 1-D ResNet.

Each geometry's boundary (all rings of an area, or all lines, concatenated in storage order) is
resampled to ``num_points`` points equally spaced in arc length, starting at the first vertex of the
first part (:func:`resample_boundary`, vectorised with ``searchsorted`` over the batch). Each point is
encoded as ``(x, y)`` plus ``sin``/``cos`` of each coordinate at a few frequencies, and the sequence
goes through ``Conv1d(kernel 3, padding_mode="circular")`` → BatchNorm → ReLU → MaxPool(2), three
residual stages (strides 1, 2, 2) and global mean+max pooling.

Known, documented limits (the reason this is a *baseline*): the output is **not** invariant to the
ring start vertex (resampling starts at vertex 0, and the stride-2 stages break shift equivariance),
to collinear vertex insertion (the samples move), to ring direction, or to part/hole order; holes are
only jumps in the sequence. Points are not supported.
"""

from __future__ import annotations

import torch
from torch import nn

from ..checks import check_count, check_reals
from .base import GeometryEncoder
from .batch import Frame, GeometryBatch
from .ingest import InvalidMode
from .registry import register_geometry_encoder

__all__ = ["ResNet1DEncoder", "resample_boundary"]


def resample_boundary(batch: GeometryBatch, num_points: int) -> torch.Tensor:
    """Points equally spaced in arc length along each geometry's edges, ``(B, num_points, 2)`` float64.

    Sample ``j`` of geometry ``b`` lies at arc length ``j·L_b/num_points`` along the concatenated
    edges (rings closed, lines open), measured from the first vertex of the first part.
    """
    a, b = batch.edge_endpoints()
    length = (b - a).norm(dim=1)  # (E,)
    cumulative = torch.cumsum(length, 0)
    before = torch.cat([cumulative.new_zeros(1), cumulative[:-1]])  # arc length before each edge
    ids = torch.arange(batch.num_geometries, device=length.device)
    first = torch.searchsorted(batch.edge_geometry, ids)  # edges are sorted by geometry
    last = torch.searchsorted(batch.edge_geometry, ids, right=True) - 1
    start, total = before[first], cumulative[last] - before[first]
    steps = torch.arange(num_points, dtype=length.dtype, device=length.device) / num_points
    target = start[:, None] + steps[None, :] * total[:, None]  # (B, N)
    edge = torch.searchsorted(cumulative, target, right=True)
    edge = torch.minimum(torch.maximum(edge, first[:, None]), last[:, None])
    fraction = ((target - before[edge]) / length[edge].clamp_min(1e-300)).clamp(0.0, 1.0)
    return a[edge] + fraction[..., None] * (b - a)[edge]


class _Block(nn.Module):
    """Basic residual block with circular padding; ``(B, C_in, N)`` → ``(B, C_out, N / stride)``."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv1d(c_in, c_out, 3, stride, 1, padding_mode="circular", bias=False)
        self.bn1 = nn.BatchNorm1d(c_out)
        self.conv2 = nn.Conv1d(c_out, c_out, 3, 1, 1, padding_mode="circular", bias=False)
        self.bn2 = nn.BatchNorm1d(c_out)
        self.shortcut = (
            nn.Identity()
            if stride == 1 and c_in == c_out
            else nn.Sequential(nn.Conv1d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm1d(c_out))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


@register_geometry_encoder("resnet1d")
class ResNet1DEncoder(GeometryEncoder):
    """Circular-padded 1-D ResNet over resampled boundary points (areas and lines).

    Args:
        embed_dim: output size ``D``.
        num_points: boundary samples per geometry (a multiple of 8).
        width: channels of the first stage (doubled at each later stage).
        point_frequencies: angular frequencies (rad per frame unit) of the per-point sin/cos features.
        invalid, frame: ingest settings (see :class:`GeometryEncoder`).
    """

    dimensions = (1, 2)

    def __init__(
        self,
        embed_dim: int = 64,
        *,
        num_points: int = 64,
        width: int = 32,
        point_frequencies: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0),
        invalid: InvalidMode = "raise",
        frame: Frame = "shape",
    ) -> None:
        super().__init__(embed_dim, invalid=invalid, frame=frame)
        num_points = check_count("num_points", num_points, minimum=8, maximum=65_536)
        if num_points % 8:
            raise ValueError(f"num_points must be a positive multiple of 8, got {num_points}")
        self.num_points = num_points
        width = check_count("width", width, maximum=4096)
        point_frequencies = check_reals("point_frequencies", point_frequencies, minimum=0.0, min_open=True, maximum=1e6)
        self.register_buffer("point_frequencies", torch.tensor(point_frequencies, dtype=torch.float64))
        c_in = 2 + 4 * len(point_frequencies)
        self.stem = nn.Sequential(
            nn.Conv1d(c_in, width, 3, 1, 1, padding_mode="circular", bias=False),
            nn.BatchNorm1d(width),
            nn.ReLU(),
            nn.MaxPool1d(2),
        )
        self.stages = nn.Sequential(_Block(width, width, 1), _Block(width, 2 * width, 2), _Block(2 * width, 4 * width, 2))
        self.head = nn.Linear(8 * width, self.embed_dim)

    def point_features(self, points: torch.Tensor) -> torch.Tensor:
        """``(B, N, 2)`` float64 points → ``(B, 2 + 4F, N)`` channels-first features (float64)."""
        phase = points[..., None] * self.point_frequencies.to(torch.float64)  # (B, N, 2, F)
        feats = torch.cat([points, torch.sin(phase).flatten(2), torch.cos(phase).flatten(2)], dim=-1)
        return feats.transpose(1, 2)

    def encode(self, batch: GeometryBatch) -> torch.Tensor:
        """``(B, embed_dim)`` in the module's dtype."""
        x = self.point_features(resample_boundary(batch, self.num_points)).to(self.head.weight.dtype)
        if not bool(torch.isfinite(x).all()):
            raise ValueError(
                f"resnet1d: boundary coordinates overflow {x.dtype} (|x| > {torch.finfo(x.dtype).max:.3g}) in the "
                f"{self.frame!r} frame; use frame='shape' (normalised) or cast the encoder to float64 (.double())"
            )
        h = self.stages(self.stem(x))
        return self.head(torch.cat([h.mean(dim=2), h.amax(dim=2)], dim=1))
