"""``tile``: learnable embedding per grid cell (TorchSpatial ``tile_ffn``, with its one-cell defect B3 fixed)."""

from __future__ import annotations

import math

import torch
from torch import nn

from ...coords import CoordinateError
from ..registry import register_encoder
from ...checks import check_count, check_extent, check_flag, check_positive
from .base import PositionEncoding


@register_encoder("tile")
class TileEncoding(PositionEncoding):
    """Grid-cell lookup: cell (row, col) of a regular lon/lat grid → learnable vector ``(D,)``.

    ``n_col = ceil((x_max − x_min)/Δ)``, ``n_row = ceil((y_max − y_min)/Δ)``,
    ``col = clip(floor((lon − x_min)/Δ), 0, n_col − 1)`` (same for rows), index ``row·n_col + col``.
    Embeddings are initialised N(0, (1/D)²). Degrees throughout.

    Args:
        cell_size_deg: cell size Δ in degrees (default 1° → 360 × 180 = 64,800 cells).
        cell_dim: D, the length of each cell's learnable vector (output_dim; the network after it sets
            ``create_encoder``'s ``embed_dim``).
        extent: (x_min, x_max, y_min, y_max) in degrees; default global.
        max_cells: refuse grids with more cells than this (memory guard).
        legacy_single_cell: reproduce TorchSpatial's shipped behaviour (one cell for the whole extent).
        validate: check the coordinates (and, for a regional ``extent``, that every point lies inside it:
            a point outside raises :class:`~geosrl.coords.CoordinateError` instead of being clamped into an
            edge cell; with ``validate=False`` it falls into the nearest edge cell).
    """

    def __init__(
        self,
        cell_size_deg: float = 1.0,
        cell_dim: int = 256,
        extent: tuple[float, float, float, float] = (-180.0, 180.0, -90.0, 90.0),
        max_cells: int = 1_000_000,
        legacy_single_cell: bool = False,
        validate: bool = True,
    ) -> None:
        super().__init__(validate)
        cell_size_deg = check_positive("cell_size_deg", cell_size_deg)
        x_min, x_max, y_min, y_max = check_extent("extent", extent)
        max_cells = check_count("max_cells", max_cells, maximum=10**9)
        if check_flag("legacy_single_cell", legacy_single_cell):
            n_col = n_row = 1
            cell_size_deg = max(x_max - x_min, y_max - y_min)
        else:
            n_col = max(1, math.ceil((x_max - x_min) / cell_size_deg - 1e-9))
            n_row = max(1, math.ceil((y_max - y_min) / cell_size_deg - 1e-9))
        if n_col * n_row > max_cells:
            raise ValueError(
                f"cell_size_deg={cell_size_deg} gives {n_col}x{n_row} = {n_col * n_row} cells, above "
                f"max_cells={max_cells}; use a larger cell_size_deg or raise max_cells"
            )
        self.cell_size_deg = float(cell_size_deg)
        self.extent = (x_min, x_max, y_min, y_max)
        self.n_col, self.n_row = n_col, n_row
        self.output_dim = check_count("cell_dim", cell_dim)
        self.embedding = nn.Embedding(n_row * n_col, self.output_dim)
        nn.init.normal_(self.embedding.weight, mean=0.0, std=1.0 / self.output_dim)

    def forward(self, lonlat: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
        if self.validate and self.extent != (-180.0, 180.0, -90.0, 90.0):
            self._check_inside_extent(lonlat)
        return super().forward(lonlat, dtype)

    def _check_inside_extent(self, lonlat: torch.Tensor) -> None:
        x_min, x_max, y_min, y_max = self.extent
        lon, lat = lonlat[..., 0], lonlat[..., 1]
        outside = (lon < x_min) | (lon > x_max) | (lat < y_min) | (lat > y_max)
        if bool(outside.any()):
            first = lonlat.reshape(-1, 2)[outside.reshape(-1)][0].tolist()
            raise CoordinateError(
                f"tile: {int(outside.sum())} point(s) lie outside the grid's extent {self.extent} (first: "
                f"lon={first[0]:g}, lat={first[1]:g}); they are not clamped into an edge cell silently. Build the "
                "encoding with an extent that covers the data, or drop those points (validate=False clamps them)"
            )

    def cell_index(self, lonlat: torch.Tensor) -> torch.Tensor:
        """Flat cell index ``(...)`` (int64) of each location."""
        x_min, _, y_min, _ = self.extent
        col = torch.floor((lonlat[..., 0] - x_min) / self.cell_size_deg).long().clamp(0, self.n_col - 1)
        row = torch.floor((lonlat[..., 1] - y_min) / self.cell_size_deg).long().clamp(0, self.n_row - 1)
        return row * self.n_col + col

    def encode(self, lonlat: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        return self.embedding(self.cell_index(lonlat.detach())).to(dtype)
