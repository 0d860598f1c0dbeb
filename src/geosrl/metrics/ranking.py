"""Ranking metrics (reference §8) and ROC AUC.

The rank of the true class is ``r_i ∈ {1, …, C}`` under a **stable descending sort**: ``r_i = 1 +
#{c : s_c > s_y} + #{c < y : s_c = s_y}``, i.e. ties are broken in favour of the lower class index
(TorchSpatial's reversed argsort leaves tie order implementation-defined). Ranks are computed in row
chunks with one comparison per (row, class) — no per-sample loop, no full sort — so ranking 100k
samples × 8k classes needs ``chunk × C`` memory only. ``top-k = mean(r ≤ k)``, ``MRR = mean(1/r)``.

AUC is the Mann–Whitney ``U/(n₁n₀)`` with average ranks for tied scores (= ROC AUC with ties counted ½).
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["auc", "classification_metrics", "label_ranks", "mrr", "top_k"]


def label_ranks(scores: np.ndarray | torch.Tensor, labels: np.ndarray | torch.Tensor,
                chunk_size: int | None = None) -> np.ndarray:
    """Rank (1 = best) of the true class in each row of ``scores``, ties to the lower class index.

    Args:
        scores: ``(N, C)`` class scores (higher = more likely), NumPy or torch (any device).
        labels: ``(N,)`` int true class ids in ``[0, C)``.
        chunk_size: rows per chunk; default keeps ``chunk × C ≤ 2²⁴`` elements.

    Returns:
        ``(N,)`` int64 ranks in ``[1, C]``.

    NaN scores of other classes compare false, so they never rank ahead of the true class.

    Raises:
        ValueError: a NaN true-class score, or labels out of range.
    """
    s = torch.as_tensor(scores)
    y = torch.as_tensor(labels, device=s.device).long()
    if s.ndim != 2 or y.shape != (s.shape[0],):
        raise ValueError(f"scores must be (N, C) and labels (N,), got {tuple(s.shape)} and {tuple(y.shape)}")
    n, c = s.shape
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if int(y.min()) < 0 or int(y.max()) >= c:
        raise ValueError(f"labels must lie in [0, {c})")
    if chunk_size is None:
        chunk_size = max(1, (1 << 24) // max(c, 1))
    out = torch.empty(n, dtype=torch.int64, device=s.device)
    for start in range(0, n, chunk_size):
        sc = s[start:start + chunk_size]
        yc = y[start:start + chunk_size]
        true = sc.gather(1, yc[:, None])
        if torch.isnan(true).any():
            raise ValueError("the score of a true class is NaN")
        rank = 1 + (sc > true).sum(1)
        ties = (sc == true).sum(1) - 1  # other classes tied with the true one
        tied_rows = torch.nonzero(ties > 0)[:, 0]
        if len(tied_rows):  # ties are rare: count those before the true class on these rows only
            st, yt = sc[tied_rows], yc[tied_rows]
            before = torch.arange(c, device=s.device)[None, :] < yt[:, None]
            rank[tied_rows] += ((st == st.gather(1, yt[:, None])) & before).sum(1)
        out[start:start + chunk_size] = rank
    return out.cpu().numpy()


def top_k(ranks: np.ndarray, k: int) -> float:
    """Fraction of ranks ``≤ k`` (ranks start at 1)."""
    ranks = np.asarray(ranks)
    return float(np.mean(ranks <= k)) if ranks.size else float("nan")


def mrr(ranks: np.ndarray) -> float:
    """Mean reciprocal rank ``mean(1/r)``."""
    ranks = np.asarray(ranks, dtype=np.float64)
    return float(np.mean(1.0 / ranks)) if ranks.size else float("nan")


def classification_metrics(ranks: np.ndarray, num_classes: int | None = None) -> dict[str, float]:
    """``{"top1", "top3", "mrr"}`` from true-class ranks (see :func:`label_ranks`).

    With ``num_classes`` given, metrics that carry no information beyond top-1 are left out: ``top3``
    when ``num_classes <= 3`` (it is 1 by construction), and ``mrr`` when ``num_classes == 2``
    (MRR = (1 + top1)/2). Binary tasks report ``auc`` instead (computed by the protocol from scores).
    """
    out = {"top1": top_k(ranks, 1)}
    if num_classes is None or num_classes > 3:
        out["top3"] = top_k(ranks, 3)
    if num_classes is None or num_classes > 2:
        out["mrr"] = mrr(ranks)
    return out



def auc(y_true, score) -> float:
    """ROC AUC of binary labels (1 = positive) by the Mann–Whitney statistic, ties counted ½.

    Returns NaN unless both classes are present.
    """
    from scipy.stats import rankdata

    y = np.asarray(y_true).ravel().astype(bool)
    s = np.asarray(score, dtype=np.float64).ravel()
    n1 = int(y.sum())
    n0 = y.size - n1
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = rankdata(s)  # average ranks for ties
    u = ranks[y].sum() - n1 * (n1 + 1) / 2.0
    return float(u / (n1 * n0))

