"""Regional scores and the spatial metrics of the protocols (geo-bias, worst region, Moran's I).

:func:`worst_region` scores equal-area HEALPix cells (``geosrl.splits.healpix_index``) and returns the
worst cell with at least ``min_count`` points; :func:`morans_i` is the global Moran's I of a per-sample
residual under binary k-nearest-neighbour weights on the sphere; :func:`spatial_metrics` computes all
of them (with :func:`~geosrl.metrics.geo_bias.geo_bias_ssi`) for each prediction variant of a task.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ..sphere import lonlat_to_xyz
from .geo_bias import _knn_excluding_self, geo_bias_ssi
from .ranking import auc
from .regression import r2

__all__ = ["morans_i", "spatial_metrics", "worst_region"]


def worst_region(
    lonlat: np.ndarray,
    per_sample: np.ndarray | Sequence[np.ndarray],
    reduce: str = "mean",
    higher_is_better: bool = True,
    nside: int | None = None,
    min_count: int = 30,
) -> tuple[float, int, int]:
    """Score each equal-area HEALPix cell and return the worst one.

    Args:
        lonlat: ``(N, 2)`` degrees (non-finite rows ignored).
        per_sample: for ``reduce="mean"``: ``(N,)`` per-sample values averaged per cell (hit@1 for
            top-1, |error| for MAE); ``"rmse"``: ``(N,)`` squared errors → √mean per cell;
            ``"auc"``: a pair ``(labels, scores)`` → AUC per cell (cells need both classes);
            ``"r2"``: a pair ``(y_true, y_pred)`` → R² per cell.
        reduce: ``"mean"``, ``"rmse"``, ``"auc"`` or ``"r2"``.
        higher_is_better: pick the minimum (True) or the maximum (False) cell score.
        nside: HEALPix resolution (4 → 192 cells of ≈ 1630 km side); ``None`` = the finest of
            16, 8, 4, 2, 1 at which at least half of the points lie in cells holding ≥ ``min_count``
            points (a function of the locations only, so equal for every model on one test set).
        min_count: cells with fewer points are not scored.

    Returns:
        ``(score, cell_id, count)``; ``(nan, -1, 0)`` when no cell qualifies.
    """
    from ..splits import healpix_index

    lonlat = np.asarray(lonlat, dtype=np.float64)
    finite = np.isfinite(lonlat).all(axis=1)
    if not finite.any():
        return float("nan"), -1, 0
    if nside is None:
        for nside in (16, 8, 4, 2, 1):
            _, cnt = np.unique(healpix_index(lonlat[finite], nside), return_counts=True)
            if cnt[cnt >= min_count].sum() >= 0.5 * finite.sum():
                break
    uniq, inv, counts = np.unique(healpix_index(lonlat[finite], nside), return_inverse=True, return_counts=True)
    if reduce in ("mean", "rmse"):
        v = np.asarray(per_sample, dtype=np.float64)[finite]
        sums = np.bincount(inv, weights=v, minlength=len(uniq))
        scores = sums / counts
        if reduce == "rmse":
            scores = np.sqrt(scores)
    elif reduce in ("auc", "r2"):
        a, b = (np.asarray(x)[finite] for x in per_sample)
        order = np.argsort(inv, kind="stable")
        bounds = np.concatenate([[0], np.cumsum(counts)])
        fn = auc if reduce == "auc" else r2
        scores = np.array([fn(a[order[bounds[i]:bounds[i + 1]]], b[order[bounds[i]:bounds[i + 1]]])
                           for i in range(len(uniq))])  # loop over cells (≤ 12·nside²), not samples
    else:
        raise ValueError(f"reduce must be mean, rmse, auc or r2, got {reduce!r}")
    ok = (counts >= min_count) & np.isfinite(scores)
    if not ok.any():
        return float("nan"), -1, 0
    cand = np.where(ok)[0]
    j = cand[np.argmin(scores[cand])] if higher_is_better else cand[np.argmax(scores[cand])]
    return float(scores[j]), int(uniq[j]), int(counts[j])


def morans_i(values: np.ndarray, lonlat: np.ndarray, k: int = 8) -> float:
    """Global Moran's I of ``values`` under binary k-nearest-neighbour weights on the sphere.

    ``I = (N/S₀) Σᵢⱼ wᵢⱼ xᵢ xⱼ / Σᵢ xᵢ²`` with ``x = v − v̄``, ``wᵢⱼ = 1`` if j is one of i's k nearest
    neighbours (self excluded; great-circle distance), ``S₀ = Σwᵢⱼ = N·k``. Under no spatial
    autocorrelation ``E[I] = −1/(N−1)``; positive = similar residuals cluster.

    Args:
        values: ``(N,)`` per-sample residuals (y − ŷ; for classification the error indicator).
        lonlat: ``(N, 2)`` degrees; rows with non-finite coordinates or values are dropped.
        k: neighbours per point.

    Returns:
        Moran's I; NaN with fewer than ``k + 2`` points or constant values.
    """
    v = np.asarray(values, dtype=np.float64).ravel()
    lonlat = np.asarray(lonlat, dtype=np.float64)
    ok = np.isfinite(lonlat).all(axis=1) & np.isfinite(v)
    v, lonlat = v[ok], lonlat[ok]
    n = len(v)
    if n < k + 2:
        return float("nan")
    x = v - v.mean()
    denom = float(np.sum(x * x))
    if denom == 0.0:
        return float("nan")
    nb = _knn_excluding_self(lonlat_to_xyz(lonlat), k)
    num = float(np.sum(x * x[nb].sum(axis=1)))
    return (n / (n * nb.shape[1])) * num / denom


def spatial_metrics(
    lonlat: np.ndarray,
    marks: dict[str, np.ndarray],
    cfg: dict,
    seed: int,
    worst: dict[str, tuple] | None = None,
    residuals: dict[str, np.ndarray] | None = None,
) -> dict[str, dict[str, float]]:
    """Geo-bias, worst-region and Moran's I metrics of each prediction variant.

    Args:
        lonlat: ``(N, 2)`` evaluation locations.
        marks: variant suffix (``""``, ``"_image_only"``, …) → ``(N,)`` ±1 marks.
        cfg: resolved task config (:func:`geosrl.tasks.common.resolve_config`): ``geo_bias``, ``ssi``
            (keyword arguments of :func:`~geosrl.metrics.geo_bias.geo_bias_ssi`; ``isolated`` defaults to
            ``"score"`` here when absent, the behaviour before issue 10), ``worst_region``, ``morans_k``.
        seed: seed of the centre subsample.
        worst: variant → ``(metric_name, per_sample, reduce, higher_is_better)``.
        residuals: variant → ``(N,)`` residuals for Moran's I.

    Returns:
        variant → ``{metric: value}`` with ``ssi_unmarked, ssi_marked, ssi_local_marks`` (the geo-bias to
        rank: see :class:`~geosrl.metrics.geo_bias.SSIResult`), ``ssi_*_cap_frac,
        ssi_*_degenerate_frac, ssi_isolated_frac`` (share of centres with no neighbour within the radius,
        left out of the score), ``ssi_radius_km`` (the radius used: ``ssi.radius_km``, or chosen from the
        test points when it is ``"auto"``), ``worst_region_<metric>, morans_i_residual``.
        ``ssi_unmarked``, ``ssi_isolated_frac`` and ``ssi_radius_km`` depend only on the point pattern, so
        they are equal across variants and encoders (report them, never rank them).
    """
    out: dict[str, dict[str, float]] = {v: {} for v in marks}
    if not cfg["geo_bias"]:
        return out
    sc = dict(cfg["ssi"])
    # a task config from before issue 10 (no ``isolated`` key, radius 100 km) keeps PyGBS's scoring of
    # isolated centres, so its numbers do not change; the new settings are radius_km "auto", "exclude"
    sc.setdefault("isolated", "score")
    variants = list(marks)
    mk = np.stack([np.asarray(marks[v], dtype=np.float64) for v in variants], axis=1)
    res = geo_bias_ssi(lonlat, marks=mk, seed=seed, **sc)  # one pass: W is shared by all values
    for j, v in enumerate(variants):
        o = out[v]
        o["ssi_unmarked"] = res.unmarked
        o["ssi_marked"] = float(res.marked[j])
        o["ssi_unmarked_cap_frac"] = res.cap_frac_unmarked
        o["ssi_marked_cap_frac"] = float(res.cap_frac_marked[j])
        o["ssi_unmarked_degenerate_frac"] = res.degenerate_frac_unmarked
        o["ssi_marked_degenerate_frac"] = float(res.degenerate_frac_marked[j])
        o["ssi_local_marks"] = float(res.local_marks[j])
        o["ssi_isolated_frac"] = res.isolated_frac
        o["ssi_radius_km"] = float(res.params["radius_km"])
    wr = cfg["worst_region"]
    for v, (name, per_sample, reduce, hib) in (worst or {}).items():
        val, _, _ = worst_region(lonlat, per_sample, reduce=reduce, higher_is_better=hib,
                                 nside=None if wr["nside"] is None else int(wr["nside"]), min_count=int(wr["min_count"]))
        out[v][f"worst_region_{name}"] = val
    for v, r in (residuals or {}).items():
        out[v]["morans_i_residual"] = morans_i(r, lonlat, k=int(cfg["morans_k"]))
    return out
