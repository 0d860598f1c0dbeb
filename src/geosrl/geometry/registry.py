"""Registry of geometry encoders: ``list_encoders()`` and ``create_encoder(name, embed_dim=…, **kwargs)``."""

from __future__ import annotations

import fnmatch
from typing import Any, Callable

from torch import nn

__all__ = ["create_encoder", "list_encoders", "register_geometry_encoder"]

_REGISTRY: dict[str, type[nn.Module]] = {}


def register_geometry_encoder(name: str) -> Callable[[type[nn.Module]], type[nn.Module]]:
    """Class decorator: register a geometry encoder class under ``name``."""

    def wrap(cls: type[nn.Module]) -> type[nn.Module]:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"geometry encoder {name!r} is already registered to {_REGISTRY[name].__name__}")
        _REGISTRY[name] = cls
        cls.registry_name = name  # type: ignore[attr-defined]
        return cls

    return wrap


def list_encoders(filter: str = "*") -> list[str]:
    """Sorted names of the registered geometry encoders matching the fnmatch pattern ``filter``."""
    _ensure_loaded()
    return sorted(n for n in _REGISTRY if fnmatch.fnmatch(n, filter))


def create_encoder(name: str, embed_dim: int = 64, **kwargs: Any) -> nn.Module:
    """Build geometry encoder ``name``: shapely geometries or a GeometryBatch → ``(B, embed_dim)``.

    Keyword arguments equal to ``None`` are dropped, so configs can leave a value unset.

    >>> import shapely
    >>> from geosrl.geometry import create_encoder
    >>> enc = create_encoder("nuft", embed_dim=8).eval()
    >>> enc([shapely.box(0, 0, 2, 1), shapely.Point(0, 0).buffer(1)]).shape
    torch.Size([2, 8])
    """
    _ensure_loaded()
    if name not in _REGISTRY:
        raise ValueError(f"unknown geometry encoder {name!r}; choose one of {list_encoders()}")
    return _REGISTRY[name](embed_dim=embed_dim, **{k: v for k, v in kwargs.items() if v is not None})


def _ensure_loaded() -> None:
    from . import nuft, raster_cnn, resnet1d  # noqa: F401  (importing registers the encoders)
