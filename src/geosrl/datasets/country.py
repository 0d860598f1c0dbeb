"""``country``: country of land points (geo-intel-offline polygons, Natural Earth admin-0).

``geo_intel_offline/data/polygons.json.gz`` maps an id to ``{exterior, holes[, multi, exteriors]}``
with **[lat, lon]** vertex pairs; ``metadata.json.gz`` maps the id to ``{name, iso2, iso3, continent}``
(some iso2/iso3 are ``"-99"``, e.g. France, so classes are keyed by name). Points are drawn uniformly
on the sphere and kept when a country polygon contains them (vectorised ``STRtree`` query), so the
sample is area-uniform over the land covered by the polygons.
"""

from __future__ import annotations

import gzip
import json
import time
from pathlib import Path

import numpy as np

from ..coords import as_lonlat
from ..sphere import uniform_lonlat_numpy
from .base import TaskData
from .locate import PACKAGES, package_dir, package_file, package_version

__all__ = ["MODULE", "CountryPolygons", "build", "label_points", "load_country_polygons", "sample_country_points"]

MODULE = "geo_intel_offline"


class CountryPolygons:
    """Country geometries in (lon, lat) degrees with an ``STRtree`` for point labelling.

    Attributes:
        names: ``(K,)`` country names (index = polygon id).
        iso3: ``(K,)`` ISO 3166 alpha-3 codes (``"-99"`` where Natural Earth has none).
        continents: ``(K,)`` continent names.
        geoms: ``(K,)`` shapely (Multi)Polygons, coordinates (lon, lat).
    """

    def __init__(self, names, iso3, continents, geoms) -> None:
        import shapely

        self.names = list(names)
        self.iso3 = list(iso3)
        self.continents = list(continents)
        self.geoms = np.asarray(geoms, dtype=object)
        self.tree = shapely.STRtree(self.geoms)

    def __len__(self) -> int:
        return len(self.names)


def _ring(coords) -> np.ndarray:
    """``[[lat, lon], ...]`` → ``(M, 2)`` (lon, lat)."""
    arr = np.asarray(coords, dtype=np.float64).reshape(-1, 2)
    return arr[:, ::-1]


def _polygon(exterior, holes=()):
    import shapely

    ext = _ring(exterior)
    if len(ext) < 3:
        return None
    return shapely.make_valid(shapely.Polygon(ext, [_ring(h) for h in holes if len(h) >= 3]))


def load_country_polygons(folder: str | Path | None = None, task: str = "country") -> CountryPolygons:
    """Read geo-intel-offline's country polygons.

    Multipart entries (``multi``) are the union of their ``exteriors``; ``holes`` (not assigned
    to parts in the file) are subtracted from the union. Invalid rings are repaired with
    ``shapely.make_valid``; only areal parts are kept.

    Args:
        folder: folder holding ``polygons.json.gz`` and ``metadata.json.gz``; default the installed
            package's ``data/`` folder.
    """
    import shapely

    if folder is None:
        package_file(MODULE, "data/polygons.json.gz", task)
        package_file(MODULE, "data/metadata.json.gz", task)
        folder = package_dir(MODULE, task) / "data"
    folder = Path(folder)
    with gzip.open(folder / "polygons.json.gz", "rt") as f:
        polys = json.load(f)
    with gzip.open(folder / "metadata.json.gz", "rt") as f:
        meta = json.load(f)
    names, iso3, continents, geoms = [], [], [], []
    for key in sorted(polys, key=lambda k: (int(k) if k.isdigit() else 10**9, k)):
        entry = polys[key]
        info = meta.get(key, {})
        rings = entry.get("exteriors") if entry.get("multi") and entry.get("exteriors") else [entry.get("exterior", [])]
        parts = [p for p in (_polygon(r) for r in rings) if p is not None and not p.is_empty]
        if not parts:
            continue
        geom = shapely.union_all(parts)
        holes = [p for p in (_polygon(h) for h in entry.get("holes") or []) if p is not None]
        if holes:
            geom = shapely.difference(geom, shapely.union_all(holes))
        geom = shapely.make_valid(geom)
        if geom.geom_type == "GeometryCollection":
            geom = shapely.union_all([g for g in geom.geoms if g.geom_type in ("Polygon", "MultiPolygon")])
        if geom.is_empty:
            continue
        names.append(str(info.get("name", key)))
        iso3.append(str(info.get("iso3", "")))
        continents.append(str(info.get("continent", "")))
        geoms.append(geom)
    return CountryPolygons(names, iso3, continents, geoms)


def label_points(lonlat: np.ndarray, countries: CountryPolygons) -> np.ndarray:
    """Index into ``countries`` of the polygon containing each point, -1 where none does.

    Vectorised: one ``STRtree.query(points, predicate="intersects")`` (points on a border count);
    where polygons overlap, the lowest index wins.

    Args:
        lonlat: ``(N, 2)`` degrees.
    Returns:
        ``(N,)`` int64.
    """
    import shapely

    lonlat = np.asarray(lonlat, dtype=np.float64).reshape(-1, 2)
    out = np.full(len(lonlat), -1, dtype=np.int64)
    if len(lonlat) == 0:
        return out
    pts = shapely.points(lonlat)
    pidx, gidx = countries.tree.query(pts, predicate="intersects")
    order = np.lexsort((-gidx, pidx))  # per point, the smallest polygon index is written last
    out[pidx[order]] = gidx[order]
    return out


def sample_country_points(
    n: int, rng: np.random.Generator, countries: CountryPolygons, batch: int | None = None
) -> tuple[np.ndarray, np.ndarray, int]:
    """Draw points uniform on the sphere until ``n`` fall inside a country polygon.

    Returns:
        ``(lonlat (n, 2), polygon index (n,), number of points drawn in total)``.
    """
    kept_xy, kept_lab, drawn = [], [], 0
    have = 0
    while have < n:
        m = batch or max(1024, int((n - have) * 4.0))
        xy = uniform_lonlat_numpy(m, rng)
        lab = label_points(xy, countries)
        keep = lab >= 0
        kept_xy.append(xy[keep])
        kept_lab.append(lab[keep])
        drawn += m
        have += int(keep.sum())
        if drawn > 1000 * max(n, 1) and have == 0:
            raise RuntimeError("no sampled point fell inside any country polygon")
    xy = np.concatenate(kept_xy)[:n]
    lab = np.concatenate(kept_lab)[:n]
    return xy, lab, drawn


def _relabel(poly_index: np.ndarray, names: list[str], min_per_class: int):
    """Keep polygons with ≥ ``min_per_class`` points; class ids sorted by name. Returns (keep, y, names)."""
    counts = np.bincount(poly_index, minlength=len(names))
    kept = [i for i in range(len(names)) if counts[i] >= min_per_class]
    kept.sort(key=lambda i: names[i])
    remap = np.full(len(names), -1, dtype=np.int64)
    remap[kept] = np.arange(len(kept))
    y = remap[poly_index]
    keep = y >= 0
    return keep, y[keep], [names[i] for i in kept]


def build(n: int, seed: int, min_per_class: int = 5) -> TaskData:
    """``n`` land points (before dropping rare classes) labelled with their country.

    Args:
        n: points drawn inside country polygons.
        seed: sampling seed.
        min_per_class: countries with fewer sampled points are dropped (count recorded).
    Returns:
        classification TaskData; class ids follow the alphabetical order of country names.
    """
    t0 = time.perf_counter()
    countries = load_country_polygons()
    rng = np.random.default_rng([seed, 202])
    xy, poly, drawn = sample_country_points(n, rng, countries)
    keep, y, class_names = _relabel(poly, countries.names, min_per_class)
    return TaskData(
        name="country",
        kind="classification",
        lonlat=as_lonlat(xy[keep]),
        target=y,
        num_classes=len(class_names),
        class_names=class_names,
        target_name="country (Natural Earth admin-0 name)",
        metadata={
            "source": "geo-intel-offline polygons.json.gz / metadata.json.gz (Natural Earth admin-0, simplified)",
            "licence": PACKAGES[MODULE].licence,
            "packages": {PACKAGES[MODULE].dist: package_version(MODULE)},
            "units": "class id (country); lonlat degrees",
            "sampling": "uniform on the sphere, kept inside a country polygon",
            "n_points_drawn": int(drawn),
            "n_dropped_rare_class": int((~keep).sum()),
            "min_per_class": int(min_per_class),
            "n_polygons": len(countries),
            "build_seconds": time.perf_counter() - t0,
        },
    )
