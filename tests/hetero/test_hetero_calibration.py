"""Calibrated split-and-test (issue 10, item 6): bootstrap null, fresh held-out folds, equal-capacity comparator."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hetero_synth import QUICK_NULL, SMALL_ENC, boundary_data

from geosrl.hetero import (GlobalModel, HeterogeneityAwareModel, LogisticHead, RandomFeatureHead, RidgeHead,
                           equal_capacity_global)
from geosrl.hetero.heads import n_parameters
from geosrl.hetero.region_tree import grow_split_test, heldout_folds, null_targets
from geosrl.sphere import lonlat_to_xyz


def _design_data(n: int, delta_beta: float, seed: int):
    """A small design-level problem (no encoder): X = [x, lon/20, lat/10], y = β(lon)·x + noise,
    β = 0.8 ∓ Δβ/2 west / east of lon 0; cells = 4° × 4° grid squares."""
    rng = np.random.default_rng(seed)
    lonlat = np.stack([rng.uniform(-20, 20, n), rng.uniform(-10, 10, n)], 1)
    x = rng.standard_normal(n)
    y = (0.8 + np.where(lonlat[:, 0] < 0, -0.5, 0.5) * delta_beta) * x + rng.standard_normal(n)
    X = np.stack([x, lonlat[:, 0] / 20, lonlat[:, 1] / 10], 1)
    cell = (np.floor((lonlat[:, 0] + 20) / 4) * 10 + np.floor((lonlat[:, 1] + 10) / 4)).astype(np.int64)
    fit_mask = np.ones(n, dtype=bool)
    fit_mask[rng.permutation(n)[: int(0.3 * n)]] = False
    return X, y, cell, lonlat_to_xyz(lonlat), fit_mask


def _root_p(delta_beta: float, seed: int, **kw) -> float:
    X, y, cell, xyz, fit_mask = _design_data(300, delta_beta, seed)
    nodes = grow_split_test(X, y, cell, xyz, fit_mask, RidgeHead(1.0), min_region_size=40, max_depth=1, seed=seed,
                            **kw)
    return nodes[""].test.p_value


def test_false_split_rate_under_no_heterogeneity_is_near_alpha():
    """60 seeded null data sets, α = 0.2: the bootstrap test's rejection rate lies within 3 binomial
    Monte-Carlo standard errors of α (the analytic t-test on searched splits rejects almost never)."""
    alpha, reps = 0.2, 60
    p = np.array([_root_p(0.0, 100 + r, n_null=39, null_stop=3) for r in range(reps)])
    rate, se = float(np.mean(p < alpha)), math.sqrt(alpha * (1 - alpha) / reps)
    print(f"bootstrap false-split rate {rate:.3f} at alpha {alpha} (MC s.e. {se:.3f}, {reps} draws)")
    assert alpha - 3 * se <= rate <= alpha + 3 * se, rate
    assert (p > 0).all() and (p <= 1).all()


def test_strong_heterogeneity_is_split():
    for seed in range(3):
        assert _root_p(2.0, seed, n_null=39, null_stop=5) <= 1 / 40


def test_besag_clifford_p_values_are_on_the_grid():
    """Stopped early: p = null_stop / b; run to the end: p = (1 + hits) / (1 + n_null)."""
    for seed in range(4):
        p = _root_p(0.0, seed, n_null=39, null_stop=5)
        b = 5 / p
        full = p * 40
        assert abs(b - round(b)) < 1e-9 or abs(full - round(full)) < 1e-9, p


def test_fresh_heldout_folds_are_disjoint_and_balanced():
    fit_mask = np.random.default_rng(0).random(1000) < 0.7
    fold = heldout_folds(fit_mask, 4, seed=3)
    assert (fold[fit_mask] == -1).all() and set(np.unique(fold[~fit_mask])) == {0, 1, 2, 3}
    counts = np.bincount(fold[~fit_mask])
    assert counts.max() - counts.min() <= 1
    np.testing.assert_array_equal(fold, heldout_folds(fit_mask, 4, seed=3))


def test_deeper_tests_use_their_own_heldout_fold():
    lonlat, f, y, _ = boundary_data(1500, seed=0)
    m = HeterogeneityAwareModel(encoder_kwargs=SMALL_ENC, cell_resolution=64, min_region_size=100, max_depth=2,
                                **QUICK_NULL).fit(lonlat, y, f)
    n_held = int(round(0.3 * 1500))
    root = m.split_log_[0]
    assert root["accepted"] and abs(root["n_heldout"] - n_held / 2) <= 1  # fold 0 of 2
    depth1 = [s for s in m.split_log_ if s["depth"] == 1 and s["tried"]]
    assert sum(s["n_heldout"] for s in depth1) <= n_held / 2 + 1  # fold 1 only, shared by the two children
    shared = HeterogeneityAwareModel(encoder_kwargs=SMALL_ENC, cell_resolution=64, min_region_size=100, max_depth=2,
                                     fresh_heldout=False, **QUICK_NULL).fit(lonlat, y, f)
    assert shared.split_log_[0]["n_heldout"] == n_held


def test_null_targets_follow_the_parent_model():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 2))
    y = X @ np.array([1.0, -2.0]) + 0.5 * rng.standard_normal(2000)
    ridge = RidgeHead(1e-6).fit(X, y)
    ys = null_targets(ridge, X, X, y, rng)
    assert np.std(ys - ridge.predict(X)) == pytest.approx(0.5, rel=0.05)
    labels = (rng.random(2000) < 1 / (1 + np.exp(-2 * X[:, 0]))).astype(np.int64)
    logit = LogisticHead(2, l2=1e-3).fit(X, labels)
    drawn = null_targets(logit, X, X, labels, rng)
    assert set(np.unique(drawn)) == {0, 1}
    assert drawn.mean() == pytest.approx(logit.predict(X)[:, 1].mean(), abs=0.03)


def test_equal_capacity_global_has_as_many_parameters():
    lonlat, f, y, _ = boundary_data(1500, seed=0)
    m = HeterogeneityAwareModel(encoder_kwargs=SMALL_ENC, cell_resolution=64, min_region_size=100, max_depth=1,
                                **QUICK_NULL).fit(lonlat, y, f)
    assert m.n_regions_ == 2
    comp = equal_capacity_global(m, lonlat, y, f)
    assert comp.n_parameters_ == sum(n_parameters(h) for h in m.region_heads_)
    assert comp.n_parameters_ > n_parameters(GlobalModel(encoder_kwargs=SMALL_ENC).fit(lonlat, y, f).region_heads_[0])
    assert comp.predict(lonlat[:7], f[:7]).shape == (7,)


@pytest.mark.parametrize("kwargs, words", [({"null": "exact"}, "bootstrap"), ({"n_null": 0}, "n_null"),
                                           ({"null_stop": 0}, "null_stop"), ({"n_null": 10}, "raise n_null")])
def test_bad_null_settings_are_refused(kwargs, words):
    lonlat, f, y, _ = boundary_data(300, seed=0)
    with pytest.raises(ValueError, match=words):
        HeterogeneityAwareModel(encoder_kwargs=SMALL_ENC, min_region_size=100, **kwargs).fit(lonlat, y, f)


def test_random_feature_head_refuses_negative_width():
    with pytest.raises(ValueError, match="n_extra"):
        RandomFeatureHead(RidgeHead(), -1)
