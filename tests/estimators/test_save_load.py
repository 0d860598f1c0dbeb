"""Saving and loading estimators: round trips, and the refusal of every kind of bad folder."""

import json

import numpy as np
import pytest

from geosrl import CheckpointError
from geosrl.config import ConfigError
from geosrl.estimators import GeoPrior, LocationClassifier, LocationRegressor, PresenceOnlySDM, load_estimator

FAST = {"embed_dim": 8, "encoder_kwargs": {"net_kwargs": {"hidden_dim": 16, "dropout": 0.0}}, "lr": 1e-2,
        "max_epochs": 3, "batch_size": 64}
X = np.random.default_rng(0).uniform([-20.0, -20.0], [20.0, 20.0], size=(120, 2))
LABELS = np.where(X[:, 0] > 0, "east", "west")


def _fitted(kind: str):
    if kind == "classifier":
        return LocationClassifier(**FAST, head_hidden=(4,)).fit(X, LABELS)
    if kind == "regressor":
        return LocationRegressor(**FAST).fit(X, np.column_stack([X[:, 1], 2 * X[:, 0]]))
    if kind == "sdm":
        return PresenceOnlySDM(**FAST).fit(X[:60])
    return GeoPrior(**FAST, max_per_class=20).fit(X, LABELS)


@pytest.mark.parametrize("kind", ["classifier", "regressor", "sdm", "geoprior"])
def test_round_trip_gives_identical_predictions(tmp_path, kind):
    est = _fitted(kind)
    folder = est.save(tmp_path / "model")
    assert sorted(p.name for p in folder.iterdir()) == ["encoder.json", "encoder.safetensors", "estimator.json",
                                                         "head.safetensors"]
    back = type(est).load(folder)
    assert type(back) is type(est) and back.get_params() == est.get_params()
    method = "predict" if kind == "regressor" else "predict_proba"
    assert np.array_equal(getattr(back, method)(X), getattr(est, method)(X))
    assert back.train_extent_ == est.train_extent_
    assert np.array_equal(back.predict_grid(resolution_deg=30).values, est.predict_grid(resolution_deg=30).values)


def test_saved_encoder_is_a_geosrl_checkpoint(tmp_path):
    import geosrl

    est = _fitted("sdm")
    enc = geosrl.load_pretrained(est.save(tmp_path / "m") / "encoder.safetensors")
    assert enc.embed_dim == 8


def test_save_refuses_unfitted_foreign_and_existing_folders(tmp_path):
    with pytest.raises(CheckpointError, match="unfitted"):
        LocationClassifier().save(tmp_path / "m")
    est = _fitted("sdm")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match="never overwrites"):
        est.save(foreign)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="file"):
        est.save(tmp_path / "file")
    est.save(tmp_path / "m")
    with pytest.raises(ConfigError, match="overwrite=True"):
        est.save(tmp_path / "m")
    est.save(tmp_path / "m", overwrite=True)


def test_load_as_the_wrong_class_is_refused(tmp_path):
    folder = _fitted("sdm").save(tmp_path / "m")
    with pytest.raises(CheckpointError, match="not a LocationClassifier"):
        LocationClassifier.load(folder)
    assert isinstance(load_estimator(folder), PresenceOnlySDM)


def _edit_card(folder, change):
    card = json.loads((folder / "estimator.json").read_text())
    change(card)
    (folder / "estimator.json").write_text(json.dumps(card))


@pytest.mark.parametrize("change, match", [
    (lambda c: c.update(format="other"), "format"),
    (lambda c: c.update(format_version=99), "format_version"),
    (lambda c: c.update(estimator="Pickle"), "unknown estimator"),
    (lambda c: c["params"].update(extra=1), "params"),
    (lambda c: c["params"].update(lr=-1.0), "bad parameters"),
    (lambda c: c["head"].update(out_dim=3), "do not match"),
    (lambda c: c["head"].update(hidden=[10**9]), "head widths"),
    (lambda c: c["fitted"].update(classes_=["a", "b", "c"]), "classes_"),
    (lambda c: c["fitted"].update(train_extent_=[0, 1]), "train_extent_"),
    (lambda c: c.update(head_sha256="0" * 64), "head_sha256"),
])
def test_load_refuses_a_bad_card(tmp_path, change, match):
    folder = _fitted("classifier").save(tmp_path / "m")
    _edit_card(folder, change)
    with pytest.raises(CheckpointError, match=match):
        load_estimator(folder)


def test_load_refuses_bad_files(tmp_path):
    with pytest.raises(CheckpointError, match="no estimator.json"):
        load_estimator(tmp_path)
    folder = _fitted("regressor").save(tmp_path / "m")
    card = (folder / "estimator.json").read_text()
    (folder / "estimator.json").write_text(card.replace('"lr": 0.01', '"lr": NaN'))
    with pytest.raises(CheckpointError, match="NaN"):
        load_estimator(folder)
    (folder / "estimator.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="JSON"):
        load_estimator(folder)
    (folder / "estimator.json").write_text(card)
    head = (folder / "head.safetensors").read_bytes()
    (folder / "head.safetensors").write_bytes(head[:-8])
    with pytest.raises(CheckpointError, match="head.safetensors"):
        load_estimator(folder)
    (folder / "head.safetensors").write_bytes(head)
    encoder = (folder / "encoder.safetensors").read_bytes()
    (folder / "encoder.safetensors").write_bytes(encoder[:100])
    with pytest.raises(CheckpointError, match="encoder.safetensors"):
        load_estimator(folder)
