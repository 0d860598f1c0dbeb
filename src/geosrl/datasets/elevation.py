"""``elevation``: land elevation from pvlib's 5′ altitude grid (read with h5py only).

``pvlib/data/Altitude.h5``, dataset ``Altitude``: uint8 2160×4320, row 0 = 90° N, column 0 =
180° W, 1/12° cells. Decoding: metres = v·28 − 450 (quantised to 28 m, saturating at 6,690 m);
**v = 255 is no-data (ocean)** and is masked here (pvlib's own ``lookup_altitude`` returns 0).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..coords import as_lonlat
from ..sphere import uniform_lonlat_numpy
from .base import TaskData, north_first_index
from .locate import PACKAGES, package_file, package_version

__all__ = ["ALTITUDE_FILE", "MODULE", "NODATA", "build", "decode_altitude", "lookup_altitude", "read_altitude_grid"]

MODULE = "pvlib"
ALTITUDE_FILE = "data/Altitude.h5"
NODATA = 255


def read_altitude_grid(path: str | Path) -> np.ndarray:
    """The raw uint8 ``Altitude`` grid ``(R, C)`` (north first, lon from -180)."""
    try:
        import h5py
    except ImportError as e:  # pragma: no cover - h5py is in the bench-data requirements
        from .base import DataUnavailableError

        raise DataUnavailableError("elevation", "h5py is not installed", "pip install h5py") from e
    with h5py.File(path, "r") as f:
        grid = f["Altitude"][...]
    if grid.ndim != 2 or grid.dtype != np.uint8:
        raise ValueError(f"{path}: expected a 2-D uint8 Altitude grid, got {grid.shape} {grid.dtype}")
    return grid


def decode_altitude(values: np.ndarray) -> np.ndarray:
    """uint8 codes → float64 metres (v·28 − 450); code 255 → NaN."""
    v = np.asarray(values)
    out = v.astype(np.float64) * 28.0 - 450.0
    out[v == NODATA] = np.nan
    return out


def lookup_altitude(lonlat: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Altitude in metres at each point; NaN over ocean (no-data cells).

    Cell: ``row = ⌊(90 − lat)·R/180⌋``, ``col = ⌊(lon + 180)·C/360⌋`` clipped (pvlib's
    ``_degrees_to_index`` for R×C = 2160×4320).

    Args:
        lonlat: ``(N, 2)`` degrees.
        grid: raw uint8 grid from :func:`read_altitude_grid`.
    Returns:
        ``(N,)`` float64 metres.
    """
    rows, cols = north_first_index(np.asarray(lonlat, dtype=np.float64).reshape(-1, 2), *grid.shape)
    return decode_altitude(grid[rows, cols])


def build(n: int, seed: int) -> TaskData:
    """``n`` land points uniform on the sphere (ocean/no-data cells rejected), target metres."""
    t0 = time.perf_counter()
    grid = read_altitude_grid(package_file(MODULE, ALTITUDE_FILE, "elevation"))
    rng = np.random.default_rng([seed, 404])
    xs, ys, have, drawn = [], [], 0, 0
    while have < n:
        m = max(1024, int((n - have) * 3.5))
        xy = uniform_lonlat_numpy(m, rng)
        z = lookup_altitude(xy, grid)
        keep = ~np.isnan(z)
        xs.append(xy[keep])
        ys.append(z[keep])
        have += int(keep.sum())
        drawn += m
    lonlat = np.concatenate(xs)[:n]
    target = np.concatenate(ys)[:n]
    return TaskData(
        name="elevation",
        kind="regression",
        lonlat=as_lonlat(lonlat),
        target=target,
        target_name="elevation (m)",
        metadata={
            "source": "pvlib data/Altitude.h5 (5 arc-minute grid; Mapzen/Joerd terrain tiles: ETOPO1, SRTM, GMTED, ...)",
            "licence": PACKAGES[MODULE].licence,
            "packages": {PACKAGES[MODULE].dist: package_version(MODULE)},
            "units": "metres above sea level, quantised to 28 m; lonlat degrees",
            "sampling": "uniform on the sphere, no-data (ocean, code 255) cells rejected",
            "n_points_drawn": int(drawn),
            "build_seconds": time.perf_counter() - t0,
        },
    )
