"""Base class of geometry encoders: shapely input or a :class:`GeometryBatch` → ``(B, embed_dim)``."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..checks import check_choice, check_count
from .batch import Frame, GeometryBatch, batch_geometries
from .ingest import InvalidMode

__all__ = ["GeometryEncoder"]

_DIMENSION_NAMES = {0: "points", 1: "lines", 2: "areas"}


class GeometryEncoder(nn.Module):
    """Encode geometries of one dimension to ``(B, embed_dim)``.

    ``forward`` accepts a :class:`GeometryBatch` (pure torch from there on; move it with ``.to``) or
    anything :func:`batch_geometries` accepts, which is then batched on the host with this encoder's
    ``invalid`` and ``frame`` settings. Subclasses implement :meth:`encode` and set ``dimensions``.

    Args:
        embed_dim: output size ``D``.
        invalid: ingest policy for invalid geometries (``"raise"`` or ``"repair"``).
        frame: ingest frame (``"shape"``: translation- and scale-normalised; ``"absolute"``).
    """

    registry_name: str = ""
    #: geometry dimensions (0 points, 1 lines, 2 areas) this encoder accepts
    dimensions: tuple[int, ...] = (0, 1, 2)

    def __init__(self, embed_dim: int, *, invalid: InvalidMode = "raise", frame: Frame = "shape") -> None:
        super().__init__()
        self.embed_dim = check_count("embed_dim", embed_dim)
        self.invalid: InvalidMode = check_choice("invalid", invalid, ("raise", "repair"))  # type: ignore[assignment]
        self.frame: Frame = check_choice("frame", frame, ("shape", "absolute"))  # type: ignore[assignment]

    def batch(self, geoms: Any) -> GeometryBatch:
        """Host-side collate with this encoder's ingest settings."""
        return batch_geometries(geoms, invalid=self.invalid, frame=self.frame)

    def forward(self, geoms: GeometryBatch | Any) -> torch.Tensor:
        batch = geoms if isinstance(geoms, GeometryBatch) else self.batch(geoms)
        if batch.dimension not in self.dimensions:
            accepted = ", ".join(_DIMENSION_NAMES[d] for d in self.dimensions)
            raise ValueError(
                f"{type(self).__name__} accepts {accepted}; got a batch of {_DIMENSION_NAMES[batch.dimension]}"
            )
        return self.encode(batch.to(self._device()))

    def encode(self, batch: GeometryBatch) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _device(self) -> torch.device:
        for tensor in self.parameters():
            return tensor.device
        return torch.device("cpu")

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, invalid={self.invalid!r}, frame={self.frame!r}"
