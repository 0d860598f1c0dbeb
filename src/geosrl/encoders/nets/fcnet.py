"""Mac Aodha et al.'s ``FCNet`` feature stack (GeoPrior, SINR's ``ResidualFCNet``)."""

from __future__ import annotations

import torch
from torch import nn

from ...checks import check_count, check_dropout


class ResLayer(nn.Module):
    """x ↦ x + ReLU(W₂·Dropout(ReLU(W₁x + b₁)) + b₂)."""

    def __init__(self, width: int, dropout: float = 0.5) -> None:
        super().__init__()
        width = check_count("width", width)
        dropout = check_dropout("dropout", dropout)
        self.w1 = nn.Linear(width, width)
        self.w2 = nn.Linear(width, width)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + torch.relu(self.w2(self.dropout(torch.relu(self.w1(x)))))


class FCNet(nn.Module):
    """Linear(in→width) → ReLU → ``depth`` residual layers; ``(..., in_dim)`` → ``(..., width)``.

    The class head (Linear(width→C, no bias) → sigmoid) belongs to the task, not the encoder.
    """

    def __init__(self, in_dim: int, out_dim: int = 256, depth: int = 4, dropout: float = 0.5) -> None:
        super().__init__()
        in_dim, out_dim = check_count("in_dim", in_dim), check_count("out_dim", out_dim)
        depth = check_count("depth", depth, minimum=0)
        dropout = check_dropout("dropout", dropout)
        self.inp = nn.Linear(in_dim, out_dim)
        self.res = nn.Sequential(*[ResLayer(out_dim, dropout) for _ in range(depth)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.res(torch.relu(self.inp(x)))
