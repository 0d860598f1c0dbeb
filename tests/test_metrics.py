"""Metrics on hand-computable examples (ranks with ties, regression, AUC, SSI, Moran's I)."""

import math

import numpy as np
import pytest
import torch
from scipy.stats import norm

from geosrl import metrics as M
from geosrl.sphere import lonlat_to_xyz
from geosrl.metrics.geo_bias import _rotation_to


def equator(lons):
    return np.stack([np.asarray(lons, float), np.zeros(len(lons))], axis=1)


# ------------------------------------------------------------------ ranking
def test_label_ranks_ties_go_to_lower_class_index():
    scores = np.array([[0.1, 0.5, 0.5, 0.2]] * 4)
    ranks = M.label_ranks(scores, np.array([0, 1, 2, 3]))
    # class 1 and 2 tie at 0.5: the lower index (1) ranks first
    assert ranks.tolist() == [4, 1, 2, 3]
    m = M.classification_metrics(ranks)
    assert m["top1"] == 0.25 and m["top3"] == 0.75
    assert m["mrr"] == pytest.approx((1 / 4 + 1 + 1 / 2 + 1 / 3) / 4)


def test_label_ranks_match_stable_sort_and_chunking():
    rng = np.random.default_rng(0)
    s = rng.integers(0, 5, size=(300, 37)).astype(np.float32)  # many ties
    y = rng.integers(0, 37, size=300)
    order = np.argsort(-s, axis=1, kind="stable")
    ref = np.argmax(order == y[:, None], axis=1) + 1
    assert np.array_equal(M.label_ranks(s, y), ref)
    assert np.array_equal(M.label_ranks(torch.from_numpy(s), torch.from_numpy(y), chunk_size=7), ref)


def test_label_ranks_rejects_nan_and_bad_labels():
    with pytest.raises(ValueError):
        M.label_ranks(np.array([[np.nan, 1.0]]), np.array([0]))
    assert M.label_ranks(np.array([[np.nan, 1.0]]), np.array([1])).tolist() == [1]
    with pytest.raises(ValueError):
        M.label_ranks(np.array([[0.0, 1.0]]), np.array([2]))


# ------------------------------------------------------------------ regression / AUC
def test_regression_metrics_by_hand():
    y, p = [1, 2, 3, 4], [1, 2, 3, 5]
    m = M.regression_metrics(y, p)
    assert m["mae"] == pytest.approx(0.25)
    assert m["rmse"] == pytest.approx(0.5)
    assert m["r2"] == pytest.approx(1 - 1 / 5)  # SS_res = 1, SS_tot = 5
    assert M.r2([1, 2, 3], [3, 3, 3]) == pytest.approx(1 - 5 / 2)  # negative when worse than the mean
    assert math.isnan(M.r2([2, 2], [1, 3]))


def test_auc_with_ties_by_hand():
    # pairs (pos, neg): (.9,.5)=1 (.9,.1)=1 (.5,.5)=1/2 (.5,.1)=1 -> 3.5/4
    assert M.auc([1, 1, 0, 0], [0.9, 0.5, 0.5, 0.1]) == pytest.approx(0.875)
    assert math.isnan(M.auc([1, 1], [0.2, 0.3]))


def test_auc_and_r2_match_independent_definitions():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 2, 200)
    s = rng.integers(0, 7, 200) + 0.5 * y  # many ties within and across classes
    # AUC = P(s_pos > s_neg) + ½ P(s_pos = s_neg) over all (positive, negative) pairs
    diff = s[y == 1][:, None] - s[y == 0][None, :]
    assert M.auc(y, s) == pytest.approx(np.mean(diff > 0) + 0.5 * np.mean(diff == 0), rel=1e-12)
    # least-squares fit with intercept: R² = squared Pearson correlation of target and fit
    x = rng.normal(size=200)
    t = 2 * x + rng.normal(size=200)
    fit = np.polyval(np.polyfit(x, t, 1), x)
    assert M.r2(t, fit) == pytest.approx(np.corrcoef(t, fit)[0, 1] ** 2, rel=1e-9)


# ------------------------------------------------------------------ SSI
def test_null_moments_reference_example():
    # reference §9.7: 20 ones among 120 values -> approximate mean -1.278 (exact would be -0.560)
    mu, sd = M.ssi_null_moments(np.array([0.0, 1.0]), np.array([100, 20]))
    assert mu == pytest.approx(329 / 36 + (25 / 36) * (35 / 3) - 2 * (5 / 36) * (200 / 3))
    assert mu == pytest.approx(-1.2778, abs=1e-4)
    # only the diagonal term of the non-background value: 2·19·(80/120)·(1 − 4·39/360)
    assert sd == pytest.approx(math.sqrt(38 * (2 / 3) * (1 - 156 / 360)))


def _six_points():
    # equator at lon 0, 1, 3, 6, 10, 15: nearest neighbours (k=1) 0->1, 1->0, 2->1, 3->2, 4->3, 5->4
    return lonlat_to_xyz(equator([0, 1, 3, 6, 10, 15]))


# Independent references for ssi_local: brute-force k-NN on the full distance matrix, a dense W,
# the approximate null moments as explicit loops over value pairs (the formulas of ssi_null_moments'
# docstring), and −ln p from scipy's normal distribution.
def _knn_brute(xyz, k):
    d = np.linalg.norm(xyz[:, None] - xyz[None], axis=2)
    np.fill_diagonal(d, np.inf)
    return np.argsort(d, axis=1, kind="stable")[:, :k]


def _moran_dense(z, nb):
    w = np.zeros((len(z), len(z)))
    w[np.repeat(np.arange(len(z)), nb.shape[1]), nb.ravel()] = 1.0
    x = z - z.mean()
    return x @ w @ x


def _null_moments_loops(z, k):
    cs, ns = np.unique(z, return_counts=True)
    n = ns.sum()
    d = cs - (cs * ns).sum() / n
    r = int(np.argmax(ns))
    mean = var = 0.0
    for u in range(len(cs)):
        for v in range(len(cs)):
            if u == v:
                mean += d[u] * d[u] * (k * ns[u] * (ns[u] - 1) / n - 1)
                continue
            mean += d[u] * d[v] * k * ns[u] * ns[v] / n
            if r not in (u, v):
                hi, lo = max(ns[u], ns[v]), min(ns[u], ns[v])
                coef = d[u] * d[v] - 2 * d[u] * d[r] + d[r] ** 2
                var += coef ** 2 * lo * (k * hi / n) * (1 - k * hi / n)
        if u != r:
            var += (cs[u] - cs[r]) ** 4 * 2 * (ns[u] - 1) * (k * ns[u] / n) * (1 - k * (2 * ns[u] - 1) / (3 * n))
    return mean, math.sqrt(var)


def _ssi_reference(xyz, z, k, null, legacy_cap=False):
    i_stat = _moran_dense(z, _knn_brute(xyz, k))
    mu, sd = _null_moments_loops(z, k)
    if null == "pdf":
        log_p = norm.logpdf(i_stat, mu, sd)
    else:  # PyGBS HEAD: two-sided tail of N(μ, σ + 1)
        log_p = math.log(2) + norm.logcdf(min(i_stat, 2 * mu - i_stat), mu, sd + 1)
    return -math.log(math.exp(log_p) + 1e-256) if legacy_cap else -log_p


def test_ssi_local_unmarked_by_hand():
    z = np.array([1, 1, 0, 0, 0, 0.0])
    # x = z - 1/3; I = x0x1 + x1x0 + x2x1 + x3x2 + x4x3 + x5x4 = (4+4-2+1+1+1)/9 = 1
    nb = np.array([[1], [0], [1], [2], [3], [4]])
    assert M.ssi_statistic(z, nb) == pytest.approx(1.0)
    # null (k=1): mu = 1/9·(2-1) + 4/9·(1/3-1) + 2·(-2/9)·(4/3) = -7/9 ; var = 2·1·(2/6)·(1-3/18) = 5/9
    mu, sd = -7 / 9, math.sqrt(5 / 9)
    assert _null_moments_loops(z, 1) == pytest.approx((mu, sd))
    assert M.ssi_null_moments(np.array([0.0, 1.0]), np.array([4, 2]), k=1) == pytest.approx((mu, sd))
    assert M.ssi_local(_six_points(), z, k=1, null="pdf")[0] == pytest.approx(-norm.logpdf(1.0, mu, sd))
    two = -math.log(2 * norm.cdf(min(1, 2 * mu - 1), loc=mu, scale=sd + 1))
    assert M.ssi_local(_six_points(), z, k=1, null="two_sided")[0] == pytest.approx(two)
    assert M.ssi_local(_six_points(), z, k=1, null="pdf", legacy_cap=True)[0] == pytest.approx(-norm.logpdf(1.0, mu, sd))


def test_ssi_local_marked_by_hand():
    z = np.array([1, -1, 0, 0, 0, 0.0])
    # mean 0; I = x0x1 + x1x0 = -2 ; values {-1:1, 0:4, 1:1}
    assert M.ssi_statistic(z, _knn_brute(_six_points(), 1)) == pytest.approx(-2.0)
    # mu: diagonals (-1,-1), (1,1): 1·(1·0/6 - 1) each = -2 ; cross (-1,1), (1,-1): -1·(1/6) each
    mu = -2 - 2 / 6
    # var: cross pairs of non-background values: (c_u c_v)^2 · 1·(1/6)(5/6), twice; diagonals vanish (n_u = 1)
    sd = math.sqrt(2 * 5 / 36)
    assert _null_moments_loops(z, 1) == pytest.approx((mu, sd))
    assert M.ssi_null_moments(np.array([-1.0, 0.0, 1.0]), np.array([1, 4, 1]), k=1) == pytest.approx((mu, sd))
    out = M.ssi_local(_six_points(), np.stack([np.array([1, 1, 0, 0, 0, 0.0]), z], 1), k=1)
    assert out[1] == pytest.approx(-norm.logpdf(-2.0, mu, sd))


@pytest.mark.parametrize("null", ["pdf", "two_sided"])
def test_ssi_local_matches_brute_force_reference(null):
    # three- and four-valued marks exercise the off-diagonal variance terms; values columns at once
    rng = np.random.default_rng(3)
    xyz = lonlat_to_xyz(np.stack([rng.uniform(0, 2, 80), rng.uniform(40, 42, 80)], 1))
    vals = np.zeros((80, 3))
    vals[:30, 0] = 1.0
    vals[:30, 1] = rng.choice([-1.0, 1.0], 30)
    vals[:30, 2] = rng.choice([-2.0, 1.0, 3.0], 30)
    for k in (1, 4):
        for cap in (False, True):
            expect = [_ssi_reference(xyz, vals[:, v], k, null, cap) for v in range(3)]
            np.testing.assert_allclose(M.ssi_local(xyz, vals, k=k, null=null, legacy_cap=cap), expect, rtol=1e-9)
    for v in range(3):
        cs, ns = np.unique(vals[:, v], return_counts=True)
        np.testing.assert_allclose(M.ssi_null_moments(cs, ns, k=4), _null_moments_loops(vals[:, v], 4), rtol=1e-12)


@pytest.mark.parametrize("null", ["pdf", "two_sided"])
def test_ssi_legacy_cap_saturates_at_minus_log_1e_256(null):
    # a segregated pattern (presences fill the west strip of a jittered grid): p underflows float64
    rng = np.random.default_rng(4)
    g = np.stack(np.meshgrid(np.linspace(0, 2, 30), np.linspace(40, 42, 30)), -1).reshape(-1, 2)
    g += rng.uniform(-0.01, 0.01, g.shape)
    xyz, z = lonlat_to_xyz(g), (g[:, 0] < 0.3).astype(float)
    exact = M.ssi_local(xyz, z, k=4, null=null)[0]
    assert exact > 745 and exact == pytest.approx(_ssi_reference(xyz, z, 4, null), rel=1e-9)
    assert M.ssi_local(xyz, z, k=4, null=null, legacy_cap=True)[0] == pytest.approx(-math.log(1e-256), rel=1e-15)


def test_background_grid_counts_and_rings():
    r = 100 / 6371
    bg = M.background_grid(1, r)
    rho = math.ceil(5 / (math.pi * r * r))
    delta = 1 / math.sqrt(rho)
    assert math.ceil(r / delta) == 2
    assert len(bg) == 7 + 13  # ceil(2π) + ceil(4π)
    ang = np.arccos(np.clip(bg[:, 2], -1, 1))
    assert np.allclose(np.sort(np.unique(np.round(ang / delta, 9))), [1, 2])
    assert np.allclose(np.linalg.norm(bg, axis=1), 1)


def test_geo_bias_single_point_equals_local_composition():
    # one evaluation point at (30°E, 45°N): neighbourhood = itself, background = 20 points around it
    ll = np.array([[30.0, 45.0]])
    res = M.geo_bias_ssi(ll, marks=np.array([1.0]), null="two_sided", radius_km=100.0, isolated="score")
    bg = M.background_grid(1, 100 / 6371)
    lon, lat = math.radians(30), math.radians(45)
    rot = _rotation_to(lon, lat)
    pts = np.concatenate([lonlat_to_xyz(ll), bg @ rot.T])
    # the rotated rings are centred on the point
    assert np.allclose(np.arccos(np.clip(pts[1:] @ pts[0], -1, 1))[:7], np.arccos(bg[:7, 2]))
    vals = np.zeros(21)
    vals[0] = 1
    expect = M.ssi_local(pts, vals, k=4, null="two_sided")[0]
    assert res.unmarked == pytest.approx(expect)
    assert res.marked[0] == pytest.approx(expect)  # mark +1 = presence value 1
    # with one presence the pdf null is degenerate (σ = 0): reported, not averaged
    res_pdf = M.geo_bias_ssi(ll, marks=np.array([1.0]), radius_km=100.0, isolated="score")
    assert math.isnan(res_pdf.unmarked) and res_pdf.degenerate_frac_unmarked == 1.0
    # by default the isolated centre (no neighbour within the radius) is left out and counted
    res_ex = M.geo_bias_ssi(ll, marks=np.array([1.0]), null="two_sided", radius_km=100.0)
    assert math.isnan(res_ex.unmarked) and res_ex.isolated_frac == 1.0 and np.isnan(res_ex.unmarked_per_centre).all()


def test_geo_bias_clustered_beats_uniform_and_rejects_zero_marks():
    rng = np.random.default_rng(0)
    clustered = np.stack([rng.normal(10, 0.5, 400), rng.normal(45, 0.5, 400)], 1)
    res = M.geo_bias_ssi(clustered, marks=np.where(clustered[:, 0] > 10, 1.0, -1.0), max_centres=40)
    assert len(res.centres) == 40 and np.isfinite(res.unmarked) and np.isfinite(res.marked[0])
    assert res.degenerate_frac_unmarked == 0.0
    assert 0.0 <= res.cap_frac_unmarked <= 1.0
    again = M.geo_bias_ssi(clustered, marks=np.where(clustered[:, 0] > 10, 1.0, -1.0), max_centres=40)
    assert again.unmarked == res.unmarked
    with pytest.raises(ValueError):
        M.geo_bias_ssi(clustered, marks=np.zeros(400))


# ------------------------------------------------------------------ regional
def test_morans_i_by_hand():
    ll = equator([0, 1, 10, 11])  # k=1 pairs: 0<->1, 2<->3
    assert M.morans_i([1, 1, -1, -1], ll, k=1) == pytest.approx(1.0)
    assert M.morans_i([1, -1, 1, -1], ll, k=1) == pytest.approx(-1.0)
    # x = [2, 0, -1, -1]: Σ w x_i x_j = 0 + 0 + 1 + 1 = 2 ; Σ x² = 6 ; N/S0 = 1
    assert M.morans_i([3, 1, 0, 0], ll, k=1) == pytest.approx(1 / 3)


def test_worst_region():
    # two clusters in different HEALPix cells; cluster B has all errors
    a = np.stack([np.full(40, 10.0), np.linspace(40, 41, 40)], 1)
    b = np.stack([np.full(40, -100.0), np.linspace(-30, -29, 40)], 1)
    ll = np.concatenate([a, b])
    hit = np.r_[np.ones(40), np.zeros(40)]
    val, cell, count = M.worst_region(ll, hit, nside=2, min_count=30)
    assert val == 0.0 and count == 40
    sq = np.r_[np.full(40, 1.0), np.full(40, 9.0)]
    assert M.worst_region(ll, sq, reduce="rmse", higher_is_better=False, nside=2)[0] == pytest.approx(3.0)
    y = np.r_[np.tile([0, 1], 20), np.tile([0, 1], 20)]
    s = np.r_[np.tile([0.1, 0.9], 20), np.tile([0.9, 0.1], 20)]
    assert M.worst_region(ll, (y, s), reduce="auc", nside=2)[0] == pytest.approx(0.0)
    assert M.worst_region(ll, hit, nside=2, min_count=100) == (pytest.approx(float("nan"), nan_ok=True), -1, 0)


def test_classification_metrics_drop_trivial_ones_for_few_classes():
    # regression (issue 3): land_ocean (2 classes) reported top3 = 1 by construction
    ranks = np.array([1, 2, 1, 1])
    assert set(M.classification_metrics(ranks, num_classes=2)) == {"top1"}
    assert set(M.classification_metrics(ranks, num_classes=3)) == {"top1", "mrr"}
    assert set(M.classification_metrics(ranks, num_classes=4)) == {"top1", "top3", "mrr"}
    assert set(M.classification_metrics(ranks)) == {"top1", "top3", "mrr"}
