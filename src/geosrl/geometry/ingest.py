"""Ingest: validate, repair or reject, canonicalise and measure shapely geometries (host side, numpy).

Everything here runs once per batch on the CPU with shapely/numpy, before any tensor work.

Canonical form (what every encoder sees):

* parts of one *dimension* only: points (0), lines (1) or areas (2). Single and multi parts of the
  same dimension mix freely (Polygon with MultiPolygon, LineString with MultiLineString, Point with
  MultiPoint); a batch that mixes dimensions raises :class:`ValueError` (encode each dimension
  separately and combine the embeddings: their measures have different units, m², m and counts);
* polygon rings oriented by :func:`shapely.orient_polygons`: exterior counter-clockwise, holes
  clockwise, so that hole edges subtract in every signed edge sum;
* consecutive repeated vertices removed (:func:`shapely.remove_repeated_points`); the duplicate
  closing vertex of rings is dropped later, in the ragged layout (:mod:`.batch`);
* invalid geometries (self-intersecting rings, zero-area polygons, …) are rejected with the GEOS
  reason (``invalid="raise"``, default) or repaired with :func:`shapely.make_valid`
  (``invalid="repair"``), keeping only the parts of the input's dimension. A polygon that repairs to
  nothing of dimension 2 (zero area) still raises.

The normalisation frame is described in :func:`frame_of`.

Magnitudes: coordinates must be finite with ``|x|, |y| <= MAX_ABS_COORDINATE`` (10⁷⁵), and lines and
areas must have a size (length, √area) of at least ``MIN_SIZE`` (10⁻⁷⁵) input units. The frame's area and
centroid multiply up to three coordinates, which overflows float64 near 10¹⁰³ (and underflows for
sizes near 10⁻¹⁰³), giving NaN frames and embeddings; the bounds keep every such product within
10^±225. No physical planar unit comes near them; rescale the input units if it does.
"""

from __future__ import annotations

import warnings
from typing import Any, Iterable, Literal

import numpy as np
import shapely

__all__ = ["InvalidMode", "MAX_ABS_COORDINATE", "MIN_SIZE", "as_geometry_array", "canonicalise", "frame_of",
           "geometry_dimension"]

InvalidMode = Literal["raise", "repair"]

_SUPPORTED_TYPES = {
    0: "Point",
    1: "LineString",
    2: "LinearRing",
    3: "Polygon",
    4: "MultiPoint",
    5: "MultiLineString",
    6: "MultiPolygon",
}
_DIMENSION_NAMES = {0: "points", 1: "lines", 2: "areas"}

#: largest accepted |coordinate|: cubes of coordinates (centroids) stay below 1e225
MAX_ABS_COORDINATE = 1e75
#: smallest accepted size (length of a line, √area of an area): products of three stay above 1e-225
MIN_SIZE = 1e-75


def as_geometry_array(geoms: Any) -> np.ndarray:
    """Turn a geometry, a sequence/array of geometries or a geopandas GeoSeries into an object array ``(B,)``.

    geopandas is optional: a GeoSeries is recognised by duck typing (``.crs`` and ``.geom_type``).
    A geographic CRS triggers a warning, because the transforms assume planar coordinates.
    """
    _warn_if_geographic(geoms)
    if isinstance(geoms, shapely.Geometry):
        arr = np.array([geoms], dtype=object)
    elif isinstance(geoms, np.ndarray):
        arr = geoms.astype(object).reshape(-1)
    elif isinstance(geoms, Iterable):
        arr = np.array(list(geoms), dtype=object)
    else:
        raise TypeError(f"expected shapely geometries or an iterable of them, got {type(geoms).__name__}")
    if arr.size == 0:
        raise ValueError("no geometries given: the batch is empty")
    bad = [i for i, g in enumerate(arr) if not isinstance(g, shapely.Geometry)]
    if bad:
        raise TypeError(f"expected shapely geometries; items {bad[:5]} are {type(arr[bad[0]]).__name__}")
    return arr


def _warn_if_geographic(geoms: Any) -> None:
    crs = getattr(geoms, "crs", None)
    if crs is not None and getattr(crs, "is_geographic", False):
        warnings.warn(
            "the GeoSeries has a geographic CRS (degrees); geometry encoders assume planar coordinates. "
            "Project first, e.g. geoms.to_crs(geoms.estimate_utm_crs())",
            UserWarning,
            stacklevel=3,
        )


def geometry_dimension(geoms: np.ndarray) -> int:
    """Common topological dimension (0, 1 or 2) of a ``(B,)`` geometry array; raise if types are unsupported or mixed."""
    type_ids = shapely.get_type_id(geoms)
    unsupported = sorted({int(t) for t in type_ids} - set(_SUPPORTED_TYPES))
    if unsupported:
        first = int(np.flatnonzero(np.isin(type_ids, unsupported))[0])
        raise ValueError(
            f"unsupported geometry type {geoms[first].geom_type} (item {first}); geometry encoders accept "
            f"{', '.join(sorted(set(_SUPPORTED_TYPES.values())))}. Split GeometryCollections by dimension first"
        )
    dims = shapely.get_dimensions(geoms)
    present = sorted({int(d) for d in dims})
    if len(present) > 1:
        counts = ", ".join(f"{int((dims == d).sum())} {_DIMENSION_NAMES[d]}" for d in present)
        raise ValueError(
            f"batch mixes geometry dimensions ({counts}); encode points, lines and areas in separate batches "
            "(their measures have different units: counts, length, area) and combine the embeddings"
        )
    return present[0]


def check_nonempty_finite(geoms: np.ndarray) -> None:
    """Raise :class:`ValueError` naming the items that are empty, have NaN/inf coordinates or coordinates
    beyond ±``MAX_ABS_COORDINATE``."""
    empty = np.flatnonzero(shapely.is_empty(geoms))
    if empty.size:
        raise ValueError(f"empty geometry at item(s) {empty[:10].tolist()}; drop empty geometries before encoding")
    coords, index = shapely.get_coordinates(geoms, return_index=True)
    bad_rows = ~np.isfinite(coords).all(axis=1)
    if bad_rows.any():
        items = np.unique(index[bad_rows])
        raise ValueError(
            f"non-finite (NaN or inf) coordinates in item(s) {items[:10].tolist()}; clean or drop them before encoding"
        )
    magnitude = np.abs(coords).max(axis=1)
    huge = magnitude > MAX_ABS_COORDINATE
    if huge.any():
        items = np.unique(index[huge])
        raise ValueError(
            f"coordinates up to {magnitude.max():.3g} in item(s) {items[:10].tolist()}, beyond the accepted "
            f"|x|, |y| <= {MAX_ABS_COORDINATE:g}: the normalisation frame (area, centroid) would overflow float64. "
            "Rescale the input units (e.g. metres to kilometres) or reproject before encoding"
        )


def repair_or_reject(geoms: np.ndarray, dimension: int, invalid: InvalidMode) -> np.ndarray:
    """Apply the ``invalid`` policy to a ``(B,)`` array of one dimension; return the (possibly repaired) array."""
    if invalid not in ("raise", "repair"):
        raise ValueError(f"invalid must be 'raise' or 'repair', got {invalid!r}")
    bad = np.flatnonzero(~shapely.is_valid(geoms))
    if bad.size == 0:
        return geoms
    if invalid == "raise":
        i = int(bad[0])
        raise ValueError(
            f"{bad.size} invalid geometr{'y' if bad.size == 1 else 'ies'} (first: item {i}, "
            f"{shapely.is_valid_reason(geoms[i])}); pass invalid='repair' to fix them with shapely.make_valid"
        )
    out = geoms.copy()
    for i in bad:
        out[i] = _repair_one(geoms[i], dimension, int(i))
    return out


def _repair_one(geom: shapely.Geometry, dimension: int, item: int) -> shapely.Geometry:
    """``make_valid`` and keep only the parts of ``dimension`` (a bow-tie stays an area, spikes are dropped)."""
    parts = shapely.get_parts(shapely.get_parts(shapely.make_valid(geom)))
    kept = [p for p in parts if shapely.get_dimensions(p) == dimension and not p.is_empty]
    if not kept:
        what = {2: "zero area", 1: "zero length", 0: "no points"}[dimension]
        raise ValueError(f"item {item} has {what} after shapely.make_valid ({geom.geom_type}); drop it before encoding")
    maker = {0: shapely.multipoints, 1: shapely.multilinestrings, 2: shapely.multipolygons}[dimension]
    return kept[0] if len(kept) == 1 else maker(kept)


def canonicalise(geoms: Any, invalid: InvalidMode = "raise") -> tuple[np.ndarray, int]:
    """Validate and canonicalise geometries; return ``(geoms (B,), dimension)``.

    Steps: non-empty and finite check → common dimension → repair/reject invalid → LinearRing to
    LineString → remove repeated consecutive vertices → orient rings (CCW exterior, CW holes) →
    reject zero measure (a zero-length line is valid in GEOS but has no arc-length measure).
    """
    arr = as_geometry_array(geoms)
    check_nonempty_finite(arr)
    dim = geometry_dimension(arr)
    arr = repair_or_reject(arr, dim, invalid)
    rings = shapely.get_type_id(arr) == 2
    if rings.any():
        arr[rings] = np.array([shapely.LineString(shapely.get_coordinates(g)) for g in arr[rings]], dtype=object)
    try:
        arr = shapely.remove_repeated_points(arr, tolerance=0.0)
        if dim == 2:
            arr = shapely.orient_polygons(arr, exterior_cw=False)
    except shapely.errors.GEOSException as exc:  # e.g. a ring whose vertices coincide in double precision
        raise ValueError(f"a geometry collapses when its repeated vertices are removed ({exc}); its coordinates "
                         "are too close together (rescale the units) or it is degenerate") from None
    _check_positive_measure(arr, dim)
    return arr, dim


def _check_positive_measure(geoms: np.ndarray, dim: int) -> None:
    if dim == 0:
        return
    measure = shapely.area(geoms) if dim == 2 else shapely.length(geoms)
    what = "area" if dim == 2 else "length"
    bad = np.flatnonzero(~(measure > 0))
    if bad.size:
        raise ValueError(
            f"zero {what} at item(s) {bad[:10].tolist()}; such geometries have no {what} measure to encode"
        )
    size = np.sqrt(measure) if dim == 2 else measure
    tiny = np.flatnonzero(size < MIN_SIZE)
    if tiny.size:
        raise ValueError(
            f"item(s) {tiny[:10].tolist()} are too small to encode (size {size[tiny].min():.3g} input units, "
            f"{'√area' if dim == 2 else 'length'} below {MIN_SIZE:g}): the normalisation frame's products of "
            "coordinates underflow float64. Rescale the input units before encoding"
        )


def frame_of(geoms: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normalisation frame of canonical geometries: ``(centre (B, 2), scale (B,), measure (B,))``, input units.

    * centre: :func:`shapely.centroid`, i.e. the area-weighted centroid of areas, the
      length-weighted centroid of lines and the mean of the points of point sets;
    * scale: √area (areas), length (lines), bounding-box diagonal (points; 1 for a single point or
      coincident points, whose shape has no size);
    * measure: area, length or number of points.

    None of these uses vertex statistics, so inserting collinear or repeated vertices leaves the frame
    unchanged (up to round-off). Shape coordinates are ``(x − centre) / scale``: an area has unit area,
    a line unit length, and both their centroids lie at the origin.
    """
    centre = shapely.get_coordinates(shapely.centroid(geoms))
    if dim == 2:
        measure = shapely.area(geoms)
        scale = np.sqrt(measure)
    elif dim == 1:
        measure = shapely.length(geoms)
        scale = measure.copy()
    else:
        measure = shapely.get_num_coordinates(geoms).astype(np.float64)
        bounds = shapely.bounds(geoms)
        diag = np.hypot(bounds[:, 2] - bounds[:, 0], bounds[:, 3] - bounds[:, 1])
        scale = np.where(diag > 0, diag, 1.0)
    return centre, scale, measure
