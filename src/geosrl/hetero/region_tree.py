"""STAR-like hierarchical split-and-test (Xie et al., ICDM 2021), on a location-encoder design matrix.

Starting from the global model (branch id ``""``), each region is repeatedly bi-partitioned into
children ``name + "0"`` and ``name + "1"`` (STAR's branch ids) while a held-out test says the
children beat the parent:

1. **Error pattern.** Fit-set samples of the region are scored by the parent head; each sample's
   gradient of the loss w.r.t. the output weights, ``aᵢ ⊗ rᵢ`` (for a linear head: input ⊗
   residual), is summed per cell. Cells whose summed gradients point in opposite directions want
   different models. The top left singular vector of the ``(cells × parameters)`` gradient matrix
   (power iteration, implicit — the matrix is never formed) orders the cells; its sign gives the
   initial bi-partition (STAR uses a Kulldorff-style scan statistic over class counts for the same
   purpose; the gradient form works unchanged for regression and classification).
   Both the gradients and, in step 2, the loss differences are summed over each cell's
   ``smooth_k`` nearest cells first, so that small noisy cells follow their neighbourhood.
2. **Coordinate ascent** (≤ ``n_refine`` rounds): fit both children on their cells (warm-started
   from the parent), move every cell to the child with the lower (neighbourhood-summed) loss on it,
   stop when nothing moves or a move would leave a child below ``min_region_size`` training samples.
3. **Test on held-out data.** The region's held-out samples (a seeded ``val_fraction`` of the
   training samples, never used in 1–2) are scored by the parent and by the child of their cell;
   the parent is first trained for the same extra budget as the children (STAR's fairness rule; a
   no-op for the closed-form heads). The split is kept only if the one-sided paired test
   (:func:`geosrl.hetero.stats.paired_split_test`) gives ``p < alpha`` and the relative held-out loss
   improvement is at least ``min_effect``. Held-out cells without fit data follow their nearest fit
   cell (same rule as prediction).
4. Accepted children are split in turn up to ``max_depth`` (so at most ``2**max_depth`` regions).

Every cell belongs to exactly one leaf, so the leaves partition the training cells; prediction at
new locations goes through :class:`geosrl.hetero.partition.Partition`. Each test runs at level
``alpha`` with no multiplicity correction (as in STAR); under no heterogeneity the root's false
acceptance rate is at most about ``alpha``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse
from scipy.spatial import cKDTree

from .heads import Head
from .stats import SplitTestResult, paired_split_test

__all__ = ["RegionNode", "grow_split_test", "neighbour_matrix", "refit_tree", "top_singular_cells"]


@dataclass
class RegionNode:
    """One node of the partition tree.

    ``name``: branch id (``""`` root, ``"0"``, ``"01"``…); ``idx``: training-sample indices ``(n,)``;
    ``head``: fitted head; ``test``: the split test run on this node (None if no split was tried);
    ``accepted``: whether the split was kept; ``reason``: why the node is a leaf (``"not
    significant"``, ``"max_depth"``, ``"min_region_size"``, …); ``children``: child names.
    """

    name: str
    depth: int
    idx: np.ndarray
    head: Head
    test: SplitTestResult | None = None
    accepted: bool = False
    reason: str = ""
    children: tuple[str, str] | None = None
    extra: dict = field(default_factory=dict)

    @property
    def is_leaf(self) -> bool:
        return self.children is None

    def summary(self) -> dict:
        """JSON-friendly record of the node (no arrays)."""
        t = self.test
        return {
            "name": self.name or "root", "depth": self.depth, "n_train": int(len(self.idx)),
            "tried": t is not None, "accepted": bool(self.accepted), "reason": self.reason,
            "p_value": None if t is None else float(t.p_value),
            "statistic": None if t is None else float(t.statistic),
            "heldout_loss_parent": None if t is None else float(t.mean_parent),
            "heldout_loss_children": None if t is None else float(t.mean_children),
            "rel_improvement": None if t is None else float(t.rel_improvement),
            "n_heldout": None if t is None else int(t.n), "n_heldout_cells": None if t is None else int(t.n_clusters),
            **self.extra,
        }


def neighbour_matrix(cen: np.ndarray, k: int) -> scipy.sparse.csr_matrix:
    """``(C, C)`` 0/1 matrix: row c marks the ``k`` nearest cell centroids of cell c (itself included)."""
    C = len(cen)
    k = int(min(max(k, 1), C))
    _, j = cKDTree(cen).query(cen, k=k)
    j = np.asarray(j).reshape(C, k)
    return scipy.sparse.csr_matrix((np.ones(C * k), (np.repeat(np.arange(C), k), j.ravel())), shape=(C, C))


def top_singular_cells(A: np.ndarray, R: np.ndarray, inv: np.ndarray, n_cells: int, rng: np.random.Generator,
                       n_iter: int = 60, smooth: scipy.sparse.spmatrix | None = None) -> np.ndarray:
    """Top left singular vector ``(C,)`` of the per-cell gradient matrix ``S[c] = Σ_{i∈c} aᵢ ⊗ rᵢ``
    (or of ``N·S`` with a neighbour matrix ``N``: each cell's gradient summed over its nearest cells,
    which averages out per-cell noise while keeping spatially coherent disagreement).

    Args:
        A: ``(n, P)`` input factors; R: ``(n, K)`` residual factors; inv: ``(n,)`` cell index in
            ``[0, n_cells)``; rng: seeds the start vector (deterministic under a seed);
        smooth: optional ``(C, C)`` neighbour matrix ``N``.
    """

    def S_mv(v: np.ndarray) -> np.ndarray:  # (P*K,) → (C,)
        V = v.reshape(A.shape[1], R.shape[1])
        out = np.bincount(inv, weights=np.einsum("ik,ik->i", A @ V, R), minlength=n_cells)
        return out if smooth is None else smooth @ out

    def St_mv(u: np.ndarray) -> np.ndarray:  # (C,) → (P*K,)
        if smooth is not None:
            u = smooth.T @ u
        return (A.T @ (R * u[inv][:, None])).ravel()

    u = rng.standard_normal(n_cells)
    u /= np.linalg.norm(u)
    for _ in range(n_iter):
        w = S_mv(St_mv(u))
        nrm = np.linalg.norm(w)
        if nrm <= 1e-300:
            break
        w /= nrm
        if np.abs(w - u).max() < 1e-10:
            u = w
            break
        u = w
    return u


def _sizes(side: np.ndarray, weight: np.ndarray) -> tuple[float, float]:
    return float(weight[side == 0].sum()), float(weight[side == 1].sum())


def _initial_side(u: np.ndarray, weight: np.ndarray, min_size: int) -> np.ndarray | None:
    """Cut the cells ordered by ``u`` at the sign change, moved as little as needed so that both
    sides hold at least ``min_size`` training samples; None if impossible."""
    order = np.argsort(u, kind="stable")
    cum = np.cumsum(weight[order])
    total = cum[-1]
    # cut after position j: left = order[:j+1]
    valid = (cum >= min_size) & (total - cum >= min_size)
    if not valid.any():
        return None
    j0 = int(np.searchsorted(u[order], 0.0)) - 1  # last index with u < 0
    cand = np.where(valid)[0]
    j = int(cand[np.argmin(np.abs(cand - j0))])
    side = np.ones(len(u), dtype=np.int64)
    side[order[: j + 1]] = 0
    return side


def grow_split_test(
    X: np.ndarray,
    y: np.ndarray,
    cell: np.ndarray,
    xyz: np.ndarray,
    fit_mask: np.ndarray,
    head: Head,
    *,
    alpha: float = 0.05,
    min_region_size: int = 100,
    max_depth: int = 4,
    n_refine: int = 5,
    test_method: str = "cluster_t",
    min_effect: float = 0.0,
    smooth_k: int = 8,
    seed: int = 0,
) -> dict[str, RegionNode]:
    """Grow the split-and-test tree.

    Args:
        X: ``(N, D)`` design matrix (standardised embedding ± features); y: ``(N,)`` head targets.
        cell: ``(N,)`` int64 cell id of each training sample; xyz: ``(N, 3)`` unit vectors.
        fit_mask: ``(N,)`` bool, True for samples used to fit and to search splits, False for the
            held-out samples used only by the split test.
        head: unfitted head template (cloned for every model).
        alpha, min_region_size, max_depth, n_refine, test_method, min_effect: see module docstring.
        smooth_k: cell-level gradients (step 1) and loss differences (step 2) are summed over each
            cell's ``smooth_k`` nearest fit cells (itself included) before use, so the bi-partition
            follows spatially coherent evidence rather than single noisy cells; 1 disables it.
        seed: seeds the power-iteration start vectors.
    Returns:
        ``{name: RegionNode}``; the root is ``""``. Heads are fitted on fit samples only (see
        :func:`refit_tree`).
    """
    n = len(y)
    root_idx = np.arange(n)
    root_fit = root_idx[fit_mask]
    root = RegionNode("", 0, root_idx, head.clone().fit(X[root_fit], y[root_fit], prior=None))
    nodes = {"": root}
    queue = [root]
    while queue:
        node = queue.pop(0)
        _try_split(node, nodes, queue, X, y, cell, xyz, fit_mask, head, alpha, min_region_size, max_depth,
                   n_refine, test_method, min_effect, smooth_k, seed)
    return nodes


def _try_split(node, nodes, queue, X, y, cell, xyz, fit_mask, head, alpha, min_size, max_depth, n_refine,
               test_method, min_effect, smooth_k, seed) -> None:
    idx = node.idx
    if node.depth >= max_depth:
        node.reason = "max_depth"
        return
    if len(idx) < 2 * min_size:
        node.reason = "min_region_size"
        return
    F = idx[fit_mask[idx]]
    H = idx[~fit_mask[idx]]
    if len(H) < 2:
        node.reason = "too few held-out samples"
        return
    fcells, finv = np.unique(cell[F], return_inverse=True)
    C = len(fcells)
    if C < 2:
        node.reason = "single cell"
        return
    # centroids of the fit cells; map every node sample to a fit cell (itself, or the nearest)
    cen = np.zeros((C, 3))
    np.add.at(cen, finv, xyz[F])
    cen /= np.maximum(np.linalg.norm(cen, axis=1, keepdims=True), 1e-300)
    pos = np.clip(np.searchsorted(fcells, cell[idx]), 0, C - 1)
    own = fcells[pos] == cell[idx]
    map_idx = np.where(own, pos, -1)
    if (~own).any():
        # all samples of an unseen cell follow the nearest fit cell of that cell's first sample
        ucell, first, uinv = np.unique(cell[idx][~own], return_index=True, return_inverse=True)
        _, j = cKDTree(cen).query(xyz[idx][~own][first], k=1)
        map_idx[~own] = np.asarray(j, dtype=np.int64)[uinv]
    weight = np.bincount(map_idx, minlength=C).astype(np.float64)  # training samples per fit cell

    rng = np.random.default_rng([seed, node.depth, len(node.name), int(node.name or "0", 2)])
    XF, yF = X[F], y[F]
    A, R = node.head.score_factors(XF, yF)
    nbr = neighbour_matrix(cen, smooth_k) if smooth_k > 1 else None
    u = top_singular_cells(A, R, finv, C, rng, smooth=nbr)
    side = _initial_side(u, weight, min_size)
    if side is None:
        node.reason = "min_region_size"
        return

    def fit_children(s, template):
        ms = s[finv]
        return [template.clone().fit(XF[ms == k], yF[ms == k], prior=node.head) for k in (0, 1)]

    quick = head.search_clone()
    children = fit_children(side, quick)
    n_moves = 0
    for _ in range(n_refine):
        cl = np.stack([np.bincount(finv, weights=children[k].loss(XF, yF), minlength=C) for k in (0, 1)])
        delta = cl[1] - cl[0]
        if nbr is not None:
            delta = nbr @ delta
        new = (delta < 0).astype(np.int64)
        if np.array_equal(new, side):
            break
        s0, s1 = _sizes(new, weight)
        if min(s0, s1) < min_size:
            break
        n_moves += int((new != side).sum())
        side = new
        children = fit_children(side, quick)
    children = fit_children(side, head)

    # fairness: the parent gets the same extra training as the children (no-op for closed-form heads)
    parent_cmp = head.clone().fit(XF, yF, prior=node.head)
    hpos = np.searchsorted(idx, H)
    hside = side[map_idx[hpos]]
    lp = parent_cmp.loss(X[H], y[H])
    lc = np.empty(len(H))
    for k in (0, 1):
        m = hside == k
        if m.any():
            lc[m] = children[k].loss(X[H[m]], y[H[m]])
    res = paired_split_test(lp, lc, cell[H], method=test_method)
    node.test = res
    node.extra.update({"n_fit_cells": int(C), "refine_moves": n_moves})
    ok = res.p_value < alpha and res.rel_improvement >= min_effect
    if not ok:
        node.reason = "not significant" if res.p_value >= alpha else "effect below min_effect"
        return
    node.accepted = True
    sample_side = side[map_idx]
    names = (node.name + "0", node.name + "1")
    node.children = names
    for k in (0, 1):
        child = RegionNode(names[k], node.depth + 1, idx[sample_side == k], children[k])
        nodes[names[k]] = child
        queue.append(child)


def refit_tree(nodes: dict[str, RegionNode], X: np.ndarray, y: np.ndarray, head: Head) -> None:
    """Refit every node on all its training samples (fit + held-out), top-down, each child
    warm-started from its refitted parent. The partition itself does not change."""
    order = sorted(nodes, key=lambda s: (len(s), s))
    for name in order:
        node = nodes[name]
        prior = None if name == "" else nodes[name[:-1]].head
        node.head = head.clone().fit(X[node.idx], y[node.idx], prior=prior)
