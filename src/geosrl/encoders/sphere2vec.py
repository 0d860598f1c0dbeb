"""Sphere2Vec encodings (Mai et al., ISPRS J. 2023): sphereC, sphereC+, sphereM, sphereM+, dfs.

All use θ_s = ω_s·θ and φ_s = ω_s·φ with θ = lon, φ = lat in **radians** and the geometric schedule
ω_s = 1/λ_s (λ in radians: a band's wavelength is 360·λ_s degrees). Defaults S = 32, λ_min = 10⁻³,
λ_max = 1 (finest wavelength 0.36° ≈ 40 km). Column orders follow TorchSpatial exactly.
"""

from __future__ import annotations

import torch

from ..coords import DEG2RAD
from ..registry import register_encoder
from .base import PositionEncoding, geometric_frequencies, legacy_single_scale_frequencies, scaled_sincos


class _SphereBase(PositionEncoding):
    legacy_switch = False
    #: output columns per scale (dfs overrides output_dim)
    per_scale = 0

    def __init__(
        self,
        frequency_num: int = 32,
        min_radius: float = 1e-3,
        max_radius: float = 1.0,
        legacy_single_scale: bool = False,
        validate: bool = True,
    ) -> None:
        super().__init__(validate)
        if legacy_single_scale and not self.legacy_switch:
            raise ValueError(f"legacy_single_scale applies only to sphere2vec_spherem_plus and sphere2vec_dfs")
        self.frequency_num = int(frequency_num)
        self.min_radius, self.max_radius = float(min_radius), float(max_radius)
        self.legacy_single_scale = bool(legacy_single_scale)
        if legacy_single_scale:
            omega = legacy_single_scale_frequencies(self.frequency_num, self.max_radius)
        else:
            omega = geometric_frequencies(self.frequency_num, self.min_radius, self.max_radius)
        self.register_float64("omega_deg", omega * DEG2RAD)  # phase = lon_deg * omega_deg
        self.output_dim = self.per_scale * self.frequency_num

    def _angles(self, lonlat: torch.Tensor, dtype: torch.dtype):
        """Scaled (sinθ_s, cosθ_s, sinφ_s, cosφ_s), each (..., S), and unscaled (sinθ, cosθ, sinφ, cosφ), each (..., 1)."""
        sin_s, cos_s = scaled_sincos(lonlat, self.omega_deg, dtype)  # (..., 2, S)
        rad = (lonlat * DEG2RAD).to(dtype)
        sin1, cos1 = torch.sin(rad).unsqueeze(-1), torch.cos(rad).unsqueeze(-1)  # (..., 2, 1)
        return (sin_s[..., 0, :], cos_s[..., 0, :], sin_s[..., 1, :], cos_s[..., 1, :]), (
            sin1[..., 0, :], cos1[..., 0, :], sin1[..., 1, :], cos1[..., 1, :])

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, frequency_num={self.frequency_num}, min_radius={self.min_radius} rad, "
            f"max_radius={self.max_radius} rad, legacy_single_scale={self.legacy_single_scale}"
        )


def _per_scale(*columns: torch.Tensor) -> torch.Tensor:
    """Interleave per-scale columns: (..., S) each → (..., S·k) in order s-major."""
    return torch.stack(columns, dim=-1).flatten(-2)


@register_encoder("sphere2vec_spherec")
class SphereCEncoding(_SphereBase):
    """PE = for s: [sin φ_s, cos φ_s cos θ_s, cos φ_s sin θ_s]. Output 3S."""

    per_scale = 3

    def encode(self, lonlat, dtype):
        (st, ct, sp, cp), _ = self._angles(lonlat, dtype)
        return _per_scale(sp, cp * ct, cp * st)


@register_encoder("sphere2vec_spherec_plus")
class SphereCPlusEncoding(_SphereBase):
    """PE = for s: [sin φ_s, cos φ_s, sin θ_s, cos θ_s, cos φ_s cos θ_s, cos φ_s sin θ_s]. Output 6S."""

    per_scale = 6

    def encode(self, lonlat, dtype):
        (st, ct, sp, cp), _ = self._angles(lonlat, dtype)
        return _per_scale(sp, cp, st, ct, cp * ct, cp * st)


@register_encoder("sphere2vec_spherem")
class SphereMEncoding(_SphereBase):
    """PE = for s: [sin φ_s, cos φ_s cos θ, cos φ cos θ_s, cos φ_s sin θ, cos φ sin θ_s]. Output 5S."""

    per_scale = 5

    def encode(self, lonlat, dtype):
        (st, ct, sp, cp), (st1, ct1, _, cp1) = self._angles(lonlat, dtype)
        return _per_scale(sp, cp * ct1, cp1 * ct, cp * st1, cp1 * st)


@register_encoder("sphere2vec_spherem_plus")
class SphereMPlusEncoding(_SphereBase):
    """PE = for s: [sin φ_s, cos φ_s, sin θ_s, cos θ_s, cos φ_s cos θ, cos φ cos θ_s, cos φ_s sin θ,
    cos φ sin θ_s]. Output 8S. ``legacy_single_scale=True`` reproduces TorchSpatial's schedule (B4)."""

    per_scale = 8
    legacy_switch = True

    def encode(self, lonlat, dtype):
        (st, ct, sp, cp), (st1, ct1, _, cp1) = self._angles(lonlat, dtype)
        return _per_scale(sp, cp, st, ct, cp * ct1, cp1 * ct, cp * st1, cp1 * st)


@register_encoder("sphere2vec_dfs")
class DFSEncoding(_SphereBase):
    """Double Fourier sphere. U = [sin θ_0…sin θ_{S−1}, cos θ_0…cos θ_{S−1}], V the same for φ;
    PE = vec(U ⊗ V) (column a·2S + b) ‖ for s: [sin φ_s, cos φ_s, sin θ_s, cos θ_s]. Output 4S² + 4S.

    Default S = 8 (288 outputs). ``legacy_single_scale=True`` reproduces TorchSpatial's schedule (B4).
    """

    legacy_switch = True

    def __init__(self, frequency_num: int = 8, min_radius: float = 1e-3, max_radius: float = 1.0,
                 legacy_single_scale: bool = False, validate: bool = True) -> None:
        super().__init__(frequency_num, min_radius, max_radius, legacy_single_scale, validate)
        self.output_dim = 4 * self.frequency_num**2 + 4 * self.frequency_num

    def encode(self, lonlat, dtype):
        (st, ct, sp, cp), _ = self._angles(lonlat, dtype)
        u = torch.cat([st, ct], dim=-1)  # (..., 2S)
        v = torch.cat([sp, cp], dim=-1)  # (..., 2S)
        outer = (u.unsqueeze(-1) * v.unsqueeze(-2)).flatten(-2)
        return torch.cat([outer, _per_scale(sp, cp, st, ct)], dim=-1)
