"""Seeded splits and the HEALPix blocks."""

import numpy as np
import pytest

from geosrl.sphere import uniform_lonlat_numpy
from geosrl.splits import healpix_cell_side_km, healpix_index, make_split, nside_for_block_km


@pytest.fixture(scope="module")
def pts():
    return uniform_lonlat_numpy(20000, np.random.default_rng(1))


def test_healpix_known_faces_and_hierarchy(pts):
    ll = np.array([[45, 60.0], [0, 0], [90, 0], [180, 0], [-90, 0], [45, -60], [0, 90], [0, -90]])
    assert healpix_index(ll, 1).tolist() == [0, 4, 5, 6, 7, 8, 0, 8]
    for nside in (1, 2, 4, 8):
        assert np.array_equal(healpix_index(pts, 2 * nside) // 4, healpix_index(pts, nside))


def test_healpix_equal_area(pts):
    counts = np.bincount(healpix_index(pts, 4), minlength=192)
    assert counts.min() > 0 and len(counts) == 192
    expected = len(pts) / 192
    chi2 = ((counts - expected) ** 2 / expected).sum()
    assert chi2 < 191 + 5 * np.sqrt(2 * 191)  # consistent with equal areas
    assert healpix_cell_side_km(1) == pytest.approx(6519, abs=1)
    assert nside_for_block_km(500) == 16


def test_random_split_deterministic_disjoint(pts):
    a = make_split(pts, "random", seed=3)
    b = make_split(pts, "random", seed=3)
    c = make_split(pts, "random", seed=4)
    assert all(np.array_equal(a[k], b[k]) for k in ("train", "val", "test"))
    assert not np.array_equal(a["test"], c["test"])
    allidx = np.concatenate([a["train"], a["val"], a["test"]])
    assert np.array_equal(np.sort(allidx), np.arange(len(pts)))
    assert len(a["train"]) == 14000 and len(a["val"]) == 3000 and len(a["test"]) == 3000


def test_spatial_split_blocks_do_not_straddle(pts):
    s = make_split(pts, "spatial", seed=0, block_km=1000)
    t = make_split(pts, "spatial", seed=0, block_km=1000)
    assert all(np.array_equal(s[k], t[k]) for k in ("train", "val", "test"))
    allidx = np.concatenate([s["train"], s["val"], s["test"]])
    assert np.array_equal(np.sort(allidx), np.arange(len(pts)))
    cells = healpix_index(pts, nside_for_block_km(1000))
    sets = [set(cells[s[k]]) for k in ("train", "val", "test")]
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    frac = len(s["train"]) / len(pts)
    assert 0.6 < frac < 0.8 and len(s["val"]) > 0 and len(s["test"]) > 0


def test_spatial_split_nan_rows_and_errors(pts):
    ll = pts[:500].copy()
    ll[:5] = np.nan
    s = make_split(ll, "spatial", seed=0, nside=2)
    assert set(range(5)) <= set(s["test"].tolist())
    with pytest.raises(ValueError):
        make_split(pts, "hexagons", seed=0)
    with pytest.raises(ValueError):
        make_split(pts, "random", seed=0, fractions=(0.5, 0.5, 0.5))
    with pytest.raises(ValueError):
        make_split(np.array([[1.0, 1.0], [1.1, 1.0]]), "spatial", seed=0, nside=1)


def _clustered_presences(seed=0):
    """A regional presence/background set like the banana slug: background over ~10° × 10°, presences
    packed into a few small clusters (most in one), so 407 km blocks hold them in ≤ 2 cells."""
    rng = np.random.default_rng(seed)
    bg = np.stack([rng.uniform(-124, -114, 3000), rng.uniform(32, 42, 3000)], 1)
    centres = np.array([[-122.0, 37.0], [-121.5, 36.5], [-123.5, 40.0]])
    sizes = [700, 200, 100]
    pres = np.concatenate([c + rng.normal(0, 0.4, (k, 2)) for c, k in zip(centres, sizes)])
    ll = np.concatenate([pres, bg])
    y = np.r_[np.ones(len(pres)), np.zeros(len(bg))].astype(np.int64)
    return ll, y


def test_spatial_split_stratified_keeps_both_classes_in_every_split():
    # regression (issue 3): the unstratified 500 km split put no presence in test → AUC NaN
    from geosrl.splits import stratified_nside

    ll, y = _clustered_presences()
    base = nside_for_block_km(500)
    nside = stratified_nside(ll, y, base, min_blocks=10, max_share=0.2)
    assert nside > base
    cells = healpix_index(ll, nside)
    for v in (0, 1):
        _, cnt = np.unique(cells[y == v], return_counts=True)
        assert len(cnt) >= 10 and cnt.max() <= 0.2 * cnt.sum()
    for seed in range(5):
        s = make_split(ll, "spatial", seed=seed, nside=nside, strata=y)
        allidx = np.concatenate([s["train"], s["val"], s["test"]])
        assert np.array_equal(np.sort(allidx), np.arange(len(ll)))
        sets = [set(cells[s[k]]) for k in ("train", "val", "test")]
        assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
        for k in ("train", "val", "test"):
            n_pos = int(y[s[k]].sum())
            assert n_pos > 0 and n_pos < len(s[k]), (seed, k)
        # presences are divided close to the fractions
        assert 0.5 < y[s["train"]].sum() / y.sum() < 0.85
    with pytest.raises(ValueError):
        make_split(ll, "spatial", seed=0, nside=nside, strata=y[:10])


def test_stratified_nside_keeps_global_blocks_when_classes_are_spread(pts):
    from geosrl.splits import stratified_nside

    y = (pts[:, 0] > 0).astype(np.int64)
    assert stratified_nside(pts, y, 16, min_blocks=10, max_share=0.2) == 16


def test_buffer_keeps_training_points_away_from_test_points(pts):
    lonlat = pts
    from geosrl.splits import split_distances

    plain = make_split(lonlat, "spatial", 0, block_km=500.0)
    buffered = make_split(lonlat, "spatial", 0, block_km=500.0, buffer_km=150.0)
    assert np.array_equal(plain["test"], buffered["test"]) and np.array_equal(plain["val"], buffered["val"])
    assert np.array_equal(np.sort(np.r_[buffered["train"], buffered["excluded"]]), plain["train"])
    assert len(buffered["excluded"]) > 0 and len(plain["excluded"]) == 0
    parts = np.concatenate([buffered[k] for k in ("train", "val", "test", "excluded")])
    assert np.array_equal(np.sort(parts), np.arange(len(lonlat)))
    before, after = split_distances(lonlat, plain), split_distances(lonlat, buffered)
    assert before["min_km"] < 150.0 <= after["min_km"] <= after["median_km"] <= after["p90_km"]
    with pytest.raises(ValueError, match="buffer_km"):
        make_split(lonlat, "spatial", 0, buffer_km=-1.0)


def test_spatial_split_is_spatial_and_differs_per_seed(pts):
    lonlat = pts
    from geosrl.splits import split_distances

    random_, spatial = make_split(lonlat, "random", 0), make_split(lonlat, "spatial", 0)
    # 407 km blocks over points ~150 km apart: about twice as far as a random split (91 vs 174 km median)
    assert split_distances(lonlat, spatial)["median_km"] > 1.5 * split_distances(lonlat, random_)["median_km"]
    other = make_split(lonlat, "spatial", 1)
    assert not np.array_equal(spatial["test"], other["test"])  # a new block assignment per seed
