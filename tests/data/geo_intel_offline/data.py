#!/usr/bin/env python3
"""Write toy ``data/polygons.json.gz`` / ``data/metadata.json.gz`` in geo-intel-offline's layout.

Vertices are **[lat, lon]** pairs. Entries:
- "1" Squareland: lon 0–20, lat 0–20 with a hole lon 5–10, lat 5–10 (single part, ``holes``);
- "2" Datelandia: multipart across the antimeridian, lon 170–180 and −180…−170, lat −20…−10;
- "3" Holeland: fills Squareland's hole exactly (Natural Earth style enclave);
- "4" Tinyland: a tiny triangle (0.01°) at lon 50, lat 50, iso2/iso3 "-99" like France;
- "5" Polaria: lon −180…180, lat −90…−80 (touches both ±180 and −90);
- "6" Degenerate: a 2-vertex ring (skipped by the reader).
"""

import gzip
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent


def ring(lon0, lat0, lon1, lat1):
    """Closed rectangle as [lat, lon] pairs."""
    return [[lat0, lon0], [lat0, lon1], [lat1, lon1], [lat1, lon0], [lat0, lon0]]


POLYGONS = {
    "1": {"exterior": ring(0, 0, 20, 20), "holes": [ring(5, 5, 10, 10)]},
    "2": {
        "exterior": ring(170, -20, 180, -10),
        "holes": [],
        "multi": True,
        "exteriors": [ring(170, -20, 180, -10), ring(-180, -20, -170, -10)],
    },
    "3": {"exterior": ring(5, 5, 10, 10), "holes": []},
    "4": {"exterior": [[50.0, 50.0], [50.0, 50.01], [50.01, 50.0], [50.0, 50.0]], "holes": []},
    "5": {"exterior": ring(-180, -90, 180, -80), "holes": []},
    "6": {"exterior": [[1.0, 1.0], [2.0, 2.0]], "holes": []},
}
METADATA = {
    "1": {"name": "Squareland", "iso2": "SQ", "iso3": "SQL", "continent": "Africa", "timezone": ""},
    "2": {"name": "Datelandia", "iso2": "DL", "iso3": "DLA", "continent": "Oceania", "timezone": ""},
    "3": {"name": "Holeland", "iso2": "HL", "iso3": "HLD", "continent": "Africa", "timezone": ""},
    "4": {"name": "Tinyland", "iso2": "-99", "iso3": "-99", "continent": "Asia", "timezone": ""},
    "5": {"name": "Polaria", "iso2": "AQ", "iso3": "ATA", "continent": "Antarctica", "timezone": ""},
    "6": {"name": "Degenerate", "iso2": "DG", "iso3": "DGN", "continent": "Asia", "timezone": ""},
}


def main() -> None:
    out = HERE / "data"
    out.mkdir(exist_ok=True)
    for name, obj in (("polygons", POLYGONS), ("metadata", METADATA)):
        with gzip.GzipFile(out / f"{name}.json.gz", "wb", mtime=0) as f:
            f.write(json.dumps(obj).encode())


if __name__ == "__main__":
    main()
