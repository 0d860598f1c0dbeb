from pathlib import Path

import numpy as np
import pytest

from geosrl.datasets import elevation, load_offline_task

from geosrl.datasets.locate import is_installed

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def grid():
    pytest.importorskip("h5py")
    return elevation.read_altitude_grid(DATA / "pvlib" / "data" / "Altitude.h5")


def test_decode():
    assert elevation.decode_altitude(np.array([0, 16, 250])).tolist() == [-450.0, -2.0, 6550.0]
    assert np.isnan(elevation.decode_altitude(np.array([255]))).all()


def test_lookup_known_cells(grid):
    pts = np.array(
        [
            [-180.0, 90.0],  # (0, 0): 110 m
            [-170.001, 80.001],  # same cell
            [180.0, 90.0],  # (0, 35): 390 m
            [175.0, 85.0],
            [5.0, -90.0],  # (17, 18): 2350 m
            [86.9, 27.9],  # Everest cell: 6550 m
            [5.0, 45.0],  # code 0: -450 m
            [-150.0, 0.0],  # ocean: NaN
            [5.0, 90.0],  # ocean row 0 col 18: NaN
        ]
    )
    z = elevation.lookup_altitude(pts, grid)
    assert z[:7].tolist() == [110.0, 110.0, 390.0, 390.0, 2350.0, 6550.0, -450.0]
    assert np.isnan(z[7:]).all()


def test_task_on_fixture(fake_packages, cache_dir):
    pytest.importorskip("h5py")
    d = load_offline_task("elevation", cache_dir=cache_dir, max_samples=200, seed=0)
    assert len(d) == 200 and np.isfinite(d.target).all()
    assert set(np.unique(d.target)) <= {110.0, 390.0, 2350.0, 6550.0, -450.0}
    assert d.metadata["n_points_drawn"] > 200 and d.target_name == "elevation (m)"


@pytest.mark.skipif(not is_installed("pvlib"), reason="data package pvlib not installed")
def test_real_altitude_orientation():
    pytest.importorskip("h5py")
    g = elevation.read_altitude_grid(elevation.package_file("pvlib", elevation.ALTITUDE_FILE))
    assert g.shape == (2160, 4320)
    z = elevation.lookup_altitude(np.array([[86.925, 27.988], [2.35, 48.85], [-150.0, 0.0]]), g)
    assert z[0] > 5000 and z[1] < 300 and np.isnan(z[2])
    lon, lat = np.meshgrid(np.arange(80, 95, 0.5), np.arange(30, 35, 0.5))  # Tibetan plateau
    tibet = elevation.lookup_altitude(np.c_[lon.ravel(), lat.ravel()], g)
    assert np.nanmean(tibet) > 4000
