"""A small CNN for image patches, trained jointly with the location encoder (SatCLIP-style).

``PatchCNN``: ``depth`` blocks of Conv3×3 → GroupNorm → ReLU → MaxPool2, then global average pooling and
a linear projection: ``(B, C, H, W)`` float → ``(B, embed_dim)``. GroupNorm (not BatchNorm) keeps every
sample independent of the rest of the batch, so data-parallel training gives exactly the single-process
result. C = the channels of the run's declared contexts (:mod:`geosrl.pretrain.contexts`).
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["PatchCNN"]


class PatchCNN(nn.Module):
    """Conv encoder for ``(B, in_channels, H, W)`` patches → ``(B, embed_dim)`` embeddings.

    Args:
        in_channels: input channels C.
        embed_dim: output width (the CSP image embedding f).
        width: channels of the first block; doubled in every following block.
        depth: number of conv blocks (each halves H and W; H, W ≥ 2^depth).
        groups: GroupNorm groups (must divide every block's width).
    """

    def __init__(self, in_channels: int = 4, embed_dim: int = 64, width: int = 16, depth: int = 3,
                 groups: int = 4) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = in_channels
        for i in range(depth):
            w = width * 2 ** i
            layers += [nn.Conv2d(c, w, 3, padding=1), nn.GroupNorm(min(groups, w), w), nn.ReLU(inplace=True),
                       nn.MaxPool2d(2)]
            c = w
        self.features = nn.Sequential(*layers)
        self.proj = nn.Linear(c, embed_dim)
        self.in_channels, self.embed_dim, self.depth = in_channels, embed_dim, depth

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(f"expected (B, {self.in_channels}, H, W) patches, got {tuple(x.shape)}")
        h = self.features(x).mean(dim=(2, 3))
        return self.proj(h)
