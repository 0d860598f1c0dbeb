"""Peak extra memory of an encoding call ≤ 1.5× its output (issue 12, item 2), measured by
benchmarks/memory_probe.py in a subprocess (peak RSS reset through /proc/self/clear_refs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = Path(__file__).resolve().parents[2] / "benchmarks" / "memory_probe.py"
pytestmark = pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")


def _probe(n: int, dtype: str, names: list[str]) -> dict[str, float]:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, str(PROBE), "--n", str(n), "--dtype", dtype, "--threads", "1", *names],
                          capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [line.split(",") for line in done.stdout.splitlines()]
    assert [r[0] for r in rows] == names
    return {r[0]: float(r[5]) for r in rows}


def test_peak_memory_of_sinusoidal_encodings_is_near_the_output():
    ratios = _probe(100_000, "float32", ["space2vec_grid", "sphere2vec_dfs", "sphere2vec_spherem_plus", "nerf"])
    for name, ratio in ratios.items():
        assert 0.9 <= ratio <= 1.5, f"{name}: peak grew by {ratio:.2f}x the output"


@pytest.mark.slow
def test_peak_memory_at_five_million_points():
    ratios = _probe(5_000_000, "float32", ["space2vec_grid", "sphere2vec_spherec", "spherical_harmonics"])
    for name, ratio in ratios.items():
        assert 0.9 <= ratio <= 1.5, f"{name}: peak grew by {ratio:.2f}x the output"
