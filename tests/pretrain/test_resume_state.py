"""The pre-training resume state (OUT/state.pt) loads safely: a planted pickle never runs, anything that
is not a valid state is a CheckpointError naming the file and the fix; outputs honour the umask."""

from __future__ import annotations

import io
import os
import pickle
import stat
import zipfile

import pytest
import torch

from geosrl import CheckpointError
from geosrl.config import ConfigError
from synthetic_pretrain import synthetic_pairs
from geosrl.pretrain.train import load_state, pretrain

TINY = {"encoder": {"embed_dim": 8, "net_kwargs": {"hidden_dim": 16}, "pe_kwargs": {"frequency_num": 2}},
        "image": {"width": 2, "depth": 1}, "optim": {"epochs": 2, "batch_size": 32}, "device": "cpu",
        "data": {"contexts": ["bmng_rgb", "altitude"]}}
FIX = "delete it or choose a new --out"


@pytest.fixture(scope="module")
def data():
    return synthetic_pairs(100, 4, ["bmng_rgb", "altitude"])


class _Payload:
    """Unpickling this creates the marker file (what a planted state.pt could do instead)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _plant(path, marker, kind):
    if kind == "raw-pickle":
        path.write_bytes(pickle.dumps({"model": _Payload(marker)}, protocol=2))
    else:  # a torch zip archive whose data.pkl carries the payload
        torch.save({"format": "geosrl-pretrain-state", "model": _Payload(marker)}, path)


@pytest.mark.parametrize("kind", ["raw-pickle", "torch-zip"])
def test_planted_pickle_does_not_run(tmp_path, data, kind):
    # the payload is real: an unsafe load runs it
    probe, probe_marker = tmp_path / "probe.pt", tmp_path / "probe-marker"
    _plant(probe, probe_marker, kind)
    try:
        torch.load(probe, weights_only=False)
    except Exception:
        pass
    assert probe_marker.exists()

    out, marker = tmp_path / "out", tmp_path / "pwned"
    out.mkdir()
    _plant(out / "state.pt", marker, kind)
    with pytest.raises(CheckpointError, match=FIX) as ei:
        load_state(out / "state.pt")
    assert str(out / "state.pt") in str(ei.value)
    with pytest.raises(CheckpointError, match=FIX):
        pretrain(TINY, out_dir=out, data=data, log=None)
    assert not marker.exists()
    assert isinstance(ei.value, ValueError)


def _valid_state(tmp_path, data):
    out = tmp_path / "run"
    pretrain(TINY, out_dir=out, data=data, log=None, max_epochs=1)
    return out, out / "state.pt"


def _zip_without(raw: bytes, member_suffix: str) -> bytes:
    src, dst = zipfile.ZipFile(io.BytesIO(raw)), io.BytesIO()
    with zipfile.ZipFile(dst, "w") as z:
        for info in src.infolist():
            if not info.filename.endswith(member_suffix):
                z.writestr(info, src.read(info))
    return dst.getvalue()


def _save(obj):
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def test_valid_state_is_weights_only_and_resumes(tmp_path, data):
    out, state = _valid_state(tmp_path, data)
    st = torch.load(state, weights_only=True)  # plain content only
    assert st["epoch"] == 0 and len(st["history"]) == 1 and isinstance(st["config_json"], str)
    assert load_state(state)["format"] == "geosrl-pretrain-state"
    resumed = pretrain(TINY, out_dir=out, data=data, log=None)
    whole = pretrain(TINY, out_dir=tmp_path / "whole", data=data, log=None)
    assert resumed.encoder_path.is_file() and len(resumed.history) == 2
    for k, v in whole.location_encoder.state_dict().items():
        torch.testing.assert_close(resumed.location_encoder.state_dict()[k], v, rtol=0, atol=0)


BAD_STATES = [
    ("empty", lambda raw: b"", "not a valid"),
    ("text", lambda raw: b"hello", "not a valid"),
    ("truncated-half", lambda raw: raw[: len(raw) // 2], "not a valid"),
    ("truncated-tail", lambda raw: raw[:-40], "not a valid"),
    ("zip-missing-data", lambda raw: _zip_without(raw, "data.pkl"), "not a valid"),
    ("a-tensor", lambda raw: _save(torch.zeros(3)), "holds a Tensor"),
    ("foreign-dict", lambda raw: _save({"foo": 1}), "format None"),
    ("old-format", lambda raw: _save({"model": {}, "epoch": 0, "history": [], "config": {}}), "format None"),
    ("missing-keys", lambda raw: _save({"format": "geosrl-pretrain-state", "version": 1}), "missing entries"),
    ("bad-epoch", lambda raw: _edit(raw, epoch=-1), "'epoch' must be"),
    ("bool-epoch", lambda raw: _edit(raw, epoch=True), "'epoch' must be"),
    ("bad-history", lambda raw: _edit(raw, history=[{"loss": "x"}]), "'history' must be"),
    ("short-history", lambda raw: _edit(raw, history=[]), "'history' must be"),
    ("model-not-tensors", lambda raw: _edit(raw, model={"w": 1}), "'model' is not a state dict"),
    ("optimizer-list", lambda raw: _edit(raw, optimizer=[1]), "'optimizer' is not a state dict"),
    ("wrong-shapes", lambda raw: _edit(raw, model=_shrunk(raw)), "does not fit this model"),
    ("optimizer-garbage", lambda raw: _edit(raw, optimizer={"state": {}, "param_groups": [{"x": 1}]}),
     "does not fit this model"),
    ("epoch-beyond-run", lambda raw: _edit(raw, epoch=5, history=[{"loss": 1.0}] * 6), "records epoch 6"),
]


def _edit(raw, **changes):
    st = torch.load(io.BytesIO(raw), weights_only=True)
    st.update(changes)
    return _save(st)


def _shrunk(raw):
    sd = torch.load(io.BytesIO(raw), weights_only=True)["model"]
    return {k: v[..., :1].clone() if v.ndim else v for k, v in sd.items()}


@pytest.mark.parametrize("make, match", [c[1:] for c in BAD_STATES], ids=[c[0] for c in BAD_STATES])
def test_bad_state_is_a_checkpoint_error(tmp_path, data, make, match):
    out, state = _valid_state(tmp_path, data)
    state.write_bytes(make(state.read_bytes()))
    with pytest.raises(CheckpointError, match=match) as ei:
        pretrain(TINY, out_dir=out, data=data, log=None)
    msg = str(ei.value)
    assert str(state) in msg and FIX in msg and "\n" not in msg
    # starting over is the way out
    assert pretrain(TINY, out_dir=out, data=data, log=None, resume=False).encoder_path.is_file()


def test_other_config_is_refused(tmp_path, data):
    out, _ = _valid_state(tmp_path, data)
    with pytest.raises(CheckpointError, match="another config"):
        pretrain({**TINY, "seed": 3}, out_dir=out, data=data, log=None)


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600)])
def test_outputs_honour_umask(tmp_path, data, mask, mode):
    old = os.umask(mask)
    try:
        res = pretrain(TINY, out_dir=tmp_path / "run", data=data, log=None)
    finally:
        os.umask(old)
    names = ["state.pt", "log.csv", "config.json", "run.json", "location_encoder.safetensors",
             "location_encoder.json"]
    assert res.encoder_path.is_file()
    for name in names:
        assert stat.S_IMODE((tmp_path / "run" / name).stat().st_mode) == mode, name
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == sorted(names)  # no temporary files left


def test_pairs_of_other_contexts_are_refused(data, tmp_path):
    other = {**TINY, "data": {"contexts": ["bmng_rgb", "linke_turbidity"]}}
    with pytest.raises(ConfigError, match="data.contexts"):
        pretrain(other, out_dir=tmp_path / "run", data=data, log=None)
    assert not (tmp_path / "run" / "state.pt").exists()
