#!/usr/bin/env python3
"""Write a toy ``data/Altitude.h5`` in pvlib's layout (needs h5py).

Dataset ``Altitude``: uint8 18×36 (10° cells), row 0 = 80–90° N, column 0 = 180–170° W;
metres = v·28 − 450; **255 = no data (ocean)**. Every cell is 255 except:
- row 0, col 0   (lat 80–90, lon −180…−170): v = 20  → 110 m;
- row 0, col 35  (lat 80–90, lon 170–180):   v = 30  → 390 m;
- row 17, col 18 (lat −90…−80, lon 0–10):    v = 100 → 2350 m;
- row 6, col 26  (lat 20–30, lon 80–90, "Everest"): v = 250 → 6550 m;
- row 4, col 18  (lat 40–50, lon 0–10):      v = 0   → −450 m (the saturated low code).
"""

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

CELLS = {(0, 0): 20, (0, 35): 30, (17, 18): 100, (6, 26): 250, (4, 18): 0}


def make_grid() -> np.ndarray:
    grid = np.full((18, 36), 255, dtype=np.uint8)
    for (r, c), v in CELLS.items():
        grid[r, c] = v
    return grid


def main() -> None:
    import h5py

    out = HERE / "data"
    out.mkdir(exist_ok=True)
    with h5py.File(out / "Altitude.h5", "w") as f:
        f.create_dataset("Altitude", data=make_grid())


if __name__ == "__main__":
    main()
