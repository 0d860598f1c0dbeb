"""``xyz`` (unit-sphere Cartesian) and ``nerf`` (NeRF sinusoids of xyz)."""

from __future__ import annotations

import math

import torch

from ...sphere import lonlat_to_xyz
from ..registry import register_encoder
from ...checks import check_count
from .base import PositionEncoding, SinusoidEncoding


@register_encoder("xyz")
class XYZEncoding(PositionEncoding):
    """PE = [cos φ cos θ, cos φ sin θ, sin φ], output 3 (periodic, pole-consistent, unit norm)."""

    output_dim = 3

    def encode(self, lonlat: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        return lonlat_to_xyz(lonlat).to(dtype)


@register_encoder("nerf")
class NeRFEncoding(SinusoidEncoding):
    """NeRF encoding of p = xyz: ω_k = π·2^k, k = 0…L−1, output 6L.

    Column order (TorchSpatial): [sin ω_k p_x]_k ‖ [sin ω_k p_y]_k ‖ [sin ω_k p_z]_k ‖ the same with cos.

    Args:
        frequency_num: L, the number of octaves (default 16; TorchSpatial ignores this, defect B5). At most
            1023: ω_k = π·2^k overflows float64 beyond.
    """

    def __init__(self, frequency_num: int = 16, validate: bool = True) -> None:
        super().__init__(validate)
        self.frequency_num = check_count("frequency_num", frequency_num, maximum=1023)
        self.output_dim = 6 * self.frequency_num
        self.register_float64("omega", math.pi * 2.0 ** torch.arange(self.frequency_num, dtype=torch.float64))
        # columns (k, c, l): k = sin/cos block, c = x/y/z, l = octave; ω_l/2π = 2^(l−1) turns on coordinate c
        turns = 2.0 ** (torch.arange(self.frequency_num, dtype=torch.float64) - 1.0)
        weight = torch.eye(3, dtype=torch.float64)[:, None, :, None] * turns * torch.ones(2, 1, 1, dtype=torch.float64)
        offset = torch.tensor([0.0, 0.25], dtype=torch.float64)[:, None, None].expand(2, 3, self.frequency_num)
        self.register_factors(weight.reshape(3, -1), offset.reshape(-1))

    def phase_inputs(self, lonlat: torch.Tensor) -> torch.Tensor:
        return lonlat_to_xyz(lonlat.to(torch.float64))
