"""Bad input gives clear errors."""

from __future__ import annotations

import numpy as np
import pytest
from hetero_synth import SMALL_ENC, boundary_data

from geosrl import CoordinateError
from geosrl.hetero import GlobalModel, GWRModel, HeterogeneityAwareModel


def _m(**kw):
    return HeterogeneityAwareModel(encoder_kwargs=SMALL_ENC, min_region_size=100, **kw)


def test_too_few_samples_to_split():
    lonlat, f, y, _ = boundary_data(150)
    with pytest.raises(ValueError, match="too few samples to split.*2 \\* min_region_size = 200"):
        _m().fit(lonlat, y, f)
    GlobalModel(encoder_kwargs=SMALL_ENC).fit(lonlat, y, f)  # the global model still works


def test_nan_targets():
    lonlat, f, y, _ = boundary_data(300)
    y[[3, 17]] = np.nan
    with pytest.raises(ValueError, match="y has 2 NaN/inf value\\(s\\) at rows 3, 17"):
        _m().fit(lonlat, y, f)


def test_mismatched_lengths():
    lonlat, f, y, _ = boundary_data(300)
    with pytest.raises(ValueError, match="y has 299 values but lonlat has 300 rows"):
        _m().fit(lonlat, y[:-1], f)
    with pytest.raises(ValueError, match="features has 299 rows but lonlat has 300"):
        _m().fit(lonlat, y, f[:-1])
    m = _m().fit(lonlat, y, f)
    with pytest.raises(ValueError, match="features has 299 rows"):
        m.predict(lonlat, f[:-1])
    with pytest.raises(ValueError, match="fitted with 1 feature"):
        m.predict(lonlat)
    with pytest.raises(ValueError, match="2 columns but the model was fitted with 1"):
        m.predict(lonlat, np.hstack([f, f]))


def test_bad_coordinates_and_features():
    lonlat, f, y, _ = boundary_data(300)
    bad = lonlat.copy()
    bad[5, 1] = 95.0
    with pytest.raises(CoordinateError, match="latitude"):
        _m().fit(bad, y, f)
    with pytest.raises(CoordinateError, match="shape \\(N, 2\\)"):
        _m().fit(lonlat[:, :1], y, f)
    f2 = f.copy()
    f2[9, 0] = np.inf
    with pytest.raises(ValueError, match="features has non-finite values in rows 9"):
        _m().fit(lonlat, y, f2)


def test_bad_parameters_and_single_class():
    lonlat, f, y, _ = boundary_data(300)
    with pytest.raises(ValueError, match="partition must be one of"):
        _m(partition="voronoi").fit(lonlat, y, f)
    with pytest.raises(ValueError, match="alpha must be in"):
        _m(alpha=1.5).fit(lonlat, y, f)
    with pytest.raises(ValueError, match="at least 2 classes"):
        _m().fit(lonlat, np.zeros(300, dtype=int), f)
    with pytest.raises(RuntimeError, match="not fitted"):
        _m().predict(lonlat, f)
    with pytest.raises(ValueError, match="predict_proba is only available for classification"):
        _m().fit(lonlat, y, f).predict_proba(lonlat, f)


def test_gwr_needs_features():
    lonlat, f, y, _ = boundary_data(100)
    with pytest.raises(ValueError, match="tabular regression baseline: pass features"):
        GWRModel(bw=30).fit(lonlat, y)
