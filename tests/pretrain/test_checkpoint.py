"""save_pretrained / load_pretrained round trip and every CheckpointError case."""

import json

import pytest
import torch

import geosrl
from geosrl.encoders.checkpoint import (
    CheckpointError,
    infer_architecture,
    list_pretrained,
    load_pretrained,
    read_card,
    save_pretrained,
)

PTS = torch.tensor([[2.35, 48.85], [-122.4, 37.8], [151.2, -33.9], [0.0, -89.0]])


@pytest.fixture
def enc():
    torch.manual_seed(0)
    return geosrl.create_encoder("sphere2vec_spherem", embed_dim=16, frequency_num=8,
                                 net_kwargs={"hidden_dim": 32, "dropout": 0.2, "activation": "gelu"}).eval()


@pytest.fixture
def saved(enc, tmp_path):
    return save_pretrained(enc, tmp_path / "enc", {"licence": "CC-BY-4.0", "metrics": {"r2": 0.5},
                                                   "training_data": "test"})


def test_round_trip(enc, saved):
    assert saved.suffix == ".safetensors" and saved.with_suffix(".json").is_file()
    m = load_pretrained(saved)
    assert not m.training
    torch.testing.assert_close(m(PTS), enc(PTS))
    card = m.card
    assert card["architecture"]["name"] == "sphere2vec_spherem"
    assert card["architecture"]["net_kwargs"]["activation"] == "gelu"
    assert card["architecture"]["net_kwargs"]["dropout"] == pytest.approx(0.2)
    assert card["coord_order"] == "lonlat" and card["units"] == "degrees" and card["crs"] == "EPSG:4326"
    assert card["geosrl_version"] == geosrl.__version__ and card["created"]
    assert card["licence"] == "CC-BY-4.0" and card["metrics"] == {"r2": 0.5}
    assert card["num_parameters"] == sum(p.numel() for p in enc.parameters())
    assert read_card(saved) == card
    # load without the suffix, and re-save a loaded module (architecture carried along)
    m2 = load_pretrained(str(saved)[: -len(".safetensors")])
    p2 = save_pretrained(m2, saved.parent / "again.safetensors")
    torch.testing.assert_close(load_pretrained(p2)(PTS), enc(PTS))


def test_frozen_buffers_and_float64(tmp_path):
    torch.manual_seed(1)
    e = geosrl.create_encoder("rff", embed_dim=8).double().eval()
    arch = {"name": "rff", "embed_dim": 8, "net": "ffn", "net_kwargs": {}, "pe_kwargs": {}}
    p = save_pretrained(e, tmp_path / "rff", {"architecture": arch})
    m = load_pretrained(p)
    x = PTS.double()
    assert m(x).dtype == torch.float64
    torch.testing.assert_close(m(x), e(x))  # random Fourier matrix restored from the file, not re-seeded


def test_architecture_errors(tmp_path):
    e = geosrl.create_encoder("rff", embed_dim=8)
    assert infer_architecture(e)["pe_kwargs"] == {}  # create_encoder records its own arguments
    anonymous = geosrl.create_encoder("rff", embed_dim=8)
    del anonymous.geosrl_architecture  # e.g. a module assembled by hand: rff's seed is not an attribute
    with pytest.raises(CheckpointError, match="architecture"):
        infer_architecture(anonymous)
    with pytest.raises(CheckpointError, match="architecture"):
        save_pretrained(torch.nn.Linear(2, 3), tmp_path / "lin")
    bad = {"name": "rff", "embed_dim": 9, "net": "ffn", "net_kwargs": {}, "pe_kwargs": {}}
    with pytest.raises(CheckpointError):
        save_pretrained(e, tmp_path / "bad", {"architecture": bad})
    with pytest.raises(CheckpointError, match="JSON"):
        save_pretrained(geosrl.create_encoder("xyz", embed_dim=4), tmp_path / "x", {"metrics": {"a": object()}})


def _rewrite(path, tensors, card):
    from safetensors.torch import save_file

    save_file(tensors, str(path), metadata={"geosrl_card": json.dumps(card)})
    path.with_suffix(".json").unlink(missing_ok=True)


def test_mismatched_tensors(saved):
    from safetensors.torch import load_file

    sd, card = load_file(str(saved)), read_card(saved)
    # missing tensor
    sd2 = dict(sd)
    sd2.pop(sorted(sd2)[-1])
    card2 = dict(card, tensors_sha256=None)
    _rewrite(saved, sd2, card2)
    with pytest.raises(CheckpointError, match="missing tensors"):
        load_pretrained(saved)
    # unexpected tensor
    sd3 = dict(sd, extra=torch.zeros(2))
    _rewrite(saved, sd3, card2)
    with pytest.raises(CheckpointError, match="unexpected tensors"):
        load_pretrained(saved)
    # wrong shape: the card describes another width
    arch = dict(card["architecture"], embed_dim=17)
    _rewrite(saved, sd, dict(card, architecture=arch))
    with pytest.raises(CheckpointError, match="shape mismatches"):
        load_pretrained(saved)
    # unknown encoder name
    _rewrite(saved, sd, dict(card, architecture=dict(card["architecture"], name="nope")))
    with pytest.raises(CheckpointError, match="cannot build"):
        load_pretrained(saved)


def test_truncated_file(saved):
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated|corrupted"):
        load_pretrained(saved, check_sidecar=False)
    saved.write_bytes(data[:5])
    with pytest.raises(CheckpointError, match="truncated|corrupted"):
        load_pretrained(saved)


def test_corrupted_tensor_bytes(saved):
    data = bytearray(saved.read_bytes())
    data[-3] ^= 0xFF  # flip bits inside the last tensor
    saved.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="tensors_sha256"):
        load_pretrained(saved)


def test_corrupted_header_and_sidecar(saved, tmp_path):
    data = bytearray(saved.read_bytes())
    data[10] = ord("}")  # break the JSON header
    bad = tmp_path / "hdr.safetensors"
    bad.write_bytes(bytes(data))
    with pytest.raises(CheckpointError):
        load_pretrained(bad)
    # a file without a geosrl card
    from safetensors.torch import save_file

    plain = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(plain))
    with pytest.raises(CheckpointError, match="card"):
        load_pretrained(plain)
    # sidecar hash disagrees with the file
    side = saved.with_suffix(".json")
    card = json.loads(side.read_text())
    side.write_text(json.dumps(dict(card, file_sha256="0" * 64)))
    with pytest.raises(CheckpointError, match="SHA-256"):
        load_pretrained(saved)
    assert load_pretrained(saved, check_sidecar=False) is not None


def test_not_found_and_is_value_error(tmp_path):
    with pytest.raises(CheckpointError, match="shipped") as ei:
        load_pretrained(tmp_path / "none")
    assert isinstance(ei.value, ValueError)


def test_shipped_checkpoints_load():
    from geosrl.tasks.fewshot import TASK_TARGETS, check_target_contexts

    names = list_pretrained()
    assert names
    for name in names:
        m = load_pretrained(name)
        out = m(PTS)
        assert out.shape == (4, m.card["embed_dim"]) and torch.isfinite(out).all()
        assert m.card["licence"] and m.card["training_data"] and m.card["coord_order"] == "lonlat"
        # its card declares each context with its source and licence, and was written by the command that
        # measured its few-shot table, on tasks none of which had its target among the contexts
        contexts = m.card["training_data"]["contexts"]
        assert contexts and all(c["source"] and c["licence"] for c in contexts)
        assert "benchmarks/pretrain_fewshot.py" in m.card["fewshot"]["command"]
        tasks = {key.split("/")[0] for key in m.card["metrics"]["fewshot"]}
        assert len(tasks) >= 5 and tasks <= set(TASK_TARGETS)
        # land and water are visible in Blue Marble: land_ocean is the one task of its table with target context,
        # labelled there and not counted towards the transfer targets (benchmarks/results/fewshot/README.md)
        found = check_target_contexts(sorted(tasks), m.card, policy="label")
        assert {t for t, c in found.items() if c} <= {"land_ocean"}
        assert "land_ocean" not in m.card["fewshot"]["targets"][0].split("NOT MET")[0]  # never counted as transfer
        assert "with target context: not counted" in m.card["fewshot"]["targets"][0]
