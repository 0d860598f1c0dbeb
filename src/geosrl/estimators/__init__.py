"""Estimators in the scikit-learn convention: a location encoder + head trained with geosrl's own loop.

* :class:`LocationClassifier` — class of a location (softmax; ``predict_proba``);
* :class:`LocationRegressor` — value(s) at a location (MSE);
* :class:`PresenceOnlySDM` — species distribution from presences only (SINR's loss);
* :class:`GeoPrior` — location prior that re-ranks an image classifier's probabilities.

Each takes locations as an ``(N, 2)`` array or tensor of (lon, lat) degrees, a pandas/geopandas frame or
shapely points; offers ``fit``, ``predict``, ``score``, ``get_params``/``set_params`` (so ``clone``,
``GridSearchCV`` and ``cross_val_score`` work), ``predict_grid`` (an ``xarray.DataArray`` map) and
``save``/``load`` (:mod:`geosrl.estimators.io`). Needs scikit-learn (``pip install geosrl[estimators]``).
"""

from .base import LocationEstimator
from .io import load_estimator
from .models import GeoPrior, LocationClassifier, LocationRegressor, PresenceOnlySDM

__all__ = ["GeoPrior", "LocationClassifier", "LocationEstimator", "LocationRegressor", "PresenceOnlySDM",
           "load_estimator"]
