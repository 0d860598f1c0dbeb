"""GWR/MGWR baselines reproduce mgwr's published Georgia numbers (reference §7).

The Georgia data (159 counties, ``GData_utm.csv``) ships inside the libpysal wheel
(``libpysal/examples/georgia/``), so nothing is downloaded. Reference values: ``pysal/mgwr``
``mgwr/tests/test_gwr.py`` (validated against GWR4).
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("mgwr")
libpysal = pytest.importorskip("libpysal")
pd = pytest.importorskip("pandas")

from mgwr.diagnostics import get_AIC, get_AICc, get_BIC, get_CV  # noqa: E402

from geosrl.hetero import GWRModel, MGWRModel  # noqa: E402
from geosrl.hetero.gwr import kernel_weights  # noqa: E402


@pytest.fixture(scope="module")
def georgia():
    df = pd.read_csv(libpysal.examples.get_path("GData_utm.csv"))
    return {
        "utm": df[["X", "Y"]].to_numpy(float),
        "lonlat": df[["Longitud", "Latitude"]].to_numpy(float),
        "y": df["PctBach"].to_numpy(float),
        "X": df[["PctRural", "PctPov", "PctBlack"]].to_numpy(float),
        "X_mgwr": df[["PctFB", "PctBlack", "PctRural"]].to_numpy(float),
    }


@pytest.mark.parametrize(
    "kw, expected",
    [
        ({"bw": 209267.689, "fixed": True, "kernel": "bisquare"}, (894, 890, 944, 18.25)),
        ({"bw": 90, "fixed": False, "kernel": "bisquare"}, (896, 892, 941, 19.19)),
        ({"bw": 87308.298, "fixed": True, "kernel": "gaussian"}, (895, 890, 943, 18.21)),
        ({"bw": 49, "fixed": False, "kernel": "gaussian"}, (896, 894, 922, 17.91)),
    ],
)
def test_georgia_gwr_utm(georgia, kw, expected):
    m = GWRModel(spherical=False, sigma2_v1=False, **kw).fit(georgia["utm"], georgia["y"], georgia["X"])
    r = m.result_
    assert (np.floor(get_AICc(r)), np.floor(get_AIC(r)), np.floor(get_BIC(r)), np.round(get_CV(r), 2)) == expected
    if kw["bw"] == 90:
        assert r.R2 == pytest.approx(0.5924, abs=1e-4)
        assert r.critical_tval() == pytest.approx(2.6011, abs=1e-4)


def test_georgia_gwr_spherical_lonlat(georgia):
    m = GWRModel(bw=90, spherical=True, sigma2_v1=False).fit(georgia["lonlat"], georgia["y"], georgia["X"])
    r = m.result_
    assert (np.floor(get_AICc(r)), np.floor(get_AIC(r)), np.floor(get_BIC(r)), np.round(get_CV(r), 2)) == (
        896, 892, 941, 19.11)
    assert r.R2 == pytest.approx(0.5921, abs=1e-4)
    assert m.regions(georgia["lonlat"]).tolist() == [0] * 159


def test_georgia_gwr_prediction(georgia):
    m = GWRModel(bw=93, fixed=False, kernel="bisquare", spherical=False, sigma2_v1=True)
    m.fit(georgia["utm"], georgia["y"], georgia["X"])
    pred = m.predict(georgia["utm"][-10:], georgia["X"][-10:])
    assert pred.shape == (10,)
    assert pred[0] == pytest.approx(10.51696, abs=1e-5)


def test_kernel_weights_match_mgwr(georgia):
    from mgwr.kernels import Kernel

    for kernel, fixed, bw in [("bisquare", False, 90), ("gaussian", True, 87308.298)]:
        ours = kernel_weights(georgia["utm"][:5], georgia["utm"], bw, kernel, fixed, spherical=False)
        for i in range(5):
            ref = Kernel(i, georgia["utm"], bw, fixed=fixed, function=kernel).kernel
            np.testing.assert_allclose(ours[i], ref, rtol=1e-12, atol=1e-15)


def test_mgwr_prediction_reproduces_fitted_params_small():
    """Fast MGWR check on synthetic data: prediction at the training points ≈ fitted local params."""
    rng = np.random.default_rng(0)
    n = 50
    lonlat = np.stack([rng.uniform(0, 5, n), rng.uniform(40, 45, n)], 1)
    X = rng.standard_normal((n, 2))
    y = 1 + (lonlat[:, 0] - 2.5) * X[:, 0] + 0.5 * X[:, 1] + 0.1 * rng.standard_normal(n)
    m = MGWRModel(multi_bw_min=[20], multi_bw_max=[n]).fit(lonlat, y, X)
    np.testing.assert_allclose(m.local_params(lonlat), m.params_, atol=1e-3)
    pred = m.predict(lonlat, X)
    np.testing.assert_allclose(pred, np.asarray(m.result_.predy).ravel() * m.y_std_ + m.y_mean_, atol=1e-2)


@pytest.mark.slow
def test_georgia_mgwr(georgia):
    """Published MGWR numbers (10–45 s on 2 shared cores: mgwr's multi-bandwidth search is pure
    Python), hence ``slow``: run with ``pytest -m slow tests/hetero``."""
    m = MGWRModel(spherical=False, standardize=True, multi_bw_min=[2], multi_bw_max=[159])
    m.fit(georgia["utm"], georgia["y"], georgia["X_mgwr"])
    r = m.result_
    assert r.resid_ss == pytest.approx(50.899379467870425, abs=1e-6)
    assert r.aicc == pytest.approx(297.12013812258783, abs=1e-6)
    assert r.ENP == pytest.approx(11.36825087269831, abs=1e-6)
    np.testing.assert_allclose(r.ENP_j, [3.844671080264143, 3.513770805151652, 2.2580525278898254,
                                         1.7517564593926895], atol=1e-6)
    ints = r.get_bws_intervals(m.model_.selector)
    assert [tuple(int(v) for v in iv) for iv in ints] == [(92, 99), (99, 101), (99, 136), (122, 158)]
    # our MGWR prediction at the training points reproduces the fitted coefficients
    np.testing.assert_allclose(m.local_params(georgia["utm"]), m.params_, atol=1e-3)
