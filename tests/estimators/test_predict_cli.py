"""``geosrl predict``: a saved estimator over a CSV of coordinates; user errors are one ``geosrl: error:`` line."""

import csv

import numpy as np
import pytest

from geosrl.cli import main
from geosrl.estimators import LocationClassifier, LocationRegressor, PresenceOnlySDM

SMALL = {"embed_dim": 8, "encoder_kwargs": {"net_kwargs": {"hidden_dim": 16, "dropout": 0.0}}, "max_epochs": 3}
X = np.random.default_rng(0).uniform([-20.0, -20.0], [20.0, 20.0], size=(80, 2))


def _csv(path, rows, header=("lon", "lat")):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.mark.parametrize("est, columns", [
    (LocationClassifier(**SMALL).fit(X, np.where(X[:, 0] > 0, "e", "w")), ["prediction", "p_e", "p_w"]),
    (LocationRegressor(**SMALL).fit(X, X[:, 1]), ["prediction"]),
    (PresenceOnlySDM(**SMALL).fit(X), ["suitability", "logit"]),
])
def test_predict_writes_one_row_per_input_row(tmp_path, capsys, est, columns):
    model = est.save(tmp_path / "model")
    data = _csv(tmp_path / "in.csv", X[:7].tolist())
    assert main(["predict", str(model), str(data), str(tmp_path / "out.csv")]) == 0
    with open(tmp_path / "out.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == columns and len(rows) == 8
    assert "wrote 7 predictions" in capsys.readouterr().out
    assert main(["predict", str(model), str(data), str(tmp_path / "out.npy")]) == 0
    assert np.load(tmp_path / "out.npy").shape[0] == 7


def test_predict_user_errors_are_one_line(tmp_path, capsys):
    model = LocationRegressor(**SMALL).fit(X, X[:, 0]).save(tmp_path / "model")
    good = _csv(tmp_path / "in.csv", [[1.0, 2.0]])
    bad_row = _csv(tmp_path / "bad.csv", [[1.0, 2.0], ["x", 3.0]])
    cases = [
        ([str(tmp_path / "nomodel"), str(good), str(tmp_path / "o1.csv")], "no estimator.json"),
        ([str(model), str(bad_row), str(tmp_path / "o2.csv")], "line 3"),
        ([str(model), str(good), str(tmp_path / "out.txt")], "must end in"),
        ([str(model), str(good), str(tmp_path / "o3.csv"), "--lon-col", "x"], "no column 'x'"),
        ([str(model), str(_csv(tmp_path / "swap.csv", [[10.0, 120.0]])), str(tmp_path / "o4.csv")], "swapped"),
    ]
    for argv, match in cases:
        assert main(["predict", *argv]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("geosrl: error:") and match in err[0], err
    _csv(tmp_path / "exists.csv", [])
    assert main(["predict", str(model), str(good), str(tmp_path / "exists.csv")]) == 2
    assert "exists" in capsys.readouterr().err
