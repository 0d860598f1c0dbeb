"""Networks placed after a position encoding."""

from .fcnet import FCNet, ResLayer
from .ffn import FFN
from .geoclip_mlp import GeoCLIPMLP
from .siren import Siren

__all__ = ["FCNet", "FFN", "GeoCLIPMLP", "ResLayer", "Siren"]
