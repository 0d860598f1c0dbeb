"""End-to-end ``run_task`` per protocol on small synthetic tasks: learns, honest, deterministic."""

import numpy as np
import pytest
import torch

import geosrl
from geosrl.tasks import TaskResult, resolve_config, run_task
from geosrl.tasks.geoprior import balanced_epoch_indices
from geosrl.tasks.presence_only import auc_contribution

from .conftest import FAST, tiny_encoder

SPATIAL = ("ssi_unmarked", "ssi_marked", "ssi_local_marks", "ssi_isolated_frac", "morans_i_residual")


def _check_common(res: TaskResult, n_test: int):
    assert isinstance(res, TaskResult)
    for col in ("lon", "lat", "y_true", "y_pred"):
        assert res.predictions[col].shape == (n_test,)
    assert res.train_seconds > 0
    assert all(isinstance(v, float) for v in res.metrics.values())
    for k in SPATIAL:
        assert k in res.metrics


def test_classification_learns_and_is_deterministic(cls_data):
    res = run_task(cls_data, tiny_encoder, "random", 0, FAST)
    _check_common(res, 225)
    m = res.metrics
    assert m["top1"] > 0.6  # chance 0.25
    assert m["top3"] >= m["top1"] and 0 < m["mrr"] <= 1
    assert np.isfinite(m["ssi_marked"]) and np.isfinite(m["ssi_local_marks"]) and "worst_region_top1" in m
    assert 0 <= m["ssi_isolated_frac"] < 0.5 and m["ssi_radius_km"] > 0  # the radius is chosen from the test points
    assert res.chosen_hparams["lr"] in FAST["lr_grid"] and res.chosen_hparams["pos_weight"] == 4
    again = run_task(cls_data, tiny_encoder, "random", 0, FAST)
    assert again.metrics.keys() == m.keys()
    assert np.allclose([again.metrics[k] for k in m], list(m.values()), rtol=0, atol=0, equal_nan=True)


def test_hparams_chosen_on_validation_only(cls_data):
    """Scrambling the test labels changes no choice and no validation number."""
    from geosrl.splits import make_split

    idx = make_split(cls_data.lonlat, "random", 0)
    scrambled = cls_data.subset(np.arange(len(cls_data)))
    scrambled.target = scrambled.target.copy()
    scrambled.target[idx["test"]] = np.random.default_rng(9).permutation(scrambled.target[idx["test"]])
    a = run_task(cls_data, tiny_encoder, idx, 0, FAST)
    b = run_task(scrambled, tiny_encoder, idx, 0, FAST)
    assert a.chosen_hparams["lr"] == b.chosen_hparams["lr"]
    assert a.val_metrics == b.val_metrics
    best = max(a.info["val_trials"], key=lambda t: t["top1"])
    assert best["lr"] == a.chosen_hparams["lr"]


def test_classification_spatial_split_and_registry_encoder(cls_data):
    cfg = dict(FAST, lr_grid=[1e-2], encoder_kwargs={"net_kwargs": {"hidden_dim": 32, "dropout": 0.0}})
    res = run_task(cls_data, "sphere2vec_spherec", "spatial", 1, cfg)
    assert res.metrics["top1"] > 0.4
    assert res.chosen_hparams["encoder"] == "sphere2vec_spherec" and res.chosen_hparams["split"] == "spatial"


def test_regression_learns(reg_data):
    res = run_task(reg_data, tiny_encoder, "random", 0, FAST)
    _check_common(res, 225)
    m = res.metrics
    assert m["r2"] > 0.5
    assert m["rmse"] >= m["mae"] > 0
    assert "worst_region_rmse" in m
    assert np.allclose(res.predictions["abs_error"], np.abs(res.predictions["y_true"] - res.predictions["y_pred"]))
    # the prediction surface is the chosen model: at the test points it gives the test predictions
    test_ll = np.stack([res.predictions["lon"], res.predictions["lat"]], 1)
    assert np.allclose(res.surface(test_ll), res.predictions["y_pred"], rtol=1e-5, atol=1e-4)


def test_regression_with_image_features_reports_three_variants(reg_data):
    d = reg_data.subset(np.arange(len(reg_data)))
    rng = np.random.default_rng(0)
    d.image_features = (d.target[:, None] * 0.01 + rng.normal(0, 1, (len(d), 3))).astype(np.float32)
    res = run_task(d, tiny_encoder, "random", 0, dict(FAST, lr_grid=[1e-2]))
    for suffix in ("", "_location_only", "_image_only"):
        assert np.isfinite(res.metrics["r2" + suffix])
    assert res.metrics["r2_image_only"] > 0.2
    assert "y_pred_image_only" in res.predictions
    test_ll = np.stack([res.predictions["lon"], res.predictions["lat"]], 1)  # the surface is location-only
    assert np.allclose(res.surface(test_ll), res.predictions["y_pred_location_only"], rtol=1e-5, atol=1e-4)


def test_presence_only_learns(po_data):
    cfg = dict(FAST, po_negatives_grid=["uniform", "background"], lr_grid=[1e-2])
    res = run_task(po_data, tiny_encoder, "random", 0, cfg)
    _check_common(res, 225)
    assert res.metrics["auc"] > 0.75  # chance 0.5
    assert res.chosen_hparams["negatives"] in ("uniform", "background")
    assert {t["negatives"] for t in res.info["val_trials"]} == {"uniform", "background"}
    test_ll = np.stack([res.predictions["lon"], res.predictions["lat"]], 1)
    assert np.allclose(res.surface(test_ll), res.predictions["y_pred"], rtol=1e-5, atol=1e-6)


def test_imagery_fusion_variants(img_data):
    res = run_task(img_data, tiny_encoder, "random", 0, dict(FAST, lr_grid=[1e-2]))
    m = res.metrics
    assert m["top1_image_only"] > 0.4 and m["top1_location_only"] > 0.6
    assert m["top1"] >= max(m["top1_image_only"], m["top1_location_only"]) - 0.05
    assert res.chosen_hparams["image_model"] == "SmallCNN"
    assert "y_pred_image_only" in res.predictions


def test_given_image_probabilities_are_fused(cls_data):
    d = cls_data.subset(np.arange(len(cls_data)))
    probs = np.full((len(d), 4), 0.1, dtype=np.float32)
    probs[np.arange(len(d)), d.target] = 0.7  # a perfect but unsure image model
    d.image_features = probs
    res = run_task(d, tiny_encoder, "random", 0, dict(FAST, lr_grid=[1e-2]))
    assert res.metrics["top1_image_only"] == 1.0 and res.chosen_hparams["image_model"] == "given_probs"


def test_missing_locations_keep_image_score(cls_data):
    d = cls_data.subset(np.arange(len(cls_data)))
    probs = np.full((len(d), 4), 0.1, dtype=np.float32)
    probs[np.arange(len(d)), d.target] = 0.7
    d.image_features = probs
    from geosrl.splits import make_split

    idx = make_split(d.lonlat, "random", 0)
    d.lonlat = d.lonlat.copy()
    d.lonlat[idx["test"][:10]] = np.nan
    res = run_task(d, tiny_encoder, idx, 0, dict(FAST, lr_grid=[1e-2], geo_bias=False))
    assert res.predictions["hit@1"][:10].all()


def test_balanced_sampler_caps_classes():
    labels = np.r_[np.zeros(500, int), np.ones(30, int), np.full(120, 2)]
    idx = balanced_epoch_indices(labels, 100, np.random.default_rng(0))
    assert np.bincount(labels[idx]).tolist() == [100, 30, 100]
    assert len(np.unique(idx)) == len(idx)
    assert len(balanced_epoch_indices(labels, None, np.random.default_rng(0))) == len(labels)


def test_auc_contribution_means_equal_auc():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    s = np.round(rng.random(200), 1)  # ties
    c = auc_contribution(y, s)
    assert c[y == 1].mean() == pytest.approx(geosrl.metrics.auc(y, s))
    assert c[y == 0].mean() == pytest.approx(geosrl.metrics.auc(y, s))


def test_config_profiles_and_errors(cls_data):
    quick, full = resolve_config({}), resolve_config({"profile": "full"})
    assert quick["epochs"] < full["epochs"] and len(quick["lr_grid"]) <= len(full["lr_grid"])
    assert resolve_config({"ssi": {"null": "two_sided"}})["ssi"]["radius_km"] == "auto"
    assert resolve_config({"ssi": {"radius_km": 100}})["ssi"]["radius_km"] == 100.0
    for bad in ("median", 0, -5.0, True):
        with pytest.raises(ValueError, match="radius_km"):
            resolve_config({"ssi": {"radius_km": bad}})
    with pytest.raises(ValueError, match="isolated"):
        resolve_config({"ssi": {"isolated": "drop"}})
    with pytest.raises(ValueError):
        resolve_config({"epoch": 3})
    with pytest.raises(ValueError):
        resolve_config({"profile": "huge"})
    with pytest.raises(TypeError):
        run_task(cls_data, tiny_encoder, 0.5, 0, FAST)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_cuda(cls_data):
    res = run_task(cls_data, tiny_encoder, "random", 0, FAST, device="cuda")
    assert res.metrics["top1"] > 0.6 and res.chosen_hparams["device"].startswith("cuda")
