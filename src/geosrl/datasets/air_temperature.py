"""``air_temperature``: 1.5 m air temperature from iris-sample-data, read without iris.

UM PP files are big-endian Fortran sequential records: ``[int32 len][45 int32 + 19 float32
header][int32 len][int32 len][float32 data][int32 len]`` per field. Header words used (0-based):
int LBROW = 17, LBNPT = 18, LBPACK = 20, LBUSER4 (STASH) = 41; float BZY, BDY, BZX, BDX = 13–16,
BMDI (missing value) = 17. Row ``i`` lies at ``lat = BZY + (i + 1)·BDY`` and column ``j`` at
``lon = BZX + (j + 1)·BDX`` (so BDY > 0 means rows run south → north).

``pre-industrial.pp`` (default), ``A1B.2098.pp`` and ``E1.2098.pp``: STASH 3236, 145×192 nodes,
rows from −90 (south first), lon 0 … 358.125, Kelvin. The task uses every grid node once; the
192 nodes of each pole row are one location on the sphere, so each pole becomes a single sample
with the row mean.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..coords import as_lonlat
from .base import TaskData
from .locate import PACKAGES, package_file, package_version

__all__ = ["MODULE", "PP_FILES", "PPField", "build", "grid_lonlat", "lookup_pp", "read_pp"]

MODULE = "iris_sample_data"
PP_FILES = ("pre-industrial.pp", "A1B.2098.pp", "E1.2098.pp")
STASH_AIR_TEMPERATURE_1P5M = 3236


@dataclass
class PPField:
    """One unpacked PP field on a regular lat/lon grid.

    Attributes:
        data: ``(LBROW, LBNPT)`` float64, NaN where the value equals BMDI.
        lat0, dlat: latitude of row 0 and the row step (degrees; dlat < 0 = north first).
        lon0, dlon: longitude of column 0 and the column step (degrees, as stored, may be 0…360).
        stash: LBUSER4 (STASH code), e.g. 3236 = 1.5 m air temperature.
        int_header: the 45 integer words; real_header: the 19 float words.
    """

    data: np.ndarray
    lat0: float
    dlat: float
    lon0: float
    dlon: float
    stash: int
    int_header: np.ndarray
    real_header: np.ndarray

    @property
    def lats(self) -> np.ndarray:
        return self.lat0 + self.dlat * np.arange(self.data.shape[0])

    @property
    def lons(self) -> np.ndarray:
        return self.lon0 + self.dlon * np.arange(self.data.shape[1])


def read_pp(path: str | Path) -> list[PPField]:
    """All fields of an unpacked (LBPACK = 0) big-endian PP file.

    Raises:
        ValueError: malformed records, packed data, or a data length that does not match
            LBROW×LBNPT.
    """
    buf = Path(path).read_bytes()
    fields, off = [], 0
    while off < len(buf):
        recs = []
        for _ in range(2):
            if off + 4 > len(buf):
                raise ValueError(f"{path}: truncated record at byte {off}")
            n = int(np.frombuffer(buf, ">i4", 1, off)[0])
            end = off + 4 + n
            if end + 4 > len(buf) or int(np.frombuffer(buf, ">i4", 1, end)[0]) != n:
                raise ValueError(f"{path}: record length markers disagree at byte {off}")
            recs.append(buf[off + 4 : end])
            off = end + 4
        hdr, payload = recs
        if len(hdr) != 256:
            raise ValueError(f"{path}: PP header must be 256 bytes, got {len(hdr)}")
        ih = np.frombuffer(hdr, ">i4", 45).astype(np.int64)
        rh = np.frombuffer(hdr, ">f4", 19, 180).astype(np.float64)
        nrow, ncol, lbpack = int(ih[17]), int(ih[18]), int(ih[20])
        if lbpack != 0:
            raise ValueError(f"{path}: packed PP data (LBPACK={lbpack}) is not supported")
        if len(payload) != 4 * nrow * ncol:
            raise ValueError(f"{path}: data holds {len(payload) // 4} values, header says {nrow}x{ncol}")
        data = np.frombuffer(payload, ">f4").astype(np.float64).reshape(nrow, ncol)
        bmdi = rh[17]
        data[data == np.float32(bmdi)] = np.nan
        bzy, bdy, bzx, bdx = rh[13:17]
        fields.append(
            PPField(
                data=data,
                lat0=float(np.float32(bzy + bdy)),
                dlat=float(bdy),
                lon0=float(np.float32(bzx + bdx)),
                dlon=float(bdx),
                stash=int(ih[41]),
                int_header=ih,
                real_header=rh,
            )
        )
    return fields


def _wrap(lon: np.ndarray) -> np.ndarray:
    """Degrees → [-180, 180)."""
    return (np.asarray(lon, dtype=np.float64) + 180.0) % 360.0 - 180.0


def grid_lonlat(field: PPField) -> np.ndarray:
    """``(LBROW, LBNPT, 2)`` (lon, lat) of every node; lon wrapped to [-180, 180), lat rounded to 1e-6."""
    lats = np.round(field.lats, 6)
    lons = np.round(_wrap(field.lons), 6)
    lon2, lat2 = np.meshgrid(lons, lats)
    return np.stack([lon2, lat2], axis=-1)


def lookup_pp(lonlat: np.ndarray, field: PPField) -> np.ndarray:
    """Value of the nearest grid node (in index space) for each point.

    ``row = round((lat − lat0)/dlat)`` clipped to the rows (works for south- or north-first grids);
    ``col = round((lon − lon0)/dlon) mod LBNPT`` (longitudes wrap, so lon = −180 and 180 agree).

    Args:
        lonlat: ``(N, 2)`` degrees.
    Returns:
        ``(N,)`` float64 in the field's units (NaN at missing nodes).
    """
    lonlat = np.asarray(lonlat, dtype=np.float64).reshape(-1, 2)
    nrow, ncol = field.data.shape
    rows = np.clip(np.rint((lonlat[:, 1] - field.lat0) / field.dlat).astype(np.int64), 0, nrow - 1)
    dlon = (lonlat[:, 0] - field.lon0) % 360.0
    cols = np.rint(dlon / field.dlon).astype(np.int64) % ncol
    return field.data[rows, cols]


def build(n: int | None, seed: int, file: str = "pre-industrial.pp") -> TaskData:
    """Grid nodes of the 1.5 m air temperature field, pole rows collapsed, seeded subsample to ``n``.

    Args:
        n: cap on the number of nodes (``None`` = all, 27,458 for the 145×192 grids).
        seed: subsampling seed.
        file: one of :data:`PP_FILES` (scenario-shift experiments can load ``A1B.2098.pp``).
    Returns:
        regression TaskData, target Kelvin.
    """
    if file not in PP_FILES:
        raise ValueError(f"file must be one of {PP_FILES}, got {file!r}")
    t0 = time.perf_counter()
    path = package_file(MODULE, f"sample_data/{file}", "air_temperature")
    fields = [f for f in read_pp(path) if f.stash == STASH_AIR_TEMPERATURE_1P5M]
    if not fields:
        raise ValueError(f"{path}: no field with STASH {STASH_AIR_TEMPERATURE_1P5M} (1.5 m air temperature)")
    field = fields[0]
    ll = grid_lonlat(field)
    pole = np.isclose(np.abs(ll[:, 0, 1]), 90.0)
    xy = [ll[~pole].reshape(-1, 2)]
    val = [field.data[~pole].reshape(-1)]
    for r in np.flatnonzero(pole):
        row = field.data[r]
        if np.isfinite(row).any():
            xy.append(np.array([[0.0, float(np.sign(ll[r, 0, 1])) * 90.0]]))
            val.append(np.array([np.nanmean(row)]))
    lonlat = np.concatenate(xy)
    target = np.concatenate(val)
    ok = np.isfinite(target)
    n_missing = int((~ok).sum())
    idx = np.flatnonzero(ok)
    if n is not None and n < len(idx):
        rng = np.random.default_rng([seed, 505])
        idx = np.sort(rng.choice(idx, size=n, replace=False))
    lyr, lbmon = int(field.int_header[0]), int(field.int_header[1])
    return TaskData(
        name="air_temperature",
        kind="regression",
        lonlat=as_lonlat(lonlat[idx]),
        target=target[idx],
        target_name="1.5 m air temperature (K)",
        metadata={
            "source": f"iris-sample-data sample_data/{file} (Met Office HadGEM2 model output, "
            f"STASH {field.stash}, validity {lyr:04d}-{lbmon:02d})",
            "licence": PACKAGES[MODULE].licence,
            "packages": {PACKAGES[MODULE].dist: package_version(MODULE)},
            "units": "kelvin; lonlat degrees",
            "grid": f"{field.data.shape[0]}x{field.data.shape[1]} nodes, dlat={field.dlat}, dlon={field.dlon}",
            "sampling": "grid nodes (not area-uniform), each pole row collapsed to one point",
            "n_missing_dropped": n_missing,
            "n_available": int(ok.sum()),
            "build_seconds": time.perf_counter() - t0,
        },
    )
