"""``direct``: raw coordinates scaled to [−1, 1]²."""

from __future__ import annotations

import math

import torch

from ...coords import DEG2RAD
from ..registry import register_encoder
from ...checks import check_choice
from .base import PositionEncoding

_MODES = ("normalized", "locationencoder")


@register_encoder("direct")
class DirectEncoding(PositionEncoding):
    """PE = (lon/180, lat/90), output 2. Not periodic in longitude; the poles depend on lon.

    ``mode="locationencoder"`` gives MarcCoru/locationencoder's (θ − π, φ − π) in radians instead.
    """

    output_dim = 2

    def __init__(self, mode: str = "normalized", validate: bool = True) -> None:
        super().__init__(validate)
        self.mode = check_choice("mode", mode, _MODES)

    def encode(self, lonlat: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        if self.mode == "locationencoder":
            return (lonlat * DEG2RAD - math.pi).to(dtype)
        return torch.stack([lonlat[..., 0] / 180.0, lonlat[..., 1] / 90.0], dim=-1).to(dtype)
