"""Tiny pre-train + few-shot smoke run (through geosrl bench) on the real offline data, resumability, subsets, CLI."""

import csv
import json

import numpy as np
import pytest
import torch

from geosrl.bench import store
from geosrl.cli import build_parser, main
from geosrl.encoders.checkpoint import load_pretrained
from geosrl.config import ConfigError
from geosrl.pretrain.contexts import decode_channels
from geosrl.pretrain.data import SOURCES, RasterStack, build_pretrain_data, patches_to_float
from geosrl.pretrain.train import pretrain, resolve_pretrain_config
from geosrl.tasks.fewshot import TASK_TARGETS, check_target_contexts, resolve_fewshot_config, stratified_subset

pytest.importorskip("h5py")
pytest.importorskip("PIL")

CONTEXTS = ["bmng_rgb", "altitude"]  # RGB + elevation, so the tests can see both kinds of channel
TINY = {"data": {"flickr": 300, "cities": 150, "land": 150, "sea": 0, "patch_size": 8, "stride": 4,
                 "contexts": ["bmng_rgb", "linke_turbidity"]},
        "encoder": {"embed_dim": 16, "net_kwargs": {"hidden_dim": 32}, "pe_kwargs": {"frequency_num": 4}},
        "image": {"width": 4, "depth": 2}, "optim": {"epochs": 2, "batch_size": 128}}


@pytest.fixture(scope="module")
def pairs(tmp_path_factory):
    d = tmp_path_factory.mktemp("cache")
    return build_pretrain_data({"flickr": 300, "cities": 150, "land": 150}, seed=0, patch_size=8, stride=4,
                               cache_dir=d, contexts=TINY["data"]["contexts"]), d


def test_pairs_are_real_and_cached(tmp_path):
    counts = {"flickr": 200, "cities": 100, "land": 100, "sea": 100}
    data = build_pretrain_data(counts, seed=0, patch_size=8, stride=4, cache_dir=tmp_path, contexts=CONTEXTS)
    assert data.patches.shape == (500, 4, 8, 8) and data.patches.dtype == np.uint8
    assert data.metadata["sources"] == counts and SOURCES == ("flickr", "cities", "land", "sea")
    assert set(np.unique(data.source)) == {0, 1, 2, 3}
    # land points sit on altitude data, sea points off it (the patch centre is the Blue Marble pixel centre,
    # which can fall in a neighbouring altitude cell on coasts)
    assert (data.patches[data.source == 2, 3, 4, 4] != 255).mean() > 0.95
    assert (data.patches[data.source == 3, 3, 4, 4] == 255).mean() > 0.95
    assert [c["source"] for c in data.metadata["contexts"]] == ["nasa_blue_marble", "pvlib_altitude"]
    assert data.metadata["channels"] == ["bmng_red", "bmng_green", "bmng_blue", "altitude_km"]
    again = build_pretrain_data(counts, seed=0, patch_size=8, stride=4, cache_dir=tmp_path, contexts=CONTEXTS)
    assert again.metadata["cache_hit"] and np.array_equal(again.patches, data.patches)
    x = patches_to_float(torch.from_numpy(data.patches), data.metadata["stats"])
    assert x.shape == (500, 4, 8, 8) and torch.isfinite(x).all()
    # standardised with the pairs' own statistics
    torch.testing.assert_close(x.mean(dim=(0, 2, 3)), torch.zeros(4), atol=1e-4, rtol=0)
    torch.testing.assert_close(x.std(dim=(0, 2, 3)), torch.ones(4), atol=1e-3, rtol=0)


def test_default_contexts_hold_no_task_target(pairs):
    data, _ = pairs
    assert data.patches.shape == (600, 5, 8, 8)
    assert data.metadata["channels"] == ["bmng_red", "bmng_green", "bmng_blue", "linke_turbidity_jan",
                                         "linke_turbidity_jul"]
    assert resolve_pretrain_config({})["data"]["contexts"] == ["bmng_rgb", "linke_turbidity"]
    card = {"training_data": {"contexts": data.metadata["contexts"]}}
    found = check_target_contexts(list(TASK_TARGETS), card, policy="label")
    # land and water are visible in true-colour imagery: land_ocean is the one task with target context
    assert found == {t: (["bmng_rgb"] if t == "land_ocean" else []) for t in TASK_TARGETS}
    # turbidity codes are value·20 (0.65–7.65): decoded values in that range
    tb = decode_channels(torch.from_numpy(data.patches[:, 3:]), ["linke_turbidity"])
    assert 0.5 < float(tb.min()) and float(tb.max()) < 8.0


def test_patch_geometry():
    rgb = np.zeros((180, 360, 3), np.uint8)
    rgb[:, :, 0] = np.arange(360)[None, :] % 256  # red = column
    rgb[:, :, 1] = np.arange(180)[:, None]  # green = row
    alt = np.full((90, 180, 1), 255, np.uint8)
    alt[:45] = 7  # northern hemisphere is land
    stack = RasterStack(CONTEXTS, grids={"bmng_rgb": rgb, "altitude": alt}, shape=(180, 360))
    p = stack.patches(np.array([[179.9, 89.9], [0.0, -45.0]]), size=4, stride=1)
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
    assert enc.card["training_data"]["sources"] == {"flickr": 300, "cities": 150, "land": 150, "sea": 0}
    assert [c["name"] for c in enc.card["training_data"]["contexts"]] == ["bmng_rgb", "linke_turbidity"]
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
max_samples = 400
[task.country]
max_samples = 400
""")
    out = tmp_path / "fs"
    argv = ["bench", "--profile", "fewshot_quick", "--config", str(config), "--tasks", "elevation,country",
            "--seeds", "1", "--out", str(out), "--device", "cpu", "--cache-dir", str(cache)]
    assert main(argv) == 0
    records = list(store.iter_cell_records(out))
    assert len(records) == 2 * 1 * 2 * 5
    for name in ("leaderboard.csv", "summary.md", "run.json"):
        assert (out / name).is_file()
    rows = list(csv.DictReader(open(out / "leaderboard.csv")))
    assert {r["encoder"] for r in rows} == {"scratch", "pretrained_probe", "pretrained_finetune", "pretrained_knn",
                                            "geoclip_probe"}
    assert {r["split"] for r in rows} == {"spatial · 20% labels", "spatial · 100% labels"}
    md = (out / "summary.md").read_text()
    assert "## elevation · spatial · 20% labels split" in md and "git commit" in md and "r2 vs scratch" in md
    # buffered spatial splits; no cell saw its target in pre-training
    assert all(r["chosen_hparams"]["target_context"] == [] for r in records)
    assert all(r["chosen_hparams"]["pretraining_contexts"] == ["bmng_rgb", "linke_turbidity"]
               for r in records if r["encoder"] != "geoclip_probe")
    assert "knn_k" in next(r for r in records if r["encoder"] == "pretrained_knn")["chosen_hparams"]["tuned"]
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


def test_target_context_refused_or_labelled(tmp_path, capsys):
    cache = tmp_path / "cache"
    leaky = {**TINY, "data": {**TINY["data"], "contexts": CONTEXTS}}
    data = build_pretrain_data({"flickr": 300, "cities": 150, "land": 150}, seed=0, patch_size=8, stride=4,
                               cache_dir=cache, contexts=CONTEXTS)
    pre = pretrain(leaky, out_dir=tmp_path / "pre", data=data, log=None)
    config = tmp_path / "fewshot.toml"
    # the shipped profile labels target-context tasks (land_ocean); asking for "refuse" stops the run
    config.write_text(f'[protocol]\npretrained = "{pre.encoder_path}"\ntarget_context = "refuse"\n'
                      '[task.elevation]\nmax_samples = 300\n')
    out = tmp_path / "fs"
    argv = ["bench", "--profile", "fewshot_quick", "--config", str(config), "--tasks", "elevation,country",
            "--seeds", "1", "--out", str(out), "--device", "cpu", "--cache-dir", str(cache)]
    assert main(argv) != 0
    err = capsys.readouterr().err
    assert "elevation" in err and "altitude" in err and "data.contexts" in err and "country" not in err.split(".")[0]
    assert not list(store.iter_cell_records(out)) if out.exists() else True
    # the same refusal before pre-training starts when the bench would pre-train with a target context
    config.write_text('[protocol]\ntarget_context = "refuse"\n[pretrain]\ndata = {contexts = ["bmng_rgb", "altitude"]}\n')
    assert main(argv[:-6] + ["--out", str(tmp_path / "fs2"), "--device", "cpu"]) != 0
    assert "target context" in capsys.readouterr().err and not (tmp_path / "fs2" / "pretrain").exists()
    # one cell through the API: refused by default, labelled on request
    from geosrl.datasets import load_offline_task
    from geosrl.tasks.fewshot import run_fewshot_cell

    task = load_offline_task("elevation", max_samples=300, seed=0, cache_dir=cache)
    cfg = {"pretrained": str(pre.encoder_path), "probe": {"knn_k_grid": [3]}}
    with pytest.raises(ConfigError, match="Pre-train without these contexts"):
        run_fewshot_cell(task, "pretrained_knn", "random", 0, cfg, fraction=1.0)
    res = run_fewshot_cell(task, "pretrained_knn", "random", 0, {**cfg, "target_context": "label"}, fraction=1.0)
    assert res.chosen_hparams["target_context"] == ["altitude"] and np.isfinite(res.metrics["r2"])
    with pytest.raises(ConfigError, match="target_context"):
        resolve_fewshot_config({"target_context": "ignore"})


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


def test_every_context_carries_what_its_source_is_declared_to_show():
    """One declaration (geosrl.datasets.sources) for the contexts and the few-shot leak check."""
    from geosrl.datasets.sources import SOURCE_QUANTITIES
    from geosrl.pretrain.contexts import CONTEXTS

    assert {c.source for c in CONTEXTS.values()} == set(SOURCE_QUANTITIES)
    for c in CONTEXTS.values():
        assert tuple(c.quantities) == SOURCE_QUANTITIES[c.source], c.name


def test_a_card_made_before_a_stricter_declaration_is_checked_with_it():
    old_card = {"training_data": {"contexts": [{"name": "bmng_rgb", "source": "nasa_blue_marble",
                                                "quantities": ["true_colour_imagery"]}]}}
    assert check_target_contexts(["land_ocean", "country"], old_card, policy="label") == {
        "land_ocean": ["bmng_rgb"], "country": []}
    with pytest.raises(ConfigError, match="land_ocean"):
        check_target_contexts(["land_ocean"], old_card)


def test_cli_offers_every_pretraining_profile():
    from geosrl.cli import PRETRAIN_PROFILE_NAMES
    from geosrl.pretrain.train import PRETRAIN_PROFILES

    assert set(PRETRAIN_PROFILE_NAMES) == set(PRETRAIN_PROFILES)
    build_parser().parse_args(["pretrain", "--profile", "satclip_bounded"])
