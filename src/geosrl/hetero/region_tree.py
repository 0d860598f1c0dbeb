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
   training samples, never used in 1–2; with ``fresh_heldout`` divided into one disjoint fold per
   depth, so the tests at depth d score only fold d) are scored by the parent and by the child of
   their cell; the parent is first trained for the same extra budget as the children (STAR's
   fairness rule; a no-op for the closed-form heads). The statistic is the one-sided paired
   statistic of :func:`geosrl.hetero.stats.paired_split_test` (cluster-robust t by default). Because
   the split was *searched for* on the same region, its analytic p-value is not calibrated; the
   default ``null="bootstrap"`` calibrates the statistic by a **parametric bootstrap under the
   no-split model**: targets are redrawn from the node's model (residual resampling / class
   probabilities, :func:`null_targets`) and steps 1–3 are rerun on each draw
   (:func:`bootstrap_p_value`). The split is kept only if ``p < alpha`` and the relative held-out
   loss improvement is at least ``min_effect``. Held-out cells without fit data follow their
   nearest fit cell (same rule as prediction).
4. Accepted children are split in turn up to ``max_depth`` (so at most ``2**max_depth`` regions).

Every cell belongs to exactly one leaf, so the leaves partition the training cells; prediction at
new locations goes through :class:`geosrl.hetero.partition.Partition`.

**Multiplicity.** Each test runs at level ``alpha``. The tests are nested (a node is tested only
after its parent's split was accepted), so under no heterogeneity anywhere the probability of any
split equals the probability that the root split is accepted, which the bootstrap holds at ``alpha``
(a fixed-sequence / gatekeeping argument; ``benchmarks/results/hetero/calibration.md`` measures it).
Deeper tests use fresh held-out folds, so their data were not used by the tests that selected their
region; they are not corrected further (a deep split can still be a false positive once a true
split exists above it, at rate ≤ ``alpha`` per tested node).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import scipy.sparse
from scipy.spatial import cKDTree

from .heads import Head
from .stats import SplitTestResult, paired_split_test

__all__ = ["RegionNode", "bootstrap_p_value", "grow_split_test", "heldout_folds", "neighbour_matrix", "null_targets",
           "refit_tree", "top_singular_cells"]


@dataclass
class RegionNode:
    """One node of the partition tree.

    ``name``: branch id (``""`` root, ``"0"``, ``"01"``…); ``idx``: training-sample indices ``(n,)``;
    ``head``: fitted head; ``test``: the split test run on this node (None if no split was tried);
    ``accepted``: whether the split was kept; ``reason``: why the node is a leaf (``"not
    significant"``, ``"max_depth"``, ``"min_region_size"``, …); ``children``: child names; ``prior``: the
    head this node's head was warm-started from (its parent's; None at the root), reused by the bootstrap.
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
    prior: Head | None = None

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


def heldout_folds(fit_mask: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    """``(N,)`` fold of each held-out sample in ``[0, n_folds)`` (seeded, sizes within one), −1 for fit
    samples: with ``fresh_heldout`` the split tests at depth d use fold d only."""
    fold = np.full(len(fit_mask), -1, dtype=np.int64)
    held = np.flatnonzero(~fit_mask)
    perm = np.random.default_rng([seed, 7919]).permutation(len(held))
    fold[held[perm]] = np.arange(len(held)) % max(int(n_folds), 1)
    return fold


def null_targets(parent: Head, X: np.ndarray, X_fit: np.ndarray, y_fit: np.ndarray,
                 rng: np.random.Generator) -> np.ndarray:
    """One parametric-bootstrap draw of the targets under the parent (no-split) model.

    Regression: ``ŷ(X) + ε*`` with ``ε*`` resampled with replacement from the parent's residuals on
    its fit samples. Classification: labels drawn from the parent's class probabilities.

    Args:
        parent: fitted head; X: ``(M, D)`` rows to simulate; X_fit, y_fit: the parent's fit data.
    Returns:
        ``(M,)`` float targets (regression) or int64 labels.
    """
    if parent.task == "regression":
        resid = np.asarray(y_fit, dtype=np.float64) - parent.predict(X_fit)
        return parent.predict(X) + resid[rng.integers(0, len(resid), len(X))]
    cum = np.cumsum(parent.predict(X), axis=1)
    u = rng.random(len(X))[:, None] * cum[:, -1:]
    return np.minimum((u > cum).sum(axis=1), cum.shape[1] - 1).astype(np.int64)


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
    null: str = "bootstrap",
    n_null: int = 99,
    null_stop: int = 10,
    fresh_heldout: bool = True,
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
        seed: seeds the power-iteration start vectors, the held-out folds and the bootstrap.
        null: ``"bootstrap"`` (default): the p-value of the held-out statistic comes from rerunning the
            whole split search and test on ``n_null`` parametric-bootstrap data sets drawn under the
            node's no-split model (:func:`null_targets`), stopped early after ``null_stop`` null
            statistics reach the observed one (Besag & Clifford's sequential p-value); ``"t"``: the
            analytic p-value of :func:`~geosrl.hetero.stats.paired_split_test` (ignores that the split
            was searched for; conservative or anti-conservative depending on the data).
        fresh_heldout: the held-out samples are divided into ``max_depth`` disjoint folds and the
            tests at depth d use fold d only, so no held-out sample is scored by two nested tests.
    Returns:
        ``{name: RegionNode}``; the root is ``""``. Heads are fitted on fit samples only (see
        :func:`refit_tree`).
    """
    if null not in ("bootstrap", "t"):
        raise ValueError(f"null must be 'bootstrap' or 't', got {null!r}")
    n = len(y)
    fold = heldout_folds(fit_mask, max_depth if fresh_heldout else 1, seed)
    root_idx = np.arange(n)
    root_fit = root_idx[fit_mask]
    root = RegionNode("", 0, root_idx, head.clone().fit(X[root_fit], y[root_fit], prior=None))
    nodes = {"": root}
    queue = [root]
    opts = dict(alpha=alpha, min_size=min_region_size, max_depth=max_depth, n_refine=n_refine,
                test_method=test_method, min_effect=min_effect, smooth_k=smooth_k, seed=seed, null=null,
                n_null=n_null, null_stop=null_stop, fresh=fresh_heldout)
    while queue:
        node = queue.pop(0)
        _try_split(node, nodes, queue, X, y, cell, xyz, fit_mask, fold, head, opts)
    return nodes


def _map_to_fit_cells(idx, F, cell, xyz):
    """Fit cells of a node, their centroids, and each node sample's fit cell (itself or the nearest)."""
    fcells, finv = np.unique(cell[F], return_inverse=True)
    C = len(fcells)
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
    return finv, C, cen, map_idx


@dataclass
class _Search:
    """Everything the split search and test of one node need, for the observed and bootstrap targets."""

    XF: np.ndarray
    finv: np.ndarray
    n_cells: int
    weight: np.ndarray
    nbr: scipy.sparse.spmatrix | None
    XH: np.ndarray
    hcell: np.ndarray
    hmap: np.ndarray
    head: Head
    min_size: int
    n_refine: int
    test_method: str
    parent_prior: Head | None

    def run(self, parent: Head, yF: np.ndarray, yH: np.ndarray, rng: np.random.Generator):
        """Search a bi-partition on fit data, test it on held-out data.

        Returns:
            ``(side, children, test, n_moves)``; ``side`` is None when no admissible cut exists.
        """
        A, R = parent.score_factors(self.XF, yF)
        u = top_singular_cells(A, R, self.finv, self.n_cells, rng, smooth=self.nbr)
        side = _initial_side(u, self.weight, self.min_size)
        if side is None:
            return None, None, None, 0
        side, n_moves = self._refine(side, parent, yF)
        children = self._fit_children(side, self.head, parent, yF)
        # fairness: the parent gets the same extra training as the children (no-op for closed-form heads)
        parent_cmp = self.head.clone().fit(self.XF, yF, prior=parent)
        hside = side[self.hmap]
        lp = parent_cmp.loss(self.XH, yH)
        lc = np.empty(len(yH))
        for k in (0, 1):
            m = hside == k
            if m.any():
                lc[m] = children[k].loss(self.XH[m], yH[m])
        return side, children, paired_split_test(lp, lc, self.hcell, method=self.test_method), n_moves

    def _fit_children(self, side, template, parent, yF):
        ms = side[self.finv]
        return [template.clone().fit(self.XF[ms == k], yF[ms == k], prior=parent) for k in (0, 1)]

    def _refine(self, side, parent, yF):
        quick = self.head.search_clone()
        children = self._fit_children(side, quick, parent, yF)
        n_moves = 0
        for _ in range(self.n_refine):
            cl = np.stack([np.bincount(self.finv, weights=children[k].loss(self.XF, yF), minlength=self.n_cells)
                           for k in (0, 1)])
            delta = cl[1] - cl[0]
            if self.nbr is not None:
                delta = self.nbr @ delta
            new = (delta < 0).astype(np.int64)
            if np.array_equal(new, side):
                break
            s0, s1 = _sizes(new, self.weight)
            if min(s0, s1) < self.min_size:
                break
            n_moves += int((new != side).sum())
            side = new
            children = self._fit_children(side, quick, parent, yF)
        return side, n_moves


def _statistic(test: SplitTestResult | None) -> float:
    """The held-out statistic calibrated by the bootstrap (−inf when no test could be run)."""
    if test is None or not np.isfinite(test.statistic):
        return -np.inf
    return float(test.statistic)


def bootstrap_p_value(search: _Search, parent: Head, yF: np.ndarray, observed: float, rng: np.random.Generator,
                      n_null: int, null_stop: int) -> tuple[float, int]:
    """Sequential Monte-Carlo p-value of ``observed`` under the parametric bootstrap of ``parent``.

    Each replicate draws fit and held-out targets under the parent (:func:`null_targets`), refits the
    parent, and reruns the whole search and test; the replicate's statistic ``T*`` is compared with
    the observed ``T``. Stops after ``null_stop`` replicates with ``T* ≥ T`` (p = null_stop / b after
    b replicates) or after ``n_null`` (p = (1 + #{T* ≥ T}) / (1 + n_null)) — Besag & Clifford (1991),
    a valid p-value at every stopping point.

    Returns:
        ``(p, replicates run)``.
    """
    hits = 0
    for b in range(1, n_null + 1):
        yF_star = null_targets(parent, search.XF, search.XF, yF, rng)
        yH_star = null_targets(parent, search.XH, search.XF, yF, rng)
        parent_star = search.head.clone().fit(search.XF, yF_star, prior=search.parent_prior)
        _, _, test, _ = search.run(parent_star, yF_star, yH_star, rng)
        hits += _statistic(test) >= observed
        if hits >= null_stop:
            return hits / b, b
    return (1 + hits) / (1 + n_null), n_null


def _try_split(node, nodes, queue, X, y, cell, xyz, fit_mask, fold, head, o) -> None:
    idx = node.idx
    if node.depth >= o["max_depth"]:
        node.reason = "max_depth"
        return
    if len(idx) < 2 * o["min_size"]:
        node.reason = "min_region_size"
        return
    F = idx[fit_mask[idx]]
    H = idx[(fold[idx] == node.depth) if o["fresh"] else ~fit_mask[idx]]
    if len(H) < 2:
        node.reason = "too few held-out samples"
        return
    if len(np.unique(cell[F])) < 2:
        node.reason = "single cell"
        return
    finv, C, cen, map_idx = _map_to_fit_cells(idx, F, cell, xyz)
    search = _Search(XF=X[F], finv=finv, n_cells=C, weight=np.bincount(map_idx, minlength=C).astype(np.float64),
                     nbr=neighbour_matrix(cen, o["smooth_k"]) if o["smooth_k"] > 1 else None, XH=X[H],
                     hcell=cell[H], hmap=map_idx[np.searchsorted(idx, H)], head=head, min_size=o["min_size"],
                     n_refine=o["n_refine"], test_method=o["test_method"], parent_prior=node.prior)
    rng = np.random.default_rng([o["seed"], node.depth, len(node.name), int(node.name or "0", 2)])
    side, children, res, n_moves = search.run(node.head, y[F], y[H], rng)
    if side is None:
        node.reason = "min_region_size"
        return
    node.extra.update({"n_fit_cells": int(C), "refine_moves": n_moves, "p_value_t": float(res.p_value),
                       "null": o["null"]})
    if o["null"] == "bootstrap":
        p, reps = bootstrap_p_value(search, node.head, y[F], _statistic(res), rng, o["n_null"], o["null_stop"])
        res = replace(res, p_value=p)
        node.extra["null_replicates"] = reps
    node.test = res
    ok = res.p_value < o["alpha"] and res.rel_improvement >= o["min_effect"]
    if not ok:
        node.reason = "not significant" if res.p_value >= o["alpha"] else "effect below min_effect"
        return
    node.accepted = True
    sample_side = side[map_idx]
    names = (node.name + "0", node.name + "1")
    node.children = names
    for k in (0, 1):
        child = RegionNode(names[k], node.depth + 1, idx[sample_side == k], children[k], prior=node.head)
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
