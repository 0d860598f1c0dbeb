"""Space2Vec ``grid`` and ``theory`` encodings (planar, degrees; Mai et al., ICLR 2020)."""

from __future__ import annotations

import math

import torch

from ..registry import register_encoder
from .base import PositionEncoding, geometric_frequencies, scaled_sincos


class _Space2VecBase(PositionEncoding):
    """Shared multi-scale schedule: ω_s = 1/λ_s, λ in degrees, phase = x_deg·ω_s (no 2π)."""

    def __init__(
        self,
        frequency_num: int = 32,
        min_radius: float = 0.1,
        max_radius: float = 360.0,
        validate: bool = True,
    ) -> None:
        super().__init__(validate)
        self.frequency_num = int(frequency_num)
        self.min_radius, self.max_radius = float(min_radius), float(max_radius)
        self.register_float64("omega", geometric_frequencies(self.frequency_num, self.min_radius, self.max_radius))

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, frequency_num={self.frequency_num}, "
            f"min_radius={self.min_radius} deg, max_radius={self.max_radius} deg"
        )


@register_encoder("space2vec_grid")
class Space2VecGridEncoding(_Space2VecBase):
    """PE = for c in (lon°, lat°), for s: [sin(c·ω_s), cos(c·ω_s)]; column c·2S + 2s + {0 sin, 1 cos}.

    Output 4S. Radii ``min_radius``/``max_radius`` in degrees (defaults 0.1°, 360°, S = 32).
    Not 360°-periodic in general.
    """

    def __init__(self, frequency_num: int = 32, min_radius: float = 0.1, max_radius: float = 360.0,
                 validate: bool = True) -> None:
        super().__init__(frequency_num, min_radius, max_radius, validate)
        self.output_dim = 4 * self.frequency_num

    def encode(self, lonlat: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        sin, cos = scaled_sincos(lonlat, self.omega, dtype)  # (..., 2, S)
        return torch.stack([sin, cos], dim=-1).flatten(-3)


_SQRT3_2 = math.sqrt(3.0) / 2.0


@register_encoder("space2vec_theory")
class Space2VecTheoryEncoding(_Space2VecBase):
    """Projections u_j = ⟨(lon°, lat°), a_j⟩ on a₁ = (1, 0), a₂ = (−½, √3/2), a₃ = (−½, −√3/2);
    PE = for s: [sin u₁ω_s, cos u₁ω_s, sin u₂ω_s, cos u₂ω_s, sin u₃ω_s, cos u₃ω_s] (column 6s + 2j + k).

    Output 6S, degrees. Not periodic.
    """

    def __init__(self, frequency_num: int = 32, min_radius: float = 0.1, max_radius: float = 360.0,
                 validate: bool = True) -> None:
        super().__init__(frequency_num, min_radius, max_radius, validate)
        self.output_dim = 6 * self.frequency_num
        self.register_float64("unit_vectors", [[1.0, 0.0], [-0.5, _SQRT3_2], [-0.5, -_SQRT3_2]])

    def encode(self, lonlat: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        u = lonlat.to(torch.float64) @ self.unit_vectors.T  # (..., 3)
        sin, cos = scaled_sincos(u, self.omega, dtype)  # (..., 3, S)
        return torch.stack([sin, cos], dim=-1).transpose(-3, -2).flatten(-3)
