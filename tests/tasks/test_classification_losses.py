"""Classification losses that fit the labels: calibrated softmax/BCE for binary tasks, softmax beside geo-prior."""

import numpy as np
import pytest

from geosrl.datasets.base import TaskData
from geosrl.sphere import uniform_lonlat_numpy
from geosrl.tasks import run_task

from .conftest import FAST, tiny_encoder


def land_like(n=1500, seed=0):
    """A binary task with a 70 / 30 class balance, like land_ocean: class 1 where lon ∈ (60, 170)."""
    ll = uniform_lonlat_numpy(n, np.random.default_rng(seed))
    return TaskData("landish", "classification", ll, ((ll[:, 0] > 60) & (ll[:, 0] < 170)).astype(np.int64),
                    num_classes=2)


def test_binary_tasks_train_a_calibrated_classifier_that_beats_the_majority():
    data = land_like()
    res = run_task(data, tiny_encoder, "random", 0, dict(FAST, epochs=30))
    maj = run_task(data, "majority", "random", 0, FAST)
    assert res.chosen_hparams["classification_loss"] == "softmax"
    assert res.metrics["top1"] > maj.metrics["top1"] + 0.1 and res.metrics["auc"] > 0.9
    p_true = np.exp(-res.metrics["log_loss"])  # geometric-mean probability of the true class
    assert res.metrics["log_loss"] < 0.5 and p_true > 0.6
    # calibrated: the mean predicted probability of class 1 is close to its frequency on test
    pred = res.predictions
    p1 = np.where(pred["y_true"] == 1, pred["true_class_prob"], 1 - pred["true_class_prob"])
    assert abs(p1.mean() - pred["y_true"].mean()) < 0.05


def test_multiclass_reports_softmax_beside_geoprior(cls_data):
    res = run_task(cls_data, tiny_encoder, "random", 0, FAST)
    assert res.chosen_hparams["classification_loss"] == "geoprior"
    for name in ("top1", "top1_softmax", "mrr_softmax", "log_loss_softmax"):
        assert np.isfinite(res.metrics[name]), name
    assert "log_loss" not in res.metrics  # the geo-prior scores are not normalised probabilities
    assert "lr_softmax" in res.chosen_hparams["tuned"]
    only = run_task(cls_data, tiny_encoder, "random", 0, dict(FAST, softmax_alongside=False))
    assert "top1_softmax" not in only.metrics and only.metrics["top1"] == pytest.approx(res.metrics["top1"])


def test_fusion_weight_is_chosen_on_validation_and_fusion_never_loses_there(img_data):
    res = run_task(img_data, tiny_encoder, "random", 0, dict(FAST, lr_grid=[1e-2]))
    tuned = res.chosen_hparams["tuned"]
    assert tuned["image_weight"] in (0.0, 0.25, 0.5, 1.0)
    val = res.val_metrics
    assert val["top1"] >= val["top1_location_only"] - 1e-12  # w = 0 is among the choices
    weights = {t["image_weight"] for t in res.info["val_trials"]}
    assert weights == {0.0, 0.25, 0.5, 1.0}
    # useless image probabilities (uniform): the weight cannot help, fused = location-only on test
    uniform = TaskData(img_data.name, img_data.kind, img_data.lonlat, img_data.target, num_classes=4,
                       image_features=np.full((len(img_data.target), 4), 0.25))
    flat = run_task(uniform, tiny_encoder, "random", 0, dict(FAST, lr_grid=[1e-2]))
    assert flat.metrics["top1"] == pytest.approx(flat.metrics["top1_location_only"])
