"""Networks: FFN layer order, SIREN initialisation, FCNet, GeoCLIP MLP layout."""

import math

import pytest
import torch
from torch import nn

import geosrl
from geosrl.encoders.nets import BitDropout, FCNet, FFN, GeoCLIPMLP, Siren, use_bit_dropout


def test_ffn_layer_order():
    ffn = FFN(10, 6, num_hidden_layers=2, hidden_dim=8, dropout=0.0)
    hidden1, hidden2, out = ffn.blocks
    assert hidden1.layer_norm is not None and not hidden1.skip  # 10 -> 8: widths differ, no skip
    assert hidden2.layer_norm is not None and hidden2.skip  # 8 -> 8: skip
    assert out.layer_norm is None and not out.skip  # output block: no LN, no skip
    x = torch.randn(3, 10)
    h = hidden1.layer_norm(hidden1.activation(hidden1.linear(x)))
    h = hidden2.layer_norm(hidden2.activation(hidden2.linear(h)) + h)
    torch.testing.assert_close(ffn(x), out.activation(out.linear(h)))


def test_ffn_zero_hidden_layers():
    ffn = FFN(5, 7, num_hidden_layers=0)
    assert len(ffn.blocks) == 1 and ffn.blocks[0].linear.in_features == 5


def test_siren_init_ranges_and_w0():
    torch.manual_seed(0)
    net = Siren(40, 16, hidden_dim=64, num_layers=3, w0_initial=30.0)
    first, second, third = net.layers
    assert first.w0 == 30.0 and second.w0 == 1.0 and third.w0 == 1.0
    assert first.linear.weight.abs().max() <= 1 / 40
    assert second.linear.weight.abs().max() <= math.sqrt(6 / 64)
    assert second.linear.weight.abs().max() > 0.8 * math.sqrt(6 / 64)
    assert net.last_layer.weight.abs().max() <= math.sqrt(6 / 64)
    x = torch.randn(2, 40)
    h = torch.sin(30.0 * first.linear(x))
    h = torch.sin(third.linear(torch.sin(second.linear(h))))
    torch.testing.assert_close(net(x), net.last_layer(h))


def test_fcnet_structure():
    net = FCNet(4, 256)
    assert net.inp.in_features == 4 and len(net.res) == 4
    assert all(layer.w1.in_features == 256 for layer in net.res)


def test_geoclip_mlp_parameter_count_and_keys():
    mlp = GeoCLIPMLP(1536, 512)
    n = sum(p.numel() for p in mlp.parameters())
    assert n == 9_449_472 - 3 * 256 * 2  # GeoCLIP's total includes the three 256x2 RFF matrices
    keys = set(mlp.state_dict())
    assert "branches.0.capsule.1.weight" in keys and "branches.2.head.0.bias" in keys


def test_geoclip_mlp_sums_branches():
    torch.manual_seed(0)
    mlp = GeoCLIPMLP(12, 3, n_branches=3, hidden_dim=5)
    x = torch.randn(2, 12)
    want = sum(b(x[:, 4 * i: 4 * (i + 1)]) for i, b in enumerate(mlp.branches))
    torch.testing.assert_close(mlp(x), want)


def test_siren_encoder_learns_a_function():
    """Sanity: spherical harmonics + SIREN fits a smooth field on the sphere."""
    torch.manual_seed(0)
    enc = geosrl.create_encoder("spherical_harmonics", embed_dim=1, net="siren", legendre_degree=6,
                                net_kwargs={"hidden_dim": 32})
    g = torch.Generator().manual_seed(0)
    x = torch.stack([torch.rand(256, generator=g) * 360 - 180, torch.rand(256, generator=g) * 180 - 90], -1)
    y = torch.cos(torch.deg2rad(x[:, 1])) * torch.sin(torch.deg2rad(x[:, 0]))
    opt = torch.optim.Adam(enc.parameters(), lr=3e-3)
    first = None
    for _ in range(120):
        loss = ((enc(x)[:, 0] - y) ** 2).mean()
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.1 * first


@pytest.mark.parametrize("p", [0.1, 0.5, 0.9])
def test_bit_dropout_keeps_1_minus_p_and_preserves_the_mean(p):
    torch.manual_seed(0)
    drop = BitDropout(p).train()
    x = torch.ones(400, 1000)
    y = drop(x)
    kept = (y != 0).double().mean().item()
    assert abs(kept - (1 - p)) < 5 * math.sqrt(p * (1 - p) / x.numel())  # 5 binomial standard errors
    assert abs(y.double().mean().item() - 1.0) < 5 * math.sqrt(p / (1 - p) / x.numel())
    assert torch.all((y == 0) | torch.isclose(y, torch.tensor(1 / (1 - p)), rtol=1e-4))


def test_bit_dropout_masks_are_independent_across_elements_and_calls():
    torch.manual_seed(0)
    drop = BitDropout(0.5)
    a, b = (drop.keep_mask(torch.empty(200, 501)).double() for _ in range(2))
    # neighbouring elements share a 64-bit random word: their masks must still be uncorrelated
    for x, y in [(a[:, :-1], a[:, 1:]), (a[:, :-4], a[:, 4:]), (a, b)]:
        assert abs(torch.corrcoef(torch.stack([x.flatten(), y.flatten()]))[0, 1].item()) < 0.02


def test_bit_dropout_gradient_eval_mode_zero_p_and_reproducibility():
    x = torch.randn(64, 33, dtype=torch.float64, requires_grad=True)
    drop = BitDropout(0.3)
    torch.manual_seed(1)
    y = drop(x)
    y.sum().backward()
    assert y.dtype == torch.float64 and torch.equal(x.grad, (y != 0).double() * drop.scale)
    assert drop.scale == 1 / (1 - drop.threshold / 2**15) and abs(drop.threshold / 2**15 - 0.3) < 2**-16
    torch.manual_seed(1)
    assert torch.equal(drop(x), y)  # the same seed, the same mask
    assert drop.eval()(x) is x and BitDropout(0.0).train()(x) is x
    with pytest.raises(ValueError, match="p"):
        BitDropout(1.0)


def test_use_bit_dropout_swaps_every_dropout_of_an_encoder_and_keeps_its_state():
    enc = geosrl.create_encoder("sphere2vec_spherec", embed_dim=16, validate=False,
                                net_kwargs={"dropout": 0.4, "num_hidden_layers": 2})
    before = {k: v.clone() for k, v in enc.state_dict().items()}
    n_dropout = sum(type(m) is nn.Dropout for m in enc.modules())
    assert n_dropout >= 2 and use_bit_dropout(enc) == n_dropout
    assert not any(type(m) is nn.Dropout for m in enc.modules())
    assert [m.p for m in enc.modules() if isinstance(m, BitDropout)] == [0.4] * n_dropout
    assert enc.state_dict().keys() == before.keys() and all(torch.equal(enc.state_dict()[k], v) for k, v in before.items())
    enc.eval()
    ll = torch.tensor([[10.0, 20.0], [-70.0, -33.0]])
    assert enc(ll).shape == (2, 16)
