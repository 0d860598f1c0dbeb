#!/usr/bin/env python3
"""Write toy UM PP files in iris-sample-data's layout (big-endian Fortran records, unpacked).

``sample_data/pre-industrial.pp``: two fields. Field 1 has STASH 16203 (a decoy, all 1.0);
field 2 is STASH 3236 (1.5 m air temperature) on a **south-first** 5×8 grid: rows at lat
−90, −45, 0, 45, 90 (BZY = −135, BDY = 45), columns at lon 0, 45, …, 315 (BZX = −45, BDX = 45).
value = 200 + 10·row + col (K), except the node (row 2, col 3) = BMDI (missing) and the south
pole row, which varies along the row (mean 203.5) to test pole collapsing.
``sample_data/air_temp.pp``: one **north-first** 5×8 field (BZY = 135, BDY = −45), STASH 16203,
value = 100·row + col.
"""

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
BMDI = -1.0737418e09


def record(payload: bytes) -> bytes:
    n = np.array([len(payload)], dtype=">i4").tobytes()
    return n + payload + n


def pp_field(data: np.ndarray, stash: int, bzy: float, bdy: float, bzx: float, bdx: float, year: int = 1859) -> bytes:
    ih = np.zeros(45, dtype=">i4")
    ih[0], ih[1], ih[2] = year, 12, 1
    ih[15] = 1  # LBCODE regular lat/lon
    ih[17], ih[18] = data.shape  # LBROW, LBNPT
    ih[20] = 0  # LBPACK unpacked
    ih[41] = stash  # LBUSER4
    rh = np.zeros(19, dtype=">f4")
    rh[13:17] = (bzy, bdy, bzx, bdx)
    rh[17] = BMDI
    return record(ih.tobytes() + rh.tobytes()) + record(np.asarray(data, dtype=">f4").tobytes())


def temperature_grid() -> np.ndarray:
    rows, cols = np.meshgrid(np.arange(5), np.arange(8), indexing="ij")
    t = 200.0 + 10.0 * rows + cols
    t[2, 3] = BMDI
    return t


def main() -> None:
    out = HERE / "sample_data"
    out.mkdir(exist_ok=True)
    decoy = np.ones((5, 8))
    (out / "pre-industrial.pp").write_bytes(
        pp_field(decoy, 16203, -135.0, 45.0, -45.0, 45.0) + pp_field(temperature_grid(), 3236, -135.0, 45.0, -45.0, 45.0)
    )
    rows, cols = np.meshgrid(np.arange(5), np.arange(8), indexing="ij")
    (out / "air_temp.pp").write_bytes(pp_field(100.0 * rows + cols, 16203, 135.0, -45.0, -45.0, 45.0, year=1994))


if __name__ == "__main__":
    main()
