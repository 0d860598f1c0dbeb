"""tile with a regional extent: points outside it are refused, not clamped into an edge cell."""

import pytest
import torch

import geosrl
from geosrl.coords import CoordinateError

CALIFORNIA = (-125.0, -114.0, 32.0, 42.0)


def test_points_outside_a_regional_extent_are_refused():
    pe = geosrl.create_positional_encoding("tile", cell_size_deg=1.0, extent=CALIFORNIA, cell_dim=4)
    inside = torch.tensor([[-122.4, 37.8], [-114.0, 32.0]], dtype=torch.float64)  # the extent's edge counts
    assert pe(inside).shape == (2, 4)
    paris = torch.tensor([[-122.4, 37.8], [2.35, 48.85]], dtype=torch.float64)
    with pytest.raises(CoordinateError, match=r"1 point\(s\) lie outside.*lon=2.35, lat=48.85.*extent"):
        pe(paris)
    clamped = geosrl.create_positional_encoding("tile", cell_size_deg=1.0, extent=CALIFORNIA, cell_dim=4,
                                                validate=False)
    clamped.load_state_dict(pe.state_dict())
    assert torch.equal(clamped(paris)[1], pe(torch.tensor([[-114.0, 42.0]], dtype=torch.float64))[0])  # asked for


def test_global_extent_accepts_the_whole_sphere():
    pe = geosrl.create_positional_encoding("tile", cell_size_deg=10.0, cell_dim=4)
    corners = torch.tensor([[-180.0, -90.0], [180.0, 90.0], [0.0, 0.0]], dtype=torch.float64)
    assert pe(corners).shape == (3, 4)


def test_create_encoder_sets_the_table_and_the_network_widths_separately():
    """tile's own width is ``cell_dim``, so ``create_encoder``'s ``embed_dim`` (the network's output) does not
    shadow it."""
    enc = geosrl.create_encoder("tile", embed_dim=8, cell_dim=16, cell_size_deg=30.0)
    assert enc.pe.embedding.weight.shape == (12 * 6, 16)
    assert enc(torch.tensor([[10.0, 20.0]], dtype=torch.float64)).shape == (1, 8)
