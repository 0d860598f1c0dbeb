"""The network of every estimator (:class:`LocationNet`) and the table of estimator classes (:data:`KINDS`)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["KINDS", "LocationNet", "head_shapes"]

#: estimator class name → class (filled as the classes are defined; read by ``load_estimator``)
KINDS: dict[str, type] = {}


class LocationNet(nn.Module):
    """Location encoder followed by an MLP head: ``(B, 2)`` (lon, lat) degrees → ``(B, out_dim)`` scores.

    The head is ``Linear → ReLU`` per width in ``hidden``, then ``Linear(…, out_dim, bias=bias)``.
    """

    def __init__(self, encoder: nn.Module, embed_dim: int, out_dim: int, hidden: tuple[int, ...] = (),
                 bias: bool = True) -> None:
        super().__init__()
        self.encoder = encoder
        layers: list[nn.Module] = []
        width = embed_dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, out_dim, bias=bias))
        self.head = nn.Sequential(*layers)

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(lonlat))


def head_shapes(embed_dim: int, out_dim: int, hidden: tuple[int, ...], bias: bool) -> dict[str, tuple[int, ...]]:
    """``{name: shape}`` of :class:`LocationNet`'s head tensors (without building it)."""
    widths = [embed_dim, *hidden, out_dim]
    shapes = {}
    for i in range(len(widths) - 1):
        shapes[f"{2 * i}.weight"] = (widths[i + 1], widths[i])
        if i < len(widths) - 2 or bias:
            shapes[f"{2 * i}.bias"] = (widths[i + 1],)
    return shapes
