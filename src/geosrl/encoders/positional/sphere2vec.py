"""Sphere2Vec encodings (Mai et al., ISPRS J. 2023): sphereC, sphereC+, sphereM, sphereM+, dfs.

All use θ_s = ω_s·θ and φ_s = ω_s·φ with θ = lon, φ = lat in **radians** and the geometric schedule
ω_s = 1/λ_s (λ in radians: a band's wavelength is 360·λ_s degrees). Defaults S = 32, λ_min = 10⁻³,
λ_max = 1 (finest wavelength 0.36° ≈ 40 km). Column orders follow TorchSpatial exactly.

Every per-scale column is a sine or cosine of one angle, or the product of two. Each encoder lists its
columns once (``COLUMNS``, products last within a scale); the output is then built in its final
layout, column s·K + k, as sin(x·W₀ + b₀) with x = (lon°, lat°), and the product columns are
multiplied in place by their second factors sin(x·W₁ + b₁).
"""

from __future__ import annotations

import torch

from ...coords import DEG2RAD
from ..registry import register_encoder
from ._checks import check_flag, check_positive
from .base import HALF_PI, PositionEncoding, geometric_frequencies, legacy_single_scale_frequencies, sinusoids

#: factor name → (coordinate column: 0 = lon θ, 1 = lat φ; scaled by ω_s?; phase offset: 0 sin, π/2 cos)
_FACTORS = {
    "sin θs": (0, True, 0.0), "cos θs": (0, True, HALF_PI), "sin φs": (1, True, 0.0), "cos φs": (1, True, HALF_PI),
    "sin θ": (0, False, 0.0), "cos θ": (0, False, HALF_PI), "sin φ": (1, False, 0.0), "cos φ": (1, False, HALF_PI),
}


class _SphereBase(PositionEncoding):
    #: per-scale columns: (factor,) or (factor, factor) for a product; products last
    COLUMNS: tuple[tuple[str, ...], ...] = ()
    legacy_switch = False

    def __init__(
        self,
        frequency_num: int = 32,
        min_radius: float = 1e-3,
        max_radius: float = 1.0,
        legacy_single_scale: bool = False,
        validate: bool = True,
    ) -> None:
        super().__init__(validate)
        self.legacy_single_scale = check_flag("legacy_single_scale", legacy_single_scale)
        if self.legacy_single_scale and not self.legacy_switch:
            raise ValueError("legacy_single_scale applies only to sphere2vec_spherem_plus and sphere2vec_dfs")
        if self.legacy_single_scale:  # λ_min is unused by this schedule, but still has to make sense
            check_positive("min_radius", min_radius)
            omega = legacy_single_scale_frequencies(frequency_num, max_radius)
        else:
            omega = geometric_frequencies(frequency_num, min_radius, max_radius)  # checks the three arguments
        self.frequency_num = int(frequency_num)
        self.min_radius, self.max_radius = float(min_radius), float(max_radius)
        self.register_float64("omega_deg", omega * DEG2RAD)  # phase = lon_deg * omega_deg
        self._register_columns()
        self.output_dim = len(self.COLUMNS) * self.frequency_num

    def _register_columns(self) -> None:
        """Weights ``(2, S·K)`` and offsets ``(S·K,)`` of every column's first factor, and ``(2, S·P)``,
        ``(S·P,)`` of the second factors of the P product columns (the last P of each scale)."""
        self.num_products = sum(len(c) == 2 for c in self.COLUMNS)
        if any(len(c) == 1 for c in self.COLUMNS[len(self.COLUMNS) - self.num_products:]):
            raise TypeError("product columns must come last within a scale")
        factor_lists = [[c[0] for c in self.COLUMNS], [c[1] for c in self.COLUMNS if len(c) == 2]]
        for j, factors in enumerate(factor_lists[: 2 if self.num_products else 1]):
            weight = torch.zeros(2, self.frequency_num, len(factors), dtype=torch.float64)
            offset = torch.zeros(self.frequency_num, len(factors), dtype=torch.float64)
            for k, factor in enumerate(factors):
                coord, scaled, phase_offset = _FACTORS[factor]
                weight[coord, :, k] = self.omega_deg if scaled else DEG2RAD
                offset[:, k] = phase_offset
            self.register_float64(f"weight{j}", weight.reshape(2, -1))
            self.register_float64(f"offset{j}", offset.reshape(-1))

    def encode(self, lonlat: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        out = sinusoids(lonlat, self.weight0, self.offset0, dtype)  # (..., S·K), column s·K + k
        if self.num_products:
            second = sinusoids(lonlat, self.weight1, self.offset1, dtype).unflatten(-1, (self.frequency_num, -1))
            out.unflatten(-1, (self.frequency_num, -1))[..., -self.num_products:].mul_(second)
        return out

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, frequency_num={self.frequency_num}, min_radius={self.min_radius} rad, "
            f"max_radius={self.max_radius} rad, legacy_single_scale={self.legacy_single_scale}"
        )


@register_encoder("sphere2vec_spherec")
class SphereCEncoding(_SphereBase):
    """PE = for s: [sin φ_s, cos φ_s cos θ_s, cos φ_s sin θ_s]. Output 3S."""

    COLUMNS = (("sin φs",), ("cos φs", "cos θs"), ("cos φs", "sin θs"))


@register_encoder("sphere2vec_spherec_plus")
class SphereCPlusEncoding(_SphereBase):
    """PE = for s: [sin φ_s, cos φ_s, sin θ_s, cos θ_s, cos φ_s cos θ_s, cos φ_s sin θ_s]. Output 6S."""

    COLUMNS = (("sin φs",), ("cos φs",), ("sin θs",), ("cos θs",), ("cos φs", "cos θs"), ("cos φs", "sin θs"))


@register_encoder("sphere2vec_spherem")
class SphereMEncoding(_SphereBase):
    """PE = for s: [sin φ_s, cos φ_s cos θ, cos φ cos θ_s, cos φ_s sin θ, cos φ sin θ_s]. Output 5S."""

    COLUMNS = (("sin φs",), ("cos φs", "cos θ"), ("cos φ", "cos θs"), ("cos φs", "sin θ"), ("cos φ", "sin θs"))


@register_encoder("sphere2vec_spherem_plus")
class SphereMPlusEncoding(_SphereBase):
    """PE = for s: [sin φ_s, cos φ_s, sin θ_s, cos θ_s, cos φ_s cos θ, cos φ cos θ_s, cos φ_s sin θ,
    cos φ sin θ_s]. Output 8S. ``legacy_single_scale=True`` reproduces TorchSpatial's schedule (B4)."""

    COLUMNS = (("sin φs",), ("cos φs",), ("sin θs",), ("cos θs",), ("cos φs", "cos θ"), ("cos φ", "cos θs"),
               ("cos φs", "sin θ"), ("cos φ", "sin θs"))
    legacy_switch = True


@register_encoder("sphere2vec_dfs")
class DFSEncoding(_SphereBase):
    """Double Fourier sphere. U = [sin θ_0…sin θ_{S−1}, cos θ_0…cos θ_{S−1}], V the same for φ;
    PE = vec(U ⊗ V) (column a·2S + b) ‖ for s: [sin φ_s, cos φ_s, sin θ_s, cos θ_s]. Output 4S² + 4S.

    Default S = 8 (288 outputs). ``legacy_single_scale=True`` reproduces TorchSpatial's schedule (B4).
    """

    COLUMNS = (("sin φs",), ("cos φs",), ("sin θs",), ("cos θs",))
    legacy_switch = True

    def __init__(self, frequency_num: int = 8, min_radius: float = 1e-3, max_radius: float = 1.0,
                 legacy_single_scale: bool = False, validate: bool = True) -> None:
        super().__init__(frequency_num, min_radius, max_radius, legacy_single_scale, validate)
        self.output_dim = 4 * self.frequency_num**2 + 4 * self.frequency_num
        # U ‖ V = [sin θ_s, cos θ_s, sin φ_s, cos φ_s] blocks of S columns each
        weight = torch.zeros(2, 2, 2, self.frequency_num, dtype=torch.float64)
        weight[0, 0], weight[1, 1] = self.omega_deg, self.omega_deg
        offset = torch.tensor([0.0, HALF_PI], dtype=torch.float64)[:, None].expand(2, 2, self.frequency_num)
        self.register_float64("uv_weight", weight.reshape(2, -1))
        self.register_float64("uv_offset", offset.reshape(-1))

    def encode(self, lonlat, dtype):
        u, v = sinusoids(lonlat, self.uv_weight, self.uv_offset, dtype).chunk(2, dim=-1)  # (..., 2S) each
        outer = (u[..., :, None] * v[..., None, :]).flatten(-2)  # (..., 4S²), column a·2S + b
        return torch.cat([outer, super().encode(lonlat, dtype)], dim=-1)
