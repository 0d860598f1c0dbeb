"""The four estimators: :class:`LocationClassifier`, :class:`LocationRegressor`, :class:`PresenceOnlySDM`,
:class:`GeoPrior`. Shared parameters and methods: :class:`geosrl.estimators.base.LocationEstimator`."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.metrics import roc_auc_score
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted
from torch.nn import functional as F

from ..config import ConfigError, choice, integer, number
from ..losses import an_full_loss, mse_loss, presence_absence_loss
from ..sphere import uniform_lonlat
from ..tasks.geoprior import balanced_epoch_indices
from ._input import lonlat_from
from .base import LocationEstimator, padded_extent

__all__ = ["GeoPrior", "LocationClassifier", "LocationRegressor", "PresenceOnlySDM"]


def _targets(y, n: int, what: str) -> np.ndarray:
    """``y`` as a NumPy array with ``n`` rows (ValueError otherwise)."""
    if y is None:
        raise ValueError(f"{what} requires y to be passed, but the target y is None")
    y = np.asarray(y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else y)
    if y.ndim == 0 or len(y) != n:
        raise ValueError(f"X and y have inconsistent numbers of samples: {n} locations, y of shape {y.shape}")
    return y


def _tensor(a: np.ndarray, device, dtype=torch.float64) -> torch.Tensor:
    return torch.as_tensor(a, dtype=dtype, device=device)



def _fit_classes(est: LocationEstimator, X, y, bias: bool):
    """The shared start of a classifier's fit: checked inputs and config, ``est.classes_``, a new ``est.model_``
    (one output per class, with or without bias), the train/validation split stratified by class, and the
    locations and class codes as tensors on the configured device.

    Returns ``(cfg, seed, codes, train, val, ll, target)``."""
    lonlat, cfg, seed = est._fit_common(X)
    est.classes_, codes = _class_codes(y, len(lonlat), type(est).__name__)
    device = torch.device(cfg["device"])
    est.model_ = est._build(len(est.classes_), bias, seed, cfg)
    train, val = est._split(len(lonlat), seed, stratify=codes)
    return cfg, seed, codes, train, val, _tensor(lonlat, device), torch.as_tensor(codes, device=device)


def _class_codes(y, n: int, owner: str) -> tuple[np.ndarray, np.ndarray]:
    """``(classes_, codes)`` of 1-d class labels ``y`` ``(n,)``; at least two classes."""
    y = _targets(y, n, owner)
    if y.ndim != 1:
        raise ValueError(f"y must be 1-d class labels, got shape {y.shape}")
    check_classification_targets(y)
    classes, codes = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(f"y holds 1 class ({classes[0]!r}); a classifier needs at least 2 classes")
    return classes, codes

class LocationClassifier(ClassifierMixin, LocationEstimator):
    """Class of a location: softmax cross-entropy on the true labels, ``P(c | x) = softmax(head(Enc(x)))_c``.

    ``fit(X, y)`` with ``y`` any labels (``classes_`` holds them sorted); ``predict_proba`` gives
    ``(N, n_classes)``; ``score`` is the accuracy; ``predict_grid`` maps the probabilities (dims
    ``class, lat, lon``). Parameters: :class:`~geosrl.estimators.base.LocationEstimator`.

    >>> import numpy as np
    >>> from geosrl.estimators import LocationClassifier
    >>> X = np.array([[-100.0, 40.0], [-99.0, 41.0], [10.0, 50.0], [11.0, 49.0]] * 10)
    >>> clf = LocationClassifier(embed_dim=16, max_epochs=30, validation_fraction=0).fit(X, ["us", "us", "eu", "eu"] * 10)
    >>> clf.predict([[-100.5, 40.5]]).tolist()
    ['us']
    """

    _grid_naming = ("probability", "class", "classes_")

    def fit(self, X, y):
        """Train on locations ``X`` (see :func:`~geosrl.estimators._input.lonlat_from`) and labels ``y`` ``(N,)``."""
        cfg, seed, codes, train, val, ll, target = _fit_classes(self, X, y, bias=True)
        ll_tr, y_tr = ll[train], target[train]

        def batch_loss(b: torch.Tensor) -> torch.Tensor:
            return F.cross_entropy(self.model_(ll_tr[b]), y_tr[b])

        val_loss = None if val is None else (lambda: F.cross_entropy(self.model_(ll[val]), target[val]))
        self._train(self.model_, len(train), batch_loss, val_loss, seed, cfg)
        return self

    def predict_proba(self, X) -> np.ndarray:
        """``(N, n_classes)`` class probabilities, columns in the order of ``classes_``."""
        logits = self._scores(self._query(X))
        return np.exp(logits - np.logaddexp.reduce(logits, axis=1, keepdims=True))

    def predict(self, X) -> np.ndarray:
        """``(N,)`` most probable class labels."""
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]

    _grid_values = predict_proba


class LocationRegressor(RegressorMixin, LocationEstimator):
    """A value (or several) at a location: MSE on standardised targets, predictions in the original units.

    ``fit(X, y)`` with ``y`` ``(N,)`` or ``(N, k)``; ``predict`` returns the same shape; ``score`` is R²;
    ``predict_grid`` maps the prediction (dims ``lat, lon``, or ``output, lat, lon`` for ``k`` outputs).
    """

    _grid_naming = ("prediction", "output", None)

    def fit(self, X, y):
        """Train on locations ``X`` and real targets ``y`` ``(N,)`` or ``(N, k)``."""
        lonlat, cfg, seed = self._fit_common(X)
        y = _targets(y, len(lonlat), type(self).__name__)
        try:
            y = np.asarray(y, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"y must be numeric: {exc}") from None
        if y.ndim not in (1, 2) or not np.isfinite(y).all():
            raise ValueError(f"y must be (N,) or (N, k) finite numbers (no NaN or inf), got shape {y.shape}")
        self.single_output_ = y.ndim == 1
        y2 = y.reshape(len(y), -1)
        self.y_mean_, self.y_scale_ = y2.mean(axis=0), y2.std(axis=0)
        self.y_scale_[self.y_scale_ == 0] = 1.0
        device = torch.device(cfg["device"])
        self.model_ = self._build(y2.shape[1], True, seed, cfg)
        train, val = self._split(len(lonlat), seed)
        ll = _tensor(lonlat, device)
        target = _tensor((y2 - self.y_mean_) / self.y_scale_, device, torch.float32)
        ll_tr, y_tr = ll[train], target[train]

        def batch_loss(b: torch.Tensor) -> torch.Tensor:
            return mse_loss(self.model_(ll_tr[b]).float(), y_tr[b])

        val_loss = None if val is None else (lambda: mse_loss(self.model_(ll[val]).float(), target[val]))
        self._train(self.model_, len(train), batch_loss, val_loss, seed, cfg)
        return self

    def predict(self, X) -> np.ndarray:
        """Predictions in the units of ``y``: ``(N,)`` (or ``(N, k)`` when fitted on ``k`` outputs)."""
        out = self._scores(self._query(X)) * self.y_scale_ + self.y_mean_
        return out[:, 0] if self.single_output_ else out

    _grid_values = predict

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.single_output = True
        tags.target_tags.multi_output = True
        return tags


class PresenceOnlySDM(ClassifierMixin, LocationEstimator):
    """Species distribution from presences only: SINR's "assume negative, full" loss (Cole et al. 2023).

    Each step pairs a batch of presences with as many pseudo-absences — uniform on the sphere
    (``negatives="uniform"``, SINR) or drawn from the background points (``"background"``) — and minimises
    :func:`geosrl.losses.an_full_loss` with λ = ``pos_weight`` (1 by default: with one species SINR's
    λ = 2048 drives a whole region to p ≈ 1, see :mod:`geosrl.tasks.presence_only`). The head is bias-free.

    ``fit(X)`` takes presence locations; ``fit(X, y)`` takes presences (1) and background (0) rows, the 0s
    serving as background; ``background=`` gives background locations separately. ``decision_function`` is
    the logit ``s(x)`` (the ranking statistic), ``predict_proba`` ``[1 − σ(s), σ(s)]``, ``predict``
    ``σ(s) ≥ threshold``, ``score`` the ROC AUC of presences (1) against background/absences (0), and
    ``predict_grid`` maps σ(s) — the relative suitability, not a calibrated occupancy probability.
    Early stopping uses the loss on held-out presences against fixed pseudo-absences.
    """

    _extra_schema = {"negatives": choice("uniform", "background"), "pos_weight": number(gt=0),
                     "threshold": number(gt=0, lt=1)}
    _grid_naming = ("suitability", "output", None)

    def __init__(self, encoder="sphere2vec_spherec_plus", embed_dim=64, encoder_kwargs=None, freeze_encoder=False,
                 head_hidden=(), lr=1e-3, weight_decay=0.0, lr_decay=1.0, max_epochs=100, batch_size=256,
                 validation_fraction=0.1, n_iter_no_change=5, device="cpu", random_state=0, lon_col="lon",
                 lat_col="lat", negatives="uniform", pos_weight=1.0, threshold=0.5):
        super().__init__(encoder, embed_dim, encoder_kwargs, freeze_encoder, head_hidden, lr, weight_decay,
                         lr_decay, max_epochs, batch_size, validation_fraction, n_iter_no_change, device,
                         random_state, lon_col, lat_col)
        self.negatives = negatives
        self.pos_weight = pos_weight
        self.threshold = threshold

    def fit(self, X, y=None, background=None):
        """Train on presences ``X`` (with ``y``: rows where ``y == 1``; the ``y == 0`` rows are background)."""
        lonlat, cfg, seed = self._fit_common(X)
        presences, pool = self._presences_and_background(lonlat, y, background)
        if cfg["negatives"] == "background" and pool is None:
            raise ConfigError("negatives='background' needs background points: pass y (0 = background) or background=")
        self.classes_ = np.array([0, 1])
        self.train_extent_ = padded_extent(presences)
        device = torch.device(cfg["device"])
        self.model_ = self._build(1, False, seed, cfg)
        train, val = self._split(len(presences), seed)
        gen = torch.Generator().manual_seed(seed + 1)
        ll = _tensor(presences, device)
        bg = None if pool is None else _tensor(pool, device)
        ll_tr = ll[train]

        def negatives(n: int) -> torch.Tensor:
            if cfg["negatives"] == "uniform":
                return uniform_lonlat(n, generator=gen, dtype=torch.float64).to(device)
            return bg[torch.randint(len(bg), (n,), generator=gen).to(device)]

        def loss(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
            logits = self.model_(torch.cat([pos, neg]))
            zeros = torch.zeros(len(pos), dtype=torch.long, device=device)
            return an_full_loss(logits[:len(pos)], zeros, logits[len(pos):], pos_weight=cfg["pos_weight"])

        val_loss = None
        if val is not None:
            val_neg = negatives(len(val))
            val_loss = lambda: loss(ll[val], val_neg)  # noqa: E731
        self._train(self.model_, len(train), lambda b: loss(ll_tr[b], negatives(len(b))), val_loss, seed, cfg)
        return self

    @staticmethod
    def _presences_and_background(lonlat: np.ndarray, y, background) -> tuple[np.ndarray, np.ndarray | None]:
        pool = None
        if y is not None:
            y = _targets(y, len(lonlat), "PresenceOnlySDM")
            if y.ndim != 1:
                raise ValueError(f"y must be 1-d (1 = presence, 0 = background), got shape {y.shape}")
            labels = set(np.unique(y).tolist())
            if not labels <= {0, 1, True, False}:
                raise ValueError(f"y must hold 1 (presence) and 0 (background) only; got labels {sorted(labels)[:5]} "
                                 "(PresenceOnlySDM models one species: fit one estimator per species)")
            y = y.astype(bool)
            pool = lonlat[~y] if (~y).any() else None
            lonlat = lonlat[y]
            if len(lonlat) == 0:
                raise ValueError("y holds no presence (1): nothing to fit")
        if background is not None:
            extra = lonlat_from(background, name="background")
            pool = extra if pool is None else np.concatenate([pool, extra])
        return lonlat, pool if pool is None or len(pool) else None

    def decision_function(self, X) -> np.ndarray:
        """``(N,)`` logits ``s(x)``: rank locations by these (σ saturates in float32)."""
        return self._scores(self._query(X))[:, 0]

    def predict_proba(self, X) -> np.ndarray:
        """``(N, 2)``: ``[1 − σ(s), σ(s)]`` (column 1 = relative presence suitability)."""
        p = _sigmoid(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X) -> np.ndarray:
        """``(N,)`` 1 where ``σ(s) ≥ threshold``, else 0."""
        return (self.predict_proba(X)[:, 1] >= self.threshold).astype(np.int64)

    def score(self, X, y, sample_weight=None) -> float:
        """ROC AUC of ``decision_function`` for presences (``y = 1``) against background/absences (``y = 0``)."""
        y = _targets(y, len(self._query(X)), "score")
        return float(roc_auc_score(np.asarray(y).astype(int), self.decision_function(X), sample_weight=sample_weight))

    def _grid_values(self, lonlat: np.ndarray) -> np.ndarray:
        return _sigmoid(self._scores(lonlat)[:, 0])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags


class GeoPrior(ClassifierMixin, LocationEstimator):
    """Location prior for re-ranking an image classifier (Mac Aodha et al. 2019), as :mod:`geosrl.tasks.geoprior`.

    Trained with the presence–absence loss (:func:`geosrl.losses.presence_absence_loss`, λ = ``pos_weight``,
    default the number of classes C) against one random location per example, uniform on the sphere, over
    epochs of a balanced sampler (at most ``max_per_class`` examples per class). The prior is
    ``σ(s_c(x))`` (:meth:`prior`); with image-classifier probabilities ``P(c | I)`` the fused score is
    ``P(c | I)^image_weight · σ(s_c(x))`` (:meth:`rerank`), normalised over classes by :meth:`predict_proba`.
    ``fit(X, y)``; ``predict(X, image_probs=None)``; ``score(X, y, image_probs=None)`` is the top-1 accuracy.
    """

    _extra_schema = {"pos_weight": number(gt=0, optional=True), "max_per_class": integer(min=1, optional=True),
                     "image_weight": number(ge=0)}
    _grid_naming = ("prior", "class", "classes_")

    def __init__(self, encoder="sphere2vec_spherec_plus", embed_dim=64, encoder_kwargs=None, freeze_encoder=False,
                 head_hidden=(), lr=1e-3, weight_decay=0.0, lr_decay=1.0, max_epochs=100, batch_size=256,
                 validation_fraction=0.1, n_iter_no_change=5, device="cpu", random_state=0, lon_col="lon",
                 lat_col="lat", pos_weight=None, max_per_class=100, image_weight=1.0):
        super().__init__(encoder, embed_dim, encoder_kwargs, freeze_encoder, head_hidden, lr, weight_decay,
                         lr_decay, max_epochs, batch_size, validation_fraction, n_iter_no_change, device,
                         random_state, lon_col, lat_col)
        self.pos_weight = pos_weight
        self.max_per_class = max_per_class
        self.image_weight = image_weight

    def fit(self, X, y):
        """Train the prior on observation locations ``X`` and their class labels ``y`` ``(N,)``."""
        cfg, seed, codes, train, val, ll, target = _fit_classes(self, X, y, bias=False)
        device = ll.device
        ll_tr, y_tr, codes_tr = ll[train], target[train], codes[train]
        rng = np.random.default_rng(seed)
        gen = torch.Generator().manual_seed(seed + 1)
        lam = cfg["pos_weight"]

        def loss(pos: torch.Tensor, labels: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
            logits = self.model_(torch.cat([pos, neg]))
            return presence_absence_loss(logits[:len(pos)], labels, logits[len(pos):], pos_weight=lam)

        def epoch_order() -> torch.Tensor:
            return torch.as_tensor(balanced_epoch_indices(codes_tr, cfg["max_per_class"], rng), device=device)

        def batch_loss(b: torch.Tensor) -> torch.Tensor:
            return loss(ll_tr[b], y_tr[b], uniform_lonlat(len(b), generator=gen, dtype=torch.float64).to(device))

        val_loss = None
        if val is not None:
            val_neg = uniform_lonlat(len(val), generator=gen, dtype=torch.float64).to(device)
            val_loss = lambda: loss(ll[val], target[val], val_neg)  # noqa: E731
        self._train(self.model_, len(train), batch_loss, val_loss, seed, cfg, epoch_order)
        return self

    def prior(self, X) -> np.ndarray:
        """``(N, C)`` location prior ``σ(s_c(x))`` (not normalised over classes)."""
        return _sigmoid(self._scores(self._query(X)))

    def rerank(self, image_probs, X) -> np.ndarray:
        """``(N, C)`` fused scores ``P(c | I)^image_weight · σ(s_c(x))`` (columns in ``classes_`` order)."""
        prior = self.prior(X)
        probs = np.asarray(image_probs, dtype=np.float64)
        if probs.shape != prior.shape:
            raise ValueError(f"image_probs must be (N, {prior.shape[1]}) with columns in classes_ order, got "
                             f"{probs.shape}")
        if not np.isfinite(probs).all() or (probs < 0).any():
            raise ValueError("image_probs must be finite and non-negative")
        return probs ** float(self.image_weight) * prior

    def predict_proba(self, X, image_probs=None) -> np.ndarray:
        """``(N, C)`` the prior (or, with ``image_probs``, the fused score) normalised over classes."""
        check_is_fitted(self, "model_")
        scores = self.prior(X) if image_probs is None else self.rerank(image_probs, X)
        total = scores.sum(axis=1, keepdims=True)
        return np.divide(scores, total, out=np.full_like(scores, 1.0 / scores.shape[1]), where=total > 0)

    def predict(self, X, image_probs=None) -> np.ndarray:
        """``(N,)`` the top-ranked class of the prior (or of the fused score with ``image_probs``)."""
        proba = self.predict_proba(X, image_probs)
        return self.classes_[np.argmax(proba, axis=1)]

    def score(self, X, y, image_probs=None, sample_weight=None) -> float:
        """Top-1 accuracy of :meth:`predict`."""
        y = _targets(y, len(self._query(X)), "score")
        hit = self.predict(X, image_probs) == y
        return float(np.average(hit, weights=sample_weight))

    def _grid_values(self, lonlat: np.ndarray) -> np.ndarray:
        return _sigmoid(self._scores(lonlat))


def _sigmoid(s: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * s))
