"""Registry of position encodings and the factories built on it (timm-style)."""

from __future__ import annotations

import fnmatch
from typing import Any, Callable

import torch

__all__ = ["register_encoder", "list_encoders", "create_positional_encoding", "get_encoder_class"]

_REGISTRY: dict[str, type] = {}


def register_encoder(name: str) -> Callable[[type], type]:
    """Class decorator: register a :class:`~geosrl.encoders.base.PositionEncoding` under ``name``."""

    def wrap(cls: type) -> type:
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"encoder name {name!r} is already registered to {_REGISTRY[name].__name__}")
        _REGISTRY[name] = cls
        cls.registry_name = name
        return cls

    return wrap


def list_encoders(filter: str = "*") -> list[str]:
    """Sorted names of the registered location encoders, optionally filtered by an fnmatch pattern."""
    _ensure_loaded()
    return sorted(n for n in _REGISTRY if fnmatch.fnmatch(n, filter))


def get_encoder_class(name: str) -> type:
    _ensure_loaded()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown encoder {name!r}; choose one of {list_encoders()}") from None


def create_positional_encoding(name: str, **kwargs: Any) -> torch.nn.Module:
    """Build the position encoding ``name``: input ``(..., 2)`` (lon, lat) degrees → ``(..., output_dim)``.

    Keyword arguments equal to ``None`` are dropped, so config files can leave a value unset.

    >>> import torch, geosrl
    >>> pe = geosrl.create_positional_encoding("sphere2vec_spherec", frequency_num=4)
    >>> pe(torch.tensor([[2.35, 48.85]])).shape
    torch.Size([1, 12])
    """
    cls = get_encoder_class(name)
    return cls(**{k: v for k, v in kwargs.items() if v is not None})


def _ensure_loaded() -> None:
    from . import encoders  # noqa: F401  (importing registers every encoder)
