"""``rff``: random Fourier features of normalised (lon, lat) (Rahimi & Recht; TorchSpatial ``rff``)."""

from __future__ import annotations

import math

import torch

from ..registry import register_encoder
from ...checks import check_count, check_extent, check_positive, check_seed
from .base import PositionEncoding


@register_encoder("rff")
class RFFEncoding(PositionEncoding):
    """PE_d = √(2/D)·cos(ω_dᵀx̃ + b_d), x̃ = (lon/180, lat/90), ω_d ~ N(0, v·I₂), b_d ~ U(0, 2π).

    The kernel approximated is exp(−v‖x̃ − ỹ‖²/2). Not periodic in longitude.

    Args:
        frequency_num: D, the number of features (output_dim), default 64.
        omega_var: v, the variance of ω (default 16 on the global extent). ``omega_std`` = √v may
            be given instead.
        extent: (x_min, x_max, y_min, y_max) degrees mapped to [−1, 1]² (default global).
        seed: seed of ω and b (buffers, saved in the state dict).
    """

    def __init__(
        self,
        frequency_num: int = 64,
        omega_var: float | None = None,
        omega_std: float | None = None,
        extent: tuple[float, float, float, float] = (-180.0, 180.0, -90.0, 90.0),
        seed: int = 0,
        validate: bool = True,
    ) -> None:
        super().__init__(validate)
        if omega_var is not None and omega_std is not None:
            raise ValueError("give omega_var or omega_std, not both")
        if omega_std is not None:
            omega_var = check_positive("omega_std", omega_std, maximum=1e150) ** 2
        omega_var = 16.0 if omega_var is None else check_positive("omega_var", omega_var)
        x_min, x_max, y_min, y_max = check_extent("extent", extent)
        self.omega_var = omega_var
        self.output_dim = check_count("frequency_num", frequency_num)
        gen = torch.Generator().manual_seed(check_seed("seed", seed))
        dirvec = torch.randn(2, self.output_dim, generator=gen, dtype=torch.float64) * math.sqrt(omega_var)
        shift = torch.rand(self.output_dim, generator=gen, dtype=torch.float64) * (2.0 * math.pi)
        self.register_float64("dirvec", dirvec, persistent=True)
        self.register_float64("shift", shift, persistent=True)
        self.register_float64("center", [(x_max + x_min) / 2, (y_max + y_min) / 2])
        self.register_float64("half_width", [(x_max - x_min) / 2, (y_max - y_min) / 2])

    def encode(self, lonlat: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        x = (lonlat.to(torch.float64) - self.center) / self.half_width
        phase = x @ self.dirvec + self.shift
        # |phase| stays O(10) for sensible omega_var, so the cast keeps float32 accuracy
        return torch.cos(phase.to(dtype)).mul_(math.sqrt(2.0 / self.output_dim))
