"""Ragged batches of geometries: flat vertices + offsets (GeoArrow layout), ready for pure-torch encoders.

:func:`batch_geometries` is the host-side collate step: it canonicalises the shapely input
(:mod:`.ingest`), lays it out with :func:`shapely.to_ragged_array`, drops the duplicate closing
vertex of every ring, moves the coordinates into the normalisation frame and precomputes the edge
list. Encoders then work on :class:`GeometryBatch` tensors only (segment reductions over the
offsets, no per-geometry Python loop).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal

import numpy as np
import shapely
import torch

from .ingest import InvalidMode, canonicalise, frame_of

__all__ = ["Frame", "GeometryBatch", "batch_geometries"]

Frame = Literal["shape", "absolute"]


@dataclass(frozen=True)
class GeometryBatch:
    """A batch of ``B`` geometries of one dimension in a ragged layout.

    A *part* is a ring (areas), a line (lines) or the point set of one geometry (points). Rings are
    stored open (no repeated closing vertex) and close implicitly: their last edge runs from the last
    vertex back to the first. Lines are open chains.

    Attributes:
        dimension: 0 (points), 1 (lines) or 2 (areas).
        frame: ``"shape"``: coordinates are ``(x − location) / scale`` (unit area or length, centroid
            at the origin); ``"absolute"``: input coordinates unchanged.
        coords: ``(V, 2)`` float64 vertex coordinates in the frame.
        part_offsets: ``(P + 1,)`` int64; part ``p`` owns ``coords[part_offsets[p]:part_offsets[p+1]]``.
        part_geometry: ``(P,)`` int64 geometry index of each part.
        vertex_geometry: ``(V,)`` int64 geometry index of each vertex.
        edge_start, edge_end: ``(E,)`` int64 vertex indices of each directed edge (empty for points).
        edge_geometry: ``(E,)`` int64 geometry index of each edge, non-decreasing.
        location: ``(B, 2)`` float64 centroid in input units (area-, length- or count-weighted).
        scale: ``(B,)`` float64 √area, length or bounding-box diagonal in input units.
        measure: ``(B,)`` float64 area, length or point count in input units.
    """

    dimension: int
    frame: str
    coords: torch.Tensor
    part_offsets: torch.Tensor
    part_geometry: torch.Tensor
    vertex_geometry: torch.Tensor
    edge_start: torch.Tensor
    edge_end: torch.Tensor
    edge_geometry: torch.Tensor
    location: torch.Tensor
    scale: torch.Tensor
    measure: torch.Tensor

    @property
    def num_geometries(self) -> int:
        """Batch size ``B``."""
        return int(self.location.shape[0])

    @property
    def device(self) -> torch.device:
        return self.coords.device

    def to(self, device: torch.device | str) -> GeometryBatch:
        """Copy every tensor to ``device`` (dtypes unchanged)."""
        moved = {f.name: getattr(self, f.name) for f in fields(self)}
        for name, value in moved.items():
            if isinstance(value, torch.Tensor):
                moved[name] = value.to(device)
        return GeometryBatch(**moved)

    def edge_endpoints(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Edge start and end points ``a, b``, each ``(E, 2)`` float64 in the frame."""
        return self.coords[self.edge_start], self.coords[self.edge_end]

    def measure_in_frame(self) -> torch.Tensor:
        """``(B,)`` area, length or count in frame units (1 for areas and lines in the shape frame)."""
        if self.frame == "absolute" or self.dimension == 0:
            return self.measure
        return self.measure / self.scale ** self.dimension


def batch_geometries(geoms: Any, *, invalid: InvalidMode = "raise", frame: Frame = "shape") -> GeometryBatch:
    """Canonicalise shapely geometries and lay them out as a :class:`GeometryBatch` (host side).

    Args:
        geoms: a shapely geometry, a list/tuple/``(B,)`` object array of them, or a geopandas
            GeoSeries, all of one dimension (Polygon with MultiPolygon is fine). Planar coordinates.
        invalid: ``"raise"`` rejects invalid geometries with the GEOS reason; ``"repair"`` applies
            :func:`shapely.make_valid` and keeps the parts of the batch's dimension.
        frame: ``"shape"`` (default) centres and scales each geometry (see
            :func:`geosrl.geometry.ingest.frame_of`) so that encoders see shape only, while
            ``location``/``scale`` carry position and size for a separate encoder; ``"absolute"`` keeps
            input coordinates, so spectral phases also encode position (relation tasks).

    Raises:
        ValueError: empty input or geometry, non-finite coordinates, mixed dimensions, unsupported
            types, invalid geometries under ``invalid="raise"``, zero area or length.
    """
    if frame not in ("shape", "absolute"):
        raise ValueError(f"frame must be 'shape' or 'absolute', got {frame!r}")
    arr, dim = canonicalise(geoms, invalid)
    centre, scale, measure = frame_of(arr, dim)
    coords, part_offsets, part_geometry = _ragged_parts(arr, dim)
    vertex_geometry = np.repeat(part_geometry, np.diff(part_offsets))
    if frame == "shape":
        coords = (coords - centre[vertex_geometry]) / scale[vertex_geometry, None]
    start, end = _edges(part_offsets, closed=dim == 2) if dim > 0 else (np.zeros(0, np.int64),) * 2
    return GeometryBatch(
        dimension=dim,
        frame=frame,
        coords=_tensor(coords, torch.float64),
        part_offsets=_tensor(part_offsets, torch.int64),
        part_geometry=_tensor(part_geometry, torch.int64),
        vertex_geometry=_tensor(vertex_geometry, torch.int64),
        edge_start=_tensor(start, torch.int64),
        edge_end=_tensor(end, torch.int64),
        edge_geometry=_tensor(vertex_geometry[start], torch.int64),
        location=_tensor(centre, torch.float64),
        scale=_tensor(scale, torch.float64),
        measure=_tensor(measure, torch.float64),
    )


def _tensor(array: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(array), dtype=dtype)


def _ragged_parts(arr: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(coords (V, 2), part_offsets (P+1,), part_geometry (P,))`` with rings stored open."""
    gtype, coords, offsets = shapely.to_ragged_array(arr, include_z=False)
    n = len(arr)
    if gtype == shapely.GeometryType.POINT:
        return coords, np.arange(n + 1), np.arange(n)
    offsets = [np.asarray(o, dtype=np.int64) for o in offsets]
    if gtype in (shapely.GeometryType.MULTIPOINT, shapely.GeometryType.LINESTRING):
        return coords, offsets[0], np.arange(n)
    part_geometry = np.repeat(np.arange(n), np.diff(offsets[-1]))
    for inner in reversed(offsets[1:-1]):  # MultiPolygon: polygon -> ring level
        part_geometry = np.repeat(part_geometry, np.diff(inner))
    part_offsets = offsets[0]
    if dim == 2:
        coords, part_offsets = _drop_closing_vertex(coords, part_offsets)
    return coords, part_offsets, part_geometry


def _drop_closing_vertex(coords: np.ndarray, ring_offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keep = np.ones(len(coords), dtype=bool)
    keep[ring_offsets[1:] - 1] = False
    return coords[keep], ring_offsets - np.arange(len(ring_offsets))


def _edges(part_offsets: np.ndarray, closed: bool) -> tuple[np.ndarray, np.ndarray]:
    """Directed edges ``(start (E,), end (E,))`` of rings (``closed``) or open lines."""
    n_vertices = int(part_offsets[-1])
    start = np.arange(n_vertices)
    end = start + 1
    last = part_offsets[1:] - 1
    if closed:
        end[last] = part_offsets[:-1]
        return start, end
    keep = np.ones(n_vertices, dtype=bool)
    keep[last] = False
    return start[keep], end[keep]
