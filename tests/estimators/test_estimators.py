"""Estimators: learning, inputs, scikit-learn model selection, early stopping, prediction grids."""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, GroupKFold, cross_val_score

from geosrl import CoordinateError
from geosrl.config import ConfigError
from geosrl.estimators import GeoPrior, LocationClassifier, LocationRegressor, PresenceOnlySDM

#: a small network and few epochs: every fit takes well under a second on one core
FAST = {"embed_dim": 16, "encoder_kwargs": {"net_kwargs": {"hidden_dim": 32, "dropout": 0.0}}, "lr": 1e-2,
        "max_epochs": 15, "batch_size": 64}


# ------------------------------------------------------------------------------------------------ learning
def test_classifier_separates_two_regions(two_clusters):
    X, y, _ = two_clusters
    clf = LocationClassifier(**FAST).fit(X, y)
    assert list(clf.classes_) == ["east", "west"]
    proba = clf.predict_proba(X)
    assert proba.shape == (200, 2) and np.allclose(proba.sum(1), 1.0)
    assert clf.predict([[-101.0, 41.0], [21.0, 49.0]]).tolist() == ["west", "east"]
    assert clf.score(X, y) > 0.95


def test_regressor_fits_a_smooth_field_in_its_units():
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.uniform(-30, 30, 400), rng.uniform(-30, 30, 400)])
    y = 1000.0 + 50.0 * np.sin(np.radians(3 * X[:, 1]))  # large offset: the targets are standardised inside
    reg = LocationRegressor(**{**FAST, "max_epochs": 40}).fit(X, y)
    assert reg.predict(X).shape == (400,)
    assert reg.score(X, y) > 0.8
    multi = LocationRegressor(**FAST).fit(X, np.column_stack([y, -y]))
    assert multi.predict(X[:5]).shape == (5, 2)


def test_sdm_ranks_the_presence_region_above_elsewhere():
    rng = np.random.default_rng(2)
    presences = rng.normal([-122.0, 38.0], 1.0, size=(300, 2))
    sdm = PresenceOnlySDM(**FAST).fit(presences)
    inside, outside = sdm.decision_function([[-122.0, 38.0]]), sdm.decision_function([[40.0, -20.0]])
    assert inside[0] > outside[0]
    background = rng.normal([-118.0, 35.0], 2.0, size=(300, 2))
    X = np.concatenate([presences, background])
    y = np.r_[np.ones(300), np.zeros(300)]
    by_y = PresenceOnlySDM(**FAST, negatives="background").fit(X, y)
    assert by_y.score(X, y) > 0.9
    given = PresenceOnlySDM(**FAST, negatives="background").fit(presences, background=background)
    assert given.score(X, y) > 0.9
    assert given.predict_proba(X[:3]).shape == (3, 2) and set(given.predict(X)) <= {0, 1}


def test_sdm_refuses_background_negatives_without_background_and_multi_species():
    X = np.random.default_rng(0).normal([10.0, 10.0], 1.0, size=(50, 2))
    with pytest.raises(ConfigError, match="background"):
        PresenceOnlySDM(**FAST, negatives="background").fit(X)
    with pytest.raises(ValueError, match="one species"):
        PresenceOnlySDM(**FAST).fit(X, np.arange(50) % 3)
    with pytest.raises(ValueError, match="no presence"):
        PresenceOnlySDM(**FAST).fit(X, np.zeros(50))


def test_geoprior_reranks_uninformative_image_probabilities(two_clusters):
    X, y, _ = two_clusters
    prior = GeoPrior(**FAST).fit(X, y)
    flat = np.full((len(X), 2), 0.5)  # an image classifier that cannot tell
    assert prior.score(X, y, image_probs=flat) > 0.9
    fused = prior.rerank(flat, X)
    assert fused.shape == (200, 2) and (fused >= 0).all()
    assert np.allclose(prior.predict_proba(X, flat).sum(1), 1.0)
    confident = np.tile([1.0, 0.0], (len(X), 1))  # image says "east" everywhere; weight 0 ignores it
    assert prior.set_params(image_weight=0.0).score(X, y, image_probs=confident) > 0.9
    with pytest.raises(ValueError, match="image_probs"):
        prior.rerank(np.ones((len(X), 3)), X)
    with pytest.raises(ValueError, match="non-negative"):
        prior.rerank(-flat, X)


def test_classifier_needs_two_classes():
    with pytest.raises(ValueError, match="2 classes"):
        LocationClassifier(**FAST).fit([[0.0, 0.0], [1.0, 1.0]], ["a", "a"])


# ------------------------------------------------------------------------------------------------- inputs
def test_inputs_array_tensor_frame_geoframe_and_points_agree(two_clusters):
    import geopandas as gpd
    import shapely

    X, y, _ = two_clusters
    clf = LocationClassifier(**FAST).fit(X, y)
    want = clf.predict_proba(X[:5])
    frame = pd.DataFrame({"x": X[:5, 0], "y": X[:5, 1]})
    points = list(shapely.points(X[:5]))
    geo = gpd.GeoDataFrame(geometry=points, crs="EPSG:4326")
    assert np.allclose(clf.predict_proba(torch.as_tensor(X[:5])), want)
    assert np.allclose(clf.set_params(lon_col="x", lat_col="y").predict_proba(frame), want)
    assert np.allclose(clf.predict_proba(points), want)
    assert np.allclose(clf.predict_proba(geo), want)
    assert np.allclose(clf.predict_proba(geo.geometry), want)
    with pytest.raises(CoordinateError, match="to_crs"):
        clf.predict_proba(geo.to_crs(3857))
    with pytest.raises(CoordinateError, match="lon_col"):
        clf.set_params(lon_col="lon", lat_col="lat").predict_proba(frame)
    with pytest.raises(CoordinateError, match="Polygon"):
        clf.predict_proba([shapely.box(0, 0, 1, 1)])


@pytest.mark.parametrize("bad, match", [
    (np.array([[10.0, 95.0]]), "latitude"),
    (np.array([[45.0, 120.0], [10.0, 20.0]]), "swapped"),
    (np.array([[200.0, 10.0]]), "longitude"),
    (np.array([[np.nan, 10.0]]), "NaN"),
    (np.zeros((3, 3)), "3 feature"),
    (np.zeros(2), "1-d"),
    (np.array([[1 + 1j, 2.0]]), "Complex"),
])
def test_bad_locations_are_refused(two_clusters, bad, match):
    X, y, _ = two_clusters
    clf = LocationClassifier(**FAST).fit(X, y)
    with pytest.raises(CoordinateError, match=match):
        clf.predict(bad)
    with pytest.raises(CoordinateError, match=match):
        LocationClassifier(**FAST).fit(np.repeat(bad, 2, axis=0) if bad.ndim == 2 else bad, ["a", "b"])


def test_sparse_input_is_refused():
    from scipy import sparse

    with pytest.raises(CoordinateError, match="sparse"):
        LocationRegressor(**FAST).fit(sparse.csr_matrix(np.ones((4, 2))), np.arange(4.0))


@pytest.mark.parametrize("params, match", [
    ({"lr": -1.0}, "lr"), ({"validation_fraction": 1.5}, "validation_fraction"), ({"encoder": "nope"}, "unknown encoder"),
    ({"encoder": 42}, "encoder must be"), ({"head_hidden": [0]}, "head_hidden"), ({"max_epochs": 0}, "max_epochs"),
    ({"device": "tpu"}, "device"), ({"encoder_kwargs": {"bogus": 1}}, "encoder_kwargs"),
])
def test_bad_parameters_are_refused_at_fit(two_clusters, params, match):
    X, y, _ = two_clusters
    with pytest.raises(ConfigError, match=match):
        LocationClassifier(**{**FAST, **params}).fit(X, y)


def test_unfitted_prediction_raises_not_fitted():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        LocationRegressor().predict([[0.0, 0.0]])
    with pytest.raises(NotFittedError):
        GeoPrior().predict_grid()


# ------------------------------------------------------------------------------- scikit-learn machinery
def test_clone_grid_search_and_group_cross_validation(two_clusters):
    X, y, groups = two_clusters
    est = LocationClassifier(**FAST)
    copy = clone(est)
    assert copy.get_params() == est.get_params() and copy is not est
    scores = cross_val_score(est, X, y, groups=groups, cv=GroupKFold(n_splits=3))
    assert scores.shape == (3,) and np.isfinite(scores).all()
    search = GridSearchCV(est, {"lr": [1e-3, 1e-2]}, cv=GroupKFold(n_splits=2)).fit(X, y, groups=groups)
    assert search.best_params_["lr"] in (1e-3, 1e-2)
    assert search.best_estimator_.predict(X[:2]).shape == (2,)


def test_same_seed_same_model_and_global_rng_untouched(two_clusters):
    X, y, _ = two_clusters
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = LocationClassifier(**FAST).fit(X, y).predict_proba(X)
    assert torch.rand(1) == before  # fitting does not consume the caller's torch RNG
    b = LocationClassifier(**FAST).fit(X, y).predict_proba(X)
    assert np.array_equal(a, b)


def test_early_stopping_keeps_the_best_epoch(two_clusters):
    X, _, _ = two_clusters
    noise = np.random.default_rng(0).normal(size=len(X))  # unlearnable: the validation loss soon stops improving
    reg = LocationRegressor(**{**FAST, "max_epochs": 200, "n_iter_no_change": 3}).fit(X, noise)
    assert reg.n_epochs_ < 200 and len(reg.validation_loss_) == reg.n_epochs_
    best = int(np.argmin(reg.validation_loss_))
    assert reg.n_epochs_ == best + 1 + 3
    full = LocationRegressor(**{**FAST, "max_epochs": 4, "validation_fraction": 0.0}).fit(X, noise)
    assert full.n_epochs_ == 4 and full.validation_loss_ == []


def test_frozen_encoder_trains_the_head_only(two_clusters):
    import geosrl

    X, y, _ = two_clusters
    encoder = geosrl.create_encoder("sphere2vec_spherec_plus", embed_dim=16, net_kwargs={"dropout": 0.0})
    clf = LocationClassifier(encoder=encoder, freeze_encoder=True, lr=1e-2, max_epochs=10).fit(X, y)
    for a, b in zip(clf.model_.encoder.state_dict().values(), encoder.state_dict().values()):
        assert torch.equal(a, b)
    assert clf.model_.encoder is not encoder  # the caller's module is copied, never trained in place


# ------------------------------------------------------------------------------------------------ grids
def test_predict_grid_matches_predictions_at_cell_centres(two_clusters):
    X, y, _ = two_clusters
    clf = LocationClassifier(**FAST).fit(X, y)
    grid = clf.predict_grid(extent=(-120, -80, 30, 50), resolution_deg=2.0, chunk_size=7)
    assert grid.dims == ("class", "lat", "lon") and grid.shape == (2, 10, 20)
    assert list(grid["class"].values) == ["east", "west"]
    assert grid["lon"].values[0] == -119.0 and grid["lat"].values[0] == 49.0  # centres, north first
    lon, lat = np.meshgrid(grid["lon"].values, grid["lat"].values)
    direct = clf.predict_proba(np.column_stack([lon.ravel(), lat.ravel()]))
    assert np.allclose(grid.values.reshape(2, -1).T, direct, atol=1e-6)
    big = clf.predict_grid(extent=(-120, -80, 30, 50), resolution_deg=2.0, chunk_size=10**6)
    assert np.array_equal(big.values, grid.values)
    sdm = PresenceOnlySDM(**FAST).fit(X[:100])
    local = sdm.predict_grid(extent="train", resolution_deg=0.5)
    assert local.dims == ("lat", "lon") and (local.values >= 0).all() and (local.values <= 1).all()
    west, east, south, north = sdm.train_extent_
    assert west <= local["lon"].min() and local["lon"].max() <= east and south <= local["lat"].min()
    with pytest.raises(ConfigError, match="extent"):
        sdm.predict_grid(extent="world")
    with pytest.raises(ConfigError, match="extent"):
        sdm.predict_grid(extent=(10, 0, 0, 10))
    with pytest.raises(ConfigError, match="resolution_deg"):
        sdm.predict_grid(resolution_deg=0)


def test_estimators_are_reachable_from_the_top_level_package():
    import geosrl
    import geosrl.estimators as estimators

    for name in ("GeoPrior", "LocationClassifier", "LocationRegressor", "PresenceOnlySDM"):
        assert getattr(geosrl, name) is getattr(estimators, name)
    assert geosrl.maps.predict_grid is not None
    with pytest.raises(AttributeError):
        geosrl.NoSuchEstimator  # noqa: B018
