import struct

from pathlib import Path

import numpy as np
import pytest

from geosrl.datasets import load_offline_task
from geosrl.datasets import sdm_presence_only as sdm

from geosrl.datasets.locate import is_installed

DATA = Path(__file__).resolve().parents[1] / "data"


def test_decode_gpkg_point_variants():
    wkb = b"\x01" + struct.pack("<I", 1) + struct.pack("<2d", 1.5, -2.5)
    assert sdm.decode_gpkg_point(b"GP\x00\x01" + struct.pack("<i", 4326) + wkb) == (1.5, -2.5)
    env = struct.pack("<4d", 0, 0, 0, 0)
    assert sdm.decode_gpkg_point(b"GP\x00\x03" + struct.pack("<i", 4326) + env + wkb) == (1.5, -2.5)
    big = b"\x00" + struct.pack(">I", 1) + struct.pack(">2d", 3.0, 4.0)
    assert sdm.decode_gpkg_point(b"GP\x00\x01" + struct.pack("<i", 4326) + big) == (3.0, 4.0)
    with pytest.raises(ValueError):
        sdm.decode_gpkg_point(b"XX\x00\x01" + struct.pack("<i", 4326) + wkb)
    line = b"\x01" + struct.pack("<I", 2) + struct.pack("<I", 0)
    with pytest.raises(ValueError, match="Point"):
        sdm.decode_gpkg_point(b"GP\x00\x01" + struct.pack("<i", 4326) + line)


def test_utm_inverse():
    ll = sdm.utm_to_lonlat(np.array([500000.0, 551130.768]), np.array([0.0, 4180998.88]), zone=10)
    assert ll[0].tolist() == pytest.approx([-123.0, 0.0], abs=1e-9)
    assert ll[1].tolist() == pytest.approx([-122.4194, 37.7749], abs=2e-5)  # San Francisco
    rng = np.random.default_rng(0)
    pts = np.c_[rng.uniform(-126, -120, 100), rng.uniform(0, 80, 100)]
    e, n = sdm.lonlat_to_utm(pts, zone=10)
    assert np.abs(sdm.utm_to_lonlat(e, n, zone=10) - pts).max() < 1e-8


def test_task_on_fixture(fake_packages, cache_dir):
    d = load_offline_task("sdm_presence_only", cache_dir=cache_dir, seed=0)
    assert d.kind == "presence_only" and len(d) == 10
    assert d.target.tolist() == [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    assert d.background_lonlat.shape == (6, 2) and np.array_equal(d.background_lonlat, d.lonlat[4:])
    assert d.lonlat[0].tolist() == pytest.approx([-123.0, 36.1447], abs=1e-4)
    assert d.metadata["covariates"] == ["SurfaceTempMean"]
    assert (d.lonlat[:, 0] < -114).all() and (d.lonlat[:, 0] > -128).all()


@pytest.mark.skipif(not is_installed("elapid"), reason="data package elapid not installed")
def test_real_ariolimax(cache_dir):
    d = load_offline_task("sdm_presence_only", cache_dir=cache_dir)
    assert len(d) == 6585 and d.target.sum() == 1595 and len(d.background_lonlat) == 4990
    lo, hi = d.lonlat.min(0), d.lonlat.max(0)
    assert -125 < lo[0] and hi[0] < -114 and 32 < lo[1] and hi[1] < 42.1  # California
