"""Space2Vec ``grid`` and ``theory`` encodings (planar, degrees; Mai et al., ICLR 2020)."""

from __future__ import annotations

import math

import torch

from ..registry import register_encoder
from .base import SinusoidEncoding, geometric_frequencies

_SQRT3_2 = math.sqrt(3.0) / 2.0


class _Space2VecBase(SinusoidEncoding):
    """Shared multi-scale schedule: ω_s = 1/λ_s, λ in degrees, phase = x_deg·ω_s (no 2π).

    Subclasses give the projection directions (``DIRECTIONS``, unit vectors in the (lon, lat) plane);
    the output is, for s, for each direction a_j: [sin(⟨x, a_j⟩ω_s), cos(⟨x, a_j⟩ω_s)], laid out by
    ``_layout`` as a (2, D) weight matrix and a (D,) offset in turns (0 for sin, ¼ for cos).
    """

    DIRECTIONS: tuple[tuple[float, float], ...] = ()
    per_scale = 0

    def __init__(self, frequency_num: int = 32, min_radius: float = 0.1, max_radius: float = 360.0,
                 validate: bool = True) -> None:
        super().__init__(validate)
        self.register_float64("omega", geometric_frequencies(frequency_num, min_radius, max_radius))  # checks them
        self.frequency_num = int(frequency_num)
        self.min_radius, self.max_radius = float(min_radius), float(max_radius)
        weight, offset = self._layout(torch.tensor(self.DIRECTIONS, dtype=torch.float64))
        self.register_factors(weight / (2.0 * math.pi), offset)
        self.output_dim = int(offset.numel())

    def _layout(self, directions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:  # pragma: no cover
        raise NotImplementedError

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, frequency_num={self.frequency_num}, "
            f"min_radius={self.min_radius} deg, max_radius={self.max_radius} deg"
        )


_SIN_COS = torch.tensor([0.0, 0.25], dtype=torch.float64)  # phase offsets in turns


@register_encoder("space2vec_grid")
class Space2VecGridEncoding(_Space2VecBase):
    """PE = for c in (lon°, lat°), for s: [sin(c·ω_s), cos(c·ω_s)]; column c·2S + 2s + {0 sin, 1 cos}.

    Output 4S. Radii ``min_radius``/``max_radius`` in degrees (defaults 0.1°, 360°, S = 32).
    Not 360°-periodic in general.
    """

    DIRECTIONS = ((1.0, 0.0), (0.0, 1.0))

    def _layout(self, directions):
        # (coord c) x (c, s, k): weight ω_s on the block of coordinate c
        weight = directions[:, :, None, None] * self.omega[:, None] * torch.ones(2, dtype=torch.float64)
        offset = _SIN_COS.expand(len(directions), self.frequency_num, 2)
        return weight.reshape(2, -1), offset.reshape(-1)


@register_encoder("space2vec_theory")
class Space2VecTheoryEncoding(_Space2VecBase):
    """Projections u_j = ⟨(lon°, lat°), a_j⟩ on a₁ = (1, 0), a₂ = (−½, √3/2), a₃ = (−½, −√3/2);
    PE = for s: [sin u₁ω_s, cos u₁ω_s, sin u₂ω_s, cos u₂ω_s, sin u₃ω_s, cos u₃ω_s] (column 6s + 2j + k).

    Output 6S, degrees. Not periodic.
    """

    DIRECTIONS = ((1.0, 0.0), (-0.5, _SQRT3_2), (-0.5, -_SQRT3_2))

    def _layout(self, directions):
        # (coord c) x (s, j, k): weight a_j[c]·ω_s
        weight = directions.T[:, None, :, None] * self.omega[:, None, None] * torch.ones(2, dtype=torch.float64)
        offset = _SIN_COS.expand(self.frequency_num, len(directions), 2)
        return weight.reshape(2, -1), offset.reshape(-1)
