"""``land_ocean``: land vs ocean at points uniform on the sphere (global-land-mask, NOAA GLOBE).

The package's ``globe_combined_mask_compressed.npz`` holds ``mask`` (bool 21600×43200,
**True = ocean**, row 0 = 90° N, column 0 = 180° W, 30″ cells), ``lat`` and ``lon``. Loading it
whole costs ~933 MB, so :func:`lookup_ocean` streams the deflated ``mask.npy`` member row block by
row block and keeps only the cells that the query points fall in (peak memory ≈ one block).
"""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import numpy as np

from ..coords import as_lonlat
from ..sphere import uniform_lonlat_numpy
from .base import TaskData, north_first_index
from .locate import PACKAGES, package_file, package_version

__all__ = ["MASK_FILE", "MODULE", "build", "lookup_ocean", "mask_path"]

MODULE = "global_land_mask"
MASK_FILE = "globe_combined_mask_compressed.npz"

_BLOCK_BYTES = 8 * 1024 * 1024


def mask_path(task: str = "land_ocean") -> Path:
    """Path of the packaged mask npz; raises ``DataUnavailableError`` when not installed."""
    return package_file(MODULE, MASK_FILE, task)


def _read_npy_header(f) -> tuple[tuple[int, ...], bool, np.dtype]:
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(f)
    return np.lib.format.read_array_header_2_0(f)


def lookup_ocean(lonlat: np.ndarray, path: str | Path) -> np.ndarray:
    """Ocean flag of each point from a global-land-mask style npz, read by streaming.

    Cell of a point (as the package does, by truncation): ``row = ⌊(90 - lat)·R/180⌋``,
    ``col = ⌊(lon + 180)·C/360⌋`` clipped to the ``R×C`` grid (R = 21600, C = 43200 for the real
    file), so lat = 90 is row 0, lat = -90 the last row, lon = ±180 the first/last column.
    The ``lat`` member is checked to run north → south.

    Args:
        lonlat: ``(N, 2)`` float degrees.
        path: npz with members ``mask.npy`` (bool ``R×C``, True = ocean) and ``lat.npy``.
    Returns:
        ``(N,)`` bool, True = ocean.
    """
    lonlat = np.asarray(lonlat, dtype=np.float64).reshape(-1, 2)
    with zipfile.ZipFile(path) as z:
        if "lat.npy" in z.namelist():
            with z.open("lat.npy") as f:
                lat = np.load(f)
            if len(lat) > 1 and not lat[0] > lat[-1]:
                raise ValueError(f"{path}: lat must run north to south (lat[0]={lat[0]}, lat[-1]={lat[-1]})")
        with z.open("mask.npy") as f:
            shape, fortran_order, dtype = _read_npy_header(f)
            if fortran_order or len(shape) != 2 or dtype != np.bool_:
                raise ValueError(f"{path}: expected a C-order 2-D bool mask, got {shape} {dtype} F={fortran_order}")
            nrows, ncols = shape
            rows, cols = north_first_index(lonlat, nrows, ncols)
            out = np.zeros(len(lonlat), dtype=bool)
            if len(lonlat) == 0:
                return out
            order = np.argsort(rows, kind="stable")
            srows = rows[order]
            block = max(1, _BLOCK_BYTES // ncols)
            last = int(srows[-1])
            r0 = 0
            while r0 <= last:
                nb = min(block, nrows - r0)
                buf = f.read(nb * ncols)
                if len(buf) != nb * ncols:
                    raise ValueError(f"{path}: mask.npy is truncated at row {r0}")
                lo, hi = np.searchsorted(srows, [r0, r0 + nb])
                if hi > lo:
                    arr = np.frombuffer(buf, dtype=np.bool_).reshape(nb, ncols)
                    idx = order[lo:hi]
                    out[idx] = arr[rows[idx] - r0, cols[idx]]
                r0 += nb
    return out


def build(n: int, seed: int) -> TaskData:
    """``n`` points uniform on the sphere labelled 0 = ocean, 1 = land.

    Args:
        n: number of points.
        seed: sampling seed.
    Returns:
        classification TaskData, ``num_classes = 2``, ``class_names = ["ocean", "land"]``.
    """
    path = mask_path()
    t0 = time.perf_counter()
    rng = np.random.default_rng([seed, 101])
    lonlat = uniform_lonlat_numpy(n, rng)
    ocean = lookup_ocean(lonlat, path)
    target = (~ocean).astype(np.int64)
    return TaskData(
        name="land_ocean",
        kind="classification",
        lonlat=as_lonlat(lonlat),
        target=target,
        num_classes=2,
        class_names=["ocean", "land"],
        target_name="surface type (0 = ocean, 1 = land)",
        metadata={
            "source": "global-land-mask globe_combined_mask_compressed.npz (NOAA GLOBE 30 arc-second land mask)",
            "licence": PACKAGES[MODULE].licence,
            "packages": {PACKAGES[MODULE].dist: package_version(MODULE)},
            "units": "class (0 = ocean, 1 = land); lonlat degrees",
            "sampling": "uniform on the sphere",
            "land_fraction": float(target.mean()) if n else 0.0,
            "build_seconds": time.perf_counter() - t0,
        },
    )
