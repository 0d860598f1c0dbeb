"""Minimal spatial units ("cells") that partitions are built from.

A partition never splits a cell: regions are unions of cells (as STAR's ``X_group``). Three kinds:

* ``CellGrid("healpix", nside)`` — HEALPix NESTED pixels (default). **Exactly** equal-area:
  ``12·nside²`` cells, side ≈ 6519 km / nside (nside 16 ≈ 407 km). Reuses
  :func:`geosrl.splits.healpix_index`, the same cells as the benchmark's spatial blocks.
* ``CellGrid("h3", resolution)`` — H3 hexagons (needs the optional ``h3`` package, v4 API);
  only **approximately** equal-area (cell areas spread by about 2×, 12 pentagons per resolution).
* ``PolygonZones(polygons)`` — user-given (Multi)Polygons in (lon, lat) degrees. A point takes the
  first polygon (in the given order) that covers it; a point outside every polygon takes the
  nearest polygon (planar distance in degrees, an approximation that is fine away from the poles
  and the antimeridian). So every location lands in exactly one zone.
"""

from __future__ import annotations

import math

import numpy as np

from ..splits import healpix_cell_side_km, healpix_index

__all__ = ["CellGrid", "PolygonZones", "make_cells"]


class CellGrid:
    """A global grid of cells.

    Args:
        grid: ``"healpix"`` or ``"h3"``.
        resolution: HEALPix ``nside`` (power of two) or H3 resolution (0–15).

    ``ids(lonlat (N, 2) degrees) -> (N,) int64`` cell ids; ``side_km`` is the typical cell side.
    """

    def __init__(self, grid: str = "healpix", resolution: int = 16):
        if grid == "healpix":
            r = int(resolution)
            if r < 1 or r & (r - 1):
                raise ValueError(f"HEALPix resolution (nside) must be a power of two, got {resolution}")
        elif grid == "h3":
            if not 0 <= int(resolution) <= 15:
                raise ValueError(f"H3 resolution must be in 0..15, got {resolution}")
            try:
                import h3  # noqa: F401
            except ImportError:
                raise ImportError("grid='h3' needs the h3 package (pip install 'h3>=4'); "
                                  "grid='healpix' needs nothing") from None
        else:
            raise ValueError(f"grid must be 'healpix' or 'h3', got {grid!r}")
        self.grid = grid
        self.resolution = int(resolution)

    @property
    def side_km(self) -> float:
        """Square root of the mean cell area in km."""
        if self.grid == "healpix":
            return healpix_cell_side_km(self.resolution)
        # H3 average hexagon area ≈ 4.357e6 km² / 7**res (res 0: 122 cells over 510e6 km²)
        return math.sqrt(510_065_622.0 / (2 + 120 * 7 ** self.resolution))

    def ids(self, lonlat: np.ndarray) -> np.ndarray:
        lonlat = np.asarray(lonlat, dtype=np.float64)
        if self.grid == "healpix":
            return healpix_index(lonlat, self.resolution)
        import h3

        return np.array([h3.str_to_int(h3.latlng_to_cell(float(la), float(lo), self.resolution))
                         for lo, la in lonlat], dtype=np.int64)

    def __repr__(self) -> str:
        return f"CellGrid({self.grid!r}, {self.resolution})"


class PolygonZones:
    """Zones given as shapely (Multi)Polygons in (lon, lat) degrees; zone id = polygon index.

    ``ids(lonlat)`` returns the index of the first covering polygon, else of the nearest polygon
    (see module docstring), so every location gets exactly one zone.
    """

    def __init__(self, polygons):
        import shapely

        polys = list(polygons)
        if not polys:
            raise ValueError("PolygonZones needs at least one polygon")
        for i, p in enumerate(polys):
            if not isinstance(p, shapely.Geometry) or p.geom_type not in ("Polygon", "MultiPolygon"):
                raise ValueError(f"zone {i} is not a shapely Polygon/MultiPolygon: {type(p).__name__}")
            if p.is_empty:
                raise ValueError(f"zone {i} is empty")
        self.polygons = polys
        self._tree = shapely.STRtree(polys)
        area = float(np.mean([p.area for p in polys]))  # deg²; rough km side for blending defaults
        self.side_km = math.sqrt(area) * 111.2

    def ids(self, lonlat: np.ndarray) -> np.ndarray:
        import shapely

        lonlat = np.asarray(lonlat, dtype=np.float64)
        pts = shapely.points(lonlat)
        out = np.full(len(lonlat), -1, dtype=np.int64)
        pi, gi = self._tree.query(pts, predicate="covered_by")
        if len(pi):
            # first polygon in the given order wins for overlaps: sort by (point, polygon)
            order = np.lexsort((gi, pi))
            pi, gi = pi[order], gi[order]
            first = np.r_[True, pi[1:] != pi[:-1]]
            out[pi[first]] = gi[first]
        miss = np.where(out < 0)[0]
        if len(miss):
            pi, gi = self._tree.query_nearest(pts[miss], all_matches=True)
            order = np.lexsort((gi, pi))
            pi, gi = pi[order], gi[order]
            first = np.r_[True, pi[1:] != pi[:-1]]
            out[miss[pi[first]]] = gi[first]
        return out

    def __repr__(self) -> str:
        return f"PolygonZones({len(self.polygons)} polygons)"


def make_cells(spec) -> CellGrid | PolygonZones:
    """``("healpix", nside)``, ``("h3", res)``, a list of polygons, or an existing cell object."""
    if isinstance(spec, (CellGrid, PolygonZones)):
        return spec
    if isinstance(spec, tuple) and len(spec) == 2 and isinstance(spec[0], str):
        return CellGrid(*spec)
    return PolygonZones(spec)
