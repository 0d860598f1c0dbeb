"""Spherical harmonics: SciPy parity, float32 stability to L = 40, orthonormality, SatCLIP convention."""

import math

import numpy as np
import pytest
import torch
from scipy import special

import geosrl


def scipy_real_sh(lon_deg, lat_deg, L):
    """geosrl's canonical real basis (no Condon–Shortley phase) from SciPy's CS-phased complex Y."""
    colat = np.radians(90.0 - lat_deg)
    az = np.radians(lon_deg)
    cols = []
    for l in range(L):
        for m in range(-l, l + 1):
            y = special.sph_harm_y(l, abs(m), colat, az)
            if m == 0:
                cols.append(y.real)
            elif m > 0:
                cols.append(math.sqrt(2) * (-1) ** m * y.real)
            else:
                cols.append(math.sqrt(2) * (-1) ** m * y.imag)
    return np.stack(cols, -1)


def _points():
    rng = np.random.default_rng(1)
    lon = np.concatenate([rng.uniform(-180, 180, 300), [0, 45, -120, 10, 180, -180]])
    lat = np.concatenate([rng.uniform(-90, 90, 300), [90, -90, 89.9, -89.95, 0, 45]])
    return lon, lat


@pytest.mark.parametrize("L", [1, 2, 10, 25])
def test_scipy_parity_float64(L):
    lon, lat = _points()
    pe = geosrl.create_positional_encoding("spherical_harmonics", legendre_degree=L)
    got = pe(torch.tensor(np.stack([lon, lat], -1))).numpy()
    np.testing.assert_allclose(got, scipy_real_sh(lon, lat, L), atol=1e-10)


def test_float32_accurate_to_1e4_at_L40():
    lon, lat = _points()
    pe = geosrl.create_positional_encoding("spherical_harmonics", legendre_degree=40)
    assert pe.output_dim == 1600
    x32 = torch.tensor(np.stack([lon, lat], -1), dtype=torch.float32)
    want = scipy_real_sh(x32[:, 0].double().numpy(), x32[:, 1].double().numpy(), 40)
    got32 = pe(x32).double().numpy()
    assert np.abs(got32 - want).max() < 1e-4
    got64 = pe(x32.double()).numpy()
    assert np.abs(got64 - want).max() < 1e-9


def test_orthonormal_by_gauss_legendre_quadrature():
    L = 12
    nodes, weights = np.polynomial.legendre.leggauss(L + 1)  # in x = sin(lat)
    n_lon = 2 * L + 2
    lon = -180 + 360 * np.arange(n_lon) / n_lon
    lat = np.degrees(np.arcsin(nodes))
    LON, LAT = np.meshgrid(lon, lat)
    W = np.repeat(weights[:, None], n_lon, 1) * (2 * np.pi / n_lon)
    pe = geosrl.create_positional_encoding("spherical_harmonics", legendre_degree=L)
    Y = pe(torch.tensor(np.stack([LON.ravel(), LAT.ravel()], -1))).numpy()
    gram = Y.T @ (Y * W.ravel()[:, None])
    np.testing.assert_allclose(gram, np.eye(L * L), atol=1e-10)


def test_satclip_convention_map():
    lon, lat = _points()
    x = torch.tensor(np.stack([lon, lat], -1))
    L = 6
    base = geosrl.create_positional_encoding("spherical_harmonics", legendre_degree=L)(x).numpy()
    sat = geosrl.create_positional_encoding("spherical_harmonics", legendre_degree=L, convention="satclip")(x).numpy()
    for l in range(L):
        for m in range(-l, l + 1):
            c = l * l + l + m
            factor = (-1) ** l * (math.pi if m == 0 else 1.0)
            np.testing.assert_allclose(sat[:, c], factor * base[:, c], atol=1e-12)
    # SatCLIP's generated files have Y_0^0 = sqrt(pi)/2 (the m = 0 factor pi included)
    assert sat[0, 0] == pytest.approx(math.sqrt(math.pi) / 2)


def test_satclip_basis_uses_shifted_angles():
    """SatCLIP evaluates at polar = lat + 90°, azimuth = lon + 180°; check (l, m) = (1, 0) and (1, 1)."""
    x = torch.tensor([[30.0, 20.0]], dtype=torch.float64)
    sat = geosrl.create_positional_encoding("spherical_harmonics", legendre_degree=2, convention="satclip")(x)[0]
    polar, az = math.radians(20 + 90), math.radians(30 + 180)
    # SatCLIP's m = 0 term carries the extra factor pi: sqrt(3/4)*sqrt(pi)... = pi * sqrt(3/(4 pi)) cos(polar)
    assert sat[2].item() == pytest.approx(math.pi * math.sqrt(3 / (4 * math.pi)) * math.cos(polar))
    # m = 1: sqrt(2) * K_1^1 * P_1^1 (no CS phase) * cos(az), with P_1^1 = sin(polar)
    assert sat[3].item() == pytest.approx(math.sqrt(2) * math.sqrt(3 / (8 * math.pi)) * math.sin(polar) * math.cos(az))


@pytest.mark.parametrize("convention", ["geosrl", "satclip"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_blockwise_writes_equal_the_one_expression(convention, dtype, monkeypatch):
    """The eager no-grad path writes each degree's columns straight into the output; autograd and
    torch.compile use :meth:`encode`: both give the same values (up to rounding order)."""
    from geosrl.encoders.positional import base

    monkeypatch.setattr(base, "CHUNK_BYTES", 8 * 49 * 7)  # 7 rows per chunk, a partial last one
    pe = geosrl.create_positional_encoding("spherical_harmonics", legendre_degree=7, convention=convention)
    torch.manual_seed(0)
    x = torch.stack([torch.rand(40, dtype=torch.float64) * 360 - 180, torch.rand(40, dtype=torch.float64) * 180 - 90], 1)
    x[0] = torch.tensor([10.0, 90.0], dtype=torch.float64)  # a pole
    with torch.no_grad():
        blockwise = pe(x, dtype=dtype)
    assert pe._chunk_rows() == 7
    torch.testing.assert_close(blockwise, pe.encode(x, dtype), rtol=0, atol=1e-6 if dtype == torch.float32 else 1e-13)
