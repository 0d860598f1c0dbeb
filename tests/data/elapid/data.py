#!/usr/bin/env python3
"""Write a toy ``data/ariolimax.gpkg`` in elapid's layout (GeoPackage via stdlib sqlite3).

Table ``ariolimax-buttoni-sample`` (fid, geom, presence, SurfaceTempMean), EPSG:32610 points.
10 points: 4 presences, 6 background. Geometry blob variants: little-endian without envelope
(as the real file), one with a 32-byte envelope (flags bit 1), one with big-endian WKB. The point
at easting 500,000 lies on zone 10's central meridian (lon −123°).
"""

import sqlite3
import struct
from pathlib import Path

HERE = Path(__file__).resolve().parent
TABLE = "ariolimax-buttoni-sample"

POINTS = [
    # easting, northing, presence
    (500000.0, 4000000.0, 1),
    (551130.768, 4180998.88, 1),  # San Francisco, (-122.4194, 37.7749)
    (400000.0, 4100000.0, 1),
    (600000.0, 4200000.0, 1),
    (450000.0, 3700000.0, 0),
    (700000.0, 4500000.0, 0),
    (800000.0, 4600000.0, 0),
    (390000.0, 3650000.0, 0),
    (650000.0, 4300000.0, 0),
    (550000.0, 3900000.0, 0),
]


def gp_blob(x: float, y: float, envelope: bool = False, wkb_big_endian: bool = False) -> bytes:
    flags = 0x01 | (0x02 if envelope else 0)
    head = b"GP" + bytes([0, flags]) + struct.pack("<i", 32610)
    if envelope:
        head += struct.pack("<4d", x, x, y, y)
    if wkb_big_endian:
        wkb = b"\x00" + struct.pack(">I", 1) + struct.pack(">2d", x, y)
    else:
        wkb = b"\x01" + struct.pack("<I", 1) + struct.pack("<2d", x, y)
    return head + wkb


def main() -> None:
    out = HERE / "data"
    out.mkdir(exist_ok=True)
    path = out / "ariolimax.gpkg"
    path.unlink(missing_ok=True)
    con = sqlite3.connect(path)
    con.executescript(
        f"""
        CREATE TABLE gpkg_spatial_ref_sys (srs_name TEXT, srs_id INTEGER PRIMARY KEY, organization TEXT,
            organization_coordsys_id INTEGER, definition TEXT, description TEXT);
        CREATE TABLE gpkg_contents (table_name TEXT PRIMARY KEY, data_type TEXT, identifier TEXT,
            description TEXT, last_change TEXT, min_x REAL, min_y REAL, max_x REAL, max_y REAL, srs_id INTEGER);
        CREATE TABLE gpkg_geometry_columns (table_name TEXT, column_name TEXT, geometry_type_name TEXT,
            srs_id INTEGER, z INTEGER, m INTEGER);
        CREATE TABLE "{TABLE}" (fid INTEGER PRIMARY KEY AUTOINCREMENT, geom POINT, presence INTEGER,
            SurfaceTempMean REAL);
        INSERT INTO gpkg_spatial_ref_sys VALUES ('WGS 84 / UTM zone 10N', 32610, 'EPSG', 32610, '', '');
        INSERT INTO gpkg_contents VALUES ('{TABLE}', 'features', '{TABLE}', '', '', 0, 0, 0, 0, 32610);
        INSERT INTO gpkg_geometry_columns VALUES ('{TABLE}', 'geom', 'POINT', 32610, 0, 0);
        """
    )
    for i, (x, y, p) in enumerate(POINTS):
        blob = gp_blob(x, y, envelope=(i == 2), wkb_big_endian=(i == 5))
        con.execute(f'INSERT INTO "{TABLE}" (geom, presence, SurfaceTempMean) VALUES (?, ?, ?)', (blob, p, 10.0 + i))
    con.commit()
    con.close()


if __name__ == "__main__":
    main()
