"""Encoder-specific checks: tile grid, RBF anchors and kernel, RFF kernel approximation."""

import math

import numpy as np
import pytest
import torch

import geosrl
from geosrl.encoders.positional.rbf import RBFEncoding


# ---------------------------------------------------------------- tile
def test_tile_index_formula_and_cell_count():
    pe = geosrl.create_positional_encoding("tile", cell_size_deg=10.0, cell_dim=4)
    assert (pe.n_col, pe.n_row) == (36, 18) and pe.embedding.num_embeddings == 648
    x = torch.tensor([[-180.0, -90.0], [-175.0, -85.0], [-170.0, -90.0], [0.0, 0.0], [180.0, 90.0], [179.9, 89.9]])
    idx = pe.cell_index(x)
    assert idx.tolist() == [0, 0, 1, 9 * 36 + 18, 17 * 36 + 35, 17 * 36 + 35]  # 180/90 clip to last col/row
    assert pe.embedding.weight.std().item() == pytest.approx(1 / 4, rel=0.2)


def test_tile_default_is_one_degree_grid_and_legacy_is_one_cell():
    assert geosrl.create_positional_encoding("tile").embedding.num_embeddings == 360 * 180
    legacy = geosrl.create_positional_encoding("tile", legacy_single_cell=True)
    assert legacy.embedding.num_embeddings == 1
    out = legacy(torch.tensor([[-120.0, 40.0], [100.0, -30.0]]))
    torch.testing.assert_close(out[0], out[1])


def test_tile_distinct_cells_distinct_embeddings():
    pe = geosrl.create_positional_encoding("tile")
    a, b = pe(torch.tensor([[10.5, 10.5], [11.5, 10.5]]))
    assert not torch.equal(a, b)


# ---------------------------------------------------------------- rbf
def test_rbf_value_one_at_anchor_and_exp_half_at_sigma():
    anchors = torch.tensor([[0.0, 0.0], [100.0, 45.0]], dtype=torch.float64)
    pe = geosrl.create_positional_encoding("rbf", anchors=anchors, kernel_size_deg=3.0)
    out = pe(torch.tensor([[0.0, 0.0], [0.0, 3.0], [100.0, 48.0]], dtype=torch.float64))
    assert out[0, 0].item() == pytest.approx(1.0)
    assert out[1, 0].item() == pytest.approx(math.exp(-0.5))  # 3° north = σ of great-circle distance
    assert out[2, 1].item() == pytest.approx(math.exp(-0.5))


def test_rbf_great_circle_accounts_for_latitude():
    """3° of longitude at 60°N is ~1.5° of great-circle distance; the Euclidean legacy says 3°."""
    anchors = torch.tensor([[0.0, 60.0]], dtype=torch.float64)
    x = torch.tensor([[3.0, 60.0]], dtype=torch.float64)
    gc = geosrl.create_positional_encoding("rbf", anchors=anchors, kernel_size_deg=1.0)(x).item()
    eu = geosrl.create_positional_encoding("rbf", anchors=anchors, kernel_size_deg=1.0, distance="euclidean_deg")(x).item()
    assert gc > 0.3 and eu == pytest.approx(math.exp(-4.5))


def test_rbf_default_anchors_uniform_on_sphere_and_seeded():
    pe = geosrl.create_positional_encoding("rbf", num_anchors=4000, seed=5)
    lat = pe.anchors[:, 1].numpy()
    # uniform on the sphere: sin(lat) is uniform on [-1, 1] (mean 0, var 1/3); lon uniform
    s = np.sin(np.radians(lat))
    assert abs(s.mean()) < 0.05 and abs(s.var() - 1 / 3) < 0.03
    assert abs(pe.anchors[:, 0].mean().item()) < 10
    again = geosrl.create_positional_encoding("rbf", num_anchors=4000, seed=5)
    torch.testing.assert_close(pe.anchors, again.anchors)


def test_rbf_from_locations():
    g = torch.Generator().manual_seed(0)
    locs = torch.stack([torch.rand(500, generator=g) * 20, torch.rand(500, generator=g) * 10 + 40], -1).double()
    pe = RBFEncoding.from_locations(locs, num_anchors=50, seed=1)
    assert pe.output_dim == 50
    # every anchor is one of the locations, drawn without replacement
    match = (pe.anchors[:, None, :] == locs[None]).all(-1).any(-1)
    assert match.all() and len({tuple(a) for a in pe.anchors.tolist()}) == 50
    small = RBFEncoding.from_locations(locs[:10], num_anchors=30, seed=1)  # with replacement
    assert small.output_dim == 30
    assert torch.equal(RBFEncoding.from_locations(locs, 50, seed=1).anchors, pe.anchors)
    sd = pe.state_dict()
    assert "anchors" in sd
    fresh = geosrl.create_positional_encoding("rbf", num_anchors=50, seed=9)
    fresh.load_state_dict(sd)
    torch.testing.assert_close(fresh.anchors, pe.anchors)


# ---------------------------------------------------------------- rff
def test_rff_bounded_and_input_not_mutated():
    pe = geosrl.create_positional_encoding("rff", frequency_num=32)
    x = torch.tensor([[170.0, 80.0], [-60.0, -10.0]], dtype=torch.float64)
    before = x.clone()
    out = pe(x)
    assert torch.equal(x, before)
    assert out.abs().max() <= math.sqrt(2 / 32) + 1e-12


def test_rff_kernel_approximation():
    """Σ_d PE_d(x)PE_d(y) → exp(−v‖x̃ − ỹ‖²/2) as D grows (Monte Carlo error ~ 1/√D)."""
    v = 4.0
    pe = geosrl.create_positional_encoding("rff", frequency_num=20000, omega_var=v, seed=0)
    x = torch.tensor([[0.0, 0.0], [18.0, 9.0], [36.0, -9.0], [-90.0, 45.0]], dtype=torch.float64)
    f = pe(x)
    xn = x / torch.tensor([180.0, 90.0], dtype=torch.float64)
    want = torch.exp(-v * torch.cdist(xn, xn) ** 2 / 2)
    torch.testing.assert_close(f @ f.T, want, atol=0.03, rtol=0)
    assert pe.dirvec.std().item() == pytest.approx(2.0, rel=0.05)


def test_rff_omega_std_alias():
    a = geosrl.create_positional_encoding("rff", omega_std=3.0, seed=1)
    b = geosrl.create_positional_encoding("rff", omega_var=9.0, seed=1)
    torch.testing.assert_close(a.dirvec, b.dirvec)
