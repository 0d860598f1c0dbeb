from pathlib import Path

import numpy as np
import pytest

from geosrl.datasets import country, load_offline_task

from geosrl.datasets.locate import is_installed

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def toy():
    return country.load_country_polygons(DATA / "geo_intel_offline" / "data")


def test_reader_swaps_lat_lon_and_skips_degenerate(toy):
    assert toy.names == ["Squareland", "Datelandia", "Holeland", "Tinyland", "Polaria"]
    sq = toy.geoms[0]
    assert sq.bounds == (0.0, 0.0, 20.0, 20.0)  # (lon, lat) after swapping [lat, lon]
    assert sq.area == pytest.approx(400 - 25)  # hole removed
    assert toy.geoms[1].geom_type == "MultiPolygon" and toy.iso3[3] == "-99"


def test_label_points(toy):
    pts = np.array(
        [
            [15.0, 15.0],  # Squareland
            [7.0, 7.0],  # in Squareland's hole = Holeland
            [175.0, -15.0],  # Datelandia east part
            [-175.0, -15.0],  # Datelandia west part
            [180.0, -15.0],  # on the antimeridian edge
            [-180.0, -15.0],
            [50.002, 50.002],  # Tinyland
            [0.0, -90.0],  # Polaria at the pole
            [-180.0, -85.0],
            [100.0, 0.0],  # nowhere
            [1.5, 1.5],  # the degenerate 2-vertex "country" was skipped: Squareland
        ]
    )
    names = [toy.names[i] if i >= 0 else None for i in country.label_points(pts, toy)]
    assert names == ["Squareland", "Holeland", "Datelandia", "Datelandia", "Datelandia", "Datelandia",
                     "Tinyland", "Polaria", "Polaria", None, "Squareland"]


def test_task_on_fixture(fake_packages, cache_dir):
    d = load_offline_task("country", cache_dir=cache_dir, max_samples=400, seed=0, min_per_class=5)
    assert d.kind == "classification"
    assert d.class_names == sorted(d.class_names) and "Tinyland" not in d.class_names  # too small to sample
    assert set(d.class_names) <= {"Squareland", "Datelandia", "Holeland", "Polaria"}
    assert np.bincount(d.target, minlength=d.num_classes).min() >= 5
    assert len(d) + d.metadata["n_dropped_rare_class"] == 400
    lab = country.label_points(d.lonlat, country.load_country_polygons(DATA / "geo_intel_offline" / "data"))
    names = np.array(["Squareland", "Datelandia", "Holeland", "Tinyland", "Polaria"])
    assert np.array_equal(names[lab], np.array(d.class_names)[d.target])
    e = load_offline_task("country", cache_dir=cache_dir, max_samples=400, seed=0, min_per_class=5, use_cache=False)
    assert np.array_equal(e.lonlat, d.lonlat)


@pytest.mark.skipif(not is_installed("geo_intel_offline"), reason="data package geo_intel_offline not installed")
def test_real_polygons_known_points():
    cp = country.load_country_polygons()
    assert len(cp) > 250
    pts = np.array([[2.35, 48.85], [18.42, -33.92], [139.7, 35.7], [-100.0, 40.0], [177.0, 67.0], [-150.0, 0.0]])
    names = [cp.names[i] if i >= 0 else None for i in country.label_points(pts, cp)]
    assert names[:3] == ["France", "South Africa", "Japan"]
    assert names[3].startswith("United States") and names[4] == "Russia" and names[5] is None
