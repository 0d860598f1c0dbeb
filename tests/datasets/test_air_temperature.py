from pathlib import Path

import numpy as np
import pytest

from geosrl.datasets import air_temperature as at
from geosrl.datasets import load_offline_task

from geosrl.datasets.locate import is_installed

DATA = Path(__file__).resolve().parents[1] / "data"

PP = DATA / "iris_sample_data" / "sample_data"


def test_read_pp_fixture():
    fields = at.read_pp(PP / "pre-industrial.pp")
    assert [f.stash for f in fields] == [16203, 3236]
    f = fields[1]
    assert f.data.shape == (5, 8) and f.lats.tolist() == [-90, -45, 0, 45, 90]
    assert f.lons.tolist() == [0, 45, 90, 135, 180, 225, 270, 315]
    assert np.isnan(f.data[2, 3]) and f.data[4, 7] == 247.0


def test_lookup_south_and_north_first():
    f = at.read_pp(PP / "pre-industrial.pp")[1]
    pts = np.array([[0.0, -90.0], [0.0, 90.0], [45.0, -45.0], [-180.0, 0.0], [180.0, 0.0], [-45.0, 45.0], [-1.0, 1.0]])
    assert at.lookup_pp(pts, f).tolist() == [200.0, 240.0, 211.0, 224.0, 224.0, 237.0, 220.0]
    g = at.read_pp(PP / "air_temp.pp")[0]  # north first: row 0 = 90 N
    assert g.dlat < 0
    assert at.lookup_pp(pts, g).tolist() == [400.0, 0.0, 301.0, 204.0, 204.0, 107.0, 200.0]


def test_grid_lonlat_wraps():
    ll = at.grid_lonlat(at.read_pp(PP / "pre-industrial.pp")[1])
    assert ll.shape == (5, 8, 2) and ll[..., 0].min() >= -180 and ll[..., 0].max() < 180
    assert ll[0, 4, 0] == -180.0 and ll[0, 7, 0] == -45.0


def test_malformed_pp(tmp_path):
    raw = (PP / "pre-industrial.pp").read_bytes()
    (tmp_path / "t.pp").write_bytes(raw[:-10])
    with pytest.raises(ValueError):
        at.read_pp(tmp_path / "t.pp")


def test_task_on_fixture(fake_packages, cache_dir):
    d = load_offline_task("air_temperature", cache_dir=cache_dir, seed=0)
    # 3 interior rows × 8 - 1 missing + 2 poles
    assert len(d) == 25 and d.metadata["n_missing_dropped"] == 1
    poles = {tuple(p): t for p, t in zip(d.lonlat.tolist(), d.target.tolist()) if abs(p[1]) == 90}
    assert poles == {(0.0, -90.0): 203.5, (0.0, 90.0): 243.5}
    assert not np.isnan(d.target).any() and d.target_name.endswith("(K)")
    sub = load_offline_task("air_temperature", cache_dir=cache_dir, seed=0, max_samples=10)
    assert len(sub) == 10


@pytest.mark.skipif(not is_installed("iris_sample_data"), reason="data package iris_sample_data not installed")
def test_real_pre_industrial():
    f = [f for f in at.read_pp(at.package_file(at.MODULE, "sample_data/pre-industrial.pp")) if f.stash == 3236][0]
    assert f.data.shape == (145, 192) and f.dlat > 0
    sahara, antarctica = at.lookup_pp(np.array([[10.0, 23.0], [90.0, -80.0]]), f)
    assert sahara > 285 and antarctica < 240
