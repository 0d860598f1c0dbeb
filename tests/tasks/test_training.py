"""The protocols' training helpers (geosrl.tasks.training): the position-feature cache and fused Adam."""

import pytest
import torch

import geosrl
from geosrl.config import ConfigError
from geosrl.sphere import uniform_lonlat
from geosrl.tasks import resolve_config, run_task
from geosrl.tasks import training
from geosrl.encoders.nets import BitDropout
from geosrl.tasks.training import PositionCache, adam, protocol_optimizer

from .conftest import FAST, tiny_encoder


def _points(n, seed):
    return uniform_lonlat(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


@pytest.mark.parametrize("name, kwargs", [("spherical_harmonics", {"legendre_degree": 30}), ("sphere2vec_dfs", {}),
                                          ("rbf", {}), ("rff", {})])
def test_cached_features_give_the_encoder_s_numbers_row_for_row(name, kwargs):
    torch.manual_seed(0)
    enc = geosrl.create_encoder(name, embed_dim=16, validate=False, **kwargs).train()  # dropout on
    ll, extra = _points(300, 0), _points(37, 1)
    rows = torch.randperm(300, generator=torch.Generator().manual_seed(2))[:61]
    cache = PositionCache(enc, ll)
    assert cache.features is not None and cache.features.shape == (300, enc.pe.output_dim)
    for args, x in [((rows, extra), torch.cat([ll[rows], extra])), ((rows,), ll[rows])]:
        torch.manual_seed(5)
        cached = cache(*args)
        torch.manual_seed(5)
        assert torch.equal(cached, enc(x))  # bit-identical, the same dropout draws
    cached.sum().backward()
    assert all(p.grad is not None for p in enc.net.parameters())


def test_learnable_foreign_or_too_large_encodings_are_encoded_every_call(monkeypatch):
    ll, rows = _points(200, 0), torch.arange(0, 200, 3)
    torch.manual_seed(0)
    tile = geosrl.create_encoder("tile", embed_dim=8, validate=False).eval()  # a trainable table: never cached
    tiny = tiny_encoder(8)  # not a LocationEncoder: its forward is its own
    for enc in (tile, tiny):
        cache = PositionCache(enc, ll)
        assert cache.features is None and torch.equal(cache(rows), enc(ll[rows]))
    sh = geosrl.create_encoder("spherical_harmonics", embed_dim=8, validate=False).eval()
    monkeypatch.setattr(training, "CACHE_BYTES", 200 * sh.pe.output_dim * 4 - 1)
    cache = PositionCache(sh, ll)
    assert cache.features is None and torch.equal(cache(rows, ll[:5]), sh(torch.cat([ll[rows], ll[:5]])))


def test_fused_adam_takes_the_same_steps_up_to_rounding():
    torch.manual_seed(0)
    plain, fused = torch.nn.Linear(8, 4), torch.nn.Linear(8, 4)
    fused.load_state_dict(plain.state_dict())
    x, start = torch.randn(32, 8), plain.weight.detach().clone()
    for model, fuse in [(plain, False), (fused, True)]:
        opt = adam(model.parameters(), 1e-2, 1e-4, fuse)
        for _ in range(20):
            opt.zero_grad()
            model(x).pow(2).mean().backward()
            opt.step()
    assert opt.defaults["fused"] and (plain.weight - start).abs().max() > 0.05  # both moved, by the same steps
    torch.testing.assert_close(fused.weight, plain.weight, rtol=1e-5, atol=1e-6)


def test_fused_adam_cells_run_and_are_reproducible(reg_data):
    cfg = dict(FAST, fused_adam=True, lr_grid=[1e-2], geo_bias=False)
    a, b = (run_task(reg_data, "spherical_harmonics", "random", 0, cfg) for _ in range(2))
    assert a.metrics == b.metrics and a.metrics["r2"] > 0.3
    with pytest.raises(ConfigError, match="fused_adam"):
        resolve_config({"fused_adam": "yes"})


def test_fast_dropout_swaps_the_protocol_model_s_dropout_and_cells_stay_reproducible(reg_data):
    for fast in (False, True):
        model = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Dropout(0.3))
        protocol_optimizer(model, 1e-2, resolve_config({"fast_dropout": fast}))
        assert type(model[1]) is (BitDropout if fast else torch.nn.Dropout) and model[1].p == 0.3
    cfg = dict(FAST, fast_dropout=True, dropout=0.2, lr_grid=[1e-2], geo_bias=False)
    a, b = (run_task(reg_data, "spherical_harmonics", "random", 0, cfg) for _ in range(2))
    plain = run_task(reg_data, "spherical_harmonics", "random", 0, dict(cfg, fast_dropout=False))
    assert a.metrics == b.metrics and a.metrics["r2"] > 0.3
    assert a.metrics != plain.metrics  # another random stream: the switch reached the cell's model
    with pytest.raises(ConfigError, match="fast_dropout"):
        resolve_config({"fast_dropout": 1})


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cached_features_fused_adam_and_pruning_run_on_cuda(cls_data):
    cfg = dict(FAST, fused_adam=True, tune={"trials": 4, "pruner": "median", "prune_startup": 1, "prune_warmup": 1},
               patience=2, geo_bias=False)
    res = run_task(cls_data, "spherical_harmonics", "random", 0, cfg, device="cuda")
    assert res.metrics["top1"] > 0.6 and res.chosen_hparams["device"].startswith("cuda")
