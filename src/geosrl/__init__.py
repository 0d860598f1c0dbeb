"""geosrl — spatial representation learning in pure PyTorch.

Locations are tensors ``(..., 2)`` of ``(lon, lat)`` in degrees (WGS84).

``import geosrl`` needs only the core dependencies (torch, numpy, safetensors). The subpackages with
heavier needs — :mod:`geosrl.geometry` (shapely), :mod:`geosrl.metrics`, :mod:`geosrl.hetero` (scipy),
:mod:`geosrl.datasets`, :mod:`geosrl.tasks`, :mod:`geosrl.pretrain`, :mod:`geosrl.bench` — are imported
on first use (``geosrl.hetero.…`` works without importing it first).
"""

import importlib

from .coords import CoordinateError, validate_lonlat
from .version import __version__
from .encoders import (
    CheckpointError,
    LocationEncoder,
    create_encoder,
    create_positional_encoding,
    list_encoders,
    list_pretrained,
    load_pretrained,
    read_card,
    save_pretrained,
)


_SUBPACKAGES = ("bench", "datasets", "estimators", "geometry", "hetero", "maps", "metrics", "pretrain", "tasks")
#: the estimators, importable as ``geosrl.LocationClassifier`` etc. (loaded on first use: they need scikit-learn)
_ESTIMATORS = ("GeoPrior", "LocationClassifier", "LocationRegressor", "PresenceOnlySDM")

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


def __getattr__(name: str):
    """Import a subpackage on first attribute access (PEP 562)."""
    if name in _SUBPACKAGES:
        return importlib.import_module(f".{name}", __name__)
    if name in _ESTIMATORS:
        return getattr(importlib.import_module(".estimators", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
