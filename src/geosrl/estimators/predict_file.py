"""Predict a file of coordinates with a saved estimator (the ``geosrl predict`` command).

The input is read like ``geosrl embed``'s (:func:`geosrl.embed.read_lonlat_table`: CSV or Parquet, named
columns, bad rows reported by line number); the output holds one row per input row:

* classifier / geo-prior: ``prediction`` (the label) and ``p_<class>`` per class (the geo-prior's normalised prior);
* regressor: ``prediction`` (or ``prediction_0 … prediction_{k-1}``);
* presence-only SDM: ``suitability`` (σ(s)) and ``logit`` (s).

``.csv`` and ``.parquet`` outputs keep these columns; ``.npy`` stores the numeric columns as one float64 array.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from ..config import ConfigError
from ..embed import read_lonlat_table
from ..files import atomic_write
from .io import load_estimator

__all__ = ["predict_file", "prediction_columns"]

_OUTPUTS = (".csv", ".parquet", ".npy")


def prediction_columns(est, lonlat: np.ndarray) -> dict[str, np.ndarray]:
    """The output columns of :mod:`this module <geosrl.estimators.predict_file>` for ``(N, 2)`` locations."""
    kind = type(est).__name__
    if kind == "PresenceOnlySDM":
        logit = est.decision_function(lonlat)
        return {"suitability": 0.5 * (1.0 + np.tanh(0.5 * logit)), "logit": logit}
    if kind == "LocationRegressor":
        pred = est.predict(lonlat)
        return {"prediction": pred} if pred.ndim == 1 else {f"prediction_{k}": pred[:, k] for k in range(pred.shape[1])}
    proba = est.predict_proba(lonlat)
    return {"prediction": est.classes_[np.argmax(proba, axis=1)],
            **{f"p_{label}": proba[:, k] for k, label in enumerate(est.classes_)}}


def predict_file(model: str | Path, input_path: str | Path, output_path: str | Path, lon_col: str = "lon",
                 lat_col: str = "lat", device: str = "cpu") -> tuple[int, list[str]]:
    """Write the predictions of the estimator saved in ``model`` for every row of ``input_path``.

    Returns ``(rows, column names)``. Raises ConfigError (bad paths or columns, an existing output),
    CoordinateError (bad coordinates), CheckpointError (an unusable model folder).
    """
    output_path = Path(output_path)
    if output_path.suffix not in _OUTPUTS:
        raise ConfigError(f"output {str(output_path)!r} must end in one of {list(_OUTPUTS)}")
    if output_path.exists():
        raise ConfigError(f"output {str(output_path)!r} exists; geosrl does not overwrite it: choose another name")
    est = load_estimator(model, device=device)
    columns = prediction_columns(est, read_lonlat_table(Path(input_path), lon_col, lat_col))
    _write(output_path, columns)
    return len(next(iter(columns.values()))), list(columns)


def _write(path: Path, columns: dict[str, np.ndarray]) -> None:
    if path.suffix == ".npy":
        numeric = np.column_stack([v for v in columns.values() if np.issubdtype(v.dtype, np.number)])
        atomic_write(path, lambda f: np.save(f, numeric.astype(np.float64), allow_pickle=False))
    elif path.suffix == ".csv":
        text = io.StringIO()
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow(list(columns))
        writer.writerows(zip(*(v.tolist() for v in columns.values())))
        atomic_write(path, lambda f: f.write(text.getvalue().encode("utf-8")))
    else:
        try:
            import pandas as pd

            frame = pd.DataFrame(columns)
            atomic_write(path, lambda f: frame.to_parquet(f))
        except ImportError as exc:
            raise ConfigError(f"writing Parquet needs pandas and pyarrow ({exc}); write .csv or .npy") from None
