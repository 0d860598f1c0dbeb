"""geosrl.sphere: unit vectors, area-uniform sampling (torch and NumPy), great-circle distances."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from geosrl.sphere import EARTH_RADIUS_KM, chord_to_km, great_circle_km, lonlat_to_xyz, uniform_lonlat, uniform_lonlat_numpy

lon_st = st.floats(-180, 180, allow_nan=False)
lat_st = st.floats(-90, 90, allow_nan=False)


def test_uniform_lonlat_numpy_is_area_uniform():
    ll = uniform_lonlat_numpy(20000, np.random.default_rng(0))
    assert ll[:, 0].min() >= -180 and ll[:, 0].max() <= 180
    z = np.sin(np.radians(ll[:, 1]))  # uniform on [-1, 1] for an area-uniform sample
    assert abs(z.mean()) < 0.02 and abs((np.abs(z) < 0.5).mean() - 0.5) < 0.02
    assert np.array_equal(ll, uniform_lonlat_numpy(20000, np.random.default_rng(0)))


def test_uniform_negatives_cover_sphere_not_ne_quadrant():
    ll = uniform_lonlat(200000, generator=torch.Generator().manual_seed(0), dtype=torch.float64).numpy()
    lon, lat = ll[:, 0], ll[:, 1]
    assert lon.min() >= -180 and lon.max() <= 180 and lat.min() >= -90 and lat.max() <= 90
    ne = np.mean((lon >= 0) & (lat >= 0))
    assert ne == pytest.approx(0.25, abs=0.01)  # bug B1 would give 1.0
    assert np.mean(lat > 30) == pytest.approx(0.25, abs=0.01)  # area above 30°N = (1 - sin 30°)/2
    assert np.mean(np.sin(np.radians(lat))) == pytest.approx(0.0, abs=0.01)
    a = uniform_lonlat(5, generator=torch.Generator().manual_seed(1))
    b = uniform_lonlat(5, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.dtype == torch.float32


def test_lonlat_to_xyz_axes():
    pts = [[0.0, 0.0], [90.0, 0.0], [180.0, 0.0], [12.0, 90.0], [-33.0, -90.0]]
    want = [[1, 0, 0], [0, 1, 0], [-1, 0, 0], [0, 0, 1], [0, 0, -1]]
    assert np.allclose(lonlat_to_xyz(np.array(pts)), want, atol=1e-15)
    assert torch.allclose(lonlat_to_xyz(torch.tensor(pts, dtype=torch.float64)), torch.tensor(want, dtype=torch.float64),
                          atol=1e-15)


@settings(max_examples=50, deadline=None)
@given(lon=lon_st, lat=lat_st)
def test_lonlat_to_xyz_numpy_matches_torch_and_is_unit(lon, lat):
    a = lonlat_to_xyz(np.array([[lon, lat]]))
    t = lonlat_to_xyz(torch.tensor([[lon, lat]], dtype=torch.float64, requires_grad=True))
    assert np.allclose(a, t.detach().numpy(), rtol=0, atol=1e-15)
    assert abs(np.linalg.norm(a) - 1.0) < 1e-12
    t.sum().backward()  # differentiable in the coordinates


def test_great_circle_known_distances():
    quarter = math.pi / 2 * EARTH_RADIUS_KM
    d = great_circle_km(np.array([[0.0, 0.0]]), np.array([[0.0, 90.0], [90.0, 0.0], [180.0, 0.0], [0.0, 0.0]]))
    assert d.shape == (1, 4)
    assert np.allclose(d[0], [quarter, quarter, 2 * quarter, 0.0], rtol=1e-12, atol=1e-9)
    # across the dateline: 179.5°E to 179.5°W on the equator is 1° of arc
    assert great_circle_km(np.array([[179.5, 0.0]]), np.array([[-179.5, 0.0]]))[0, 0] == pytest.approx(
        math.radians(1.0) * EARTH_RADIUS_KM, rel=1e-9)


@settings(max_examples=50, deadline=None)
@given(a=st.tuples(lon_st, lat_st), b=st.tuples(lon_st, lat_st))
def test_chord_and_haversine_agree(a, b):
    pa, pb = np.array([a]), np.array([b])
    chord = np.linalg.norm(lonlat_to_xyz(pa) - lonlat_to_xyz(pb), axis=1)
    # asin is ill-conditioned near antipodes: a 1e-16 chord error is ~0.1 km there
    assert chord_to_km(chord)[0] == pytest.approx(great_circle_km(pa, pb)[0, 0], abs=0.5)
