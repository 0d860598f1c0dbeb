"""The significance test that decides whether a split is kept.

:func:`paired_split_test` compares the per-sample held-out losses of the parent model and of the
children (each held-out sample scored by the child of its side), pairing by sample. Samples in
one cell are not independent in real data (spatially correlated errors), so the default variant
is a **cluster-robust one-sided paired t-test** with cells as clusters:

    dᵢ = loss_parentᵢ − loss_childᵢ,   d̄ = mean(d),
    SE² = C/(C−1) · Σ_c (Σ_{i∈c} (dᵢ − d̄))² / n²,   t = d̄ / SE,   p = P(T_{C−1} ≥ t).

With one sample per cell this is the ordinary paired t-test. ``method="sample"`` ignores the
clusters; ``method="wilcoxon"`` is the one-sided signed-rank test on the per-cell mean differences
(STAR tests group-wise scores).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["SplitTestResult", "paired_split_test"]


@dataclass
class SplitTestResult:
    """Outcome of one split test.

    ``mean_parent``/``mean_children``: held-out mean losses; ``rel_improvement`` = 1 −
    children/parent; ``statistic``: t (or Wilcoxon W); ``p_value``: one-sided (children better);
    ``n``: held-out samples; ``n_clusters``: cells used.
    """

    mean_parent: float
    mean_children: float
    rel_improvement: float
    statistic: float
    p_value: float
    n: int
    n_clusters: int


def paired_split_test(loss_parent: np.ndarray, loss_children: np.ndarray, clusters: np.ndarray | None = None,
                      method: str = "cluster_t") -> SplitTestResult:
    """One-sided paired test of ``H0: E[loss_parent − loss_children] ≤ 0``.

    Args:
        loss_parent, loss_children: ``(n,)`` per-sample held-out losses of the same samples.
        clusters: ``(n,)`` cell ids (needed by ``"cluster_t"`` and ``"wilcoxon"``).
        method: ``"cluster_t"`` (default), ``"sample"`` (plain paired t) or ``"wilcoxon"``.
    Returns:
        :class:`SplitTestResult`; ``p_value`` is 1.0 when the test cannot be run (fewer than 2
        samples/clusters, or zero variance with no improvement).
    """
    lp = np.asarray(loss_parent, dtype=np.float64)
    lc = np.asarray(loss_children, dtype=np.float64)
    if lp.shape != lc.shape or lp.ndim != 1:
        raise ValueError(f"loss arrays must be 1-D and equal in shape, got {lp.shape} and {lc.shape}")
    n = len(lp)
    mp = float(lp.mean()) if n else float("nan")
    mc = float(lc.mean()) if n else float("nan")
    rel = 1.0 - mc / mp if n and mp > 0 else 0.0
    d = lp - lc
    if method == "sample":
        clusters = np.arange(n)
    elif method not in ("cluster_t", "wilcoxon"):
        raise ValueError(f"method must be 'cluster_t', 'sample' or 'wilcoxon', got {method!r}")
    elif clusters is None:
        raise ValueError(f"method={method!r} needs cluster ids")
    clusters = np.asarray(clusters)
    if len(clusters) != n:
        raise ValueError("clusters must have one id per sample")
    _, inv = np.unique(clusters, return_inverse=True)
    n_cl = int(inv.max()) + 1 if n else 0
    if n < 2 or n_cl < 2:
        return SplitTestResult(mp, mc, rel, float("nan"), 1.0, n, n_cl)
    if method == "wilcoxon":
        per = np.bincount(inv, weights=d) / np.bincount(inv)
        if np.all(per == 0):
            return SplitTestResult(mp, mc, rel, 0.0, 1.0, n, n_cl)
        res = stats.wilcoxon(per, alternative="greater", zero_method="wilcox")
        return SplitTestResult(mp, mc, rel, float(res.statistic), float(res.pvalue), n, n_cl)
    dbar = d.mean()
    sums = np.bincount(inv, weights=d - dbar)
    se = np.sqrt(n_cl / (n_cl - 1) * np.sum(sums ** 2)) / n
    if se <= 0:
        return SplitTestResult(mp, mc, rel, float("inf") if dbar > 0 else 0.0, 0.0 if dbar > 0 else 1.0, n, n_cl)
    t = dbar / se
    p = float(stats.t.sf(t, df=n_cl - 1))
    return SplitTestResult(mp, mc, rel, float(t), p, n, n_cl)
