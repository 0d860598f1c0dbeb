"""Geo-bias score (issue 10, item 5): a data-chosen neighbourhood, isolated centres excluded and counted,
and a score that ranks spatially clustered errors above scattered ones on a real task's test points."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.sparse

import geosrl.metrics as M
from geosrl.sphere import EARTH_RADIUS_KM, lonlat_to_xyz


def _great_circle_km(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Independent haversine reference, ``(N, 2)`` × ``(M, 2)`` degrees → ``(N, M)`` km."""
    la, lb = np.radians(a)[:, None, :], np.radians(b)[None, :, :]
    h = np.sin((lb[..., 1] - la[..., 1]) / 2) ** 2 + np.cos(la[..., 1]) * np.cos(lb[..., 1]) * np.sin(
        (lb[..., 0] - la[..., 0]) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(h, 0, 1)))


def _scattered_points(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([rng.uniform(-30, 30, n), rng.uniform(-20, 20, n)], 1)


def _clustered_vs_scattered(lonlat: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """±1 marks (−1 = error above the median) of two models with the *same* error values: errors follow
    a smooth random field (clustered), or the same values permuted over the points (scattered)."""
    rng = np.random.default_rng(seed)
    xyz = lonlat_to_xyz(lonlat)
    bumps = xyz[rng.choice(len(lonlat), 8, replace=False)]
    field = np.exp(-(1 - xyz @ bumps.T) * (EARTH_RADIUS_KM / 1000.0) ** 2).sum(1)  # ~1000 km bumps
    errors = np.sort(rng.exponential(1.0, len(lonlat)))
    clustered = np.empty(len(lonlat))
    clustered[np.argsort(field)] = errors
    scattered = rng.permutation(clustered)
    assert np.array_equal(np.sort(clustered), np.sort(scattered))  # equal magnitudes
    return np.where(clustered > np.median(errors), -1.0, 1.0), np.where(scattered > np.median(errors), -1.0, 1.0)


# ------------------------------------------------------------------ the neighbourhood chosen from the data
def test_auto_radius_gives_the_median_centre_min_neighbours():
    ll = _scattered_points(300, 0)
    for m in (1, 4, 10):
        r_km = M.auto_radius_rad(lonlat_to_xyz(ll), m) * EARTH_RADIUS_KM
        d = _great_circle_km(ll, ll)
        np.fill_diagonal(d, np.inf)
        kth = np.sort(d, axis=1)[:, m - 1]  # distance to the m-th other point
        assert r_km == pytest.approx(np.sort(kth)[len(kth) // 2], rel=1e-6)  # the upper median
        neighbours = (d <= r_km * (1 + 1e-9)).sum(1)
        assert np.median(neighbours) >= m


def test_isolated_centres_are_excluded_and_counted():
    # 30 points in a tight cluster + 10 points far from everything and from each other
    rng = np.random.default_rng(1)
    cluster = np.stack([rng.normal(0, 0.3, 30), rng.normal(0, 0.3, 30)], 1)
    lonely = np.stack([np.linspace(-170, 170, 10), np.full(10, 60.0)], 1)
    ll = np.concatenate([cluster, lonely])
    marks = np.where(rng.random(40) < 0.5, 1.0, -1.0)
    res = M.geo_bias_ssi(ll, marks=marks, radius_km=200.0, null="two_sided")
    iso = np.arange(40) >= 30
    assert res.isolated_frac == pytest.approx(10 / 40)
    np.testing.assert_array_equal(res.neighbours[iso], 0)
    assert np.isnan(res.marked_per_centre[iso]).all() and np.isfinite(res.marked_per_centre[~iso]).all()
    assert res.marked[0] == pytest.approx(res.marked_per_centre[~iso, 0].mean())
    # PyGBS parity mode scores them, each with one and the same constant
    legacy = M.geo_bias_ssi(ll, marks=marks, radius_km=200.0, null="two_sided", isolated="score")
    assert np.ptp(legacy.marked_per_centre[iso]) == 0.0 and np.isfinite(legacy.marked_per_centre[iso]).all()


def test_geo_bias_is_invariant_to_the_order_of_the_points():
    ll = _scattered_points(150, 2)
    marks = np.where(np.random.default_rng(2).random(150) < 0.3, -1.0, 1.0)
    a = M.geo_bias_ssi(ll, marks=marks, null="two_sided")
    perm = np.random.default_rng(3).permutation(150)
    b = M.geo_bias_ssi(ll[perm], marks=marks[perm], null="two_sided")
    assert a.params["radius_km"] == pytest.approx(b.params["radius_km"], rel=1e-12)
    for x, y in ((a.marked, b.marked), (a.local_marks, b.local_marks), (a.unmarked, b.unmarked),
                 (a.isolated_frac, b.isolated_frac)):
        np.testing.assert_allclose(x, y, rtol=1e-9)


def test_local_mark_surprisal_matches_hypergeometric_moments():
    """Against brute force: the exact mean and variance of a neighbourhood's mark sum over all
    assignments of the marks to the points (small N)."""
    marks = np.array([1.0, 1.0, -1.0, 1.0, -1.0, -1.0, 1.0])
    members = np.zeros((2, 7), dtype=bool)
    members[0, [0, 1, 3]] = True
    members[1, [2, 4]] = True
    sums = np.array([[sum(p[j] for j in np.flatnonzero(members[c])) for c in range(2)]
                     for p in itertools.permutations(marks)])
    mean, sd = sums.mean(0), sums.std(0)
    observed = members.astype(float) @ marks
    zeta = (observed - mean) / sd
    from scipy.stats import norm
    np.testing.assert_allclose(M.local_mark_surprisal(marks[:, None], members, "two_sided")[:, 0],
                               -np.log(2 * norm.sf(np.abs(zeta))), rtol=1e-10)
    np.testing.assert_allclose(M.local_mark_surprisal(marks[:, None], scipy.sparse.csr_matrix(members), "pdf")[:, 0],
                               -norm.logpdf(zeta), rtol=1e-10)
    # constant marks: no variance under the null → NaN, not a number that looks like a score
    assert np.isnan(M.local_mark_surprisal(np.ones((7, 1)), members, "two_sided")).all()


def test_every_model_gets_the_same_radius_and_isolation():
    """The radius and isolated fraction depend on the test points only (fair across encoders)."""
    ll = _scattered_points(200, 4)
    rng = np.random.default_rng(4)
    a = M.geo_bias_ssi(ll, marks=np.where(rng.random(200) < 0.5, 1.0, -1.0))
    b = M.geo_bias_ssi(ll, marks=np.where(rng.random(200) < 0.1, 1.0, -1.0))
    assert a.params["radius_km"] == b.params["radius_km"] and a.isolated_frac == b.isolated_frac


# ------------------------------------------------------------------ a real task's test points
def _real_test_points(task: str) -> np.ndarray:
    from geosrl.datasets import DataUnavailableError, load_offline_task
    from geosrl.splits import make_split

    try:
        data = load_offline_task(task)
    except DataUnavailableError as err:  # the offline data packages are part of the dev set-up
        pytest.skip(f"{task} data not installed: {err}")
    return data.lonlat[make_split(data.lonlat, "random", 0)["test"]]


@pytest.mark.parametrize("task", ["air_temperature", "elevation"])
def test_clustered_errors_score_worse_than_scattered_on_real_test_points(task):
    ll = _real_test_points(task)
    before = M.geo_bias_ssi(ll, radius_km=100.0, null="two_sided", max_centres=300)
    assert before.isolated_frac > 0.5  # the degenerate 100 km neighbourhood of issue 10
    for seed in range(3):
        clustered, scattered = _clustered_vs_scattered(ll, seed)
        res = M.geo_bias_ssi(ll, marks=np.stack([clustered, scattered], 1), null="two_sided", max_centres=300,
                             seed=seed)
        assert res.isolated_frac < 0.1
        assert res.local_marks[0] > 2.0 * res.local_marks[1], (seed, res.local_marks)
        # scattered errors: each neighbourhood's mark sum is a random draw, mean surprisal near E[−ln U] = 1
        assert 0.7 < res.local_marks[1] < 1.3


# ------------------------------------------------------------------ rejected inputs
@pytest.mark.parametrize("kwargs, words", [
    ({"radius_km": "big"}, "'auto'"), ({"radius_km": None}, "radius_rad"), ({"radius_km": 20000.0}, "π/2"),
    ({"radius_km": -5.0}, "π/2"), ({"isolated": "drop"}, "exclude"), ({"min_neighbours": 0}, "min_neighbours"),
    ({"k": 2.5}, "k must"), ({"null": "exact"}, "two_sided"), ({"marks": np.zeros(50)}, "non-zero"),
    ({"marks": np.ones(49)}, "50 rows"),
])
def test_bad_arguments_are_refused(kwargs, words):
    with pytest.raises(ValueError, match=words):
        M.geo_bias_ssi(_scattered_points(50, 5), **kwargs)


def test_auto_radius_refuses_too_few_or_duplicated_points():
    with pytest.raises(ValueError, match="give radius_km as a number"):
        M.geo_bias_ssi(_scattered_points(3, 6))
    with pytest.raises(ValueError, match="give radius_km as a number"):
        M.geo_bias_ssi(np.repeat(_scattered_points(4, 6), 10, axis=0))


def test_no_points_gives_nan_not_an_error():
    res = M.geo_bias_ssi(np.full((3, 2), np.nan), marks=np.ones(3))
    assert math.isnan(res.unmarked) and math.isnan(res.isolated_frac) and np.isnan(res.local_marks).all()


def test_spatial_metrics_reports_isolation_radius_and_local_marks():
    ll = _scattered_points(200, 7)
    marks = {"": np.where(np.random.default_rng(7).random(200) < 0.3, -1.0, 1.0)}
    cfg = {"geo_bias": True, "worst_region": {"nside": None, "min_count": 30}, "morans_k": 8,
           "ssi": {"radius_km": "auto", "min_neighbours": 4, "isolated": "exclude", "k": 4, "null": "two_sided",
                   "max_centres": 100, "legacy_cap": False}}
    out = M.spatial_metrics(ll, marks, cfg, seed=0)[""]
    res = M.geo_bias_ssi(ll, marks=marks[""], **cfg["ssi"])
    assert out["ssi_radius_km"] == pytest.approx(res.params["radius_km"])
    assert out["ssi_isolated_frac"] == res.isolated_frac and out["ssi_local_marks"] == pytest.approx(res.local_marks[0])
    # a config from before issue 10 (radius 100 km, no ``isolated`` key) keeps PyGBS's scoring of isolated centres
    old = dict(cfg, ssi={"radius_km": 100.0, "k": 4, "null": "two_sided", "max_centres": 100, "legacy_cap": False})
    legacy = M.spatial_metrics(ll, marks, old, seed=0)[""]
    assert legacy["ssi_radius_km"] == pytest.approx(100.0) and legacy["ssi_isolated_frac"] > 0.5
    assert np.isfinite(legacy["ssi_marked"])
