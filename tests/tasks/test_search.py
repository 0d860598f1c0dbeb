"""Hyper-parameter search (geosrl.tasks.search), early stopping, density-sized spatial blocks (issue 10 items 2, 4)."""

import numpy as np
import pytest
import torch
from torch import nn

from geosrl.config import ConfigError
from geosrl.splits import density_nside, healpix_cell_side_km
from geosrl.sphere import uniform_lonlat_numpy
from geosrl.tasks import resolve_config, run_task
from geosrl.tasks.search import ENCODER_SCALES, Param, TrialMonitor, encoder_fixed_kwargs, run_search, search_space
from geosrl.tasks.training import EarlyStopping, train_epochs

from .conftest import FAST, tiny_encoder

TUNED = dict(FAST, tune={"trials": 3}, patience=2, epochs=4, geo_bias=False)


def test_param_edges_log_linear_integer_and_one_sided():
    lr = Param("lr", 1e-4, 1e-1)
    assert lr.edge(1.1e-4, 0.05) == "low" and lr.edge(0.09, 0.05) == "high" and lr.edge(3e-3, 0.05) == ""
    assert Param("x", 0.0, 1.0, log=False).edge(0.97, 0.05) == "high"
    degree = Param("legendre_degree", 3, 30, log=False, integer=True)
    assert degree.edge(3, 0.05) == "low" and degree.edge(30, 0.05) == "high" and degree.edge(29, 0.05) == ""
    wd = Param("weight_decay", 1e-7, 1e-2, edges=("high",))  # the low end means "no decay": not an edge
    assert wd.edge(1e-7, 0.05) == "" and wd.edge(1e-2, 0.05) == "high"


def test_search_space_has_encoder_scales_unless_fixed_by_the_user():
    cfg = resolve_config({"tune": {"trials": 2}})
    names = [p.name for p in search_space("spherical_harmonics", cfg)]
    assert names == ["lr", "weight_decay", "legendre_degree"]
    fixed = resolve_config({"tune": {"trials": 2}, "encoder_kwargs": {"legendre_degree": 8}})
    assert [p.name for p in search_space("spherical_harmonics", fixed)] == ["lr", "weight_decay"]
    assert [p.name for p in search_space("wrap", cfg)] == ["lr", "weight_decay"]
    assert [p.name for p in search_space(tiny_encoder, cfg)] == ["lr", "weight_decay"]
    # every listed scale is a constructor keyword of its encoder, and its default lies inside the range
    import geosrl

    for name, params in ENCODER_SCALES.items():
        for p in params:
            assert p.low <= p.default <= p.high
            geosrl.create_encoder(name, embed_dim=4, **{p.name: p.low})
            geosrl.create_encoder(name, embed_dim=4, **{p.name: p.high})


def _quadratic(params, monitor):
    score = -(np.log10(params["lr"]) + 2.0) ** 2
    return (score,), params["lr"], [{"score": score}]


def test_tpe_search_is_seeded_budgeted_and_starts_at_the_defaults():
    cfg = resolve_config({"tune": {"trials": 6}})
    space = search_space(None, cfg)
    a = run_search(space, _quadratic, cfg, seed=0)
    b = run_search(space, _quadratic, cfg, seed=0)
    c = run_search(space, _quadratic, cfg, seed=1)
    assert len(a.records) == 6 and a.records == b.records and a.params == b.params
    assert a.records[0]["lr"] == cfg["tune"]["lr_start"] and a.records[0]["weight_decay"] == 1e-7
    assert [r["lr"] for r in a.records] != [r["lr"] for r in c.records]
    assert all(1e-4 <= r["lr"] <= 0.3 for r in a.records)
    assert a.params["lr"] == max(a.records, key=lambda r: r["score"])["lr"] and a.payload == a.params["lr"]


def test_grid_mode_is_the_published_lr_grid_times_the_choices():
    cfg = resolve_config({"lr_grid": [1e-3, 1e-2]})
    out = run_search(search_space(None, cfg, (Param("negatives", choices=("uniform", "background")),)),
                     lambda p, monitor: ((p["lr"],), None, [{}]), cfg, seed=0)
    assert [(r["negatives"], r["lr"]) for r in out.records] == [
        ("uniform", 1e-3), ("uniform", 1e-2), ("background", 1e-3), ("background", 1e-2)]
    assert out.params == {"negatives": "uniform", "lr": 1e-2} and out.sampler == "grid"


def test_early_stopping_keeps_the_best_epoch_and_stops_after_patience():
    model = nn.Linear(1, 1)
    scores = iter([0.1, 0.5, 0.4, 0.3, 0.9])
    weights = []

    def score():
        weights.append(model.weight.detach().clone())
        return next(scores)

    stopper = EarlyStopping(model, score, patience=2)
    x = torch.ones(4, 1)
    train_epochs(model, torch.optim.SGD(model.parameters(), lr=0.1), 10, 4, lambda: torch.arange(4),
                 lambda b: (model(x[b]) - 3.0).pow(2).mean(), after_epoch=stopper)
    assert len(weights) == 4 and stopper.best_epoch == 2  # epochs 3, 4 without gain → stop; 0.9 never seen
    stopper.restore()
    assert torch.equal(model.weight, weights[1]) and not model.training


def test_tuned_cells_record_choices_ranges_and_never_see_the_test_labels(reg_data):
    from geosrl.splits import make_split

    idx = make_split(reg_data.lonlat, "random", 0)
    scrambled = reg_data.subset(np.arange(len(reg_data)))
    scrambled.target = scrambled.target.copy()
    scrambled.target[idx["test"]] = np.random.default_rng(9).permutation(scrambled.target[idx["test"]])
    a = run_task(reg_data, "spherical_harmonics", idx, 0, TUNED)
    b = run_task(scrambled, "spherical_harmonics", idx, 0, TUNED)
    assert a.chosen_hparams["tuned"] == b.chosen_hparams["tuned"] and a.val_metrics == b.val_metrics
    rows = {r["param"]: r for r in a.chosen_hparams["search"]}
    assert set(rows) == {"lr", "weight_decay", "legendre_degree", "epochs"}
    assert all(r["low"] <= r["value"] <= r["high"] for r in rows.values())
    assert 1 <= a.chosen_hparams["tuned"]["epochs"] <= 4 and len(a.info["val_trials"]) == 3
    assert a.metrics["r2"] > 0.5


@pytest.mark.parametrize("data", ["cls_data", "po_data"])
def test_tuned_classification_and_presence_only_run(data, request):
    res = run_task(request.getfixturevalue(data), "rbf", "random", 0, TUNED)
    assert "kernel_size_deg" in res.chosen_hparams["tuned"] and res.chosen_hparams["sampler"].startswith("optuna")
    assert {r["param"] for r in res.chosen_hparams["search"]} >= {"lr", "weight_decay", "kernel_size_deg"}


def test_rbf_anchors_come_from_the_training_data():
    ll = uniform_lonlat_numpy(300, np.random.default_rng(0))
    cfg = resolve_config({"tune": {"trials": 2}, "encoder_kwargs": {"num_anchors": 50}})
    anchors = encoder_fixed_kwargs("rbf", cfg, ll, seed=0)["anchors"].numpy()
    assert anchors.shape == (50, 2) and all((ll == a).all(axis=1).any() for a in anchors)
    assert encoder_fixed_kwargs("rbf", resolve_config({}), ll, 0) == {}  # untuned: the published uniform anchors


@pytest.mark.parametrize("bad, key", [
    ({"tune": {"trials": -1}}, "tune.trials"), ({"tune": {"lr": [1e-2, 1e-3]}}, "tune.lr"),
    ({"tune": {"lr": [1e-3]}}, "tune.lr"), ({"tune": {"lr_start": 1.0}}, "tune.lr_start"),
    ({"tune": {"weight_decay": [0.0, 1e-2]}}, "tune.weight_decay"), ({"patience": 0}, "patience"),
    ({"tune": {"edge_fraction": 0.5}}, "tune.edge_fraction"), ({"split": {"block_points": 0}}, "split.block_points"),
    ({"tune": {"pruner": "hyperband", "trials": 4}, "patience": 3}, "tune.pruner"),
    ({"tune": {"pruner": "median", "trials": 4}}, "tune.pruner"),  # no patience: no per-epoch score to prune on
    ({"tune": {"pruner": "median"}, "patience": 3}, "tune.pruner"),  # the lr grid is not a study
    ({"tune": {"prune_startup": 0}}, "tune.prune_startup"), ({"tune": {"prune_warmup": -1}}, "tune.prune_warmup"),
])
def test_bad_search_config_is_refused(bad, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        resolve_config(bad)


def test_block_size_follows_the_data_density():
    rng = np.random.default_rng(0)
    global_pts = uniform_lonlat_numpy(4000, rng)
    regional = np.stack([rng.uniform(-124, -120, 4000), rng.uniform(36, 40, 4000)], 1)
    coarse, fine = density_nside(global_pts, 20), density_nside(regional, 20)
    assert healpix_cell_side_km(coarse) > 10 * healpix_cell_side_km(fine)
    assert density_nside(global_pts, 5) > coarse > density_nside(global_pts, 200)
    with pytest.raises(ValueError, match="block_points"):
        density_nside(global_pts, 0)


def test_spatial_cells_record_block_buffer_and_distances_per_seed(reg_data):
    cfg = dict(FAST, lr_grid=[1e-2], geo_bias=False)
    a, b = (run_task(reg_data, tiny_encoder, "spatial", s, cfg).chosen_hparams for s in (0, 1))
    assert a["split_block_km"] == b["split_block_km"] and a["split_buffer_km"] == 0.25 * a["split_block_km"]
    assert a["split_distance_km"]["min_km"] >= a["split_buffer_km"]
    assert a["split_sizes"] != b["split_sizes"]  # each seed assigns the blocks anew


def _learning_curves(params, monitor, epochs=30):
    """A trial whose validation score rises towards a ceiling set by lr (best at 1e-2), reported every epoch."""
    ceiling = -(np.log10(params["lr"]) + 2.0) ** 2
    best, ran = -np.inf, 0
    for epoch in range(1, epochs + 1):
        ran = epoch
        best = max(best, ceiling * (1.0 + 2.0 ** -epoch))
        if monitor.report(epoch, best):
            break
    return (best,), params["lr"], [{"score": best, "ran": ran}]


def test_median_pruner_stops_poor_trials_early_is_seeded_and_never_chooses_a_pruned_trial():
    cfg = resolve_config({"tune": {"trials": 12, "pruner": "median", "prune_startup": 3, "prune_warmup": 2},
                          "patience": 5})
    space = search_space(None, cfg)
    a, b = (run_search(space, _learning_curves, cfg, seed=0) for _ in range(2))
    assert a.records == b.records and a.params == b.params and "median pruner" in a.sampler
    pruned = [r for r in a.records if r["pruned_at_epoch"] is not None]
    assert pruned and all(r["ran"] == r["pruned_at_epoch"] < 30 for r in pruned)
    assert all(r["ran"] == 30 for r in a.records[:3])  # the start-up trials always finish
    finished = [r for r in a.records if r["pruned_at_epoch"] is None]
    assert a.params["lr"] == max(finished, key=lambda r: r["score"])["lr"]
    # a pruned trial's best score was below that of a finished trial when it was stopped
    assert all(r["score"] < max(f["score"] for f in finished) for r in pruned)
    unpruned = run_search(space, _learning_curves, resolve_config({"tune": {"trials": 12}, "patience": 5}), seed=0)
    assert "pruned_at_epoch" not in unpruned.records[0] and all(r["ran"] == 30 for r in unpruned.records)
    assert sum(r["ran"] for r in a.records) < sum(r["ran"] for r in unpruned.records)


def test_a_finished_trial_holds_its_best_score_at_later_epochs():
    import optuna

    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.MedianPruner(1, 0))
    first = study.ask()
    monitor = TrialMonitor(first)
    assert [monitor.report(e, v) for e, v in [(1, 0.2), (2, 0.5)]] == [False, False]
    monitor.hold_best(5)
    study.tell(first, 0.5)
    assert study.trials[0].intermediate_values == {1: 0.2, 2: 0.5, 3: 0.5, 4: 0.5, 5: 0.5}
    second = TrialMonitor(study.ask())  # ahead at epoch 1; at epoch 4 judged against the held 0.5, not nothing
    assert not second.report(1, 0.45) and second.report(4, 0.45) and second.pruned_at == 4
    TrialMonitor().hold_best(3)  # no pruner: nothing to do


def test_early_stopping_stops_when_the_report_says_pruned():
    model = nn.Linear(1, 1)
    seen = []
    stopper = EarlyStopping(model, iter([0.1, 0.5, 0.6, 0.7]).__next__, patience=10,
                            report=lambda epoch, best: seen.append((epoch, best)) or epoch == 2)
    train_epochs(model, torch.optim.SGD(model.parameters(), lr=0.1), 10, 4, lambda: torch.arange(4),
                 lambda b: model(torch.ones(4, 1)[b]).pow(2).mean(), after_epoch=stopper)
    assert seen == [(1, 0.1), (2, 0.5)] and stopper.best_epoch == 2


@pytest.mark.parametrize("data", ["reg_data", "cls_data", "po_data", "img_data"])
def test_pruned_cells_run_reproducibly_and_record_the_pruner(data, request):
    cfg = dict(FAST, tune={"trials": 5, "pruner": "median", "prune_startup": 1, "prune_warmup": 1}, patience=3,
               epochs=8, geo_bias=False)
    a, b = (run_task(request.getfixturevalue(data), tiny_encoder, "random", 0, cfg) for _ in range(2))
    assert a.metrics == b.metrics and a.info["val_trials"] == b.info["val_trials"]
    assert "median pruner" in a.chosen_hparams["sampler"]
    assert all("pruned_at_epoch" in r for r in a.info["val_trials"])


def test_shipped_profiles_prune_only_the_full_protocol():
    from geosrl.bench.config import build_config

    full, quick = build_config("full"), build_config("quick")
    for task in ("land_ocean", "country", "sdm_presence_only"):
        f, q = resolve_config(full.protocol_for(task)), resolve_config(quick.protocol_for(task))
        assert f["tune"]["pruner"] == "median" and f["tune"]["trials"] == 20 and f["fused_adam"]
        assert f["patience"] is not None and f["max_train_samples"] is None and f["embed_dim"] == 256
        assert q["tune"]["pruner"] == "none" and not q["fused_adam"]  # the quick profile's numbers are unchanged
