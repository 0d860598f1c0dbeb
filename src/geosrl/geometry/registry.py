"""The geometry-encoder registry: ``list_geometry_encoders()`` and ``create_geometry_encoder(name, …)``."""

from __future__ import annotations

from typing import Any, Callable

from torch import nn

from ..registry import Registry

__all__ = ["GEOMETRY_ENCODERS", "create_geometry_encoder", "list_geometry_encoders", "register_geometry_encoder"]


#: filled by :mod:`.nuft`, :mod:`.raster_cnn` and :mod:`.resnet1d`, which ``geosrl.geometry`` imports
GEOMETRY_ENCODERS = Registry("geometry encoder")


def register_geometry_encoder(name: str) -> Callable[[type[nn.Module]], type[nn.Module]]:
    """Class decorator: register a geometry encoder class under ``name``."""
    return GEOMETRY_ENCODERS.register(name)


def list_geometry_encoders(filter: str = "*") -> list[str]:
    """Sorted names of the registered geometry encoders matching the fnmatch pattern ``filter``."""
    return GEOMETRY_ENCODERS.names(filter)


def create_geometry_encoder(name: str, embed_dim: int = 64, **kwargs: Any) -> nn.Module:
    """Build geometry encoder ``name``: shapely geometries or a GeometryBatch → ``(B, embed_dim)``.

    Keyword arguments equal to ``None`` are dropped, so configs can leave a value unset.

    >>> import shapely
    >>> from geosrl.geometry import create_geometry_encoder
    >>> enc = create_geometry_encoder("nuft", embed_dim=8).eval()
    >>> enc([shapely.box(0, 0, 2, 1), shapely.Point(0, 0).buffer(1)]).shape
    torch.Size([2, 8])
    """
    return GEOMETRY_ENCODERS.create(name, embed_dim=embed_dim, **kwargs)
