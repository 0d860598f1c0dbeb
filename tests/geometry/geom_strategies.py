"""Hypothesis strategies and exact geometry edits shared by the geometry tests."""

from __future__ import annotations

import math

import numpy as np
import shapely
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from shapely import MultiPolygon, Polygon

#: hypothesis settings for the property tests: no deadline (first torch call is slow), reproducible
PROPERTY = settings(
    deadline=None, max_examples=25, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)


def star_ring(radii: list[float], jitter: list[float], centre: tuple[float, float], size: float) -> np.ndarray:
    """Open ring ``(n, 2)`` of a star-shaped CCW polygon: vertex ``j`` at angle ``2π(j + 0.8·jitter_j)/n``."""
    n = len(radii)
    angles = 2 * math.pi * (np.arange(n) + 0.8 * np.asarray(jitter)) / n
    r = size * np.asarray(radii)
    return np.stack([centre[0] + r * np.cos(angles), centre[1] + r * np.sin(angles)], axis=1)


@st.composite
def star_polygons(
    draw: st.DrawFn, max_holes: int = 2, axis_aligned_box: bool = False, centre: tuple[float, float] | None = None
) -> Polygon:
    """Valid star-shaped polygon (exterior radii in [1, 2], ≥ 6 vertices) with 0..max_holes small holes.

    Exterior chords stay ≥ 0.59 from the centre; holes (radius ≤ 0.2) sit at (±0.3, 0) and never touch.
    With ``axis_aligned_box`` the exterior is an axis-aligned rectangle (degenerate frequencies).
    The centre is drawn from [−50, 50]² unless given.
    """
    cx, cy = centre if centre is not None else (draw(st.floats(-50, 50)), draw(st.floats(-50, 50)))
    if axis_aligned_box:
        w, h = draw(st.floats(1.2, 3.0)), draw(st.floats(1.2, 3.0))
        shell = np.array([[cx - w, cy - h], [cx + w, cy - h], [cx + w, cy + h], [cx - w, cy + h]])
    else:
        n = draw(st.integers(6, 12))
        radii = draw(st.lists(st.floats(1.0, 2.0), min_size=n, max_size=n))
        jitter = draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n))
        shell = star_ring(radii, jitter, (cx, cy), 1.0)
    holes = []
    for side in range(draw(st.integers(0, max_holes))):
        m = draw(st.integers(3, 7))
        radii = draw(st.lists(st.floats(0.25, 1.0), min_size=m, max_size=m))
        jitter = draw(st.lists(st.floats(0.0, 1.0), min_size=m, max_size=m))
        holes.append(star_ring(radii, jitter, (cx + (0.3 if side == 0 else -0.3), cy), 0.2))
    poly = Polygon(shell, holes)
    assert poly.is_valid, shapely.is_valid_reason(poly)
    return poly


@st.composite
def multipolygons(draw: st.DrawFn) -> MultiPolygon:
    """Two or three disjoint star polygons (centres 10 apart, radius ≤ 2)."""
    n = draw(st.integers(2, 3))
    x0, y0 = draw(st.floats(-50, 50)), draw(st.floats(-50, 50))
    return MultiPolygon([draw(star_polygons(max_holes=1, centre=(x0 + 10.0 * i, y0))) for i in range(n)])


def roll_rings(geom: Polygon | MultiPolygon, shift: int) -> Polygon | MultiPolygon:
    """Start every ring ``shift`` vertices later (same closed rings)."""

    def roll(ring: shapely.LinearRing) -> np.ndarray:
        open_ring = np.asarray(ring.coords)[:-1]
        return np.roll(open_ring, -(shift % len(open_ring)), axis=0)

    return _map_polygons(geom, lambda p: Polygon(roll(p.exterior), [roll(h) for h in p.interiors]))


def reverse_rings(geom: Polygon | MultiPolygon) -> Polygon | MultiPolygon:
    """Reverse the direction of every ring."""
    rev = lambda ring: np.asarray(ring.coords)[::-1]  # noqa: E731
    return _map_polygons(geom, lambda p: Polygon(rev(p.exterior), [rev(h) for h in p.interiors]))


def insert_collinear(geom: shapely.Geometry, fraction: float, every: int = 1) -> shapely.Geometry:
    """Insert a vertex at ``fraction`` along every ``every``-th edge of every ring or line (shape unchanged)."""

    def split(coords: np.ndarray) -> np.ndarray:
        out = [coords[0]]
        for j, (a, b) in enumerate(zip(coords[:-1], coords[1:])):
            if j % every == 0:
                out.append(a + fraction * (b - a))
            out.append(b)
        return np.asarray(out)

    if isinstance(geom, shapely.LineString):
        return shapely.LineString(split(np.asarray(geom.coords)))
    if isinstance(geom, shapely.MultiLineString):
        return shapely.MultiLineString([split(np.asarray(g.coords)) for g in geom.geoms])
    ring = lambda r: split(np.asarray(r.coords))  # noqa: E731
    return _map_polygons(geom, lambda p: Polygon(ring(p.exterior), [ring(h) for h in p.interiors]))


def duplicate_vertex(geom: Polygon | MultiPolygon, index: int) -> Polygon | MultiPolygon:
    """Repeat vertex ``index`` (mod ring size) of every ring."""

    def dup(ring: shapely.LinearRing) -> np.ndarray:
        c = np.asarray(ring.coords)[:-1]
        j = index % len(c)
        return np.concatenate([c[: j + 1], c[j : j + 1], c[j + 1 :]])

    return _map_polygons(geom, lambda p: Polygon(dup(p.exterior), [dup(h) for h in p.interiors]))


def _map_polygons(geom: Polygon | MultiPolygon, fn) -> Polygon | MultiPolygon:
    if isinstance(geom, MultiPolygon):
        return MultiPolygon([fn(p) for p in geom.geoms])
    return fn(geom)
