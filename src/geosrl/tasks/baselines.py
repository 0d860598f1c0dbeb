"""Baselines every location encoder must beat, run as rows of every benchmark table.

* ``majority`` — no location: the training split's class frequencies (classification; every row gets the
  same ranking), its mean (regression), or a constant score (presence-only, AUC ½).
* ``knn`` — the k nearest training points on the sphere (great-circle distance, through chord distances
  of unit vectors, which order neighbours identically): class vote shares (classification; the training
  frequencies break ties), the neighbours' mean (regression), or the presence share among the neighbours
  (presence-only, training presences against training background). ``k`` is chosen on the validation split
  from ``knn_k_grid`` by the task's primary metric, never on test.

Both return the same :class:`~geosrl.tasks.common.TaskResult` as the protocols, with the same test
metrics (and the same spatial metrics: geo-bias, worst region, Moran's I of residuals), so that
``summary.md`` can give every encoder's gain over ``knn`` and flag the encoders that do not beat it.
"""

from __future__ import annotations

import numpy as np

from .. import metrics as M
from ..metrics.spatial import spatial_metrics
from ..sphere import lonlat_to_xyz
from .common import TaskResult, Timer, subsample

__all__ = ["BASELINES", "run_baseline"]

BASELINES = ("majority", "knn")
_PRIMARY = {"classification": "top1", "regression": "r2", "presence_only": "auc"}


def _neighbours(train_xyz: np.ndarray, query_xyz: np.ndarray, k: int) -> np.ndarray:
    """``(M, k)`` indices of each query's ``k`` nearest training points (chord = great-circle order)."""
    from scipy.spatial import cKDTree

    k = min(int(k), len(train_xyz))
    _, idx = cKDTree(train_xyz).query(query_xyz, k=k)
    return np.asarray(idx).reshape(len(query_xyz), k)


def _class_scores(name: str, y_train: np.ndarray, nb: np.ndarray | None, n: int, num_classes: int) -> np.ndarray:
    """``(n, C)`` class scores: kNN vote shares + 1e-6 × the training frequencies (the tie-break)."""
    prior = np.bincount(y_train, minlength=num_classes) / max(len(y_train), 1)
    scores = np.tile(prior * 1e-6, (n, 1))
    if name == "knn":
        rows = np.repeat(np.arange(n), nb.shape[1])
        np.add.at(scores, (rows, y_train[nb].ravel()), 1.0 / nb.shape[1])
    else:
        scores += prior
    return scores


def _predict(name: str, kind: str, y_train: np.ndarray, nb: np.ndarray | None, n: int,
             num_classes: int | None) -> np.ndarray:
    """Class scores ``(n, C)`` (classification) or a value / score per row ``(n,)``."""
    if kind == "classification":
        return _class_scores(name, y_train, nb, n, int(num_classes))
    if name == "knn":
        return y_train[nb].mean(axis=1)
    return np.full(n, float(y_train.mean()) if kind == "regression" else 0.5)


def _metrics(kind: str, y: np.ndarray, pred: np.ndarray, num_classes: int | None) -> tuple[dict, dict]:
    """Test metrics and the per-sample pieces the spatial metrics need (hits or residuals)."""
    if kind == "classification":
        ranks = M.label_ranks(pred, y)
        out = M.classification_metrics(ranks, num_classes=num_classes)
        if num_classes == 2:
            out["auc"] = M.auc(y == 1, pred[:, 1] - pred[:, 0])
        return out, {"hit": ranks == 1, "pred": pred.argmax(1)}
    if kind == "regression":
        return M.regression_metrics(y, pred), {"residual": y - pred, "pred": pred}
    return {"auc": M.auc(y, pred)}, {"residual": y - pred, "pred": pred}


def run_baseline(data, name: str, split_name: str, idx: dict[str, np.ndarray], seed: int, cfg: dict) -> TaskResult:
    """Baseline ``name`` (``majority`` or ``knn``) on one split of ``data`` (see the module docstring)."""
    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; choose one of {list(BASELINES)}")
    kind, num_classes = data.kind, getattr(data, "num_classes", None)
    lonlat = np.asarray(data.lonlat, dtype=np.float64)
    y = np.asarray(data.target)
    y = (y > 0).astype(np.int64) if kind == "presence_only" else y
    y = y.astype(np.int64) if kind == "classification" else y
    ok = np.isfinite(lonlat).all(axis=1) & (np.isfinite(y) if kind == "regression" else True)
    rng = np.random.default_rng(seed)
    train = subsample(idx["train"][ok[idx["train"]]], cfg["max_train_samples"], rng)
    val, test = idx["val"][ok[idx["val"]]], idx["test"][ok[idx["test"]]]
    primary = _PRIMARY[kind]
    timer = Timer()
    xyz = lonlat_to_xyz(lonlat)
    grid = [int(k) for k in cfg["knn_k_grid"] if k <= len(train)] if name == "knn" else [None]
    trials = []
    with timer:
        for k in grid:
            nb = None if k is None else _neighbours(xyz[train], xyz[val], k)
            vm, _ = _metrics(kind, y[val], _predict(name, kind, y[train], nb, len(val), num_classes), num_classes)
            trials.append({"k": k, **vm})
    best = max(trials, key=lambda t: np.nan_to_num(t[primary], nan=-np.inf))  # first (smallest k) on ties
    k = best["k"]
    nb = None if k is None else _neighbours(xyz[train], xyz[test], k)
    pred = _predict(name, kind, y[train], nb, len(test), num_classes)
    metrics, parts = _metrics(kind, y[test], pred, num_classes)
    if "hit" in parts:
        marks, worst = np.where(parts["hit"], 1.0, -1.0), ("top1", parts["hit"].astype(np.float64), "mean", True)
        residual = (~parts["hit"]).astype(np.float64)
    else:
        err = np.abs(parts["residual"])
        marks, residual = np.where(err <= np.median(err), 1.0, -1.0), parts["residual"]
        worst = ("rmse", err ** 2, "rmse", False) if kind == "regression" else ("auc", (y[test], pred), "auc", True)
    metrics.update(spatial_metrics(lonlat[test], marks={"": marks}, cfg=cfg, seed=seed, worst={"": worst},
                                   residuals={"": residual})[""])
    if getattr(data, "images", None) is not None or getattr(data, "image_features", None) is not None:
        # image tasks: the protocols' plain names are image + location fusion; a baseline has no image
        metrics = {f"{key}_location_only": v for key, v in metrics.items()}
    preds = {"lon": lonlat[test, 0], "lat": lonlat[test, 1], "y_true": y[test], "y_pred": parts["pred"]}
    hp = {"protocol": f"baseline_{name}", "encoder": name, "split": split_name, "n_train": int(len(train)),
          "tuned": {} if k is None else {"k": k}, "k_grid": [t["k"] for t in trials]}
    return TaskResult(metrics={key: float(v) for key, v in metrics.items()},
                      val_metrics={key: v for key, v in best.items() if key != "k"}, predictions=preds,
                      chosen_hparams=hp, train_seconds=timer.seconds, info={"val_trials": trials})
