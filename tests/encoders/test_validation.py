"""Every bad input is rejected with an error that names the fix; empty batches pass."""

import math

import pytest
import torch

import geosrl
from geosrl import CoordinateError

ALL = geosrl.list_encoders()


def test_coordinate_error_is_value_error():
    assert issubclass(CoordinateError, ValueError)


@pytest.mark.parametrize("name", ALL)
def test_bad_values_raise(name):
    pe = geosrl.create_positional_encoding(name)
    cases = {
        "NaN": torch.tensor([[0.0, math.nan]]),
        "inf": torch.tensor([[math.inf, 0.0]]),
        r"latitude value\(s\) outside": torch.tensor([[100.0, 91.0], [170.0, 0.0]]),
        r"longitude value\(s\) outside": torch.tensor([[180.5, 10.0]]),
    }
    for message, x in cases.items():
        with pytest.raises(CoordinateError, match=message):
            pe(x)


@pytest.mark.parametrize("name", ALL)
def test_swapped_columns_suggest_lonlat(name):
    latlon = torch.tensor([[48.85, 2.35], [37.8, -122.4], [-33.9, 151.2]])
    with pytest.raises(CoordinateError, match=r"swapped.*\(lon, lat\).*flip"):
        geosrl.create_positional_encoding(name)(latlon)


@pytest.mark.parametrize("name", ALL)
def test_shape_and_dtype_checked_even_without_validation(name):
    pe = geosrl.create_positional_encoding(name, validate=False)
    with pytest.raises(CoordinateError, match=r"shape \(\.\.\., 2\)"):
        pe(torch.zeros(4, 3))
    with pytest.raises(CoordinateError, match="floating-point"):
        pe(torch.zeros(4, 2, dtype=torch.int64))
    with pytest.raises(CoordinateError, match="torch.Tensor"):
        pe([[0.0, 0.0]])


@pytest.mark.parametrize("name", ALL)
def test_validate_false_skips_value_checks(name):
    pe = geosrl.create_positional_encoding(name, validate=False)
    out = pe(torch.tensor([[0.0, 91.0]]))  # out of range, but the caller opted out
    assert out.shape == (1, pe.output_dim)


@pytest.mark.parametrize("name", ALL)
def test_empty_batch(name):
    pe = geosrl.create_positional_encoding(name)
    for shape in [(0, 2), (3, 0, 2)]:
        out = pe(torch.zeros(shape, dtype=torch.float64))
        assert out.shape == shape[:-1] + (pe.output_dim,)
    enc = geosrl.create_encoder(name, embed_dim=8)
    assert enc(torch.zeros(0, 2)).shape == (0, 8)


def test_boundaries_are_accepted():
    x = torch.tensor([[-180.0, -90.0], [180.0, 90.0]], dtype=torch.float64)
    geosrl.validate_lonlat(x)


def test_single_point_with_small_lon_is_not_flagged_as_swap():
    geosrl.validate_lonlat(torch.tensor([[10.0, 45.0]]))


def test_unknown_names():
    with pytest.raises(ValueError, match="unknown encoder"):
        geosrl.create_positional_encoding("nope")
    with pytest.raises(ValueError, match="unknown net"):
        geosrl.create_encoder("xyz", net="transformer")


def test_constructor_argument_errors():
    with pytest.raises(ValueError, match="lat_mode"):
        geosrl.create_positional_encoding("wrap", lat_mode="bogus")
    with pytest.raises(ValueError, match="cell_size_deg"):
        geosrl.create_positional_encoding("tile", cell_size_deg=0)
    with pytest.raises(ValueError, match="max_cells"):
        geosrl.create_positional_encoding("tile", cell_size_deg=0.05)
    with pytest.raises(ValueError, match="legendre_degree"):
        geosrl.create_positional_encoding("spherical_harmonics", legendre_degree=0)
    with pytest.raises(ValueError, match="omega_var or omega_std"):
        geosrl.create_positional_encoding("rff", omega_var=1.0, omega_std=1.0)
    with pytest.raises(CoordinateError):
        geosrl.create_positional_encoding("rbf", anchors=torch.tensor([[0.0, 95.0]]))
