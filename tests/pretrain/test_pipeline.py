"""Tiny pre-train + few-shot smoke run (through geosrl bench) on the real offline data, resumability, subsets, CLI."""

import csv
import json

import numpy as np
import pytest
import torch

from geosrl.bench import store
from geosrl.cli import build_parser, main
from geosrl.encoders.checkpoint import load_pretrained
from geosrl.pretrain.data import SOURCES, RasterStack, build_pretrain_data, patches_to_float
from geosrl.pretrain.train import pretrain, resolve_pretrain_config
from geosrl.tasks.fewshot import resolve_fewshot_config, stratified_subset

pytest.importorskip("h5py")
pytest.importorskip("PIL")

TINY = {"data": {"flickr": 300, "cities": 150, "land": 150, "patch_size": 8, "stride": 4},
        "encoder": {"embed_dim": 16, "net_kwargs": {"hidden_dim": 32}, "pe_kwargs": {"frequency_num": 4}},
        "image": {"width": 4, "depth": 2}, "optim": {"epochs": 2, "batch_size": 128}}


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    d = tmp_path_factory.mktemp("cache")
    return build_pretrain_data({"flickr": 300, "cities": 150, "land": 150}, seed=0, patch_size=8, stride=4,
                               cache_dir=d), d


def test_pairs_are_real_and_cached(pairs):
    data, cache = pairs
    assert data.patches.shape == (600, 4, 8, 8) and data.patches.dtype == np.uint8
    assert data.metadata["sources"] == {"flickr": 300, "cities": 150, "land": 150}
    assert set(np.unique(data.source)) == {0, 1, 2} and len(SOURCES) == 3
    land = data.source == 2
    # land points sit on altitude data (the patch centre is the Blue Marble pixel centre, which can fall in a
    # neighbouring altitude cell on coasts)
    assert (data.patches[land, 3, 4, 4] != 255).mean() > 0.95
    again = build_pretrain_data({"flickr": 300, "cities": 150, "land": 150}, seed=0, patch_size=8, stride=4,
                                cache_dir=cache)
    assert again.metadata["cache_hit"] and np.array_equal(again.patches, data.patches)
    x = patches_to_float(torch.from_numpy(data.patches[:4]), data.metadata["stats"])
    assert x.shape == (4, 4, 8, 8) and torch.isfinite(x).all()


def test_patch_geometry():
    rgb = np.zeros((180, 360, 3), np.uint8)
    rgb[:, :, 0] = np.arange(360)[None, :] % 256  # red = column
    rgb[:, :, 1] = np.arange(180)[:, None]  # green = row
    alt = np.full((90, 180), 255, np.uint8)
    alt[:45] = 7  # northern hemisphere is land
    p = RasterStack(rgb, alt).patches(np.array([[179.9, 89.9], [0.0, -45.0]]), size=4, stride=1)
    assert list(p[0, 0, 0]) == [c % 256 for c in (357, 358, 359, 0)]  # wraps across the antimeridian
    assert list(p[0, 1, :, 0]) == [0, 0, 0, 1]  # clamped at the pole
    assert (p[0, 3] == 7).all() and (p[1, 3] == 255).all()


def test_pretrain_resume_matches_uninterrupted(pairs, tmp_path):
    data, _ = pairs
    a = pretrain(TINY, out_dir=tmp_path / "a", data=data, log=None)
    assert a.encoder_path.is_file() and len(a.history) == 2
    b1 = pretrain(TINY, out_dir=tmp_path / "b", data=data, log=None, max_epochs=1)
    assert b1.encoder_path is None
    b = pretrain(TINY, out_dir=tmp_path / "b", data=data, log=None)
    sa, sb = a.location_encoder.state_dict(), b.location_encoder.state_dict()
    for k in sa:
        torch.testing.assert_close(sa[k], sb[k], rtol=0, atol=0)
    log = list(csv.DictReader(open(tmp_path / "b" / "log.csv")))
    assert len(log) == 2 and float(log[0]["effective_negatives"]) == 127 + 1
    enc = load_pretrained(a.encoder_path)
    assert enc.card["training_data"]["sources"] == {"flickr": 300, "cities": 150, "land": 150}
    assert enc.card["objective"]["kind"] == "mc" and enc.card["licence"]["weights"]
    run = json.loads((tmp_path / "a" / "run.json").read_text())
    assert run["seed"] == 0 and "git_commit" in run
    with pytest.raises(ValueError, match="another config"):
        pretrain({**TINY, "seed": 1}, out_dir=tmp_path / "b", data=data, log=None)


def test_fewshot_smoke(pairs, tmp_path):
    data, cache = pairs
    pre = pretrain(TINY, out_dir=tmp_path / "pre", data=data, log=None)
    config = tmp_path / "fewshot.toml"
    config.write_text(f"""
[bench]
fractions = [0.2, 1.0]
workers = 1
[protocol]
pretrained = "{pre.encoder_path}"
finetune = {{epochs = 1, min_steps = 3}}
probe = {{steps = 5, negatives_pool = 64}}
[task.elevation]
max_samples = 500
[task.country]
max_samples = 500
""")
    out = tmp_path / "fs"
    argv = ["bench", "--profile", "fewshot_quick", "--config", str(config), "--tasks", "elevation,country",
            "--seeds", "2", "--out", str(out), "--device", "cpu", "--cache-dir", str(cache)]
    assert main(argv) == 0
    records = list(store.iter_cell_records(out))
    assert len(records) == 2 * 2 * 2 * 4
    for name in ("leaderboard.csv", "summary.md", "run.json"):
        assert (out / name).is_file()
    rows = list(csv.DictReader(open(out / "leaderboard.csv")))
    assert {r["encoder"] for r in rows} == {"scratch", "pretrained_probe", "pretrained_finetune", "geoclip_probe"}
    assert {r["split"] for r in rows} == {"random · 20% labels", "random · 100% labels"}
    md = (out / "summary.md").read_text()
    assert "## elevation · random · 20% labels split" in md and "git commit" in md and "r2 vs scratch" in md
    assert "## Hyper-parameters chosen on validation" in md
    # the chosen fine-tuning hyper-parameters are recorded per cell, with the same trial budget for both methods
    hp = {r["encoder"]: r["chosen_hparams"] for r in records}
    assert "encoder_lr_mult" in hp["pretrained_finetune"]["tuned"] and "lr" in hp["scratch"]["tuned"]
    trials = {r["encoder"]: r["val_trials"] for r in records}
    assert hp["scratch"]["n_trials"] == hp["pretrained_finetune"]["n_trials"] == len(trials["scratch"])
    assert hp["scratch"]["pretrained"]["tensors_sha256"] == load_pretrained(pre.encoder_path).card["tensors_sha256"]
    # resumable: a rerun reads every cell back instead of training
    assert main(argv) == 0
    again = list(store.iter_cell_records(out))
    assert [r["wall_seconds"] for r in again] == [r["wall_seconds"] for r in records]


def test_stratified_subset():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), [100, 40, 3, 1])
    sub = stratified_subset(y, 0.05, rng, "classification")
    assert np.bincount(y[sub], minlength=4).tolist() == [5, 2, 1, 1]
    assert len(np.unique(sub)) == len(sub)
    yr = rng.normal(size=1000)
    s = stratified_subset(yr, 0.1, rng, "regression", bins=10)
    assert len(s) == 100
    assert np.array_equal(stratified_subset(yr, 1.0, rng, "regression"), np.arange(1000))


def test_configs_and_cli():
    with pytest.raises(ValueError, match="unknown"):
        resolve_pretrain_config({"optim": {"epochz": 1}})
    with pytest.raises(ValueError, match="unknown"):
        resolve_fewshot_config({"methods": ["magic"]})
    assert resolve_pretrain_config({"profile": "full"})["encoder"]["embed_dim"] == 256
    parser = build_parser()
    a = parser.parse_args(["pretrain", "--config", "x.toml", "--no-resume"])
    assert a.command == "pretrain" and a.config == "x.toml" and a.no_resume
    a = parser.parse_args(["bench", "--profile", "fewshot_full"])
    assert a.command == "bench" and a.profile == "fewshot_full"
