"""Tiny pre-train + few-shot smoke run on the real offline data, resumability, subsets and the CLI."""

import argparse
import csv
import json

import numpy as np
import pytest
import torch

from geosrl.encoders.checkpoint import load_pretrained
from geosrl.pretrain.cli import add_subcommands
from geosrl.pretrain.data import SOURCES, RasterStack, build_pretrain_data, patches_to_float
from geosrl.pretrain.fewshot import resolve_fewshot_config, run_fewshot, stratified_subset
from geosrl.pretrain.train import pretrain, resolve_pretrain_config

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
    cfg = {"pretrained": str(pre.encoder_path), "seeds": [0, 1], "tasks": ["elevation", "country"],
           "max_samples": 500, "fractions": [0.2, 1.0], "finetune": {"epochs": 1, "min_steps": 3},
           "probe": {"steps": 5, "negatives_pool": 64}}
    res = run_fewshot(cfg, out_dir=tmp_path / "fs", log=None)
    assert len(res["records"]) == 2 * 2 * 2 * 4
    for name in ("results.csv", "summary.csv", "summary.md", "run.json"):
        assert (tmp_path / "fs" / name).is_file()
    rows = list(csv.DictReader(open(tmp_path / "fs" / "summary.csv")))
    assert {r["method"] for r in rows} == {"scratch", "pretrained_probe", "pretrained_finetune", "geoclip_probe"}
    assert all(r["n_seeds"] == "2" for r in rows)
    md = (tmp_path / "fs" / "summary.md").read_text()
    assert "## elevation (r2)" in md and "git commit" in md
    assert "## Fine-tuning hyper-parameters chosen on validation" in md
    # the chosen fine-tuning hyper-parameters are recorded per cell, with the same trial budget for both methods
    res_rows = list(csv.DictReader(open(tmp_path / "fs" / "results.csv")))
    hp = {r["method"]: json.loads(r["hparams"]) for r in res_rows}
    assert "encoder_lr_mult" in hp["pretrained_finetune"] and "lr" in hp["scratch"]
    assert hp["scratch"]["n_trials"] == hp["pretrained_finetune"]["n_trials"] == len(hp["scratch"]["trials"])
    # resumable: a rerun reads every cell back instead of training
    again = run_fewshot(cfg, out_dir=tmp_path / "fs", log=None)
    assert [r["seconds"] for r in again["records"]] == [r["seconds"] for r in res["records"]]


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
    parser = argparse.ArgumentParser()
    add_subcommands(parser.add_subparsers(dest="command"))
    a = parser.parse_args(["pretrain", "--config", "x.toml", "--no-resume"])
    assert a.config == "x.toml" and a.no_resume and callable(a.func)
    a = parser.parse_args(["fewshot", "--profile", "full"])
    assert a.profile == "full" and a.func.__name__ == "cmd_fewshot"
