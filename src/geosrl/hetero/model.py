"""The heterogeneity-aware estimator and its partitioned baselines (scikit-learn style).

``HeterogeneityAwareModel`` = a frozen geosrl location encoder (shared representation) + a head
fitted **per region** on ``[standardised embedding, standardised features]`` + a partition of the
study area into regions. With ``head="linear"`` the head is linear in the features within a region,
so an interaction between location and features (a coefficient that changes across space) can
only be captured by the partition — as in STAR.

Partitions (``partition=``):

* ``"split_test"`` (default): data-driven hierarchical bi-partitioning with a held-out paired test
  (:mod:`geosrl.hetero.region_tree`) over cells of ``cell_grid``/``cell_resolution``.
* ``"zones"``: fixed zones, one model per zone (SVANN-like): HEALPix/H3 cells at
  ``zone_resolution``, or ``zones=[shapely polygons]``. Zones with fewer than ``min_region_size``
  training samples, and zones without training data at prediction time, are served by the global
  model (region ``"rest"``). Zone models are warm-started from (shrunk toward) the global model.
* ``"global"``: one model everywhere (baseline).

Prediction uses the cell → region lookup of :class:`geosrl.hetero.partition.Partition` (unseen
cells: nearest training cell for split-and-test, ``"rest"`` for zones). Borders are hard by
default; ``blend_k > 0`` mixes the models of the regions of the ``blend_k`` nearest training cells
with Gaussian weights of bandwidth ``blend_km`` (default: one cell side).
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch

from ..encoders import create_positional_encoding, embed_locations
from .cells import CellGrid, PolygonZones, make_cells
from .heads import Head, MLPHead, RandomFeatureHead, make_head, n_parameters, single_thread
from ..sphere import lonlat_to_xyz
from ..coords import as_lonlat
from .inputs import check_features, check_target, infer_task
from .partition import Partition, cell_centroids
from .region_tree import RegionNode, grow_split_test, refit_tree

__all__ = ["HeterogeneityAwareModel", "GlobalModel", "FixedZoneModel", "PARTITIONS", "equal_capacity_global"]

PARTITIONS = ("split_test", "zones", "global")


class HeterogeneityAwareModel:
    """Region-specific heads on a shared location representation.

    Args:
        encoder: name of a geosrl position encoding (``geosrl.list_encoders()``; built with
            ``geosrl.create_positional_encoding(encoder, **encoder_kwargs)``) or any ``nn.Module``
            mapping ``(..., 2)`` (lon, lat) degrees → ``(..., E)`` (e.g. ``geosrl.create_encoder(...)``
            or a pretrained encoder). The encoder is frozen; its output columns are standardised.
        head: ``"linear"`` (ridge regression / multinomial logistic regression, closed form or
            L-BFGS), ``"mlp"`` or a :class:`~geosrl.hetero.heads.Head` instance.
        partition: ``"split_test"``, ``"zones"`` or ``"global"`` (module docstring).
        alpha: significance level of each split test (one-sided).
        min_region_size: minimum training samples per region (split children; zones below it
            fall back to the global model).
        max_depth: maximum split depth (``2**max_depth`` regions at most).
        task: ``"regression"``, ``"classification"`` or None (float ``y`` → regression; int, bool or
            string labels → classification).
        encoder_kwargs, head_kwargs: passed to the encoder / head constructors.
        cell_grid, cell_resolution: minimal spatial units of split-and-test (HEALPix ``nside``, default
            16 ≈ 407 km cells, or H3 resolution).
        zones, zone_resolution: fixed zones as polygons, or the HEALPix/H3 resolution of zone cells
            (default nside 4 ≈ 1630 km).
        val_fraction: share of training samples held out (seeded) for the split tests.
        test_method: ``"cluster_t"``, ``"sample"`` or ``"wilcoxon"`` (:func:`~geosrl.hetero.stats.paired_split_test`).
        min_effect: minimum relative held-out loss improvement for a split (STAR's effect threshold).
        n_refine: coordinate-ascent rounds per split.
        smooth_k: neighbourhood size (cells) for the split search (:func:`~geosrl.hetero.region_tree.grow_split_test`).
        null: ``"bootstrap"`` (default: each split's p-value from ``n_null`` parametric-bootstrap reruns of
            the search under the no-split model, stopped after ``null_stop`` null statistics reach the
            observed one) or ``"t"`` (the analytic paired test, not calibrated for the search).
        fresh_heldout: one disjoint held-out fold per depth (True) or the same held-out samples at
            every depth.
        refit: after growing, refit every region on all its training samples (fit + held-out).
        blend_k, blend_km: optional soft borders (``blend_k = 0``: hard borders).
        batch_size: encoder batch size.
        seed: seeds the held-out split, the split search and MLP heads.

    Attributes after ``fit``: ``task_``, ``classes_`` (classification), ``n_regions_``,
    ``region_names_`` (STAR branch ids or zone names), ``partition_`` (:class:`Partition`),
    ``tree_`` (``{name: RegionNode}``, split-and-test), ``split_log_`` (list of node summaries),
    ``region_heads_`` (one fitted head per region), ``n_features_in_``.
    """

    def __init__(self, encoder="sphere2vec_spherec_plus", head="linear", partition: str = "split_test",
                 alpha: float = 0.05, min_region_size: int = 100, max_depth: int = 4, *, task: str | None = None,
                 encoder_kwargs: dict | None = None, head_kwargs: dict | None = None, cell_grid: str = "healpix",
                 cell_resolution: int = 16, zones=None, zone_resolution: int = 4, val_fraction: float = 0.3,
                 test_method: str = "cluster_t", min_effect: float = 0.0, n_refine: int = 5, smooth_k: int = 8,
                 null: str = "bootstrap", n_null: int = 99, null_stop: int = 10, fresh_heldout: bool = True,
                 refit: bool = True,
                 blend_k: int = 0, blend_km: float | None = None, batch_size: int = 16384, seed: int = 0):
        self.encoder = encoder
        self.head = head
        self.partition = partition
        self.alpha = alpha
        self.min_region_size = min_region_size
        self.max_depth = max_depth
        self.task = task
        self.encoder_kwargs = encoder_kwargs
        self.head_kwargs = head_kwargs
        self.cell_grid = cell_grid
        self.cell_resolution = cell_resolution
        self.zones = zones
        self.zone_resolution = zone_resolution
        self.val_fraction = val_fraction
        self.test_method = test_method
        self.min_effect = min_effect
        self.n_refine = n_refine
        self.smooth_k = smooth_k
        self.null = null
        self.n_null = n_null
        self.null_stop = null_stop
        self.fresh_heldout = fresh_heldout
        self.refit = refit
        self.blend_k = blend_k
        self.blend_km = blend_km
        self.batch_size = batch_size
        self.seed = seed

    # ------------------------------------------------------------------ helpers
    def _check_params(self) -> None:
        if self.partition not in PARTITIONS:
            raise ValueError(f"partition must be one of {PARTITIONS}, got {self.partition!r}")
        if not 0.0 < float(self.alpha) < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        if int(self.min_region_size) < 1:
            raise ValueError(f"min_region_size must be >= 1, got {self.min_region_size}")
        if int(self.max_depth) < 0:
            raise ValueError(f"max_depth must be >= 0, got {self.max_depth}")
        if not 0.0 < float(self.val_fraction) < 1.0:
            raise ValueError(f"val_fraction must be in (0, 1), got {self.val_fraction}")
        if int(self.blend_k) < 0:
            raise ValueError(f"blend_k must be >= 0, got {self.blend_k}")
        if self.null not in ("bootstrap", "t"):
            raise ValueError(f"null must be 'bootstrap' or 't', got {self.null!r}")
        if int(self.n_null) < 1 or int(self.null_stop) < 1:
            raise ValueError(f"n_null and null_stop must be >= 1, got {self.n_null} and {self.null_stop}")
        if self.null == "bootstrap" and 1.0 / (int(self.n_null) + 1) >= float(self.alpha):
            raise ValueError(f"n_null = {self.n_null} bootstrap replicates cannot give a p-value below alpha = "
                             f"{self.alpha} (the smallest is 1/(n_null + 1)); raise n_null to at least "
                             f"{math.ceil(1.0 / float(self.alpha))}")

    def _build_encoder(self) -> torch.nn.Module:
        if isinstance(self.encoder, torch.nn.Module):
            return self.encoder.eval()
        if isinstance(self.encoder, str):
            return create_positional_encoding(self.encoder, **(self.encoder_kwargs or {}))
        raise TypeError(f"encoder must be an encoder name or an nn.Module, got {type(self.encoder).__name__}")

    def _raw_embed(self, lonlat: np.ndarray) -> np.ndarray:
        params = list(self.encoder_.parameters())
        dtype = params[0].dtype if params else torch.float64
        if len(lonlat) == 0:
            return np.zeros((0, 0))
        with single_thread():
            emb = embed_locations(self.encoder_, torch.as_tensor(lonlat, dtype=dtype), int(self.batch_size))
        return emb.reshape(len(lonlat), -1).double().cpu().numpy()

    def _design(self, lonlat: np.ndarray, features: np.ndarray | None) -> np.ndarray:
        E = (self._raw_embed(lonlat) - self.emb_mean_) / self.emb_std_
        if features is None:
            return E
        return np.concatenate([E, (features - self.feat_mean_) / self.feat_std_], axis=1)

    @staticmethod
    def _std(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        m, s = a.mean(axis=0), a.std(axis=0)
        return m, np.where(s > 1e-12, s, 1.0)

    # ------------------------------------------------------------------ fit
    def fit(self, lonlat, y, features=None) -> "HeterogeneityAwareModel":
        """Fit the partition and the region heads.

        Args:
            lonlat: ``(N, 2)`` (lon, lat) degrees (array or tensor).
            y: ``(N,)`` float targets (regression) or class labels (classification).
            features: optional ``(N, F)`` extra covariates (float; standardised internally).
        Returns:
            self.
        Raises:
            ValueError: mismatched lengths, NaN/inf in y or features, invalid coordinates
                (:class:`geosrl.CoordinateError`), fewer than 2 classes, or (``"split_test"``)
                fewer than ``2 * min_region_size`` samples — too few to split.
        """
        self._check_params()
        lonlat = as_lonlat(lonlat)
        n = len(lonlat)
        task = infer_task(np.asarray(y.detach().cpu().numpy() if hasattr(y, "detach") else y), self.task)
        y = check_target(y, n, task)
        features = check_features(features, n)
        if n == 0:
            raise ValueError("cannot fit on zero samples")
        if self.partition == "split_test" and n < 2 * int(self.min_region_size):
            raise ValueError(
                f"too few samples to split: partition='split_test' needs at least 2 * min_region_size = "
                f"{2 * int(self.min_region_size)} training samples, got {n}; lower min_region_size or use "
                "partition='global'")
        self.task_ = task
        if task == "classification":
            self.classes_, yk = np.unique(y, return_inverse=True)
            if len(self.classes_) < 2:
                raise ValueError(f"classification needs at least 2 classes in y, got {len(self.classes_)}")
            yk = yk.astype(np.int64)
            n_classes = len(self.classes_)
        else:
            self.y_mean_, self.y_std_ = float(y.mean()), float(y.std()) if y.std() > 0 else 1.0
            yk = (y - self.y_mean_) / self.y_std_
            n_classes = None
        self.n_features_in_ = 0 if features is None else features.shape[1]

        self.encoder_ = self._build_encoder()
        E = self._raw_embed(lonlat)
        self.emb_mean_, self.emb_std_ = self._std(E)
        if features is not None:
            self.feat_mean_, self.feat_std_ = self._std(features)
        X = self._design(lonlat, features)
        self.head_ = make_head(self.head, task, n_classes, self.head_kwargs, int(self.seed))
        xyz = lonlat_to_xyz(lonlat)

        self.tree_: dict[str, RegionNode] = {}
        if self.partition == "global":
            self._fit_global(lonlat, X, yk, xyz)
        elif self.partition == "zones":
            self._fit_zones(lonlat, X, yk, xyz)
        else:
            self._fit_split_test(lonlat, X, yk, xyz)
        self.n_regions_ = self.partition_.n_regions
        self.region_names_ = list(self.partition_.region_names)
        return self

    def _fit_global(self, lonlat, X, yk, xyz) -> None:
        cells = CellGrid(self.cell_grid, self.cell_resolution)
        head = self.head_.clone().fit(X, yk, prior=None)
        cid = cells.ids(lonlat)
        uniq, cen, _ = cell_centroids(xyz, cid)
        self.partition_ = Partition(cells, uniq, np.zeros(len(uniq), dtype=np.int64), cen, ["global"], fallback=0)
        self.region_heads_ = [head]
        self.tree_ = {"": RegionNode("", 0, np.arange(len(yk)), head, reason="global")}
        self.split_log_ = [self.tree_[""].summary()]

    def _fit_zones(self, lonlat, X, yk, xyz) -> None:
        cells = PolygonZones(self.zones) if self.zones is not None else CellGrid(self.cell_grid, self.zone_resolution)
        cid = cells.ids(lonlat)
        uniq, cen, counts = cell_centroids(xyz, cid)
        glob = self.head_.clone().fit(X, yk, prior=None)
        big = np.where(counts >= int(self.min_region_size))[0]
        names, heads = [], []
        cell_region = np.empty(len(uniq), dtype=np.int64)
        inv = np.searchsorted(uniq, cid)
        for r, c in enumerate(big):
            m = inv == c
            heads.append(self.head_.clone().fit(X[m], yk[m], prior=glob))
            names.append(f"zone:{int(uniq[c])}")
            cell_region[c] = r
        rest = len(big)
        names.append("rest")
        heads.append(glob)
        small = np.setdiff1d(np.arange(len(uniq)), big)
        cell_region[small] = rest
        self.partition_ = Partition(cells, uniq, cell_region, cen, names, fallback=rest)
        self.region_heads_ = heads
        self.tree_ = {"": RegionNode("", 0, np.arange(len(yk)), glob, reason="fixed zones")}
        self.split_log_ = [{"name": names[r], "n_train": int(counts[c])} for r, c in enumerate(big)]
        self.split_log_.append({"name": "rest", "n_train": int(counts[small].sum()), "n_zones": int(len(small))})

    def _fit_split_test(self, lonlat, X, yk, xyz) -> None:
        cells = CellGrid(self.cell_grid, self.cell_resolution)
        cid = cells.ids(lonlat)
        rng = np.random.default_rng(int(self.seed))
        n = len(yk)
        fit_mask = np.ones(n, dtype=bool)
        fit_mask[rng.permutation(n)[: int(round(float(self.val_fraction) * n))]] = False
        nodes = grow_split_test(X, yk, cid, xyz, fit_mask, self.head_, alpha=float(self.alpha),
                                min_region_size=int(self.min_region_size), max_depth=int(self.max_depth),
                                n_refine=int(self.n_refine), test_method=self.test_method,
                                min_effect=float(self.min_effect), smooth_k=int(self.smooth_k),
                                seed=int(self.seed), null=self.null, n_null=int(self.n_null),
                                null_stop=int(self.null_stop), fresh_heldout=bool(self.fresh_heldout))
        if self.refit:
            refit_tree(nodes, X, yk, self.head_)
        leaves = sorted(nm for nm, nd in nodes.items() if nd.is_leaf)
        uniq, cen, _ = cell_centroids(xyz, cid)
        cell_region = np.full(len(uniq), -1, dtype=np.int64)
        for r, nm in enumerate(leaves):
            cell_region[np.searchsorted(uniq, np.unique(cid[nodes[nm].idx]))] = r
        if (cell_region < 0).any():  # cannot happen: leaves partition the samples
            raise RuntimeError("internal error: a training cell belongs to no region")
        self.partition_ = Partition(cells, uniq, cell_region, cen, [nm or "root" for nm in leaves], fallback="nearest")
        self.region_heads_ = [nodes[nm].head for nm in leaves]
        self.tree_ = nodes
        self.split_log_ = [nodes[nm].summary() for nm in sorted(nodes, key=lambda s: (len(s), s))]

    # ------------------------------------------------------------------ adapt
    def adapt(self, lonlat, y, features=None, prior: str = "root", name: str = "adapted",
              transfer: str = "all") -> "HeterogeneityAwareModel":
        """Few-label adaptation to a new area (e.g. another continent): add one region for it.

        The cells of the new labelled locations become a new region whose head is fitted on these
        labels, warm-started from (shrunk toward) the source model: ``prior="root"`` — the model fitted
        on all source data; ``"nearest"`` — the head of the source region that most of the new
        locations map to. Other regions are unchanged. New locations whose cells held source
        training data are moved to the new region as well (their cells are reassigned). Unseen cells
        then follow the nearest training cell, now including the new ones (for fixed zones the
        adapted cells are added as a zone; unseen cells still go to ``"rest"``). The encoder,
        standardisation and classes are kept (labels unseen in the source are rejected).

        Args:
            lonlat: ``(M, 2)`` degrees; y: ``(M,)``; features: ``(M, F)`` if the model uses features.
            prior: ``"root"`` or ``"nearest"``.
            name: name of the new region.
            transfer: ``"all"`` — shrink every weight toward the prior head; ``"features"`` — shrink
                only the feature coefficients toward it and the location-embedding weights toward 0
                (location-specific weights rarely transfer to another continent; the relationship to
                the covariates may). ``"features"`` needs a linear head.
        Returns:
            self (modified in place), with ``n_regions_`` increased by one.
        """
        self._check_fitted()
        if prior not in ("root", "nearest"):
            raise ValueError(f"prior must be 'root' or 'nearest', got {prior!r}")
        lonlat = as_lonlat(lonlat)
        y = check_target(y, len(lonlat), self.task_)
        features = check_features(features, len(lonlat), self.n_features_in_ or None)
        if len(lonlat) == 0:
            raise ValueError("adapt needs at least one labelled location")
        if self.task_ == "classification":
            unknown = ~np.isin(y, self.classes_)
            if unknown.any():
                raise ValueError(f"adapt: labels not seen in fit: {np.unique(y[unknown])[:5].tolist()}")
            yk = np.searchsorted(self.classes_, y)
        else:
            yk = (y - self.y_mean_) / self.y_std_
        X = self._design(lonlat, features)
        if prior == "root":
            base = self.tree_[""].head
        else:
            base = self.region_heads_[int(np.bincount(self.partition_.regions(lonlat)).argmax())]
        if transfer == "features":
            if getattr(base, "coef_", None) is None:
                raise ValueError("transfer='features' needs a linear head (coef_)")
            base = copy.deepcopy(base)
            base.coef_[: len(self.emb_mean_)] = 0.0
        elif transfer != "all":
            raise ValueError(f"transfer must be 'all' or 'features', got {transfer!r}")
        head = self.head_.clone().fit(X, yk, prior=base)
        P = self.partition_
        xyz = lonlat_to_xyz(lonlat)
        cid = P.cell_of(lonlat)
        new_ids, new_cen, _ = cell_centroids(xyz, cid)
        r_new = P.n_regions
        keep = ~np.isin(P.cell_ids, new_ids)
        ids = np.concatenate([P.cell_ids[keep], new_ids])
        reg = np.concatenate([P.cell_region[keep], np.full(len(new_ids), r_new)])
        cen = np.concatenate([P.cell_xyz[keep], new_cen])
        order = np.argsort(ids, kind="stable")
        self.partition_ = Partition(P.cells, ids[order], reg[order], cen[order], P.region_names + [name],
                                    fallback=P.fallback)
        self.region_heads_ = list(self.region_heads_) + [head]
        self.n_regions_ = self.partition_.n_regions
        self.region_names_ = list(self.partition_.region_names)
        return self

    # ------------------------------------------------------------------ predict
    def _check_fitted(self) -> None:
        if not hasattr(self, "partition_"):
            raise RuntimeError("this model is not fitted yet; call fit(lonlat, y, features) first")

    def regions(self, lonlat) -> np.ndarray:
        """``(N,)`` int64 region id in ``[0, n_regions_)`` of each location (hard lookup; names in
        ``region_names_``). Every location gets exactly one region, seen or unseen."""
        self._check_fitted()
        return self.partition_.regions(as_lonlat(lonlat))

    def _raw_predict(self, lonlat, features) -> np.ndarray:
        self._check_fitted()
        lonlat = as_lonlat(lonlat)
        features = check_features(features, len(lonlat), self.n_features_in_ or None)
        X = self._design(lonlat, features)
        k = 1 if self.task_ == "regression" else len(self.classes_)
        out = np.zeros((len(lonlat), k))
        if int(self.blend_k) > 0 and self.n_regions_ > 1:
            h = float(self.blend_km) if self.blend_km is not None else float(self.partition_.cells.side_km)
            reg, w = self.partition_.blend_weights(lonlat, int(self.blend_k), h)
            for r in np.unique(reg[w > 0]):
                wr = (w * (reg == r)).sum(axis=1)
                m = wr > 0
                p = self.region_heads_[r].predict(X[m])
                out[m] += wr[m, None] * (p[:, None] if p.ndim == 1 else p)
        else:
            reg = self.partition_.regions(lonlat)
            for r in np.unique(reg):
                m = reg == r
                p = self.region_heads_[r].predict(X[m])
                out[m] = p[:, None] if p.ndim == 1 else p
        return out

    def predict(self, lonlat, features=None) -> np.ndarray:
        """Predictions ``(N,)``: target values (regression, original units) or class labels."""
        out = self._raw_predict(lonlat, features)
        if self.task_ == "regression":
            return out[:, 0] * self.y_std_ + self.y_mean_
        return self.classes_[np.argmax(out, axis=1)]

    def predict_proba(self, lonlat, features=None) -> np.ndarray:
        """``(N, K)`` class probabilities, columns in ``classes_`` order (classification only)."""
        self._check_fitted()
        if self.task_ != "classification":
            raise ValueError("predict_proba is only available for classification")
        return self._raw_predict(lonlat, features)

    def __repr__(self) -> str:
        enc = self.encoder if isinstance(self.encoder, str) else type(self.encoder).__name__
        return (f"{type(self).__name__}(encoder={enc!r}, head={self.head!r}, partition={self.partition!r}, "
                f"alpha={self.alpha}, min_region_size={self.min_region_size}, max_depth={self.max_depth})")


class GlobalModel(HeterogeneityAwareModel):
    """Baseline: one head everywhere (``partition="global"``); same encoder, head and API."""

    def __init__(self, encoder="sphere2vec_spherec_plus", head="linear", **kwargs):
        kwargs.pop("partition", None)
        super().__init__(encoder=encoder, head=head, partition="global", **kwargs)


class FixedZoneModel(HeterogeneityAwareModel):
    """Baseline: one head per predefined zone (SVANN-like; ``partition="zones"``).

    ``zones``: shapely polygons in (lon, lat) degrees, or None for grid cells at ``zone_resolution``
    (HEALPix nside by default, ``cell_grid="h3"`` for H3). Zones with fewer than
    ``min_region_size`` training samples use the global model.
    """

    def __init__(self, encoder="sphere2vec_spherec_plus", head="linear", zones=None, zone_resolution: int = 4,
                 **kwargs):
        kwargs.pop("partition", None)
        super().__init__(encoder=encoder, head=head, partition="zones", zones=zones,
                         zone_resolution=zone_resolution, **kwargs)


def equal_capacity_global(model: HeterogeneityAwareModel, lonlat, y, features=None) -> GlobalModel:
    """A global model with as many free parameters as all regions of a fitted ``model`` together.

    The comparator a partition must beat to show that it models heterogeneity rather than capacity:
    same encoder, standardisation and training data, no partition. Linear heads get
    ``(n_regions − 1)·(D + 1)`` random ReLU features (:class:`~geosrl.hetero.heads.RandomFeatureHead`,
    so ``(D + 1 + extra)·K = n_regions·(D + 1)·K`` weights); an MLP head gets a hidden layer widened
    to the same parameter count.

    Args:
        model: a fitted :class:`HeterogeneityAwareModel`; lonlat, y, features: its training data.
    Returns:
        the fitted comparator (``comparator.n_parameters_`` and ``model``'s total are equal up to rounding).
    """
    model._check_fitted()
    total = sum(n_parameters(h) for h in model.region_heads_)
    template = model.head_
    if isinstance(template, MLPHead):
        d = model.region_heads_[0].net_[0].in_features
        k = template._out()
        head: Head = template.clone()
        head.hidden = max(1, int(round((total - k) / (d + 1 + k))))
    else:
        d = len(model.emb_mean_) + model.n_features_in_
        n_extra = (model.n_regions_ - 1) * (d + 1)
        head = RandomFeatureHead(template, n_extra, seed=int(model.seed))
    comp = GlobalModel(encoder=model.encoder_, head=head, task=model.task_, batch_size=model.batch_size,
                       seed=model.seed, cell_grid=model.cell_grid, cell_resolution=model.cell_resolution)
    comp.fit(lonlat, y, features)
    comp.n_parameters_ = sum(n_parameters(h) for h in comp.region_heads_)
    return comp
