"""Every location falls in exactly one region; lookups at unseen places; determinism; blending."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hetero_synth import QUICK_NULL, SMALL_ENC, boundary_data
from hypothesis import given, settings
from hypothesis import strategies as st

from geosrl.hetero import CellGrid, FixedZoneModel, GlobalModel, HeterogeneityAwareModel, Partition, PolygonZones


def _models():
    kw = {"encoder_kwargs": SMALL_ENC, "min_region_size": 80}
    return [
        HeterogeneityAwareModel(cell_resolution=64, **QUICK_NULL, **kw),
        FixedZoneModel(zone_resolution=8, **kw),
        GlobalModel(**kw),
        FixedZoneModel(zones=[shapely.box(-20, -10, 0, 10), shapely.box(0, -10, 20, 10)], **kw),
    ]


@pytest.fixture(scope="module")
def fitted():
    lonlat, f, y, _ = boundary_data(1200, seed=1)
    return [m.fit(lonlat, y, f) for m in _models()]


def _world(n, seed):
    rng = np.random.default_rng(seed)
    return np.stack([rng.uniform(-180, 180, n), np.degrees(np.arcsin(rng.uniform(-1, 1, n)))], 1)


def test_every_location_in_exactly_one_region(fitted):
    q = np.concatenate([boundary_data(500, seed=7)[0], _world(500, 3), [[180, 90], [-180, -90], [0, 0]]])
    for m in fitted:
        r = m.regions(q)
        assert r.shape == (len(q),) and r.dtype == np.int64
        assert r.min() >= 0 and r.max() < m.n_regions_
        assert len(m.region_names_) == m.n_regions_
        # the hard lookup and the per-region prediction agree: predicting region by region is a partition
        assert np.isfinite(m.predict(q, np.zeros((len(q), 1)))).all()


def test_training_cells_partition_the_samples(fitted):
    m = fitted[0]
    leaves = [nd for nd in m.tree_.values() if nd.is_leaf]
    idx = np.concatenate([nd.idx for nd in leaves])
    assert len(idx) == 1200 and len(np.unique(idx)) == 1200
    # a training sample's region from the tree equals its region through the lookup
    lonlat = boundary_data(1200, seed=1)[0]
    r = m.regions(lonlat)
    names = m.region_names_
    for nd in leaves:
        assert np.all(r[nd.idx] == names.index(nd.name or "root"))


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.floats(-180, 180), st.floats(-90, 90)), min_size=1, max_size=30))
def test_regions_property_any_location(pts):
    lonlat = np.array(pts, dtype=np.float64)
    m = _FITTED_SPLIT
    r = m.regions(lonlat)
    assert r.shape == (len(lonlat),) and ((r >= 0) & (r < m.n_regions_)).all()


lonlat0, f0, y0, _ = boundary_data(1000, seed=2)
_FITTED_SPLIT = HeterogeneityAwareModel(encoder_kwargs=SMALL_ENC, cell_resolution=64, min_region_size=80,
                                        **QUICK_NULL).fit(
    lonlat0, y0, f0)


def test_deterministic_under_seed():
    lonlat, f, y, _ = boundary_data(1000, seed=4)
    q = _world(300, 9)
    kw = {"encoder_kwargs": SMALL_ENC, "cell_resolution": 64, "min_region_size": 80, **QUICK_NULL}
    a = HeterogeneityAwareModel(seed=3, **kw).fit(lonlat, y, f)
    b = HeterogeneityAwareModel(seed=3, **kw).fit(lonlat, y, f)
    assert a.region_names_ == b.region_names_
    np.testing.assert_array_equal(a.regions(q), b.regions(q))
    np.testing.assert_array_equal(a.predict(q, np.ones((300, 1))), b.predict(q, np.ones((300, 1))))
    assert [s["p_value"] for s in a.split_log_] == [s["p_value"] for s in b.split_log_]


def test_mlp_head_deterministic_under_seed():
    lonlat, f, y, _ = boundary_data(600, seed=5)
    kw = {"encoder_kwargs": SMALL_ENC, "cell_resolution": 32, "min_region_size": 100, "max_depth": 1,
          "head": "mlp", "head_kwargs": {"epochs": 20, "hidden": 16},
          "null": "t"}  # a bootstrap null refits the MLP search per replicate: too slow for a unit test
    a = HeterogeneityAwareModel(seed=1, **kw).fit(lonlat, y, f).predict(lonlat, f)
    b = HeterogeneityAwareModel(seed=1, **kw).fit(lonlat, y, f).predict(lonlat, f)
    np.testing.assert_array_equal(a, b)


def test_unseen_cell_takes_nearest_training_cell():
    cells = CellGrid("healpix", 16)
    pts = np.array([[-10.0, 0.0], [10.0, 0.0]])
    ids = cells.ids(pts)
    order = np.argsort(ids)
    from geosrl.sphere import lonlat_to_xyz

    P = Partition(cells, ids[order], np.array([0, 1])[order], lonlat_to_xyz(pts)[order], ["w", "e"])
    np.testing.assert_array_equal(P.regions(np.array([[-30.0, 5.0], [40.0, -5.0], [-10.0, 0.0]])), [0, 1, 0])
    Pz = Partition(cells, ids[order], np.array([0, 1])[order], lonlat_to_xyz(pts)[order], ["w", "e", "rest"],
                   fallback=2)
    np.testing.assert_array_equal(Pz.regions(np.array([[-30.0, 5.0], [10.0, 0.0]])), [2, 1])


def test_blend_weights_sum_to_one_and_are_hard_inside_regions():
    m = _FITTED_SPLIT
    q = _world(200, 5)
    reg, w = m.partition_.blend_weights(q, 8, 400.0)
    np.testing.assert_allclose(w.sum(1), 1.0)
    assert (reg >= 0).all() and (reg < m.n_regions_).all()
    # deep inside a region (far from lon 0 and away from edges) blending equals the hard lookup
    lonlat, f, y, _ = boundary_data(1000, seed=2)
    inner = np.array([[-15.0, 0.0], [15.0, 0.0]])
    mb = HeterogeneityAwareModel(encoder_kwargs=SMALL_ENC, cell_resolution=64, min_region_size=80, blend_k=4,
                                 blend_km=50.0, **QUICK_NULL).fit(lonlat, y, f)
    np.testing.assert_allclose(mb.predict(inner, np.ones((2, 1))), m.predict(inner, np.ones((2, 1))), rtol=1e-6)


def test_polygon_zones_first_cover_then_nearest():
    z = PolygonZones([shapely.box(0, 0, 10, 10), shapely.box(5, 0, 20, 10)])
    np.testing.assert_array_equal(z.ids(np.array([[2.0, 5.0], [7.0, 5.0], [15.0, 5.0], [30.0, 5.0], [-5, 5]])),
                                  [0, 0, 1, 1, 0])


def test_adapt_adds_one_region_for_new_area():
    lonlat, f, y, _ = boundary_data(1000, seed=2)
    m = HeterogeneityAwareModel(encoder_kwargs=SMALL_ENC, cell_resolution=64, min_region_size=80,
                                **QUICK_NULL).fit(lonlat, y, f)
    n0 = m.n_regions_
    rng = np.random.default_rng(0)
    new = np.stack([rng.uniform(100, 110, 40), rng.uniform(0, 10, 40)], 1)
    xn = rng.standard_normal((40, 1))
    m.adapt(new, 2.0 * xn[:, 0] + 5.0, xn)
    assert m.n_regions_ == n0 + 1 and m.region_names_[-1] == "adapted"
    assert (m.regions(new + 0.5) == n0).all()
    pred = m.predict(new, xn)
    assert np.sqrt(np.mean((pred - (2.0 * xn[:, 0] + 5.0)) ** 2)) < 1.0


def test_adapt_features_only_and_bad_args():
    lonlat, f, y, _ = boundary_data(1000, seed=2)
    m = GlobalModel(encoder_kwargs=SMALL_ENC).fit(lonlat, y, f)
    rng = np.random.default_rng(1)
    new = np.stack([rng.uniform(100, 110, 30), rng.uniform(0, 10, 30)], 1)
    xn = rng.standard_normal((30, 1))
    with pytest.raises(ValueError, match="prior must be"):
        m.adapt(new, xn[:, 0], xn, prior="far")
    with pytest.raises(ValueError, match="y has 29 values"):
        m.adapt(new, xn[:-1, 0], xn)
    m.adapt(new, xn[:, 0], xn, transfer="features")
    assert m.n_regions_ == 2 and (m.regions(new) == 1).all()
