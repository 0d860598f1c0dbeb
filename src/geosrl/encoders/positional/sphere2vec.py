"""Sphere2Vec encodings (Mai et al., ISPRS J. 2023): sphereC, sphereC+, sphereM, sphereM+, dfs.

All use θ_s = ω_s·θ and φ_s = ω_s·φ with θ = lon, φ = lat in **radians** and the geometric schedule
ω_s = 1/λ_s (λ in radians: a band's wavelength is 360·λ_s degrees). Defaults S = 32, λ_min = 10⁻³,
λ_max = 1 (finest wavelength 0.36° ≈ 40 km). Column orders follow TorchSpatial exactly.

Every per-scale column is a sine or cosine of one angle, or the product of two. Each encoder lists its
columns once (``COLUMNS``); the distinct sines they need — the four per-scale factors sin/cos φ_s,
sin/cos θ_s and the unscaled sin/cos θ, cos φ an encoder uses — are computed once per point, in
blocks (factor ``b·S + s`` for the scaled factor b, then one column per unscaled factor), and the
columns are copied or multiplied from them (see :class:`~.base.SinusoidEncoding`).
"""

from __future__ import annotations

import math

import torch

from ...coords import DEG2RAD
from ..registry import register_encoder
from ...checks import check_flag, check_positive
from .base import SinusoidEncoding, geometric_frequencies, legacy_single_scale_frequencies

#: the per-scale factors, in block order: (coordinate column: 0 = lon θ, 1 = lat φ; phase offset in turns)
_SCALED = {"sin φs": (1, 0.0), "cos φs": (1, 0.25), "sin θs": (0, 0.0), "cos θs": (0, 0.25)}
#: the unscaled factors, in column order after the scaled blocks
_UNSCALED = {"sin θ": (0, 0.0), "cos θ": (0, 0.25), "sin φ": (1, 0.0), "cos φ": (1, 0.25)}
_TWO_PI = 2.0 * math.pi


class _SphereBase(SinusoidEncoding):
    #: per-scale columns: (factor,) or (factor, factor) for a product
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
        self.register_float64("omega_deg", omega * DEG2RAD)  # phase (rad) = lon_deg · omega_deg
        self.unscaled = [f for f in _UNSCALED if any(f in c for c in self.COLUMNS)]
        self.output_dim = len(self.COLUMNS) * self.frequency_num
        self.register_factors(*self._factor_table(), columns=self._column_table())

    def _factor_table(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Weights ``(2, F)`` and offsets ``(F,)`` in turns of the factors: 4 blocks of S, then the unscaled."""
        count = 4 * self.frequency_num + len(self.unscaled)
        weight = torch.zeros(2, count, dtype=torch.float64)
        offset = torch.zeros(count, dtype=torch.float64)
        for b, (coord, turn) in enumerate(_SCALED.values()):
            block = slice(b * self.frequency_num, (b + 1) * self.frequency_num)
            weight[coord, block], offset[block] = self.omega_deg / _TWO_PI, turn
        for u, name in enumerate(self.unscaled):
            coord, turn = _UNSCALED[name]
            weight[coord, 4 * self.frequency_num + u], offset[4 * self.frequency_num + u] = DEG2RAD / _TWO_PI, turn
        return weight, offset

    def factor_index(self, name: str, s: int) -> int:
        """Index of factor ``name`` at scale ``s`` in the factor table."""
        if name in _SCALED:
            return list(_SCALED).index(name) * self.frequency_num + s
        return 4 * self.frequency_num + self.unscaled.index(name)

    def _column_table(self) -> torch.Tensor:
        """``(S·K, 2)``: column s·K + k's factor indices (second −1 when the column is one sine)."""
        rows = [[self.factor_index(c[0], s), self.factor_index(c[1], s) if len(c) == 2 else -1]
                for s in range(self.frequency_num) for c in self.COLUMNS]
        return torch.tensor(rows, dtype=torch.long)

    def factor_block(self, factors: torch.Tensor, name: str) -> torch.Tensor:
        """``(R, S)`` view of a scaled factor, or ``(R, 1)`` of an unscaled one."""
        if name in _SCALED:
            b = list(_SCALED).index(name)
            return factors[:, b * self.frequency_num:(b + 1) * self.frequency_num]
        u = 4 * self.frequency_num + self.unscaled.index(name)
        return factors[:, u:u + 1]

    def _column_parts(self, factors: torch.Tensor, column: tuple[str, ...]) -> list[torch.Tensor]:
        """The factor blocks ``(R, S)`` or ``(R, 1)`` whose product is per-scale column ``column``."""
        return [self.factor_block(factors, name) for name in column]

    def combine(self, factors: torch.Tensor, out: torch.Tensor) -> None:
        per_scale = out.view(out.shape[0], self.frequency_num, len(self.COLUMNS))
        for k, column in enumerate(self.COLUMNS):
            parts = self._column_parts(factors, column)
            if len(parts) == 1:
                per_scale[:, :, k].copy_(parts[0])
            else:
                torch.mul(*parts, out=per_scale[:, :, k])

    def assemble(self, factors: torch.Tensor) -> torch.Tensor:
        columns = [math.prod(self._column_parts(factors, column)) for column in self.COLUMNS]  # (R, S) each
        return torch.stack(columns, dim=-1).reshape(factors.shape[0], -1)

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
    U and V are the factor blocks [sin θ_s | cos θ_s] and [sin φ_s | cos φ_s]: 4S sines per point.
    """

    COLUMNS = (("sin φs",), ("cos φs",), ("sin θs",), ("cos θs",))
    legacy_switch = True
    compile_factors_only = True

    def __init__(self, frequency_num: int = 8, min_radius: float = 1e-3, max_radius: float = 1.0,
                 legacy_single_scale: bool = False, validate: bool = True) -> None:
        super().__init__(frequency_num, min_radius, max_radius, legacy_single_scale, validate)
        self.output_dim = 4 * self.frequency_num**2 + 4 * self.frequency_num

    def _column_table(self) -> torch.Tensor:
        two_s = 2 * self.frequency_num
        a, b = torch.meshgrid(torch.arange(two_s), torch.arange(two_s), indexing="ij")
        outer = torch.stack([two_s + a.reshape(-1), b.reshape(-1)], dim=1)  # U_a = factor 2S + a, V_b = factor b
        return torch.cat([outer, super()._column_table()])

    def combine(self, factors: torch.Tensor, out: torch.Tensor) -> None:
        two_s = 2 * self.frequency_num
        u, v = factors[:, two_s:2 * two_s], factors[:, :two_s]
        torch.mul(u[:, :, None], v[:, None, :], out=out[:, :two_s * two_s].view(-1, two_s, two_s))
        super().combine(factors, out[:, two_s * two_s:])

    def assemble(self, factors: torch.Tensor) -> torch.Tensor:
        two_s = 2 * self.frequency_num
        u, v = factors[:, two_s:2 * two_s], factors[:, :two_s]
        outer = (u[:, :, None] * v[:, None, :]).reshape(factors.shape[0], -1)
        return torch.cat([outer, super().assemble(factors)], dim=1)
