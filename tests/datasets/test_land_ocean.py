from pathlib import Path

import numpy as np
import pytest

from geosrl.datasets import land_ocean, load_offline_task

from geosrl.datasets.locate import is_installed

DATA = Path(__file__).resolve().parents[1] / "data"

FIXTURE = DATA / "global_land_mask" / "globe_combined_mask_compressed.npz"


def test_lookup_known_cells_on_fixture():
    pts = np.array(
        [
            [-180.0, 90.0],  # row 0, col 0: land
            [-175.0, 85.0],  # same cell
            [180.0, 90.0],  # row 0, col 35: ocean
            [0.0, -90.0],  # row 17 (clipped): land
            [-180.0, -85.0],  # row 17, col 0: land
            [5.0, 45.0],  # "Paris": land
            [5.0, 35.0],  # one row south: ocean
            [175.0, -5.0],  # row 9, col 35: land
            [180.0, -5.0],  # lon 180 clipped into col 35: land
            [-180.0, -5.0],  # col 0: ocean
            [-150.0, 0.0],  # mid-Pacific: ocean
        ]
    )
    ocean = land_ocean.lookup_ocean(pts, FIXTURE)
    assert ocean.tolist() == [False, False, True, False, False, False, True, False, False, True, True]


def test_streaming_matches_full_load(monkeypatch):
    rng = np.random.default_rng(1)
    pts = np.c_[rng.uniform(-180, 180, 500), rng.uniform(-90, 90, 500)]
    with np.load(FIXTURE) as z:
        mask = z["mask"]
    rows = np.clip(np.floor((90 - pts[:, 1]) * 18 / 180).astype(int), 0, 17)
    cols = np.clip(np.floor((pts[:, 0] + 180) * 36 / 360).astype(int), 0, 35)
    expected = mask[rows, cols]
    monkeypatch.setattr(land_ocean, "_BLOCK_BYTES", 36 * 4)  # 4-row blocks: exercises the block loop
    assert np.array_equal(land_ocean.lookup_ocean(pts, FIXTURE), expected)
    assert land_ocean.lookup_ocean(np.zeros((0, 2)), FIXTURE).shape == (0,)


def test_rejects_south_first_lat(tmp_path):
    bad = tmp_path / "m.npz"
    np.savez_compressed(bad, mask=np.zeros((2, 4), bool), lat=np.array([-90.0, 0.0]))
    with pytest.raises(ValueError, match="north to south"):
        land_ocean.lookup_ocean(np.zeros((1, 2)), bad)


def test_task_on_fixture(fake_packages, cache_dir):
    d = load_offline_task("land_ocean", cache_dir=cache_dir, max_samples=3000, seed=3)
    assert d.kind == "classification" and d.num_classes == 2 and d.class_names == ["ocean", "land"]
    assert d.lonlat.shape == (3000, 2) and d.target.dtype == np.int64
    # land in the fixture = the polar cap row 17 (area fraction (1 - cos 10°)/2 ≈ 0.0076) + 3 cells
    assert 0.002 < d.target.mean() < 0.03
    assert d.metadata["cache_hit"] is False and "licence" in d.metadata and "packages" in d.metadata
    again = load_offline_task("land_ocean", cache_dir=cache_dir, max_samples=3000, seed=3)
    assert again.metadata["cache_hit"] is True
    assert np.array_equal(again.lonlat, d.lonlat) and np.array_equal(again.target, d.target)
    other = load_offline_task("land_ocean", cache_dir=cache_dir, max_samples=3000, seed=4)
    assert not np.array_equal(other.lonlat, d.lonlat)


@pytest.mark.skipif(not is_installed("global_land_mask"), reason="data package global_land_mask not installed")
def test_real_mask_orientation():
    path = land_ocean.mask_path()
    pts = np.array([[2.35, 48.85], [-150.0, 0.0], [0.0, -89.0], [0.0, 89.5], [25.0, 15.0], [-30.0, 0.0]])
    assert land_ocean.lookup_ocean(pts, path).tolist() == [False, True, False, True, False, True]
