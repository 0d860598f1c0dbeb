"""Longitude periodicity and pole behaviour, per the reference's property table (hypothesis).

Where the table says a property holds it is asserted; where it says it does not, the documented
failure is asserted instead, so a silent change of behaviour fails either way.
"""

import functools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import geosrl

lat_st = st.floats(-90, 90, allow_nan=False)
lon_st = st.floats(-180, 180, allow_nan=False)
SETTINGS = settings(max_examples=40, deadline=None)

# name -> (kwargs, periodic, pole-consistent)
HOLDS = {
    "wrap": ({}, True, False),
    "wrap_ffn": ({}, True, False),
    "rbf": ({}, True, True),
    "xyz": ({}, True, True),
    "nerf": ({}, True, True),
    "spherical_harmonics": ({"legendre_degree": 12}, True, True),
    # integer-ω bands only: a single ω = 1 band
    "sphere2vec_spherec": ({"frequency_num": 1, "min_radius": 1.0, "max_radius": 1.0}, True, True),
    "sphere2vec_spherem": ({"frequency_num": 1, "min_radius": 1.0, "max_radius": 1.0}, True, True),
    "sphere2vec_spherec_plus": ({"frequency_num": 1, "min_radius": 1.0, "max_radius": 1.0}, True, False),
    "sphere2vec_spherem_plus": ({"frequency_num": 1, "min_radius": 1.0, "max_radius": 1.0}, True, False),
    "sphere2vec_dfs": ({"frequency_num": 1, "min_radius": 1.0, "max_radius": 1.0}, True, False),
    # defaults (geometric, non-integer ω), planar and projected encodings
    "sphere2vec_spherec@default": ({}, False, False),
    "sphere2vec_spherem@default": ({}, False, False),
    "sphere2vec_dfs@default": ({}, False, False),
    "space2vec_grid": ({}, False, False),
    "space2vec_theory": ({}, False, False),
    "rff": ({}, False, False),
    "geoclip_rff": ({}, False, False),
    "direct": ({}, False, False),
    "tile": ({}, False, False),
}


@functools.lru_cache(maxsize=None)
def _pe(key):
    name = key.split("@")[0]
    kwargs = HOLDS[key][0]
    return geosrl.create_positional_encoding(name, **kwargs)


def _tol(pe):
    omega = getattr(pe, "omega", None)
    scale = float(omega.max()) if omega is not None else 1.0
    return 1e-9 * max(scale, 1.0)


def test_every_encoder_has_a_property_row():
    assert {k.split("@")[0] for k in HOLDS} == set(geosrl.list_encoders())


@pytest.mark.parametrize("key", sorted(HOLDS))
@SETTINGS
@given(lat=lat_st)
def test_longitude_periodicity(key, lat):
    pe = _pe(key)
    x = torch.tensor([[-180.0, lat], [180.0, lat]], dtype=torch.float64)
    a, b = pe(x)
    if HOLDS[key][1]:
        torch.testing.assert_close(a, b, atol=_tol(pe), rtol=0)
    elif abs(lat) < 89.0:  # away from the poles every non-periodic encoding differs at the antimeridian
        assert (a - b).abs().max() > 1e-6


@pytest.mark.parametrize("key", sorted(HOLDS))
@SETTINGS
@given(lon1=lon_st, lon2=lon_st, pole=st.sampled_from([-90.0, 90.0]))
def test_pole_consistency(key, lon1, lon2, pole):
    pe = _pe(key)
    a, b = pe(torch.tensor([[lon1, pole], [lon2, pole]], dtype=torch.float64))
    if HOLDS[key][2]:
        torch.testing.assert_close(a, b, atol=1e-9 * max(1.0, _tol(pe) * 1e9), rtol=0)
    elif abs(lon1 - lon2) > 5 and abs(abs(lon1 - lon2) - 360) > 5 and key != "tile":
        assert (a - b).abs().max() > 1e-6


def test_rbf_euclidean_legacy_has_no_dateline_wrap():
    anchors = torch.tensor([[179.0, 10.0]], dtype=torch.float64)
    x = torch.tensor([[180.0, 10.0], [-180.0, 10.0]], dtype=torch.float64)
    east, west = geosrl.create_positional_encoding("rbf", anchors=anchors, distance="euclidean_deg")(x)
    assert east.item() == pytest.approx(math.exp(-1 / 8)) and west.item() < 1e-30
    east, west = geosrl.create_positional_encoding("rbf", anchors=anchors)(x)
    assert east.item() == pytest.approx(west.item(), abs=1e-12)


def test_tile_pole_cells_differ_by_longitude():
    pe = geosrl.create_positional_encoding("tile")
    a, b = pe(torch.tensor([[0.0, 90.0], [90.0, 90.0]]))
    assert not torch.equal(a, b)


@pytest.mark.parametrize("key", [k for k in sorted(HOLDS) if HOLDS[k][1]])
def test_continuity_across_antimeridian(key):
    pe = _pe(key)
    eps = 1e-7
    lat = torch.linspace(-80, 80, 9, dtype=torch.float64)
    west = pe(torch.stack([torch.full_like(lat, -180 + eps), lat], -1))
    east = pe(torch.stack([torch.full_like(lat, 180 - eps), lat], -1))
    omega = getattr(pe, "omega", torch.ones(1))
    assert (west - east).abs().max() < 1e-5 * max(1.0, float(omega.max()))


def test_wrap_poles_distinct_by_default_equal_in_mac_aodha_mode():
    x = torch.tensor([[30.0, 90.0], [30.0, -90.0]], dtype=torch.float64)
    north, south = geosrl.create_positional_encoding("wrap")(x)
    assert (north - south).abs().max() > 1.0
    north, south = geosrl.create_positional_encoding("wrap", lat_mode="mac_aodha")(x)
    torch.testing.assert_close(north, south, atol=1e-12, rtol=0)


def test_sphere2vec_integer_band_is_periodic_in_default_schedule():
    """Only the ω = 1 band (the last, λ_max = 1) of the default geometric schedule is 360°-periodic."""
    pe = geosrl.create_positional_encoding("sphere2vec_spherec")
    a, b = pe(torch.tensor([[-180.0, 20.0], [180.0, 20.0]], dtype=torch.float64))
    S = pe.frequency_num
    diff = (a - b).abs().reshape(S, 3).max(-1).values
    assert diff[-1] < 1e-12
    assert (diff[:-1] > 1e-9).sum() >= S - 3


def test_xyz_unit_norm():
    g = torch.Generator().manual_seed(0)
    x = torch.stack([torch.rand(100, generator=g) * 360 - 180, torch.rand(100, generator=g) * 180 - 90], -1)
    out = geosrl.create_positional_encoding("xyz")(x.double())
    torch.testing.assert_close(out.norm(dim=-1), torch.ones(100, dtype=torch.float64))


def test_direct_corners():
    pe = geosrl.create_positional_encoding("direct")
    x = torch.tensor([[-180.0, -90.0], [180.0, 90.0], [0.0, 0.0], [90.0, -45.0]])
    torch.testing.assert_close(pe(x), torch.tensor([[-1.0, -1.0], [1.0, 1.0], [0.0, 0.0], [0.5, -0.5]]))
    le = geosrl.create_positional_encoding("direct", mode="locationencoder")
    torch.testing.assert_close(le(torch.tensor([[180.0, 90.0]], dtype=torch.float64)),
                               torch.tensor([[0.0, -math.pi / 2]], dtype=torch.float64))
