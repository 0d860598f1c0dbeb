"""GWR and MGWR baselines (``mgwr`` package) behind the same ``fit``/``predict``/``regions`` API.

Geographically weighted regression fits a local linear model ``y = X β(u) + ε`` at every location
``u`` with kernel weights that decay with distance; MGWR gives every covariate its own bandwidth
(back-fitting). Both are for **tabular regression**: they need ``features`` (the covariates ``X``;
an intercept is added). They have no discrete partition — coefficients vary continuously — so
``regions`` returns region 0 for every location.

Coordinates: with ``spherical=True`` (default) ``lonlat`` is (lon, lat) degrees and distances are
great-circle km (mgwr's haversine, R = 6371 km); with ``spherical=False`` the two columns are taken
as projected planar coordinates (e.g. UTM metres), which is how mgwr's Georgia reference numbers are
computed.

Prediction at new locations: GWR uses ``mgwr.gwr.GWR.predict`` (a local regression at each new
point). ``mgwr`` has no MGWR prediction (pysal/mgwr #51, #124, #158); :meth:`MGWRModel.predict`
applies one more back-fitting step at the new points: for covariate ``j``,
``β_j(u) = (X_jᵀ W_j(u) X_j)⁻¹ X_jᵀ W_j(u) e_j`` with ``e_j = y − Σ_{k≠j} X_k β̂_k`` the converged
partial residual at the training points and ``W_j(u)`` the covariate's kernel at its selected
bandwidth. At the training points this reproduces mgwr's fitted ``params`` (to the back-fitting
tolerance).
"""

from __future__ import annotations

import numpy as np

from ..sphere import great_circle_km
from ..coords import as_lonlat
from .inputs import check_features, check_target

__all__ = ["GWRModel", "MGWRModel", "kernel_weights"]

def _import_mgwr():
    try:
        from mgwr.gwr import GWR, MGWR
        from mgwr.sel_bw import Sel_BW
    except ImportError:
        raise ImportError("GWR/MGWR baselines need the mgwr package: pip install mgwr==2.2.1") from None
    return GWR, MGWR, Sel_BW


def _distances(points: np.ndarray, data: np.ndarray, spherical: bool) -> np.ndarray:
    """``(M, N)`` distances: haversine km (spherical, (lon, lat) degrees) or Euclidean."""
    if spherical:
        return great_circle_km(points, data)
    return np.sqrt(((points[:, None, :] - data[None, :, :]) ** 2).sum(-1))


def kernel_weights(points: np.ndarray, data: np.ndarray, bw: float, kernel: str = "bisquare", fixed: bool = False,
                   spherical: bool = True) -> np.ndarray:
    """mgwr's kernel weights ``(M, N)`` of the training ``data`` seen from ``points``.

    Adaptive (``fixed=False``): the bandwidth at each point is the distance to its ``bw``-th
    nearest training point (self included when the point is a training point) × 1.0000001, as in
    ``mgwr.kernels.Kernel``. ``kernel``: ``"bisquare"`` ``(1 − z²)²`` for ``z < 1`` else 0, or
    ``"gaussian"`` ``exp(−z²/2)``, ``"exponential"`` ``exp(−z)``.
    """
    d = _distances(points, data, spherical)
    if fixed:
        h = np.full((len(points), 1), float(bw))
    else:
        k = int(bw)
        h = np.partition(d, k - 1, axis=1)[:, k - 1:k] * 1.0000001
    z = d / h
    if kernel == "bisquare":
        return np.where(z < 1, (1 - z ** 2) ** 2, 0.0)
    if kernel == "gaussian":
        return np.exp(-0.5 * z ** 2)
    if kernel == "exponential":
        return np.exp(-z)
    raise ValueError(f"kernel must be bisquare, gaussian or exponential, got {kernel!r}")


class _GWRBase:
    def _prep(self, lonlat, y, features):
        coords = as_lonlat(lonlat) if self.spherical else np.asarray(lonlat, dtype=np.float64)
        if coords.ndim != 2 or coords.shape[1] != 2:
            raise ValueError(f"coordinates must have shape (N, 2), got {coords.shape}")
        n = len(coords)
        y = check_target(y, n, "regression")
        if features is None:
            raise ValueError(f"{type(self).__name__} is a tabular regression baseline: pass features (N, F)")
        X = check_features(features, n)
        if n < X.shape[1] + 3:
            raise ValueError(f"too few samples ({n}) for {X.shape[1]} covariates")
        return coords, y, X

    def _coords(self, lonlat):
        c = as_lonlat(lonlat) if self.spherical else np.asarray(lonlat, dtype=np.float64)
        if c.ndim != 2 or c.shape[1] != 2:
            raise ValueError(f"coordinates must have shape (N, 2), got {c.shape}")
        return c

    def regions(self, lonlat) -> np.ndarray:
        """``(N,)`` zeros: GWR/MGWR coefficients vary continuously; there are no discrete regions."""
        return np.zeros(len(self._coords(lonlat)), dtype=np.int64)

    @property
    def n_regions_(self) -> int:
        return 1


class GWRModel(_GWRBase):
    """Geographically weighted regression through ``mgwr.gwr.GWR``.

    Args:
        bw: bandwidth (neighbours if adaptive, distance units if fixed); None → ``Sel_BW`` golden
            section search on ``criterion``.
        kernel: ``"bisquare"``, ``"gaussian"`` or ``"exponential"``.
        fixed: fixed-distance (True) or adaptive nearest-neighbour (False) bandwidth.
        spherical: (lon, lat) degrees with great-circle km (True) or planar coordinates (False).
        criterion: ``"AICc"``, ``"AIC"``, ``"BIC"`` or ``"CV"``.
        sigma2_v1: mgwr's variance estimator switch (False = GWR4 convention, as in the Georgia tests).
        n_jobs: worker processes for mgwr (1 = none).

    Attributes after ``fit``: ``bw_``, ``result_`` (``mgwr`` GWRResults: ``aicc``, ``R2``, ``params``
    ``(N, F+1)``…), ``model_``.
    """

    def __init__(self, bw=None, kernel: str = "bisquare", fixed: bool = False, spherical: bool = True,
                 criterion: str = "AICc", sigma2_v1: bool = False, n_jobs: int = 1):
        self.bw, self.kernel, self.fixed, self.spherical = bw, kernel, fixed, spherical
        self.criterion, self.sigma2_v1, self.n_jobs = criterion, sigma2_v1, n_jobs

    def fit(self, lonlat, y, features=None) -> "GWRModel":
        """Fit on ``(N, 2)`` coordinates, ``(N,)`` y and ``(N, F)`` covariates."""
        GWR, _, Sel_BW = _import_mgwr()
        coords, y, X = self._prep(lonlat, y, features)
        yc = y.reshape(-1, 1)
        bw = self.bw
        if bw is None:
            sel = Sel_BW(coords, yc, X, kernel=self.kernel, fixed=self.fixed, spherical=self.spherical,
                         n_jobs=self.n_jobs)
            bw = sel.search(criterion=self.criterion)
        self.bw_ = float(bw)
        self.model_ = GWR(coords, yc, X, self.bw_, kernel=self.kernel, fixed=self.fixed, spherical=self.spherical,
                          sigma2_v1=self.sigma2_v1, n_jobs=self.n_jobs)
        self.result_ = self.model_.fit()
        self.coords_, self.n_features_in_ = coords, X.shape[1]
        return self

    def predict(self, lonlat, features=None) -> np.ndarray:
        """``(M,)`` predictions at new locations (``mgwr`` ``GWR.predict``)."""
        if not hasattr(self, "result_"):
            raise RuntimeError("this model is not fitted yet; call fit(lonlat, y, features) first")
        coords = self._coords(lonlat)
        P = check_features(features, len(coords), self.n_features_in_)
        # mgwr 2.2.1's GWR.predict indexes the training rows with the prediction index
        # (``self.X[i]`` in ``_local_fit``) and raises IndexError for more prediction points than
        # training points, so predict in chunks of at most N points.
        step = len(self.coords_)
        out = []
        for s in range(0, len(coords), step):
            res = self.model_.predict(coords[s:s + step], P[s:s + step], exog_scale=self.result_.scale,
                                      exog_resid=self.result_.resid_response)
            out.append(np.asarray(res.predictions, dtype=np.float64).ravel())
        return np.concatenate(out) if out else np.zeros(0)


class MGWRModel(_GWRBase):
    """Multiscale GWR through ``mgwr.gwr.MGWR`` (one bandwidth per covariate, back-fitting).

    Args:
        kernel, fixed, spherical, criterion, n_jobs: as :class:`GWRModel`.
        standardize: z-score y and X before fitting (recommended by mgwr for MGWR, so bandwidths are
            comparable); predictions are returned in the original units.
        multi_bw_min, multi_bw_max: bandwidth search bounds (lists, mgwr convention).

    Attributes after ``fit``: ``bws_`` ``(F+1,)``, ``result_`` (``MGWRResults``: ``aicc``, ``ENP_j``…),
    ``params_`` ``(N, F+1)`` (standardised scale if ``standardize``).
    """

    def __init__(self, kernel: str = "bisquare", fixed: bool = False, spherical: bool = True,
                 criterion: str = "AICc", standardize: bool = True, multi_bw_min=None, multi_bw_max=None,
                 sigma2_v1: bool = True, n_jobs: int = 1):
        self.kernel, self.fixed, self.spherical, self.criterion = kernel, fixed, spherical, criterion
        self.standardize, self.multi_bw_min, self.multi_bw_max = standardize, multi_bw_min, multi_bw_max
        self.sigma2_v1, self.n_jobs = sigma2_v1, n_jobs

    def fit(self, lonlat, y, features=None) -> "MGWRModel":
        """Fit on ``(N, 2)`` coordinates, ``(N,)`` y and ``(N, F)`` covariates."""
        _, MGWR, Sel_BW = _import_mgwr()
        coords, y, X = self._prep(lonlat, y, features)
        if self.standardize:
            self.y_mean_, self.y_std_ = float(y.mean()), float(y.std()) or 1.0
            self.x_mean_ = X.mean(axis=0)
            self.x_std_ = np.where(X.std(axis=0) > 0, X.std(axis=0), 1.0)
        else:
            self.y_mean_, self.y_std_ = 0.0, 1.0
            self.x_mean_, self.x_std_ = np.zeros(X.shape[1]), np.ones(X.shape[1])
        ys = ((y - self.y_mean_) / self.y_std_).reshape(-1, 1)
        Xs = (X - self.x_mean_) / self.x_std_
        sel = Sel_BW(coords, ys, Xs, multi=True, constant=True, kernel=self.kernel, fixed=self.fixed,
                     spherical=self.spherical, n_jobs=self.n_jobs)
        kw = {"criterion": self.criterion}
        if self.multi_bw_min is not None:
            kw["multi_bw_min"] = list(self.multi_bw_min)
        if self.multi_bw_max is not None:
            kw["multi_bw_max"] = list(self.multi_bw_max)
        sel.search(**kw)
        self.model_ = MGWR(coords, ys, Xs, selector=sel, constant=True, kernel=self.kernel, fixed=self.fixed,
                           spherical=self.spherical, sigma2_v1=self.sigma2_v1, n_jobs=self.n_jobs)
        self.result_ = self.model_.fit()
        self.bws_ = np.asarray(self.model_.bws, dtype=np.float64)
        self.params_ = np.asarray(self.result_.params, dtype=np.float64)
        self.coords_, self.ys_, self.Xs_ = coords, ys[:, 0], np.hstack([np.ones((len(Xs), 1)), Xs])
        self.n_features_in_ = X.shape[1]
        return self

    def local_params(self, lonlat) -> np.ndarray:
        """``(M, F+1)`` coefficients (intercept first; standardised scale) at new locations by one
        back-fitting step (module docstring)."""
        if not hasattr(self, "result_"):
            raise RuntimeError("this model is not fitted yet; call fit(lonlat, y, features) first")
        pts = self._coords(lonlat)
        Xs, B = self.Xs_, self.params_
        fitted = (Xs * B).sum(axis=1)
        out = np.empty((len(pts), Xs.shape[1]))
        for j in range(Xs.shape[1]):
            e_j = self.ys_ - fitted + Xs[:, j] * B[:, j]
            W = kernel_weights(pts, self.coords_, self.bws_[j], self.kernel, self.fixed, self.spherical)
            num = W @ (Xs[:, j] * e_j)
            den = W @ (Xs[:, j] ** 2)
            out[:, j] = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
        return out

    def predict(self, lonlat, features=None) -> np.ndarray:
        """``(M,)`` predictions in the original units of y."""
        pts = self._coords(lonlat)
        P = check_features(features, len(pts), getattr(self, "n_features_in_", None))
        Ps = np.hstack([np.ones((len(P), 1)), (P - self.x_mean_) / self.x_std_])
        return (Ps * self.local_params(pts)).sum(axis=1) * self.y_std_ + self.y_mean_
