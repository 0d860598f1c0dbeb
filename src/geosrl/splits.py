"""Seeded train/val/test splits: random, and spatially blocked by exactly equal-area HEALPix cells.

Why HEALPix (not H3): the blocked split must not favour any latitude, so blocks should have equal
area; HEALPix cells are *exactly* equal-area (12·nside² cells of 4π/(12·nside²) sr each) and
hierarchical, while H3 hexagons vary in area by a factor ≈ 2 across the globe. HEALPix's ``ang2pix``
is ~30 lines of vectorised NumPy (below, Górski et al. 2005, NESTED scheme), so no dependency is
needed.

Cell sizes (Earth radius 6371 km): nside 1 → 12 cells of 6519 km side, 2 → 3260 km, 4 → 1630 km,
8 → 815 km, 16 → 407 km, 32 → 204 km, 64 → 102 km (side = √area).
"""

from __future__ import annotations

import math

import numpy as np

from .sphere import EARTH_RADIUS_KM, chord_to_km, lonlat_to_xyz

__all__ = ["SPLIT_KINDS", "density_nside", "healpix_index", "healpix_cell_side_km", "nside_for_block_km",
           "make_split", "split_distances", "stratified_nside"]

SPLIT_KINDS = ("random", "spatial")


def _spread_bits(v: np.ndarray) -> np.ndarray:
    """Interleave zeros between the bits of ``v`` (for the NESTED pixel index), int64 up to 2²⁴."""
    v = v.astype(np.int64)
    out = np.zeros_like(v)
    for b in range(30):
        out |= ((v >> b) & 1) << (2 * b)
    return out


def healpix_index(lonlat: np.ndarray, nside: int) -> np.ndarray:
    """HEALPix NESTED pixel index of each point.

    Args:
        lonlat: ``(N, 2)`` (lon, lat) degrees, finite.
        nside: resolution, a power of two; there are ``12·nside²`` equal-area pixels.

    Returns:
        ``(N,)`` int64 pixel ids in ``[0, 12·nside²)``; ``id // 4`` is the parent at ``nside/2``.
    """
    if nside < 1 or nside & (nside - 1):
        raise ValueError(f"nside must be a power of two, got {nside}")
    lonlat = np.asarray(lonlat, dtype=np.float64)
    if lonlat.ndim != 2 or lonlat.shape[1] != 2:
        raise ValueError(f"lonlat must have shape (N, 2), got {lonlat.shape}")
    if not np.isfinite(lonlat).all():
        raise ValueError("lonlat must be finite")
    z = np.sin(np.radians(lonlat[:, 1]))
    za = np.abs(z)
    tt = np.mod(np.radians(lonlat[:, 0]), 2.0 * np.pi) / (0.5 * np.pi)  # [0, 4)
    tt = np.where(tt >= 4.0, 0.0, tt)
    face = np.empty(len(z), dtype=np.int64)
    ix = np.empty(len(z), dtype=np.int64)
    iy = np.empty(len(z), dtype=np.int64)

    eq = za <= 2.0 / 3.0
    if eq.any():
        t1 = nside * (0.5 + tt[eq])
        t2 = nside * (z[eq] * 0.75)
        jp = np.floor(t1 - t2).astype(np.int64)  # ascending edge line
        jm = np.floor(t1 + t2).astype(np.int64)  # descending edge line
        ifp, ifm = jp // nside, jm // nside
        f = np.where(ifp == ifm, ifp | 4, np.where(ifp < ifm, ifp, ifm + 8))
        face[eq] = f
        ix[eq] = jm & (nside - 1)
        iy[eq] = nside - (jp & (nside - 1)) - 1

    po = ~eq
    if po.any():
        ntt = np.minimum(3, np.floor(tt[po]).astype(np.int64))
        tp = tt[po] - ntt
        tmp = nside * np.sqrt(3.0 * (1.0 - za[po]))
        jp = np.minimum(np.floor(tp * tmp).astype(np.int64), nside - 1)
        jm = np.minimum(np.floor((1.0 - tp) * tmp).astype(np.int64), nside - 1)
        north = z[po] >= 0
        face[po] = np.where(north, ntt, ntt + 8)
        ix[po] = np.where(north, nside - jm - 1, jp)
        iy[po] = np.where(north, nside - jp - 1, jm)

    return face * nside * nside + _spread_bits(ix) + 2 * _spread_bits(iy)


def healpix_cell_side_km(nside: int) -> float:
    """Square root of a HEALPix cell's area in km (Earth radius 6371 km)."""
    return EARTH_RADIUS_KM * math.sqrt(4.0 * math.pi / (12.0 * nside * nside))


def nside_for_block_km(block_km: float) -> int:
    """Power-of-two nside whose cell side (√area) is closest to ``block_km`` on a log scale."""
    if block_km <= 0:
        raise ValueError(f"block_km must be positive, got {block_km}")
    e = round(math.log2(healpix_cell_side_km(1) / block_km))
    return int(2 ** max(0, min(e, 24)))


def density_nside(lonlat: np.ndarray, block_points: int, max_nside: int = 1024) -> int:
    """Block size from the data's density: the coarsest power-of-two ``nside`` (≤ ``max_nside``) at which the
    block holding a typical point holds at most ``block_points`` points.

    "Typical" is the point-weighted median: half of the points lie in blocks of at most that many points.
    Weighting by points (not by blocks) keeps a clustered data set (cities, species records) from being cut
    into a few huge blocks because of its many sparsely filled ones. A global data set of 4,000 points gets
    blocks of ~1,600 km, a regional one of the same size blocks of tens of km, so at a fixed number of
    test points the spatial split is equally coarse in *points*, whatever the extent. Rows with non-finite
    coordinates are ignored.

    Args:
        lonlat: ``(N, 2)`` (lon, lat) degrees.
        block_points: target points in a typical block (≥ 1).
        max_nside: finest resolution tried.
    """
    if block_points < 1:
        raise ValueError(f"block_points must be >= 1, got {block_points}")
    lonlat = np.asarray(lonlat, dtype=np.float64)
    ll = lonlat[np.isfinite(lonlat).all(axis=1)]
    nside = 1
    while nside < max_nside:
        _, inv, counts = np.unique(healpix_index(ll, nside), return_inverse=True, return_counts=True)
        if len(ll) == 0 or np.median(counts[inv]) <= block_points:
            break
        nside *= 2
    return int(nside)


def stratified_nside(lonlat: np.ndarray, strata: np.ndarray, nside: int, min_blocks: int,
                     max_share: float = 1.0, max_nside: int = 1024) -> int:
    """Smallest ``nside' >= nside`` (power of two, ≤ ``max_nside``) at which every stratum occupies at least
    ``min_blocks`` HEALPix cells and no cell holds more than ``max_share`` of any stratum's rows.

    A regional data set (the banana-slug presences lie in 4 cells of 407 km, 80 % of them in one) cannot
    be cut into train/val/test blocks that each hold a fair share of every class at the global block
    size; the blocks are halved until each class spans enough of them. Rows with non-finite coordinates
    are ignored.
    """
    lonlat = np.asarray(lonlat, dtype=np.float64)
    strata = np.asarray(strata)
    finite = np.isfinite(lonlat).all(axis=1)
    ll, st = lonlat[finite], strata[finite]
    while True:
        cells = healpix_index(ll, nside)
        ok = True
        for v in np.unique(st):
            _, cnt = np.unique(cells[st == v], return_counts=True)
            ok &= len(cnt) >= min_blocks and cnt.max() <= max_share * cnt.sum()
        if ok or nside >= max_nside:
            return int(nside)
        nside *= 2


def _assign_cells(counts: np.ndarray, order: np.ndarray, fr: tuple[float, float, float]) -> np.ndarray:
    """Split id of each cell: cells laid end to end in ``order``; a cell goes where its midpoint falls."""
    cum = np.cumsum(counts[order])
    mid = (cum - counts[order] / 2.0) / max(cum[-1], 1)
    split_of_cell = np.empty(len(counts), dtype=np.int64)
    split_of_cell[order] = np.where(mid < fr[0], 0, np.where(mid < fr[0] + fr[1], 1, 2))
    # every requested split gets at least one cell (move the smallest cell of the largest split)
    for s in range(3):
        if fr[s] > 0 and len(counts) >= sum(f > 0 for f in fr) and not np.any(split_of_cell == s):
            sizes = np.bincount(split_of_cell, weights=counts, minlength=3)
            donor = int(np.argmax(np.where(np.bincount(split_of_cell, minlength=3) > 1, sizes, -1)))
            cand = np.where(split_of_cell == donor)[0]
            split_of_cell[cand[np.argmin(counts[cand])]] = s
    return split_of_cell


def _sizes(n: int, fractions: tuple[float, float, float]) -> tuple[int, int]:
    n_train = int(round(fractions[0] * n))
    n_val = int(round(fractions[1] * n))
    return n_train, min(n_val, n - n_train)


def make_split(
    lonlat: np.ndarray,
    kind: str,
    seed: int,
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
    nside: int | None = None,
    block_km: float = 500.0,
    strata: np.ndarray | None = None,
    buffer_km: float = 0.0,
) -> dict[str, np.ndarray]:
    """Seeded train/val/test index split, optionally with an exclusion buffer around the test points.

    Args:
        lonlat: ``(N, 2)`` (lon, lat) degrees. Rows with non-finite coordinates go to the test split
            in the spatial kind (they cannot be blocked; they are scored without a location).
        kind: ``"random"`` — a seeded permutation cut at the fractions (sizes rounded, test = rest);
            ``"spatial"`` — whole HEALPix cells are assigned to one split: the cells are shuffled with
            the seed and laid end to end, and a cell goes to the split in which the midpoint of its
            points falls on the cumulative count, so split sizes approximate the fractions and no cell
            straddles two splits.
        seed: NumPy seed; the same (lonlat, kind, seed, fractions, block) gives the same split.
        fractions: (train, val, test), non-negative, summing to 1.
        nside: HEALPix resolution of the blocks (power of two); default from ``block_km``.
        block_km: approximate block side when ``nside`` is None (500 km → nside 16, 407 km cells).
        strata: optional ``(N,)`` class labels (spatial kind only): blocks are still assigned whole, but
            stratified — each cell joins the group of the rarest class it contains, and each group's cells
            are laid out separately, weighted by that class's count, so every split with a positive
            fraction receives blocks holding each class (given ≥ 3 blocks per class; see
            :func:`stratified_nside`) and each class is divided close to the fractions. Without it, a class
            confined to a few blocks (presences of one species) can miss val or test entirely.
        buffer_km: training rows closer than this (great-circle km) to any test row are moved to
            ``"excluded"`` (used by no split), so the test points are at least ``buffer_km`` from every
            training point; 0 keeps every row.

    Returns:
        ``{"train", "val", "test", "excluded"}`` → sorted int64 index arrays, disjoint, covering
        ``range(N)`` (``excluded`` is empty without a buffer). The blocks of the spatial kind are
        ``healpix_index(lonlat, nside)`` (see ``nside_for_block_km``).

    Raises:
        ValueError: unknown kind, bad fractions, or (spatial) fewer than 3 occupied cells when every
            fraction is positive.
    """
    lonlat = np.asarray(lonlat, dtype=np.float64)
    n = len(lonlat)
    fr = tuple(float(f) for f in fractions)
    if len(fr) != 3 or min(fr) < 0 or not math.isclose(sum(fr), 1.0, abs_tol=1e-6):
        raise ValueError(f"fractions must be three non-negative numbers summing to 1, got {fractions}")
    rng = np.random.default_rng(seed)
    if kind == "random":
        perm = rng.permutation(n)
        n_train, n_val = _sizes(n, fr)
        parts = (perm[:n_train], perm[n_train:n_train + n_val], perm[n_train + n_val:])
        return _buffered({k: np.sort(p).astype(np.int64) for k, p in zip(("train", "val", "test"), parts)},
                         lonlat, buffer_km)
    if kind != "spatial":
        raise ValueError(f"kind must be one of {SPLIT_KINDS}, got {kind!r}")

    if nside is None:
        nside = nside_for_block_km(block_km)
    finite = np.isfinite(lonlat).all(axis=1)
    cells = np.full(n, -1, dtype=np.int64)
    cells[finite] = healpix_index(lonlat[finite], nside)
    uniq, inv, counts = np.unique(cells[finite], return_inverse=True, return_counts=True)
    n_needed = sum(f > 0 for f in fr)
    if len(uniq) < n_needed:
        raise ValueError(f"only {len(uniq)} occupied cells at nside={nside}; use a smaller block_km")
    if strata is None:
        split_of_cell = _assign_cells(counts, rng.permutation(len(uniq)), fr)
    else:
        if np.shape(strata) != (n,):
            raise ValueError(f"strata must have shape ({n},), got {np.shape(strata)}")
        st = np.asarray(strata)[finite]
        classes, st_id = np.unique(st, return_inverse=True)
        per_cell = np.zeros((len(uniq), len(classes)), dtype=np.int64)
        np.add.at(per_cell, (inv, st_id), 1)
        rarity = np.argsort(np.argsort(per_cell.sum(axis=0), kind="stable"), kind="stable")  # 0 = rarest class
        present_rank = np.where(per_cell > 0, rarity[None, :], len(classes))
        group = np.argmin(present_rank, axis=1)  # class id (column) of the rarest class in each cell
        split_of_cell = np.empty(len(uniq), dtype=np.int64)
        order = rng.permutation(len(uniq))
        for g in np.unique(group):
            members = order[group[order] == g]  # the group's cells in the seeded order
            split_of_cell[members] = _assign_cells(per_cell[members, g], np.arange(len(members)), fr)
    row_split = np.full(n, 2, dtype=np.int64)
    row_split[finite] = split_of_cell[inv]
    idx = {k: np.where(row_split == s)[0].astype(np.int64) for s, k in enumerate(("train", "val", "test"))}
    return _buffered(idx, lonlat, buffer_km)


def _nearest_km(lonlat: np.ndarray, rows: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Great-circle km from each of ``rows`` to its nearest row of ``others`` (finite coordinates only)."""
    from scipy.spatial import cKDTree

    chord, _ = cKDTree(lonlat_to_xyz(lonlat[others])).query(lonlat_to_xyz(lonlat[rows]), k=1)
    return chord_to_km(np.asarray(chord))


def _finite_rows(lonlat: np.ndarray, rows: np.ndarray) -> np.ndarray:
    return rows[np.isfinite(lonlat[rows]).all(axis=1)]


def _buffered(idx: dict[str, np.ndarray], lonlat: np.ndarray, buffer_km: float) -> dict[str, np.ndarray]:
    """Move training rows within ``buffer_km`` of a test row to ``"excluded"``."""
    if not buffer_km >= 0:
        raise ValueError(f"buffer_km must be >= 0, got {buffer_km}")
    train, test = _finite_rows(lonlat, idx["train"]), _finite_rows(lonlat, idx["test"])
    if buffer_km == 0 or len(train) == 0 or len(test) == 0:
        return {**idx, "excluded": np.zeros(0, dtype=np.int64)}
    near = _nearest_km(lonlat, train, test) < buffer_km
    return {**idx, "train": np.setdiff1d(idx["train"], train[near]).astype(np.int64),
            "excluded": np.sort(train[near]).astype(np.int64)}


def split_distances(lonlat: np.ndarray, idx: dict[str, np.ndarray]) -> dict[str, float]:
    """How far the test points lie from the training data: min / median / 90th percentile over test rows
    of the great-circle km to the nearest training row (rows with a location only)."""
    lonlat = np.asarray(lonlat, dtype=np.float64)
    train, test = _finite_rows(lonlat, idx["train"]), _finite_rows(lonlat, idx["test"])
    if len(train) == 0 or len(test) == 0:
        return {"min_km": float("nan"), "median_km": float("nan"), "p90_km": float("nan")}
    d = _nearest_km(lonlat, test, train)
    return {"min_km": float(d.min()), "median_km": float(np.median(d)), "p90_km": float(np.percentile(d, 90))}
