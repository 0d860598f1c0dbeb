"""GeoCLIP's location MLP: one branch per RFF scale, outputs summed."""

from __future__ import annotations

import torch
from torch import nn

from ...checks import check_count


class GeoCLIPBranch(nn.Module):
    """Linear(in→1024) → ReLU → Linear(1024→1024) → ReLU → Linear(1024→1024) → ReLU → Linear(1024→out).

    Submodule names mirror GeoCLIP's (``capsule``, ``head``) so its state dict maps key for key.
    """

    def __init__(self, in_dim: int, out_dim: int, hidden_dim: int = 1024) -> None:
        super().__init__()
        self.capsule = nn.Sequential(
            nn.Identity(),  # GeoCLIP's index 0 holds the RFF matrix; ours lives in the PE
            nn.Linear(in_dim, hidden_dim), nn.ReLU(),
            nn.Linear(hidden_dim, hidden_dim), nn.ReLU(),
            nn.Linear(hidden_dim, hidden_dim), nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Linear(hidden_dim, out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.capsule(x))


class GeoCLIPMLP(nn.Module):
    """Σ_i branch_i(block_i), where the input ``(..., n_branches·branch_dim)`` is split into equal blocks."""

    def __init__(self, in_dim: int, out_dim: int = 512, n_branches: int = 3, hidden_dim: int = 1024) -> None:
        super().__init__()
        in_dim, out_dim = check_count("in_dim", in_dim), check_count("out_dim", out_dim)
        n_branches, hidden_dim = check_count("n_branches", n_branches), check_count("hidden_dim", hidden_dim)
        if in_dim % n_branches:
            raise ValueError(f"in_dim {in_dim} is not divisible by n_branches {n_branches}")
        self.branch_dim = in_dim // n_branches
        self.branches = nn.ModuleList(GeoCLIPBranch(self.branch_dim, out_dim, hidden_dim) for _ in range(n_branches))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        blocks = x.split(self.branch_dim, dim=-1)
        out = self.branches[0](blocks[0])
        for branch, block in zip(self.branches[1:], blocks[1:]):
            out = out + branch(block)
        return out
