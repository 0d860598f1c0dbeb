"""2-process gloo DDP: gathered loss and gradients equal the single-process loss on the same global batch."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from geosrl.pretrain.distributed import gather_with_grad, init_distributed, is_distributed

HERE = Path(__file__).resolve().parent


def _load_worker():
    spec = importlib.util.spec_from_file_location("ddp_worker", HERE / "ddp_worker.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(), reason="needs torch.distributed gloo")
def test_two_process_gather_matches_single_process(tmp_path):
    w = _load_worker()
    out = tmp_path / "ddp.pt"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run([sys.executable, str(HERE / "ddp_worker.py"), str(out)], env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    got = torch.load(out, weights_only=False)
    ll, img, rand = w.make_batch()
    for kind in w.KINDS:
        model = w.build_model(kind)
        loss, logs = model(ll, img, rand)
        loss.backward()
        assert got[kind]["loss"] == pytest.approx(loss.item(), rel=1e-10, abs=1e-12), kind
        ref = {k: p.grad for k, p in model.named_parameters() if p.grad is not None}
        assert set(got[kind]["grads"]) == set(ref)
        assert "objective.tau_b.log_scale" in ref  # the learnable temperature is synchronised too
        for k, g in ref.items():
            torch.testing.assert_close(got[kind]["grads"][k], g, rtol=1e-8, atol=1e-11, msg=f"{kind}: {k}")
        # every process saw the whole global batch as candidates
        assert got[kind]["logs"]["gathered_batch"] == w.B_GLOBAL
        assert got[kind]["logs"]["effective_negatives"] == w.B_GLOBAL - 1 + 2
        assert logs["effective_negatives"] == w.B_GLOBAL - 1 + 2


def test_single_process_helpers(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "1")
    info = init_distributed("cpu")
    assert info.world_size == 1 and info.rank == 0 and info.is_main and info.device == "cpu"
    assert not is_distributed()
    x = torch.randn(3, 2)
    y, off = gather_with_grad(x)
    assert y is x and off == 0
