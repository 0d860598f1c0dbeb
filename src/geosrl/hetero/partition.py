"""Cell → region lookup: how any location, seen or unseen, is assigned to exactly one region.

A :class:`Partition` is a table from the training cells to region ids plus a rule for cells
that held no training data:

* a location whose cell held training data takes that cell's region;
* otherwise (``fallback="nearest"``, used by split-and-test) it takes the region of the nearest
  training-cell centroid (great-circle distance; centroid = normalised mean of the cell's training
  points on the unit sphere), or (``fallback=<region id>``, used by fixed zones) a fixed region,
  e.g. the "rest" region served by the global model.

**Borders.** With the hard lookup, predictions jump where two regions meet (regions are unions of
cells, so borders follow cell edges). :meth:`Partition.blend_weights` gives the optional soft
alternative: Gaussian weights ``exp(−½(d/h)²)`` of the ``k`` nearest training-cell centroids,
summed per region. Deep inside a region all neighbours share the region, so blending changes
nothing there; near a border the prediction becomes a distance-weighted mix of the regions'
models.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from ..sphere import chord_to_km, lonlat_to_xyz

__all__ = ["Partition", "cell_centroids"]

def cell_centroids(xyz: np.ndarray, cell_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unique cells of the points, their centroids and counts.

    Args:
        xyz: ``(N, 3)`` unit vectors; cell_ids: ``(N,)`` int64.
    Returns:
        ``(uniq (C,), centroids (C, 3) unit vectors, counts (C,))`` with ``uniq`` sorted.
    """
    uniq, inv, counts = np.unique(cell_ids, return_inverse=True, return_counts=True)
    cen = np.zeros((len(uniq), 3))
    np.add.at(cen, inv, xyz)
    norm = np.linalg.norm(cen, axis=1, keepdims=True)
    cen = np.where(norm > 1e-12, cen / np.maximum(norm, 1e-300), xyz[np.unique(inv, return_index=True)[1]])
    return uniq, cen, counts


class Partition:
    """Assignment of locations to ``n_regions`` regions through cells.

    Args:
        cells: a :class:`~geosrl.hetero.cells.CellGrid` or :class:`~geosrl.hetero.cells.PolygonZones`.
        cell_ids: ``(C,)`` sorted unique ids of the training cells.
        cell_region: ``(C,)`` region id of each training cell, in ``[0, n_regions)``.
        cell_xyz: ``(C, 3)`` unit-vector centroids of the training cells.
        region_names: ``n_regions`` names (STAR-style branch ids ``"0"``, ``"10"``…, or zone names).
        fallback: ``"nearest"`` or a region id for cells without training data.
    """

    def __init__(self, cells, cell_ids, cell_region, cell_xyz, region_names, fallback="nearest"):
        self.cells = cells
        self.cell_ids = np.asarray(cell_ids, dtype=np.int64)
        self.cell_region = np.asarray(cell_region, dtype=np.int64)
        self.cell_xyz = np.asarray(cell_xyz, dtype=np.float64)
        self.region_names = list(region_names)
        if len(self.cell_ids) != len(self.cell_region) or len(self.cell_ids) != len(self.cell_xyz):
            raise ValueError("cell_ids, cell_region and cell_xyz must have the same length")
        if np.any(np.diff(self.cell_ids) <= 0):
            raise ValueError("cell_ids must be sorted and unique")
        if len(self.cell_region) and (self.cell_region.min() < 0 or self.cell_region.max() >= self.n_regions):
            raise ValueError("cell_region ids must lie in [0, n_regions)")
        if fallback != "nearest" and not (isinstance(fallback, (int, np.integer)) and 0 <= fallback < self.n_regions):
            raise ValueError(f"fallback must be 'nearest' or a region id, got {fallback!r}")
        if fallback == "nearest" and not len(self.cell_ids):
            raise ValueError("fallback='nearest' needs at least one training cell")
        self.fallback = fallback
        self._tree = cKDTree(self.cell_xyz) if len(self.cell_xyz) else None

    @property
    def n_regions(self) -> int:
        return len(self.region_names)

    def cell_of(self, lonlat: np.ndarray) -> np.ndarray:
        """``(N,)`` cell ids of the locations."""
        return self.cells.ids(lonlat)

    def lookup_cells(self, cell_ids: np.ndarray, xyz: np.ndarray) -> np.ndarray:
        """Region of each location given its cell id ``(N,)`` and unit vector ``(N, 3)``."""
        cell_ids = np.asarray(cell_ids, dtype=np.int64)
        out = np.empty(len(cell_ids), dtype=np.int64)
        if len(self.cell_ids):
            pos = np.clip(np.searchsorted(self.cell_ids, cell_ids), 0, len(self.cell_ids) - 1)
            seen = self.cell_ids[pos] == cell_ids
        else:
            pos, seen = np.zeros(len(cell_ids), dtype=np.int64), np.zeros(len(cell_ids), dtype=bool)
        out[seen] = self.cell_region[pos[seen]]
        if (~seen).any():
            if self.fallback == "nearest":
                _, j = self._tree.query(xyz[~seen], k=1)
                out[~seen] = self.cell_region[np.asarray(j, dtype=np.int64)]
            else:
                out[~seen] = int(self.fallback)
        return out

    def regions(self, lonlat: np.ndarray) -> np.ndarray:
        """``(N,)`` int64 region ids in ``[0, n_regions)`` — exactly one per location."""
        lonlat = np.asarray(lonlat, dtype=np.float64)
        return self.lookup_cells(self.cell_of(lonlat), lonlat_to_xyz(lonlat))

    def blend_weights(self, lonlat: np.ndarray, k: int, bandwidth_km: float) -> tuple[np.ndarray, np.ndarray]:
        """Soft region membership near borders.

        Args:
            lonlat: ``(N, 2)`` degrees.
            k: number of nearest training-cell centroids used.
            bandwidth_km: Gaussian kernel bandwidth ``h`` in km.
        Returns:
            ``(regions (N, k) int64, weights (N, k) float64)``; weights of each row sum to 1. Rows
            whose kernel weights all underflow, and every row under a fixed-region fallback whose
            cell is unseen, get weight 1 on the hard-lookup region (the remaining slots weight 0).
        """
        lonlat = np.asarray(lonlat, dtype=np.float64)
        xyz = lonlat_to_xyz(lonlat)
        hard = self.lookup_cells(self.cell_of(lonlat), xyz)
        k = int(min(max(k, 1), len(self.cell_ids)))
        d, j = self._tree.query(xyz, k=k)
        d, j = np.asarray(d).reshape(len(xyz), k), np.asarray(j).reshape(len(xyz), k)
        reg = self.cell_region[j]
        w = np.exp(-0.5 * (chord_to_km(d) / float(bandwidth_km)) ** 2)
        tot = w.sum(axis=1, keepdims=True)
        dead = tot[:, 0] <= 1e-300
        if self.fallback != "nearest":
            pos = np.clip(np.searchsorted(self.cell_ids, self.cell_of(lonlat)), 0, len(self.cell_ids) - 1)
            dead |= self.cell_ids[pos] != self.cell_of(lonlat)
        w = np.where(tot > 1e-300, w / np.maximum(tot, 1e-300), 0.0)
        reg[dead] = hard[dead, None]
        w[dead] = 0.0
        w[dead, 0] = 1.0
        return reg, w

    def __repr__(self) -> str:
        return f"Partition({self.n_regions} regions over {len(self.cell_ids)} cells of {self.cells!r})"
