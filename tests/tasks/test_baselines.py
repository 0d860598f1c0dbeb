"""The majority and kNN baselines: definitions, great-circle neighbours, choice on validation, report column."""

import numpy as np
import pytest

from geosrl.bench.report import Stat, render_table
from geosrl.datasets.base import TaskData
from geosrl.sphere import lonlat_to_xyz, uniform_lonlat_numpy
from geosrl.tasks import run_task
from geosrl.tasks.baselines import _neighbours

FAST = {"ssi": {"max_centres": 40}}


def quadrants(n=1500, seed=0):
    ll = uniform_lonlat_numpy(n, np.random.default_rng(seed))
    return TaskData("quad", "classification", ll, (2 * (ll[:, 0] > 0) + (ll[:, 1] > 0)).astype(np.int64),
                    num_classes=4)


def test_majority_is_the_training_frequency_and_knn_beats_it():
    data = quadrants()
    maj = run_task(data, "majority", "random", 0, FAST)
    knn = run_task(data, "knn", "random", 0, FAST)
    test = maj.predictions
    # every test row gets the training split's most frequent class
    assert len(set(test["y_pred"].tolist())) == 1
    assert maj.metrics["top1"] == pytest.approx(np.mean(test["y_true"] == test["y_pred"]))
    assert knn.metrics["top1"] > 0.9 > 0.4 > maj.metrics["top1"]
    assert knn.chosen_hparams["tuned"]["k"] in FAST.get("knn_k_grid", [1, 3, 5, 10, 20, 50])


def test_regression_majority_is_the_training_mean():
    ll = uniform_lonlat_numpy(800, np.random.default_rng(1))
    y = np.sin(np.radians(ll[:, 1])) * 3 + 10
    data = TaskData("lat", "regression", ll, y)
    idx = {"train": np.arange(0, 500), "val": np.arange(500, 650), "test": np.arange(650, 800)}
    maj = run_task(data, "majority", idx, 0, FAST)
    assert np.allclose(maj.predictions["y_pred"], y[:500].mean())
    knn = run_task(data, "knn", idx, 0, FAST)
    assert knn.metrics["r2"] > 0.95 and maj.metrics["r2"] < 0.0 + 1e-9


def test_neighbours_are_great_circle_across_the_dateline():
    train = lonlat_to_xyz(np.array([[179.0, 0.0], [170.0, 0.0]]))
    query = lonlat_to_xyz(np.array([[-179.5, 0.0]]))
    assert _neighbours(train, query, 1)[0, 0] == 0  # 1.5° away across the dateline, not the 10.5° one
    pole = lonlat_to_xyz(np.array([[0.0, 89.0], [120.0, 80.0]]))
    assert _neighbours(pole, lonlat_to_xyz(np.array([[180.0, 89.5]])), 1)[0, 0] == 0  # 1.5° over the pole


def test_k_is_chosen_on_validation_not_test():
    data = quadrants()
    idx = {"train": np.arange(0, 1000), "val": np.arange(1000, 1250), "test": np.arange(1250, 1500)}
    a = run_task(data, "knn", idx, 0, FAST)
    scrambled = TaskData(data.name, data.kind, data.lonlat, data.target.copy(), num_classes=4)
    scrambled.target[idx["test"]] = np.random.default_rng(3).permutation(scrambled.target[idx["test"]])
    b = run_task(scrambled, "knn", idx, 0, FAST)
    assert a.chosen_hparams["tuned"] == b.chosen_hparams["tuned"] and a.val_metrics == b.val_metrics
    assert a.metrics["top1"] != b.metrics["top1"]


def test_presence_only_knn_scores_presence_share():
    rng = np.random.default_rng(2)
    pres = np.column_stack([rng.uniform(-10, 10, 300), rng.uniform(40, 50, 300)])
    bg = uniform_lonlat_numpy(900, rng)
    data = TaskData("po", "presence_only", np.concatenate([pres, bg]), np.r_[np.ones(300), np.zeros(900)])
    knn = run_task(data, "knn", "random", 0, FAST)
    maj = run_task(data, "majority", "random", 0, FAST)
    assert knn.metrics["auc"] > 0.95 and maj.metrics["auc"] == pytest.approx(0.5)


def test_report_gives_paired_gain_over_knn_and_flags_losers():
    def stat(values):
        return Stat.of(values, [0, 1, 2])

    table = {"knn": {"top1": stat([0.80, 0.70, 0.75])}, "good": {"top1": stat([0.85, 0.76, 0.80])},
             "bad": {"top1": stat([0.70, 0.69, 0.74])}}
    lines = render_table(table, "classification", reference="knn")
    assert lines[0].startswith("| encoder | seeds | top1 vs knn |")
    good = next(line for line in lines if line.startswith("| good"))
    bad = next(line for line in lines if line.startswith("| bad"))
    assert "+0.0533 ± 0.0058" in good and "✗" not in good  # paired: (0.05, 0.06, 0.05)
    assert "✗" in bad and "-0.04 ± 0.052" in bad  # paired: (-0.10, -0.01, -0.01)
