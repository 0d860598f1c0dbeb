"""``wrap`` and ``wrap_ffn``: Mac Aodha et al.'s sin/cos encoding, with the pole defect (B10) fixed by default."""

from __future__ import annotations

import torch

from ...coords import DEG2RAD
from ..registry import register_encoder
from ...checks import check_choice
from .base import PositionEncoding

_LAT_MODES = ("sphere", "mac_aodha")


class _WrapBase(PositionEncoding):
    """PE = [sin θ, sin φ, cos θ, cos φ] (θ = lon, φ = lat, radians), output 4.

    ``lat_mode="mac_aodha"`` doubles the latitude angle (sin 2φ, cos 2φ) as TorchSpatial, GeoPrior and
    SINR do; that maps both poles to the same vector, so the default keeps φ undoubled.
    """

    output_dim = 4

    def __init__(self, lat_mode: str = "sphere", validate: bool = True) -> None:
        super().__init__(validate)
        self.lat_mode = check_choice("lat_mode", lat_mode, _LAT_MODES)

    def encode(self, lonlat: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        lat_factor = 2.0 if self.lat_mode == "mac_aodha" else 1.0
        rad = torch.stack([lonlat[..., 0] * DEG2RAD, lonlat[..., 1] * (DEG2RAD * lat_factor)], dim=-1).to(dtype)
        return torch.cat([torch.sin(rad), torch.cos(rad)], dim=-1)  # [sin θ, sin φ, cos θ, cos φ]


@register_encoder("wrap")
class WrapEncoding(_WrapBase):
    __doc__ = _WrapBase.__doc__
    native_net = "fcnet"


@register_encoder("wrap_ffn")
class WrapFFNEncoding(_WrapBase):
    __doc__ = _WrapBase.__doc__
    native_net = "ffn"
