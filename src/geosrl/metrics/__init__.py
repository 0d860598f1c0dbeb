"""Benchmark metrics: ranking, regression, AUC, geo-bias (spatial self-information), regional scores.

Every function takes NumPy arrays (or torch tensors where stated) and returns Python floats or NumPy
arrays. Locations are ``(N, 2)`` arrays of ``(lon, lat)`` degrees.

Modules:
    :mod:`.ranking`     true-class ranks (ties to the lower class index), top-k, MRR, ROC AUC;
    :mod:`.regression`  R², MAE, RMSE;
    :mod:`.geo_bias`    the geo-bias score = spatial self-information (SSI, reference §9, PyGBS);
    :mod:`.spatial`     worst HEALPix region, Moran's I of residuals, and :func:`spatial_metrics`
                        (all spatial scores of a protocol's prediction variants).

scipy is imported by the functions that need it (AUC, k-NN, SSI), not when this package is imported.
"""

from .geo_bias import (
    EARTH_RADIUS_KM,
    SSI_LEGACY_CAP,
    SSIResult,
    auto_radius_rad,
    background_grid,
    geo_bias_ssi,
    local_mark_surprisal,
    ssi_local,
    ssi_null_moments,
    ssi_statistic,
)
from .ranking import auc, classification_metrics, label_ranks, mrr, top_k
from .regression import mae, r2, regression_metrics, rmse
from .spatial import morans_i, spatial_metrics, worst_region

__all__ = [
    "EARTH_RADIUS_KM",
    "SSI_LEGACY_CAP",
    "SSIResult",
    "auc",
    "auto_radius_rad",
    "background_grid",
    "classification_metrics",
    "geo_bias_ssi",
    "label_ranks",
    "local_mark_surprisal",
    "mae",
    "morans_i",
    "mrr",
    "r2",
    "regression_metrics",
    "rmse",
    "spatial_metrics",
    "ssi_local",
    "ssi_null_moments",
    "ssi_statistic",
    "top_k",
    "worst_region",
]
