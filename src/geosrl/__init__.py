"""geosrl — spatial representation learning in pure PyTorch.

Locations are tensors ``(..., 2)`` of ``(lon, lat)`` in degrees (WGS84).
"""

from . import hetero
from .checkpoint import CheckpointError, list_pretrained, load_pretrained, read_card, save_pretrained
from .coords import CoordinateError, validate_lonlat
from .model import LocationEncoder, create_encoder
from .registry import create_positional_encoding, list_encoders

__version__ = "0.1.0"

__all__ = [
    "CheckpointError",
    "CoordinateError",
    "LocationEncoder",
    "create_encoder",
    "create_positional_encoding",
    "list_encoders",
    "list_pretrained",
    "load_pretrained",
    "read_card",
    "save_pretrained",
    "validate_lonlat",
    "__version__",
]
