#!/usr/bin/env python3
"""Write a toy ``globe_combined_mask_compressed.npz`` in global-land-mask's layout.

18×36 bool ``mask`` (10° cells), **True = ocean**, row 0 = 80–90° N, column 0 = 180–170° W;
``lat`` runs north → south, ``lon`` from −180. Land cells (False):
- row 0, col 0  (lat 80–90, lon −180…−170): the ±180/+90 corner;
- row 17, all   (lat −90…−80): "Antarctica";
- row 4, col 18 (lat 40–50, lon 0–10): "Paris";
- row 9, col 35 (lat −10…0, lon 170–180): next to the antimeridian.
"""

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def make_mask() -> np.ndarray:
    mask = np.ones((18, 36), dtype=bool)
    mask[0, 0] = False
    mask[17, :] = False
    mask[4, 18] = False
    mask[9, 35] = False
    return mask


def main() -> None:
    lat = 90.0 - 10.0 * np.arange(18)  # cell edges, north first, as the package (90 … -80)
    lon = -180.0 + 10.0 * np.arange(36)
    np.savez_compressed(HERE / "globe_combined_mask_compressed.npz", mask=make_mask(), lat=lat, lon=lon)


if __name__ == "__main__":
    main()
