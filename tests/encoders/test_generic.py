"""Contract shared by every encoder: shapes, dtypes, batching, gradients, seeds, state dicts, no host sync."""

import pytest
import torch

import geosrl

ALL = geosrl.list_encoders()
REQUIRED = {
    "tile", "wrap", "wrap_ffn", "rbf", "rff", "space2vec_grid", "space2vec_theory", "xyz", "nerf",
    "sphere2vec_spherec", "sphere2vec_spherec_plus", "sphere2vec_spherem", "sphere2vec_spherem_plus",
    "sphere2vec_dfs", "spherical_harmonics", "geoclip_rff", "direct",
}


def _points(n=64, dtype=torch.float64, seed=0):
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(n, 2, generator=g, dtype=torch.float64)
    return torch.stack([u[:, 0] * 360 - 180, u[:, 1] * 180 - 90], -1).to(dtype)


def test_registry_lists_required_names():
    assert REQUIRED <= set(ALL)
    assert geosrl.list_encoders("sphere2vec_*") == sorted(n for n in ALL if n.startswith("sphere2vec_"))


@pytest.mark.parametrize("name", ALL)
def test_constructs_without_arguments(name):
    pe = geosrl.create_positional_encoding(name)
    assert isinstance(pe.output_dim, int) and pe.output_dim > 0


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shapes_and_dtypes(name, dtype):
    pe = geosrl.create_positional_encoding(name)
    x = _points(24, dtype).reshape(2, 3, 4, 2)
    out = pe(x)
    assert out.shape == (2, 3, 4, pe.output_dim) and out.dtype == dtype
    assert torch.isfinite(out).all()
    assert pe(x[0, 0, 0]).shape == (pe.output_dim,)  # a single (2,) point


@pytest.mark.parametrize("name", ALL)
def test_batch_equals_row_by_row(name):
    pe = geosrl.create_positional_encoding(name)
    x = _points(16)
    batched = pe(x)
    rows = torch.stack([pe(x[i: i + 1])[0] for i in range(len(x))])
    # BLAS may fuse multiply-adds differently for one row and many: allow float64 rounding of phases
    # up to ~1e5 rad (NeRF's finest octave), far below any mixing of rows
    torch.testing.assert_close(batched, rows, atol=1e-10, rtol=0)


@pytest.mark.parametrize("name", sorted(set(ALL) - {"tile"}))
def test_gradients_finite(name):
    pe = geosrl.create_positional_encoding(name)
    x = torch.cat([_points(32), torch.tensor([[0.0, 90.0], [180.0, -90.0], [-180.0, 0.0]], dtype=torch.float64)])
    x.requires_grad_(True)
    pe(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert x.grad.abs().sum() > 0


def test_tile_gradient_only_wrt_embeddings():
    enc = geosrl.create_encoder("tile", embed_dim=8)
    x = _points(8).requires_grad_(True)
    enc(x).sum().backward()
    assert x.grad is None or torch.count_nonzero(x.grad) == 0
    assert enc.pe.embedding.weight.grad is not None


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("net", ["ffn", "siren", "linear", "native", None])
def test_create_encoder_every_net(name, net):
    torch.manual_seed(0)
    enc = geosrl.create_encoder(name, embed_dim=16, net=net)
    enc.eval()
    x = _points(5, torch.float32)
    out = enc(x)
    assert out.shape == (5, 16) and torch.isfinite(out).all()
    assert enc(x.double()).dtype == torch.float32  # float64 coordinates feed a float32 network


def test_native_networks():
    from geosrl.encoders.nets import FCNet, FFN, GeoCLIPMLP

    assert isinstance(geosrl.create_encoder("wrap").net, FCNet)
    assert isinstance(geosrl.create_encoder("wrap_ffn").net, FFN)
    assert isinstance(geosrl.create_encoder("geoclip_rff", embed_dim=512).net, GeoCLIPMLP)
    assert isinstance(geosrl.create_encoder("sphere2vec_spherec").net, FFN)


@pytest.mark.parametrize("name", ["rbf", "rff", "geoclip_rff", "tile"])
def test_seeded_determinism_and_state_dict_round_trip(name):
    kwargs = {} if name == "tile" else {"seed": 3}
    torch.manual_seed(1)
    a = geosrl.create_positional_encoding(name, **kwargs)
    torch.manual_seed(2)
    b = geosrl.create_positional_encoding(name, **kwargs)
    x = _points(10)
    if name != "tile":  # random features come from the seed, not the global RNG
        torch.testing.assert_close(a(x), b(x))
        c = geosrl.create_positional_encoding(name, seed=4)
        assert not torch.allclose(a(x), c(x))
    sd = a.state_dict()
    assert len(sd) > 0  # random matrices / anchors / embeddings are saved
    fresh = geosrl.create_positional_encoding(name, **({} if name == "tile" else {"seed": 99}))
    fresh.load_state_dict(sd, strict=True)
    torch.testing.assert_close(fresh(x), a(x))


@pytest.mark.parametrize("name", ALL)
def test_full_encoder_state_dict_round_trip(name):
    torch.manual_seed(0)
    a = geosrl.create_encoder(name, embed_dim=8).eval()
    torch.manual_seed(1)
    b = geosrl.create_encoder(name, embed_dim=8).eval()
    b.load_state_dict(a.state_dict(), strict=True)
    x = _points(6, torch.float32)
    torch.testing.assert_close(a(x), b(x))


@pytest.mark.parametrize("name", ALL)
def test_casts_keep_float64_phase_buffers(name):
    pe = geosrl.create_positional_encoding(name).float()
    for buf_name in pe._keep_dtype:
        assert getattr(pe, buf_name).dtype == torch.float64
    x = _points(8)
    torch.testing.assert_close(pe.double()(x), geosrl.create_positional_encoding(name)(x) if name != "tile" else pe(x))


@pytest.mark.parametrize("name", ALL)
def test_forward_traces_without_graph_breaks(name):
    """fullgraph tracing fails on NumPy calls, .cpu()/.item() host syncs and data-dependent Python control flow."""
    torch._dynamo.reset()  # every encoder shares PositionEncoding.forward; avoid the recompile limit
    pe = geosrl.create_positional_encoding(name, validate=False)
    compiled = torch.compile(pe, fullgraph=True, backend="eager", dynamic=False)
    x = _points(8)
    torch.testing.assert_close(compiled(x), pe(x))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cuda_matches_cpu(name, dtype):
    pe = geosrl.create_positional_encoding(name)
    x = _points(128, dtype)
    want = pe(x)
    got = pe.to("cuda")(x.to("cuda"))
    assert got.device.type == "cuda" and got.dtype == dtype
    torch.testing.assert_close(got.cpu(), want, atol=1e-5 if dtype == torch.float32 else 1e-10, rtol=1e-5)
