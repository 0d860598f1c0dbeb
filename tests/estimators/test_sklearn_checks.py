"""scikit-learn's estimator checks, run on the four estimators (``parametrize_with_checks``).

Checks that cannot apply are listed in :data:`EXPECTED_FAILURES` with the reason; ``xfail_strict`` makes a
listed check that starts passing fail too, so the list stays exact. The reasons:

* ``WIDTH`` — the check feeds arrays with 1, 3, 4, 5, 10 or 20 feature columns; estimators take exactly
  two columns, (lon, lat) in degrees, and refuse other widths with a ``CoordinateError`` (a ``ValueError``);
* ``RANGE`` — the check's values are not locations (e.g. latitudes up to 100 or standard-normal data
  scaled beyond ±90), which :mod:`geosrl.coords` refuses instead of wrapping or clipping;
* ``FRAME`` — the check passes a DataFrame whose columns are 0 and 1; frames must name their longitude and
  latitude columns (``lon_col``/``lat_col``), so a frame's column order is never guessed;
* ``PRESENCE`` — :class:`PresenceOnlySDM` models one species: ``y`` is 1 (presence) / 0 (background) only and
  ``score`` is the ROC AUC, not the accuracy the check asserts.
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from geosrl.estimators import GeoPrior, LocationClassifier, LocationRegressor, PresenceOnlySDM

SMALL = {"embed_dim": 8, "encoder_kwargs": {"net_kwargs": {"hidden_dim": 16, "dropout": 0.0}}, "max_epochs": 5,
         "lr": 1e-2}
WIDTH = "needs exactly 2 columns, (lon, lat) in degrees; the check passes another number of features"
RANGE = "the check's values are outside [-180, 180] x [-90, 90] degrees, refused by geosrl.coords"
FRAME = "a DataFrame must name its lon/lat columns; the check's columns are 0 and 1"
PRESENCE = "one species: y is 1 (presence) / 0 (background) and score is the ROC AUC"

_COMMON = {name: WIDTH for name in (
    "check_dict_unchanged", "check_dont_overwrite_parameters", "check_dtype_object", "check_estimators_dtypes",
    "check_estimators_nan_inf", "check_estimators_pickle", "check_f_contiguous_array_estimator",
    "check_fit2d_1sample", "check_fit2d_predict1d", "check_fit_score_takes_y", "check_methods_sample_order_invariance",
    "check_methods_subset_invariance", "check_n_features_in_after_fitting", "check_pipeline_consistency",
    "check_requires_y_none", "check_supervised_y_2d")}
_COMMON.update({name: RANGE for name in (
    "check_fit_check_is_fitted", "check_fit_idempotent", "check_n_features_in", "check_positive_only_tag_during_fit")})
_CLASSIFIER = {**_COMMON, "check_classifier_data_not_an_array": FRAME, "check_classifiers_one_label": WIDTH,
               "check_classifiers_regression_target": WIDTH}
EXPECTED_FAILURES = {
    "LocationClassifier": _CLASSIFIER,
    "GeoPrior": _CLASSIFIER,
    "PresenceOnlySDM": {**_CLASSIFIER, "check_classifier_not_supporting_multiclass": WIDTH,
                        "check_classifiers_classes": PRESENCE, "check_classifiers_train": PRESENCE},
    "LocationRegressor": {**_COMMON, "check_regressor_data_not_an_array": FRAME, "check_regressor_multioutput": WIDTH,
                          "check_regressors_int": WIDTH, "check_regressors_no_decision_function": WIDTH,
                          "check_regressors_train": WIDTH},
}


def _expected(estimator) -> dict[str, str]:
    return EXPECTED_FAILURES[type(estimator).__name__]


@parametrize_with_checks([LocationClassifier(**SMALL), LocationRegressor(**SMALL), PresenceOnlySDM(**SMALL),
                          GeoPrior(**SMALL)], expected_failed_checks=_expected, xfail_strict=True)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)

