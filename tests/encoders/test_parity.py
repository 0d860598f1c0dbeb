"""Every encoder equals an independent float64 NumPy implementation of its formula (TorchSpatial column order)."""

import numpy as np
import pytest
import torch

import geosrl

import encoder_reference as ref

CASES = [
    ("space2vec_grid", {}, lambda x, pe: ref.space2vec_grid(x)),
    ("space2vec_grid", dict(frequency_num=5, min_radius=0.05, max_radius=180.0),
     lambda x, pe: ref.space2vec_grid(x, 5, 0.05, 180.0)),
    ("space2vec_theory", {}, lambda x, pe: ref.space2vec_theory(x)),
    ("space2vec_theory", dict(frequency_num=7), lambda x, pe: ref.space2vec_theory(x, 7)),  # odd S
    ("sphere2vec_spherec", {}, lambda x, pe: ref.spherec(x)),
    ("sphere2vec_spherec_plus", dict(frequency_num=9, min_radius=0.01), lambda x, pe: ref.spherec_plus(x, 9, 0.01)),
    ("sphere2vec_spherec_plus", {}, lambda x, pe: ref.spherec_plus(x)),
    ("sphere2vec_spherem", {}, lambda x, pe: ref.spherem(x)),
    ("sphere2vec_spherem_plus", {}, lambda x, pe: ref.spherem_plus(x)),
    ("sphere2vec_spherem_plus", dict(frequency_num=6, max_radius=2.0, legacy_single_scale=True),
     lambda x, pe: ref.spherem_plus(x, w=ref.legacy_omega(6, 2.0))),
    ("sphere2vec_dfs", {}, lambda x, pe: ref.dfs(x)),
    ("sphere2vec_dfs", dict(frequency_num=4, legacy_single_scale=True),
     lambda x, pe: ref.dfs(x, w=ref.legacy_omega(4, 1.0))),
    ("xyz", {}, lambda x, pe: ref.xyz(x)),
    ("nerf", {}, lambda x, pe: ref.nerf(x)),
    ("nerf", dict(frequency_num=5), lambda x, pe: ref.nerf(x, 5)),
    ("wrap", {}, lambda x, pe: ref.wrap(x)),
    ("wrap", dict(lat_mode="mac_aodha"), lambda x, pe: ref.wrap_torchspatial(x)[:, [0, 1, 2, 3]]),
    ("wrap_ffn", {}, lambda x, pe: ref.wrap(x)),
    ("direct", {}, lambda x, pe: ref.direct(x)),
    ("direct", dict(mode="locationencoder"), lambda x, pe: np.radians(x) - np.pi),
    ("rbf", {}, lambda x, pe: ref.rbf(x, pe.anchors.numpy(), 2.0)),
    ("rbf", dict(distance="euclidean_deg", kernel_size_deg=5.0),
     lambda x, pe: ref.rbf(x, pe.anchors.numpy(), 5.0, euclidean=True)),
    ("rff", {}, lambda x, pe: ref.rff(x, pe.dirvec.numpy(), pe.shift.numpy())),
    ("geoclip_rff", {}, lambda x, pe: ref.geoclip_rff(x, [pe.b0.numpy(), pe.b1.numpy(), pe.b2.numpy()])),
]


@pytest.mark.parametrize("name,kwargs,reference", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_parity_float64(name, kwargs, reference, points64):
    pe = geosrl.create_positional_encoding(name, **kwargs)
    got = pe(points64).numpy()
    want = reference(points64.numpy(), pe)
    assert got.shape == want.shape == (len(points64), pe.output_dim)
    np.testing.assert_allclose(got, want, atol=1e-9, rtol=0)


def test_wrap_mac_aodha_matches_torchspatial_encode_loc_time(points64):
    # TorchSpatial's order is [sin(pi x_lon), sin(pi x_lat), cos(pi x_lon), cos(pi x_lat)]
    pe = geosrl.create_positional_encoding("wrap", lat_mode="mac_aodha")
    np.testing.assert_allclose(pe(points64).numpy(), ref.wrap_torchspatial(points64.numpy()), atol=1e-12)


@pytest.mark.parametrize("name,kwargs,reference", CASES[:14], ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES[:14])])
def test_float32_phases_are_range_reduced(name, kwargs, reference, points64):
    """float32 output stays within float32 rounding of the float64 result even for phases of ~10^3 rad."""
    pe = geosrl.create_positional_encoding(name, **kwargs)
    x32 = points64.float()
    got = pe(x32).double().numpy()
    want = reference(x32.double().numpy(), pe)  # same (rounded) input, exact math
    np.testing.assert_allclose(got, want, atol=2e-6, rtol=0)


def test_large_phase_float32_accuracy():
    """Space2Vec with λ_min = 1e-4° has phases ~1.8e6 rad; float32 output must still match float64 math."""
    pe = geosrl.create_positional_encoding("space2vec_grid", frequency_num=16, min_radius=1e-4)
    x = torch.tensor([[179.5, -89.25], [-33.0, 12.5]], dtype=torch.float32)  # exactly representable
    want = ref.space2vec_grid(x.double().numpy(), 16, 1e-4, 360.0)
    np.testing.assert_allclose(pe(x).double().numpy(), want, atol=2e-6)


def test_schedule_endpoints():
    pe = geosrl.create_positional_encoding("space2vec_grid", frequency_num=8, min_radius=0.5, max_radius=100.0)
    assert pe.omega[0].item() == pytest.approx(1 / 0.5)
    assert pe.omega[-1].item() == pytest.approx(1 / 100.0)
    assert torch.all(pe.omega[:-1] > pe.omega[1:])


def test_spherem_plus_and_dfs_honour_min_radius():
    """Defect B4 fixed: with λ_max = 1 the geometric schedule has distinct ω; legacy gives all ω = 1."""
    for name in ("sphere2vec_spherem_plus", "sphere2vec_dfs"):
        pe = geosrl.create_positional_encoding(name, frequency_num=4, min_radius=0.01)
        omega = pe.omega_deg / (np.pi / 180)
        assert len(set(np.round(omega.numpy(), 9))) == 4
        assert omega[0].item() == pytest.approx(100.0)
        legacy = geosrl.create_positional_encoding(name, frequency_num=4, min_radius=0.01, legacy_single_scale=True)
        np.testing.assert_allclose(legacy.omega_deg / (np.pi / 180), 1.0)


def test_legacy_switch_rejected_where_meaningless():
    with pytest.raises(ValueError, match="legacy_single_scale"):
        geosrl.create_positional_encoding("sphere2vec_spherec", legacy_single_scale=True)


def test_spherec_single_scale_is_zxy(points64):
    pe = geosrl.create_positional_encoding("sphere2vec_spherec", frequency_num=1, min_radius=1.0, max_radius=1.0)
    p = ref.xyz(points64.numpy())
    np.testing.assert_allclose(pe(points64).numpy(), p[:, [2, 0, 1]], atol=1e-12)


def test_schedule_rejects_bad_radii():
    with pytest.raises(ValueError, match="frequency_num = 1"):
        geosrl.create_positional_encoding("space2vec_grid", frequency_num=1)
    with pytest.raises(ValueError, match="must not exceed"):
        geosrl.create_positional_encoding("space2vec_grid", min_radius=10.0, max_radius=1.0)
    with pytest.raises(ValueError, match="positive"):
        geosrl.create_positional_encoding("sphere2vec_spherec", min_radius=0.0)


def test_nerf_frequency_num_honoured():
    for L in (1, 4, 16, 20):
        assert geosrl.create_positional_encoding("nerf", frequency_num=L).output_dim == 6 * L


def test_geoclip_blocks_and_extents():
    pe = geosrl.create_positional_encoding("geoclip_rff")
    assert pe.output_dim == 1536
    from geosrl.encoders.positional.geoclip import equal_earth

    corners = torch.tensor([[180.0, 0.0], [-180.0, 0.0], [0.0, 90.0], [0.0, -90.0]], dtype=torch.float64)
    v = equal_earth(corners)
    np.testing.assert_allclose(v[:, 0].abs().numpy()[:2], 1.0, atol=1e-4)
    np.testing.assert_allclose(v[2:, 1].abs().numpy(), 0.4867, atol=1e-4)
    # block i uses sigma_i: the std of B_i tracks sigma
    stds = [pe.b0.std().item(), pe.b1.std().item(), pe.b2.std().item()]
    assert stds[0] == pytest.approx(1, rel=0.15) and stds[1] == pytest.approx(16, rel=0.15)
    assert stds[2] == pytest.approx(256, rel=0.15)
    # cos block first: at v = 0 (lon = lat = 0) every cos column is 1 and every sin column 0
    out = pe(torch.zeros(1, 2, dtype=torch.float64))[0]
    for i in range(3):
        np.testing.assert_allclose(out[512 * i: 512 * i + 256].numpy(), 1.0)
        np.testing.assert_allclose(out[512 * i + 256: 512 * (i + 1)].numpy(), 0.0)
