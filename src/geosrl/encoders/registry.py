"""The location-encoder registry: every position encoding registers itself here by name."""

from __future__ import annotations

from typing import Any, Callable

import torch

from ..registry import Registry

__all__ = ["ENCODERS", "create_positional_encoding", "get_encoder_class", "list_encoders", "register_encoder"]


#: filled by the modules of :mod:`geosrl.encoders.positional`, which ``geosrl.encoders`` imports
ENCODERS = Registry("encoder")


def register_encoder(name: str) -> Callable[[type], type]:
    """Class decorator: register a :class:`~geosrl.encoders.base.PositionEncoding` under ``name``."""
    return ENCODERS.register(name)


def list_encoders(filter: str = "*") -> list[str]:
    """Sorted names of the registered location encoders, optionally filtered by an fnmatch pattern."""
    return ENCODERS.names(filter)


def get_encoder_class(name: str) -> type:
    """The position-encoding class registered as ``name``."""
    return ENCODERS.get(name)


def create_positional_encoding(name: str, **kwargs: Any) -> torch.nn.Module:
    """Build the position encoding ``name``: input ``(..., 2)`` (lon, lat) degrees → ``(..., output_dim)``.

    Keyword arguments equal to ``None`` are dropped, so config files can leave a value unset.

    >>> import torch, geosrl
    >>> pe = geosrl.create_positional_encoding("sphere2vec_spherec", frequency_num=4)
    >>> pe(torch.tensor([[2.35, 48.85]])).shape
    torch.Size([1, 12])
    """
    return ENCODERS.create(name, **kwargs)
