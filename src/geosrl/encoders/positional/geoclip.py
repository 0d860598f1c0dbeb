"""``geoclip_rff``: Equal Earth projection + multi-σ random Fourier features (GeoCLIP, NeurIPS 2023)."""

from __future__ import annotations

import math

import torch

from ...coords import DEG2RAD
from ..registry import register_encoder
from ...checks import check_count, check_reals, check_seed
from .base import SinusoidEncoding

_A1, _A2, _A3, _A4 = 1.340264, -0.081106, 0.000893, 0.003796
_SF = 66.50336
_SQRT3 = math.sqrt(3.0)  # GeoCLIP uses float32 sqrt(3); the exact value shifts its embeddings by ~3e-5 relative


def equal_earth(lonlat: torch.Tensor) -> torch.Tensor:
    """GeoCLIP's scaled Equal Earth projection ``(..., 2)`` → ``(..., 2)``: x ∈ [−1, 1], y ∈ [−0.4867, 0.4867].

    Float64 in, float64 out (the caller casts).
    """
    lon, lat = lonlat[..., 0] * DEG2RAD, lonlat[..., 1] * DEG2RAD
    eta = torch.asin(_SQRT3 / 2.0 * torch.sin(lat))
    eta2 = eta * eta
    eta6 = eta2 * eta2 * eta2
    denom = 3.0 * (9.0 * _A4 * eta6 * eta2 + 7.0 * _A3 * eta6 + 3.0 * _A2 * eta2 + _A1)
    x = 2.0 * _SQRT3 * lon * torch.cos(eta) / denom
    y = eta * (_A4 * eta6 * eta2 + _A3 * eta6 + _A2 * eta2 + _A1)
    return torch.stack([x, y], dim=-1) * (_SF / 180.0)


@register_encoder("geoclip_rff")
class GeoCLIPRFFEncoding(SinusoidEncoding):
    """v = EqualEarth(lon, lat); per σ_i: γ_i(v) = [cos(2π B_i v) | sin(2π B_i v)], B_i ∈ ℝ^{F×2}, B ~ N(0, σ_i²).

    Output 2F per σ, blocks in σ order (default σ = 2⁰, 2⁴, 2⁸ and F = 256 → 1536 columns; block i is
    columns [2F·i, 2F·(i+1)), cos first). The B_i are seeded buffers (``b0``, ``b1``, … each ``(F, 2)``),
    so GeoCLIP's released matrices load into them. Not periodic; each pole is a line.

    Args:
        sigmas: the RFF scales σ_i (positive, at most 10³⁰: the B_i are stored in float32 as GeoCLIP's).
        num_frequencies: F, frequencies per σ (default 256).
        seed: seed of the B_i.
    """

    native_net = "geoclip"

    def __init__(
        self,
        sigmas: tuple[float, ...] = (2.0**0, 2.0**4, 2.0**8),
        num_frequencies: int = 256,
        seed: int = 0,
        validate: bool = True,
    ) -> None:
        super().__init__(validate)
        self.sigmas = check_reals("sigmas", sigmas, minimum=0.0, min_open=True, maximum=1e30)
        self.num_frequencies = check_count("num_frequencies", num_frequencies)
        self.output_dim = 2 * self.num_frequencies * len(self.sigmas)
        gen = torch.Generator().manual_seed(check_seed("seed", seed))
        for i, s in enumerate(self.sigmas):
            b = torch.randn(self.num_frequencies, 2, generator=gen, dtype=torch.float64) * s
            self.register_float64(f"b{i}", b.to(torch.float32).double(), persistent=True)
        # per σ: cos block (offset ¼ turn), then sin block; the weights are the b_i (in turns: 2π·B_i·v rad)
        offset = torch.tensor([0.25, 0.0], dtype=torch.float64)[:, None].expand(len(self.sigmas), 2, self.num_frequencies)
        self.register_float64("turn_offset", offset.reshape(-1))

    @property
    def branch_dim(self) -> int:
        return 2 * self.num_frequencies

    def phase_inputs(self, lonlat: torch.Tensor) -> torch.Tensor:
        return equal_earth(lonlat.to(torch.float64))  # (..., 2)

    def factor_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Weight ``(2, 2F·nσ)`` in turns, built from the ``b_i`` buffers (GeoCLIP's weights load into them)."""
        b = torch.stack([getattr(self, f"b{i}") for i in range(len(self.sigmas))])  # (nσ, F, 2)
        weight = b.permute(2, 0, 1).unsqueeze(2).expand(2, -1, 2, -1)  # (2, nσ, [cos, sin], F)
        return weight.reshape(2, -1), self.turn_offset
