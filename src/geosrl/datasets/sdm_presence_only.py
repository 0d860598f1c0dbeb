"""``sdm_presence_only``: banana slug (*Ariolimax buttoni*) presences vs background (elapid).

``elapid/data/ariolimax.gpkg`` is a GeoPackage (SQLite) with one point table: ``presence`` (1/0),
six covariates and a ``geom`` blob in EPSG:32610 (UTM zone 10 N, metres). It is read with the
standard library's ``sqlite3``; the GeoPackage geometry header and WKB point are decoded by hand and
UTM is inverted with Krüger's series (Karney 2011; error ≪ 1 m), so neither GDAL nor pyproj is needed.
"""

from __future__ import annotations

import math
import sqlite3
import struct
import time
from pathlib import Path

import numpy as np

from ..coords import as_lonlat
from .base import TaskData
from .locate import PACKAGES, package_file, package_version

__all__ = [
    "MODULE",
    "build",
    "decode_gpkg_point",
    "read_gpkg_points",
    "utm_to_lonlat",
    "lonlat_to_utm",
]

MODULE = "elapid"
GPKG_FILE = "data/ariolimax.gpkg"

# WGS84
_A = 6378137.0
_F = 1 / 298.257223563
_K0 = 0.9996
_N = _F / (2 - _F)
_AA = _A / (1 + _N) * (1 + _N**2 / 4 + _N**4 / 64)
_ALPHA = (
    _N / 2 - 2 * _N**2 / 3 + 5 * _N**3 / 16,
    13 * _N**2 / 48 - 3 * _N**3 / 5,
    61 * _N**3 / 240,
)
_BETA = (
    _N / 2 - 2 * _N**2 / 3 + 37 * _N**3 / 96,
    _N**2 / 48 + _N**3 / 15,
    17 * _N**3 / 480,
)
_DELTA = (
    2 * _N - 2 * _N**2 / 3 - 2 * _N**3,
    7 * _N**2 / 3 - 8 * _N**3 / 5,
    56 * _N**3 / 15,
)


def _central_meridian(zone: int) -> float:
    return -183.0 + 6.0 * zone


def utm_to_lonlat(easting: np.ndarray, northing: np.ndarray, zone: int, north: bool = True) -> np.ndarray:
    """UTM (WGS84) metres → ``(N, 2)`` (lon, lat) degrees (Krüger series, 3rd order in n)."""
    e = np.asarray(easting, dtype=np.float64)
    nn = np.asarray(northing, dtype=np.float64)
    xi = (nn - (0.0 if north else 10_000_000.0)) / (_K0 * _AA)
    eta = (e - 500_000.0) / (_K0 * _AA)
    xi_p, eta_p = xi.copy(), eta.copy()
    for j, b in enumerate(_BETA, start=1):
        xi_p -= b * np.sin(2 * j * xi) * np.cosh(2 * j * eta)
        eta_p -= b * np.cos(2 * j * xi) * np.sinh(2 * j * eta)
    chi = np.arcsin(np.sin(xi_p) / np.cosh(eta_p))
    lat = chi.copy()
    for j, d in enumerate(_DELTA, start=1):
        lat += d * np.sin(2 * j * chi)
    lon = np.radians(_central_meridian(zone)) + np.arctan2(np.sinh(eta_p), np.cos(xi_p))
    return np.stack([np.degrees(lon), np.degrees(lat)], axis=-1)


def lonlat_to_utm(lonlat: np.ndarray, zone: int) -> tuple[np.ndarray, np.ndarray]:
    """``(N, 2)`` (lon, lat) degrees → UTM (easting, northing) metres (northern hemisphere)."""
    lonlat = np.asarray(lonlat, dtype=np.float64).reshape(-1, 2)
    lam = np.radians(lonlat[:, 0] - _central_meridian(zone))
    phi = np.radians(lonlat[:, 1])
    e = math.sqrt(_F * (2 - _F))
    t = np.sinh(np.arctanh(np.sin(phi)) - e * np.arctanh(e * np.sin(phi)))
    xi_p = np.arctan2(t, np.cos(lam))
    eta_p = np.arcsinh(np.sin(lam) / np.sqrt(t**2 + np.cos(lam) ** 2))
    xi, eta = xi_p.copy(), eta_p.copy()
    for j, a in enumerate(_ALPHA, start=1):
        xi += a * np.sin(2 * j * xi_p) * np.cosh(2 * j * eta_p)
        eta += a * np.cos(2 * j * xi_p) * np.sinh(2 * j * eta_p)
    return 500_000.0 + _K0 * _AA * eta, _K0 * _AA * xi


_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}


def decode_gpkg_point(blob: bytes) -> tuple[float, float]:
    """``(x, y)`` of a GeoPackage geometry blob holding a WKB Point (2-D, or Z/M/ZM ignored).

    Layout: ``b"GP"``, version byte, flags byte (bit 0 = header byte order, bits 1–3 = envelope
    kind), int32 srs_id, optional envelope, then WKB (byte order, uint32 type, float64 x, y...).
    Empty points decode to (nan, nan).
    """
    if blob[:2] != b"GP":
        raise ValueError("not a GeoPackage geometry blob (missing 'GP' magic)")
    flags = blob[3]
    env = (flags >> 1) & 0x07
    if env not in _ENVELOPE_BYTES:
        raise ValueError(f"invalid GeoPackage envelope indicator {env}")
    off = 8 + _ENVELOPE_BYTES[env]
    if flags & 0x10:  # empty geometry
        return float("nan"), float("nan")
    bo = "<" if blob[off] == 1 else ">"
    (gtype,) = struct.unpack_from(bo + "I", blob, off + 1)
    if gtype % 1000 != 1:
        raise ValueError(f"expected a WKB Point, got geometry type {gtype}")
    x, y = struct.unpack_from(bo + "dd", blob, off + 5)
    return x, y


def read_gpkg_points(path: str | Path, table: str | None = None) -> tuple[np.ndarray, dict[str, np.ndarray], int]:
    """Points and attribute columns of a GeoPackage point table (first feature table by default).

    Returns:
        ``(xy (N, 2) float64 in the layer's CRS, {column: (N,) array}, srs_id)``.
    """
    con = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True)
    try:
        if table is None:
            table = con.execute(
                "SELECT table_name FROM gpkg_contents WHERE data_type = 'features' ORDER BY table_name"
            ).fetchone()[0]
        geom_col, srs_id = con.execute(
            "SELECT column_name, srs_id FROM gpkg_geometry_columns WHERE table_name = ?", (table,)
        ).fetchone()
        cols = [r[1] for r in con.execute(f'PRAGMA table_info("{table}")')]
        attrs = [c for c in cols if c != geom_col]
        rows = con.execute(
            f'SELECT "{geom_col}", ' + ", ".join(f'"{c}"' for c in attrs) + f' FROM "{table}" ORDER BY rowid'
        ).fetchall()
    finally:
        con.close()
    xy = np.array([decode_gpkg_point(r[0]) for r in rows], dtype=np.float64).reshape(-1, 2)
    columns = {c: np.array([r[i + 1] for r in rows]) for i, c in enumerate(attrs)}
    return xy, columns, int(srs_id)


def build(n: int | None, seed: int) -> TaskData:
    """Presences (target 1) and background points (target 0); ``background_lonlat`` = the latter.

    Args:
        n: cap on the number of rows (seeded subsample without replacement; ``None`` = all 6,585).
        seed: subsampling seed.
    Returns:
        presence_only TaskData; ``metadata["covariates"]`` names the six environmental columns
        of the file (not used as inputs here).
    """
    t0 = time.perf_counter()
    path = package_file(MODULE, GPKG_FILE, "sdm_presence_only")
    xy, cols, srs = read_gpkg_points(path)
    if not 32601 <= srs <= 32660:
        raise ValueError(f"{path}: expected a UTM north CRS (EPSG:326xx), got srs_id {srs}")
    ok = np.isfinite(xy).all(axis=1)
    lonlat = utm_to_lonlat(xy[ok, 0], xy[ok, 1], zone=srs - 32600)
    presence = np.asarray(cols["presence"])[ok].astype(np.int64)
    idx = np.arange(len(lonlat))
    if n is not None and n < len(idx):
        rng = np.random.default_rng([seed, 606])
        idx = np.sort(rng.choice(idx, size=n, replace=False))
    lonlat, presence = as_lonlat(lonlat[idx]), presence[idx]
    return TaskData(
        name="sdm_presence_only",
        kind="presence_only",
        lonlat=lonlat,
        target=presence,
        target_name="presence (1) vs background (0) of Ariolimax buttoni",
        background_lonlat=lonlat[presence == 0].copy(),
        metadata={
            "source": "elapid data/ariolimax.gpkg (Ariolimax buttoni presences + background, California, 1 km grid)",
            "licence": PACKAGES[MODULE].licence,
            "packages": {PACKAGES[MODULE].dist: package_version(MODULE)},
            "units": "1 = presence, 0 = background; lonlat degrees (from EPSG:%d)" % srs,
            "n_presence": int(presence.sum()),
            "n_background": int((presence == 0).sum()),
            "n_empty_geometry_dropped": int((~ok).sum()),
            "covariates": [c for c in cols if c not in ("fid", "presence")],
            "build_seconds": time.perf_counter() - t0,
        },
    )
