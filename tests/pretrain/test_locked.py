"""The locked image side: augmentation views, the self-supervised patch encoder, location pre-training against
its fixed embeddings (resumable, its state read safely), and the plateau rule."""

from __future__ import annotations

import pickle

import pytest
import torch

from geosrl import CheckpointError
from geosrl.config import ConfigError
from geosrl.encoders.checkpoint import load_pretrained
from geosrl.pretrain.locked import augment_views, embed_patches, train_patch_encoder
from synthetic_pretrain import synthetic_pairs
from geosrl.pretrain.train import PRETRAIN_PROFILES, plateaued, pretrain, resolve_pretrain_config

CONTEXTS = ["bmng_rgb", "altitude"]
LOCKED = {"encoder": {"embed_dim": 8, "net_kwargs": {"hidden_dim": 16}, "pe_kwargs": {"frequency_num": 2}},
          "image": {"width": 2, "depth": 1, "locked": True, "ssl_epochs": 2, "ssl_batch_size": 16},
          "optim": {"epochs": 3, "batch_size": 32}, "device": "cpu", "data": {"contexts": CONTEXTS}}


@pytest.fixture(scope="module")
def data():
    return synthetic_pairs(120, 8, CONTEXTS)


def _transforms(p: torch.Tensor) -> list[torch.Tensor]:
    """The four views a full-size crop without gain or noise can be: identity, flip, quarter turn, both."""
    turn = lambda v: v.transpose(-1, -2).flip(-1)  # noqa: E731
    return [p, p.flip(-1), turn(p), turn(p.flip(-1))]


def test_views_are_crops_flips_and_turns():
    x = torch.arange(2 * 3 * 6 * 6, dtype=torch.float32).view(2, 3, 6, 6)
    g = torch.Generator().manual_seed(0)
    full = augment_views(x, g, crop_fraction=1.0, gain=0.0, noise=0.0)
    for i in range(2):
        assert any(torch.equal(full[i], t) for t in _transforms(x[i]))
    crops = augment_views(x, g, crop_fraction=0.5, gain=0.0, noise=0.0)
    assert crops.shape == (2, 3, 3, 3)
    for i in range(2):  # every view is one of the transforms of a 3x3 window of its own patch
        windows = [x[i, :, r:r + 3, c:c + 3] for r in range(4) for c in range(4)]
        assert any(torch.equal(crops[i], t) for w in windows for t in _transforms(w))
    a = augment_views(x, torch.Generator().manual_seed(5))
    b = augment_views(x, torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and not torch.equal(a, augment_views(x, torch.Generator().manual_seed(6)))


def test_patch_encoder_learns_and_is_locked(data):
    patches = torch.as_tensor(data.patches)
    stats = data.metadata["stats"]
    kw = dict(in_channels=4, embed_dim=8, width=4, depth=2, batch_size=32, lr=3e-3, tau=0.1, seed=0)
    cnn, hist = train_patch_encoder(patches, stats, epochs=6, **kw)
    assert [r["epoch"] for r in hist] == list(range(6))
    assert hist[-1]["ssl_loss"] < hist[0]["ssl_loss"]  # it learns to tell views of other patches apart
    assert not any(p.requires_grad for p in cnn.parameters()) and not cnn.training
    emb = embed_patches(cnn, patches, stats, batch=50)
    assert emb.shape == (120, 8) and emb.dtype == torch.float32
    torch.testing.assert_close(emb, embed_patches(cnn, patches, stats), rtol=0, atol=0)
    again, _ = train_patch_encoder(patches, stats, epochs=6, **kw)
    torch.testing.assert_close(embed_patches(again, patches, stats), emb, rtol=0, atol=0)  # seeded


def test_locked_pretraining_resumes_exactly(data, tmp_path):
    a = pretrain(LOCKED, out_dir=tmp_path / "a", data=data, log=None)
    assert a.encoder_path.is_file() and len(a.history) == 3
    assert (tmp_path / "a" / "image_encoder.pt").is_file()
    b1 = pretrain(LOCKED, out_dir=tmp_path / "b", data=data, log=None, max_epochs=1)
    assert b1.encoder_path is None and (tmp_path / "b" / "image_encoder.pt").is_file()
    b = pretrain(LOCKED, out_dir=tmp_path / "b", data=data, log=None)  # reads the locked encoder back
    sa, sb = a.location_encoder.state_dict(), b.location_encoder.state_dict()
    for k in sa:
        torch.testing.assert_close(sa[k], sb[k], rtol=0, atol=0)
    card = load_pretrained(a.encoder_path).card
    assert "then locked" in card["image_side"]["training"]
    assert card["metrics"]["val_top1_retrieval_curve"] == [r["val_top1_retrieval"] for r in a.history]
    # joint training (the default) has a PatchCNN on the patches, and says so
    j = pretrain({**LOCKED, "image": {"width": 2, "depth": 1}}, out_dir=tmp_path / "j", data=data, log=None)
    assert "jointly" in load_pretrained(j.encoder_path).card["image_side"]["training"]
    assert not (tmp_path / "j" / "image_encoder.pt").exists()


class _Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_locked_image_state_is_read_safely(data, tmp_path):
    out = tmp_path / "run"
    pretrain(LOCKED, out_dir=out, data=data, log=None, max_epochs=1)
    path = out / "image_encoder.pt"
    (out / "state.pt").unlink()
    torch.save({"format": "geosrl-locked-image-encoder", "model": _Payload(tmp_path / "ran")}, path)
    with pytest.raises(CheckpointError, match="not a locked image encoder"):
        pretrain(LOCKED, out_dir=out, data=data, log=None)
    assert not (tmp_path / "ran").exists()
    path.write_bytes(pickle.dumps({"x": 1}))
    with pytest.raises(CheckpointError, match="not a locked image encoder"):
        pretrain(LOCKED, out_dir=out, data=data, log=None)
    other = tmp_path / "other"
    pretrain(LOCKED, out_dir=other, data=data, log=None, max_epochs=1)
    (other / "state.pt").unlink()
    with pytest.raises(CheckpointError, match="another config"):
        pretrain({**LOCKED, "seed": 3}, out_dir=other, data=data, log=None)


@pytest.mark.parametrize("image, key", [
    ({"locked": "yes"}, "image.locked"), ({"ssl_epochs": 0}, "image.ssl_epochs"),
    ({"ssl_batch_size": 1}, "image.ssl_batch_size"), ({"ssl_lr": 0}, "image.ssl_lr"),
    ({"ssl_tau": -0.1}, "image.ssl_tau"),
])
def test_bad_locked_values(image, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        resolve_pretrain_config({"profile": "satclip_locked", "image": image})


def test_locked_profile_is_the_satclip_recipe():
    cfg = resolve_pretrain_config({"profile": "satclip_locked"})
    assert cfg["image"]["locked"] and "satclip_locked" in PRETRAIN_PROFILES
    assert cfg["encoder"]["name"] == "spherical_harmonics" and cfg["encoder"]["net"] == "siren"
    assert 20 <= cfg["encoder"]["pe_kwargs"]["legendre_degree"] <= 40 and cfg["encoder"]["embed_dim"] == 256
    assert sum(cfg["data"][s] for s in ("flickr", "cities", "land", "sea")) >= 100000
    assert cfg["data"]["land"] > 0 and cfg["data"]["sea"] > 0
    assert "altitude" not in cfg["data"]["contexts"]


def test_plateau_rule():
    assert not plateaued([0.1, 0.2, 0.3])  # too short
    assert not plateaued([0.1, 0.2, 0.3, 0.4])  # still rising
    assert plateaued([0.1, 0.5, 0.503, 0.505, 0.507])
    assert not plateaued([0.1, 0.6, 0.5, 0.5, 0.5])  # fell back by more than 0.01 from the best
