"""The sinusoidal fast path (issue 12): float64 range reduction in turns, trigonometry in the output
dtype, cache-sized chunks; accurate against the float64 NumPy references at extreme scales, equal to
the one-expression (compile/autograd) path, differentiable, and one sine per distinct factor."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import geosrl
from geosrl.encoders.positional import base

import encoder_reference as ref

F32_BOUND = 1e-6  # |float32 sine of a reduced phase − exact| ≤ a few float32 ulps of 2π
#: (encoder, kwargs, reference) at default, very fine (10⁶ rad phases) and very coarse (10⁻⁴ rad) scales
CASES = [
    ("space2vec_grid", {}, lambda x: ref.space2vec_grid(x)),
    ("space2vec_grid", {"min_radius": 1e-4, "max_radius": 1e4}, lambda x: ref.space2vec_grid(x, 32, 1e-4, 1e4)),
    ("space2vec_theory", {"frequency_num": 8, "min_radius": 1e-4, "max_radius": 1e5},
     lambda x: ref.space2vec_theory(x, 8, 1e-4, 1e5)),
    ("sphere2vec_spherec", {"min_radius": 1e-6, "max_radius": 1e3}, lambda x: ref.spherec(x, 32, 1e-6, 1e3)),
    ("sphere2vec_spherec_plus", {}, lambda x: ref.spherec_plus(x)),
    ("sphere2vec_spherem", {"frequency_num": 12, "min_radius": 1e-6, "max_radius": 1e3},
     lambda x: ref.spherem(x, 12, 1e-6, 1e3)),
    ("sphere2vec_spherem_plus", {}, lambda x: ref.spherem_plus(x)),
    ("sphere2vec_dfs", {"frequency_num": 6, "min_radius": 1e-6, "max_radius": 10.0},
     lambda x: ref.dfs(x, 6, 1e-6, 10.0)),
    ("nerf", {}, lambda x: ref.nerf(x)),
    ("nerf", {"frequency_num": 24}, lambda x: ref.nerf(x, 24)),
]
IDS = [f"{name}-{i}" for i, (name, _, _) in enumerate(CASES)]



@pytest.mark.parametrize(("name", "kwargs", "reference"), CASES, ids=IDS)
def test_float32_output_is_accurate_at_every_scale(name, kwargs, reference, points64):
    pe = geosrl.create_positional_encoding(name, **kwargs)
    expected = reference(points64.numpy())
    with torch.no_grad():
        got32 = pe(points64, dtype=torch.float32)
        got64 = pe(points64)
    assert got32.dtype == torch.float32 and got64.dtype == torch.float64
    assert np.abs(got32.double().numpy() - expected).max() <= F32_BOUND
    # float64: the phase's own rounding (≤ 10⁶ rad · 2⁻⁵³ ≈ 10⁻¹⁰) is all that differs from NumPy
    assert np.abs(got64.numpy() - expected).max() <= 1e-8


def test_float32_sine_of_an_unreduced_phase_would_fail_the_bound(points64):
    """The bound above is tight enough to catch a sine taken of a float32 phase (no float64 reduction)."""
    omega = 1.0 / 1e-4  # rad per degree of the finest Space2Vec scale in CASES
    lon = points64[:, 0]
    naive = torch.sin((lon * omega).float()).double()
    assert (naive - torch.sin(lon * omega)).abs().max() > 100 * F32_BOUND


@pytest.mark.parametrize("name", ["space2vec_theory", "sphere2vec_spherem", "sphere2vec_dfs", "nerf", "geoclip_rff"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_chunked_fast_path_equals_one_expression(name, dtype, points64, monkeypatch):
    monkeypatch.setattr(base, "SINUSOID_CHUNK_BYTES", 8 * 300 * 5)  # a few rows per chunk
    pe = geosrl.create_positional_encoding(name)
    with torch.no_grad():
        fast = pe(points64, dtype=dtype)
        whole = pe.encode(points64, dtype)
    assert pe._chunk_rows() < len(points64)
    torch.testing.assert_close(fast, whole, rtol=0, atol=F32_BOUND if dtype == torch.float32 else 1e-11)


@pytest.mark.parametrize(("name", "sines"), [
    ("space2vec_grid", 128), ("sphere2vec_spherec", 128), ("sphere2vec_spherec_plus", 128),
    ("sphere2vec_spherem", 131), ("sphere2vec_spherem_plus", 131), ("sphere2vec_dfs", 32), ("nerf", 96)])
def test_each_distinct_sine_is_computed_once(name, sines):
    assert geosrl.create_positional_encoding(name).sines_per_point == sines


@pytest.mark.parametrize("name", ["space2vec_grid", "sphere2vec_spherem", "sphere2vec_dfs", "nerf"])
def test_gradients_match_finite_differences(name):
    kwargs = {"frequency_num": 3} if name != "space2vec_grid" else {"frequency_num": 3, "min_radius": 1.0}
    pe = geosrl.create_positional_encoding(name, **kwargs)
    x = torch.tensor([[12.5, 41.0], [-120.0, -33.0], [179.0, 5.0]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: pe(t), (x,), eps=1e-6, atol=1e-6)


def test_float32_output_is_not_slower_per_value_than_float64_phases(points64):
    """The float32 path writes float32 sines straight into the output (no float64 output copy)."""
    pe = geosrl.create_positional_encoding("space2vec_grid")
    with torch.no_grad():
        out = pe(points64.repeat(20, 1), dtype=torch.float32)
    assert out.dtype == torch.float32 and out.is_contiguous()


@pytest.mark.slow
@pytest.mark.parametrize("name", ["space2vec_grid", "sphere2vec_spherem_plus"])
def test_torch_compile_gives_the_eager_values(name, points64):
    pe = geosrl.create_positional_encoding(name, validate=False)
    compiled = torch.compile(pe)
    with torch.no_grad():
        got = compiled(points64, dtype=torch.float32)
        want = pe(points64, dtype=torch.float32)
    torch.testing.assert_close(got, want, rtol=0, atol=F32_BOUND)


PRODUCT_ENCODERS = ["sphere2vec_spherec", "sphere2vec_spherec_plus", "sphere2vec_spherem",
                    "sphere2vec_spherem_plus", "sphere2vec_dfs"]


@pytest.mark.parametrize("name", PRODUCT_ENCODERS)
def test_assemble_equals_the_eager_column_combination(name, points64):
    """The compile-friendly expression (slices, products, a stack) and the eager strided writes agree
    column by column: the Triton column table, ``combine`` and ``assemble`` describe one layout."""
    pe = geosrl.create_positional_encoding(name, frequency_num=5)
    weight, offset = pe.factor_weights()
    factors = base.sin_turns(points64, weight, offset, torch.float64)
    out = torch.empty(len(points64), pe.output_dim, dtype=torch.float64)
    pe.combine(factors, out)
    torch.testing.assert_close(pe.assemble(factors), out, rtol=0, atol=0)
    first, second = pe.column_factors()
    padded = torch.cat([factors, factors.new_ones(len(factors), 1)], dim=1)
    torch.testing.assert_close(out, factors[:, first] * padded[:, second], rtol=0, atol=0)


_TORCH_COMPILE = torch.compile


def _eager_compile(fn, **kwargs):
    """``torch.compile`` with the eager backend: traces like inductor (fullgraph, static shapes) in milliseconds."""
    return _TORCH_COMPILE(fn, backend="eager", **kwargs)


ALL_MULTISCALE = ["space2vec_grid", "space2vec_theory", *PRODUCT_ENCODERS, "nerf", "spherical_harmonics"]


@pytest.mark.parametrize("name", ALL_MULTISCALE)
@pytest.mark.parametrize("n", [1, 2731, 5000])
def test_compiled_blocks_give_the_eager_values_for_any_n(name, n, monkeypatch):
    """Whole blocks, a padded last block and an input smaller than one block; the block function is
    traced with fullgraph (no graph break) and static shapes."""
    monkeypatch.setattr(base.torch, "compile", _eager_compile)
    torch.manual_seed(0)
    x = torch.stack([torch.rand(n, dtype=torch.float64) * 360 - 180, torch.rand(n, dtype=torch.float64) * 180 - 90], 1)
    pe = geosrl.create_positional_encoding(name)
    with torch.no_grad():
        want = pe(x, dtype=torch.float32)
        got = pe.compile_blocks()(x, dtype=torch.float32)
        again = pe(x[: n // 2 + 1], dtype=torch.float32)  # another N reuses the compiled block
    torch.testing.assert_close(got, want, rtol=0, atol=5e-6 if name == "spherical_harmonics" else F32_BOUND)
    torch.testing.assert_close(again, want[: n // 2 + 1], rtol=0, atol=5e-6 if name == "spherical_harmonics" else F32_BOUND)
    assert len(pe._compiled_blocks) == 1 or name == "spherical_harmonics" and n <= pe._chunk_rows()
    assert pe.compile_blocks(False)._compiled_blocks is None


def test_compiled_blocks_keep_autograd_and_refuse_a_bad_flag(monkeypatch):
    monkeypatch.setattr(base.torch, "compile", _eager_compile)
    pe = geosrl.create_positional_encoding("space2vec_grid").compile_blocks()
    x = torch.tensor([[12.5, 41.0], [-120.0, -33.0]], dtype=torch.float64, requires_grad=True)
    pe(x).sum().backward()  # autograd calls take the one-expression path
    assert x.grad is not None and pe._compiled_blocks == {}
    with pytest.raises(TypeError, match="enabled must be True or False"):
        pe.compile_blocks("yes")


def test_many_encoders_compile_in_one_process_without_hitting_the_recompile_limit(monkeypatch):
    """dynamo caches 8 entries per code object; each module's block function has its own."""
    monkeypatch.setattr(base.torch, "compile", _eager_compile)
    x = torch.tensor([[12.5, 41.0], [-120.0, -33.0]], dtype=torch.float64)
    for s in range(3, 14):  # 11 different encoders (output shapes) of one class
        pe = geosrl.create_positional_encoding("sphere2vec_spherec", frequency_num=s).compile_blocks()
        with torch.no_grad():
            torch.testing.assert_close(pe(x, dtype=torch.float32), pe.compile_blocks(False)(x, dtype=torch.float32),
                                       rtol=0, atol=F32_BOUND)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["sphere2vec_spherem_plus", "sphere2vec_dfs"])
def test_inductor_compiled_blocks_give_the_eager_values(name, points64):
    pe = geosrl.create_positional_encoding(name, validate=False)
    x = points64.repeat(7, 1)
    with torch.no_grad():
        want = pe(x, dtype=torch.float32)
        got = pe.compile_blocks()(x, dtype=torch.float32)
    torch.testing.assert_close(got, want, rtol=0, atol=F32_BOUND)
