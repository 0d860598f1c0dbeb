"""Large inputs: chunked encoding keeps peak memory near the output size, gives the same values, keeps
autograd, and an output that cannot fit is refused before allocation (issue 11, finding 8)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

import geosrl
from geosrl.encoders.positional import base

ALL = geosrl.list_encoders()


def _points(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.stack([torch.rand(n, generator=g, dtype=torch.float64) * 360 - 180,
                        torch.rand(n, generator=g, dtype=torch.float64) * 180 - 90], dim=1)


@pytest.fixture
def small_chunks(monkeypatch):
    """Chunks of a few rows, so that chunking runs at test sizes."""
    monkeypatch.setattr(base, "CHUNK_BYTES", 8 * 64 * 7)


@pytest.mark.parametrize("name", ALL)
def test_chunked_encoding_equals_whole(name, small_chunks):
    pe = geosrl.create_positional_encoding(name, **({"num_frequencies": 8} if name == "geoclip_rff" else {}))
    x = _points(300).reshape(3, 100, 2)
    with torch.no_grad():
        chunked = pe(x, dtype=torch.float64)
        whole = pe.encode(x, torch.float64)  # the unchunked computation
    assert chunked.shape == (3, 100, pe.output_dim)
    torch.testing.assert_close(chunked, whole, rtol=1e-12, atol=1e-12)
    assert pe(x, dtype=torch.float32).dtype == torch.float32


@pytest.mark.parametrize("name", ["space2vec_grid", "sphere2vec_spherec_plus", "spherical_harmonics", "tile"])
def test_large_inputs_keep_autograd(name, small_chunks):
    pe = geosrl.create_positional_encoding(name)
    x = _points(200).requires_grad_(name != "tile")
    out = pe(x)
    out.square().sum().backward()
    if name == "tile":  # the gradient goes to the embedding table
        assert pe.embedding.weight.grad is not None and pe.embedding.weight.grad.abs().sum() > 0
    else:
        assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_output_that_cannot_fit_is_refused_before_allocation(monkeypatch, small_chunks):
    pe = geosrl.create_positional_encoding("space2vec_grid")
    monkeypatch.setattr(base, "available_memory", lambda device: 10_000_000)  # 10 MB free
    x = _points(50_000)  # output 50,000 x 128 float32 = 25.6 MB
    with pytest.raises(MemoryError, match=r"needs 0\.03 GB .* only 0\.01 GB .* encode in batches of at most ~"):
        pe(x, dtype=torch.float32)
    assert pe(x[:100]).shape == (100, 128)  # small batches still run


def test_available_memory_is_known_on_cpu():
    free = base.available_memory(torch.device("cpu"))
    if Path("/proc/meminfo").exists():
        assert isinstance(free, int) and free > 0


_PEAK_SCRIPT = textwrap.dedent("""
    import sys, torch, geosrl
    torch.set_num_threads(2)
    def hwm():
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM"):
                return int(line.split()[1]) * 1024
    n = int(sys.argv[1])
    pe = geosrl.create_positional_encoding("space2vec_grid")
    x = (torch.rand(n, 2, dtype=torch.float64) - 0.5) * torch.tensor([360.0, 180.0], dtype=torch.float64)
    pe(x[:20000], dtype=torch.float32)  # warm up (allocator, thread pool)
    before = hwm()
    out = pe(x, dtype=torch.float32)
    print(hwm() - before, out.numel() * out.element_size())
""")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc/self/status (Linux)")
def test_peak_memory_stays_near_the_output_size():
    """500k points of space2vec_grid (256 MB float32 output): the peak grew by 5x the output before."""
    done = subprocess.run([sys.executable, "-c", _PEAK_SCRIPT, "500000"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    growth, output = map(int, done.stdout.split())
    assert growth <= 1.6 * output, f"peak grew by {growth / output:.2f}x the output bytes"
