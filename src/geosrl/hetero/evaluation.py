"""Region-level evaluation: did the heterogeneity-aware model help, where, and by how much?

:func:`region_scores` scores predictions per region; :func:`compare_to_baseline` puts a model next
to a baseline on the same regions (global score of each, per-region scores, worst region, share of
regions improved, a paired test over regions) — the numbers the experiments report.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["region_scores", "compare_to_baseline", "score"]


def score(y_true: np.ndarray, y_pred: np.ndarray, task: str) -> float:
    """R² (regression) or top-1 accuracy (classification); NaN for empty input or constant y (R²)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if len(y_true) == 0:
        return float("nan")
    if task == "classification":
        return float(np.mean(y_true == y_pred))
    y_true, y_pred = y_true.astype(np.float64), y_pred.astype(np.float64)
    ss = float(((y_true - y_true.mean()) ** 2).sum())
    return float("nan") if ss == 0 else 1.0 - float(((y_true - y_pred) ** 2).sum()) / ss


def region_scores(y_true, y_pred, regions, task: str, min_count: int = 20, metric: str | None = None) -> dict:
    """Per-region scores.

    Args:
        y_true, y_pred: ``(N,)``; regions: ``(N,)`` int region ids (any labelling, e.g. HEALPix cells).
        task: ``"regression"`` or ``"classification"``.
        min_count: regions with fewer samples are skipped.
        metric: ``"r2"``, ``"rmse"``, ``"mae"`` (regression; default ``"rmse"``, which unlike R² is
            comparable across regions with different variance) or ``"top1"`` (classification).
    Returns:
        ``{"regions": (R,) ids, "counts": (R,), "scores": (R,), "higher_is_better": bool}``.
    """
    y_true, y_pred, regions = np.asarray(y_true), np.asarray(y_pred), np.asarray(regions)
    metric = metric or ("top1" if task == "classification" else "rmse")
    ids, counts = np.unique(regions, return_counts=True)
    keep = counts >= min_count
    out = []
    for r in ids[keep]:
        m = regions == r
        if metric == "top1":
            out.append(float(np.mean(y_true[m] == y_pred[m])))
        elif metric == "r2":
            out.append(score(y_true[m], y_pred[m], "regression"))
        elif metric == "rmse":
            out.append(float(np.sqrt(np.mean((y_true[m].astype(float) - y_pred[m]) ** 2))))
        elif metric == "mae":
            out.append(float(np.mean(np.abs(y_true[m].astype(float) - y_pred[m]))))
        else:
            raise ValueError(f"unknown metric {metric!r}")
    return {"regions": ids[keep], "counts": counts[keep], "scores": np.array(out),
            "higher_is_better": metric in ("top1", "r2"), "metric": metric}


def compare_to_baseline(y_true, y_model, y_base, regions, task: str, min_count: int = 20,
                        metric: str | None = None) -> dict:
    """Model vs baseline on the same evaluation regions.

    Returns:
        ``{"metric", "n_regions", "model_worst", "base_worst", "model_mean", "base_mean",
        "share_improved", "wilcoxon_p"}`` where ``share_improved`` is the fraction of regions where the
        model scores strictly better and ``wilcoxon_p`` the two-sided signed-rank p-value over regions.
    """
    a = region_scores(y_true, y_model, regions, task, min_count, metric)
    b = region_scores(y_true, y_base, regions, task, min_count, metric)
    sa, sb = a["scores"], b["scores"]
    ok = np.isfinite(sa) & np.isfinite(sb)
    sa, sb = sa[ok], sb[ok]
    hib = a["higher_is_better"]
    better = sa > sb if hib else sa < sb
    worst = (lambda s: float(np.min(s))) if hib else (lambda s: float(np.max(s)))
    diff = sa - sb
    p = float(stats.wilcoxon(diff).pvalue) if len(diff) >= 2 and np.any(diff != 0) else float("nan")
    return {
        "metric": a["metric"], "n_regions": int(len(sa)),
        "model_worst": worst(sa) if len(sa) else float("nan"), "base_worst": worst(sb) if len(sb) else float("nan"),
        "model_mean": float(np.mean(sa)) if len(sa) else float("nan"),
        "base_mean": float(np.mean(sb)) if len(sb) else float("nan"),
        "share_improved": float(np.mean(better)) if len(sa) else float("nan"),
        "wilcoxon_p": p,
    }
