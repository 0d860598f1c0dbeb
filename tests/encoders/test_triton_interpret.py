"""The fused Triton kernel (geosrl.encoders.kernels.sinusoid) against the torch path, on CPU tensors
under Triton's interpreter (``TRITON_INTERPRET=1``, run in a subprocess because Triton reads it
when the kernel is defined). Skipped where Triton is not installed."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from geosrl.encoders.kernels import kernel_usable, triton_available

pytestmark = pytest.mark.skipif(not triton_available(), reason="triton is not installed")

_SCRIPT = textwrap.dedent("""
    import torch, geosrl
    from geosrl.encoders.kernels import kernel_usable
    from geosrl.encoders.kernels.sinusoid import column_table, encode_sinusoids
    assert kernel_usable("cpu")
    g = torch.Generator().manual_seed(0)
    x = torch.rand(37, 2, generator=g, dtype=torch.float64) * torch.tensor([360.0, 180.0], dtype=torch.float64)
    x = torch.cat([x - torch.tensor([180.0, 90.0], dtype=torch.float64),
                   torch.tensor([[180.0, 90.0], [-180.0, -90.0], [179.999, 0.0]], dtype=torch.float64)])
    cases = [("space2vec_grid", {}), ("space2vec_theory", {"frequency_num": 6, "min_radius": 1e-4}),
             ("sphere2vec_spherec", {"min_radius": 1e-6}), ("sphere2vec_spherec_plus", {"frequency_num": 5}),
             ("sphere2vec_spherem", {"frequency_num": 5}), ("sphere2vec_spherem_plus", {"frequency_num": 5}),
             ("sphere2vec_dfs", {"frequency_num": 4}), ("nerf", {"frequency_num": 6}),
             ("geoclip_rff", {"num_frequencies": 16})]
    for name, kwargs in cases:
        pe = geosrl.create_positional_encoding(name, **kwargs)
        for dtype, bound in ((torch.float32, 1e-6), (torch.float64, 1e-8)):  # 1e6-rad phases: the order of the sum differs
            out = torch.full((len(x), pe.output_dim), float("nan"), dtype=dtype)
            encode_sinusoids(pe, x, out)
            want = pe.encode(x, torch.float64)
            err = (out.double() - want).abs().max().item()
            assert err <= bound, (name, dtype, err)
        print(name, column_table(pe)[4])
""")


def test_kernel_needs_cuda_or_the_interpreter():
    if os.environ.get("TRITON_INTERPRET") != "1":
        assert not kernel_usable("cpu")
    assert kernel_usable("cuda")


def test_fused_kernel_matches_the_torch_path_under_the_interpreter():
    env = dict(os.environ, TRITON_INTERPRET="1", OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    products = dict(line.split() for line in done.stdout.splitlines())
    assert len(products) == 9
    assert products["space2vec_grid"] == "False" and products["sphere2vec_spherec"] == "True"
