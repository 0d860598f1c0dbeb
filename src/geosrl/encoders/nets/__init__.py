"""Networks placed after a position encoding."""

from .dropout import BitDropout, use_bit_dropout
from .fcnet import FCNet, ResLayer
from .ffn import FFN
from .geoclip_mlp import GeoCLIPMLP
from .siren import Siren

__all__ = ["BitDropout", "FCNet", "FFN", "GeoCLIPMLP", "ResLayer", "Siren", "use_bit_dropout"]
