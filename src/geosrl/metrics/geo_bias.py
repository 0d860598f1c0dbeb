"""Geo-bias score = spatial self-information (SSI; reference §9, PyGBS).

See :func:`geo_bias_ssi`. The null distribution is the **TorchSpatial/PyGBS approximation** of the
permutation null (not its exact moments); ``null="pdf"`` (TorchSpatial's file, default) or
``null="two_sided"`` (PyGBS HEAD). SSI is computed analytically (no ``1e-256`` cap) unless
``legacy_cap=True``; the fraction of centres at/above the legacy cap (589.46) is always reported.
The neighbourhood radius is chosen from the evaluation points by default (:func:`auto_radius_rad`)
and isolated centres are excluded and counted (``SSIResult.isolated_frac``), see :func:`geo_bias_ssi`.

Locations are ``(N, 2)`` arrays of ``(lon, lat)`` degrees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..sphere import EARTH_RADIUS_KM, lonlat_to_xyz

__all__ = [
    "EARTH_RADIUS_KM",
    "SSI_LEGACY_CAP",
    "SSIResult",
    "auto_radius_rad",
    "background_grid",
    "geo_bias_ssi",
    "local_mark_surprisal",
    "ssi_local",
    "ssi_null_moments",
    "ssi_statistic",
]

#: −ln(1e-256): the value at which PyGBS's ``-log(p + 1e-256)`` saturates.
SSI_LEGACY_CAP = 256.0 * math.log(10.0)


# ----------------------------------------------------------------------------------------------------
# Geometry helpers
# ----------------------------------------------------------------------------------------------------
def _chord(angle_rad: float) -> float:
    """Chord length on the unit sphere for a great-circle angle (monotone, so k-NN sets agree)."""
    return 2.0 * math.sin(min(angle_rad, math.pi) / 2.0)


def _knn_excluding_self(xyz: np.ndarray, k: int) -> np.ndarray:
    """``(M, k)`` indices of each point's k nearest neighbours, itself excluded (PyGBS convention).

    As in PyGBS, ``k + 1`` neighbours are queried and the point itself dropped; if a duplicate point
    displaced it from the list, the ``k + 1``-th neighbour is dropped instead.
    """
    from scipy.spatial import cKDTree

    m = xyz.shape[0]
    kk = min(k + 1, m)
    _, nb = cKDTree(xyz).query(xyz, k=kk)
    nb = np.asarray(nb).reshape(m, kk)
    is_self = nb == np.arange(m)[:, None]
    has_self = is_self.any(1)
    is_self[~has_self, kk - 1] = True  # drop the last one where self is absent
    return nb[~is_self].reshape(m, kk - 1)


# ----------------------------------------------------------------------------------------------------
# Geo-bias score: spatial self-information (reference §9)
# ----------------------------------------------------------------------------------------------------
def background_grid(n_presence: int, radius_rad: float) -> np.ndarray:
    """PyGBS's background ("non-presence") points around the north pole, ``(m, 3)`` unit vectors.

    Density ``ρ = ⌈5n/(πr²)⌉`` per steradian, spacing ``δ = 1/√ρ``; rings ``i = 1…⌈r/δ⌉`` at polar
    angle ``iδ`` with ``⌈2πi⌉`` points at azimuth ``−π + 2πj/⌈2πi⌉``.
    """
    density = math.ceil(5.0 * n_presence / (math.pi * radius_rad ** 2))
    delta = 1.0 / math.sqrt(density)
    n_lag = math.ceil(radius_rad / delta)
    polar, azim = [], []
    for i in range(1, n_lag + 1):
        cnt = math.ceil(2.0 * math.pi * i)
        polar.append(np.full(cnt, i * delta))
        azim.append(-math.pi + (2.0 * math.pi / cnt) * np.arange(cnt))
    th = np.concatenate(polar)
    ph = np.concatenate(azim)
    return np.stack([np.sin(th) * np.cos(ph), np.sin(th) * np.sin(ph), np.cos(th)], axis=1)


def _rotation_to(lon_rad: float, lat_rad: float) -> np.ndarray:
    """Rotation taking the north pole to (lon, lat): about y by π/2 − lat, then about z by lon."""
    a = math.pi / 2.0 - lat_rad
    ry = np.array([[math.cos(a), 0.0, math.sin(a)], [0.0, 1.0, 0.0], [-math.sin(a), 0.0, math.cos(a)]])
    rz = np.array([[math.cos(lon_rad), -math.sin(lon_rad), 0.0], [math.sin(lon_rad), math.cos(lon_rad), 0.0],
                   [0.0, 0.0, 1.0]])
    return rz @ ry


def ssi_statistic(values: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
    """Un-normalised Moran statistic ``I = (z − z̄)ᵀ W (z − z̄)`` for a binary directed k-NN ``W``.

    Args:
        values: ``(M,)`` or ``(M, V)`` values (V mark vectors at once).
        neighbours: ``(M, k)`` neighbour indices (row i = the points i points to).

    Returns:
        scalar array (or ``(V,)``).
    """
    z = np.asarray(values, dtype=np.float64)
    x = z - z.mean(axis=0)
    return np.einsum("i...,i...->...", x, x[neighbours].sum(axis=1))


def ssi_null_moments(cs: np.ndarray, ns: np.ndarray, k: int = 4) -> tuple[float, float]:
    """TorchSpatial/PyGBS **approximate** permutation-null mean and standard deviation of ``I``.

    Args:
        cs: ``(U,)`` distinct values, ascending (as ``np.unique`` returns them).
        ns: ``(U,)`` their counts.
        k: neighbours per point (the literal 4 of the reference formulas).

    Returns:
        ``(μ, σ)`` with, for ``N = Σn_u``, ``x̄ = Σc_u n_u/N``, ``r*`` = the most frequent value (first
        in ascending order on ties)::

            μ  = Σ_{u,v} (c_u−x̄)(c_v−x̄) M_uv,  M_uv = k n_u n_v/N (u≠v),  M_uu = k n_u(n_u−1)/N − 1
            σ² = Σ_{u≠v; u,v≠r*} [(c_u−x̄)(c_v−x̄) − 2(c_u−x̄)(c_r*−x̄) + (c_r*−x̄)²]²
                      · min(n_u,n_v)(k max/N)(1 − k max/N)
               + Σ_{u≠r*} (c_u−c_r*)⁴ · 2(n_u−1)(k n_u/N)(1 − k(2n_u−1)/(3N))

        This is *not* the exact permutation mean ``−k·Q/(N−1)``; e.g. 20 ones among 120 values give
        μ = −1.278 here versus −0.560 exactly. ``σ`` excludes PyGBS's ``+1`` (added by ``null="two_sided"``).
    """
    cs = np.asarray(cs, dtype=np.float64)
    ns = np.asarray(ns, dtype=np.float64)
    n_tot = ns.sum()
    xbar = float((cs * ns).sum() / n_tot)
    d = cs - xbar
    coef = d[:, None] * d[None, :]
    m_uv = k * ns[:, None] * ns[None, :] / n_tot
    diag = np.eye(len(cs), dtype=bool)
    m_uv[diag] = k * ns * (ns - 1.0) / n_tot - 1.0
    mean = float((coef * m_uv).sum())

    r = int(np.argmax(ns))
    keep = np.ones(len(cs), dtype=bool)
    keep[r] = False
    mx = np.maximum(ns[:, None], ns[None, :])
    mn = np.minimum(ns[:, None], ns[None, :])
    var_num = mn * (k * mx / n_tot) * (1.0 - k * mx / n_tot)
    var_coef = (coef - 2.0 * d[:, None] * d[r] + d[r] ** 2) ** 2
    off = (~diag) & keep[:, None] & keep[None, :]
    var = float((var_coef * var_num)[off].sum())
    diag_num = 2.0 * (ns - 1.0) * k * ns / n_tot * (1.0 - k * (2.0 * ns - 1.0) / (3.0 * n_tot))
    var += float((((cs - cs[r]) ** 4) * diag_num)[keep].sum())
    return mean, math.sqrt(max(var, 0.0))


def _surprisal(i_stat: float, mean: float, std: float, null: str, legacy_cap: bool) -> float:
    """−ln p of the statistic under N(μ, σ); NaN when the null is degenerate (σ = 0 for ``pdf``)."""
    from scipy import special

    if null == "pdf":
        if std <= 0.0:
            return float("nan")
        zeta = (i_stat - mean) / std
        val = 0.5 * zeta * zeta + math.log(std * math.sqrt(2.0 * math.pi))
    elif null == "two_sided":
        std = std + 1.0  # PyGBS HEAD
        low = min(i_stat, 2.0 * mean - i_stat)
        val = -(math.log(2.0) + float(special.log_ndtr((low - mean) / std)))
    else:
        raise ValueError(f"null must be 'pdf' or 'two_sided', got {null!r}")
    if legacy_cap:  # PyGBS/TorchSpatial: −ln(p + 1e-256) with p evaluated in float64
        p = math.exp(-val) if val < 745.0 else 0.0
        return -math.log(p + 1e-256)
    return val


def ssi_local(xyz: np.ndarray, values: np.ndarray, k: int = 4, null: str = "pdf",
              legacy_cap: bool = False) -> np.ndarray:
    """SSI of one neighbourhood: given points and their values, ``−ln p(I)`` under the approximate null.

    Args:
        xyz: ``(M, 3)`` unit vectors (presence ∪ background points).
        values: ``(M,)`` or ``(M, V)`` values (0 = background).
        k: neighbours of the binary directed k-NN ``W`` (self excluded).
        null, legacy_cap: see :func:`geo_bias_ssi`.

    Returns:
        ``(V,)`` SSI per value column (NaN where σ = 0 under ``null="pdf"``).
    """
    vals = np.asarray(values, dtype=np.float64)
    if vals.ndim == 1:
        vals = vals[:, None]
    nb = _knn_excluding_self(np.asarray(xyz, dtype=np.float64), k)
    stats = np.atleast_1d(ssi_statistic(vals, nb))
    out = np.empty(vals.shape[1])
    for v in range(vals.shape[1]):  # loop over value columns (variants), not points
        cs, ns = np.unique(vals[:, v], return_counts=True)
        mu, sd = ssi_null_moments(cs, ns, k=k)
        out[v] = _surprisal(float(stats[v]), mu, sd, null, legacy_cap)
    return out


@dataclass
class SSIResult:
    """Geo-bias score of one evaluation set.

    Attributes:
        unmarked: mean SSI over scored centres of the presence (1) / background (0) pattern; a
            property of the evaluation points only (equal for every model: never rank it).
        marked: ``(V,)`` mean SSI per mark vector (empty when no marks were given).
        unmarked_per_centre / marked_per_centre: ``(n_centres,)`` / ``(n_centres, V)`` values
            (NaN where the centre was isolated and excluded, or the null was degenerate).
        centres: ``(n_centres,)`` indices (into the finite-coordinate rows) of the candidate centres.
        neighbours: ``(n_centres,)`` other evaluation points within the radius of each centre.
        isolated_frac: share of candidate centres with no other evaluation point within the radius
            (their neighbourhood is the centre alone, whose SSI is one constant for every model).
        cap_frac_unmarked / cap_frac_marked: fraction of valid centres with SSI ≥ the legacy cap 589.46.
        degenerate_frac_unmarked / degenerate_frac_marked: fraction of the non-excluded centres left
            out because the null had σ = 0 (``null="pdf"`` with a single presence point, for example).
        local_marks: ``(V,)`` mean over scored centres of :func:`local_mark_surprisal` — how surprising
            the sum of the marks in a centre's neighbourhood is when the marks are spread over the
            evaluation points at random (the model's global error rate kept): spatially clustered
            errors score high, scattered errors low. The geo-bias of a model to rank (lower = less biased).
        local_marks_per_centre: ``(n_centres, V)`` values (NaN where not scored).
        params: radius (chosen or given), k, neighbourhood size, null, cap flag, isolation policy.
    """

    unmarked: float
    marked: np.ndarray
    unmarked_per_centre: np.ndarray
    marked_per_centre: np.ndarray
    centres: np.ndarray
    neighbours: np.ndarray
    isolated_frac: float
    cap_frac_unmarked: float
    cap_frac_marked: np.ndarray
    degenerate_frac_unmarked: float
    degenerate_frac_marked: np.ndarray
    local_marks: np.ndarray
    local_marks_per_centre: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)


def auto_radius_rad(xyz: np.ndarray, min_neighbours: int) -> float:
    """Neighbourhood radius chosen from the data: the median (the upper one for an even count)
    great-circle distance (radians) from a point to its ``min_neighbours``-th nearest other point, so
    that at least half of the centres have ``min_neighbours`` neighbours or more within the radius.

    Args:
        xyz: ``(N, 3)`` unit vectors of the evaluation points, ``N > min_neighbours``.
        min_neighbours: neighbours the median centre should have.

    Raises:
        ValueError: too few points, or a radius of 0 (most points duplicated) or ≥ π/2.
    """
    from scipy.spatial import cKDTree

    n = len(xyz)
    if n <= min_neighbours:
        raise ValueError(f"radius_km='auto' needs more than min_neighbours = {min_neighbours} evaluation points, "
                         f"got {n}; give radius_km as a number or lower min_neighbours")
    dist, _ = cKDTree(xyz).query(xyz, k=min_neighbours + 1)  # column 0 is the point itself (or a duplicate)
    chord = float(np.quantile(np.asarray(dist).reshape(n, -1)[:, -1], 0.5, method="higher"))
    radius = 2.0 * math.asin(min(chord / 2.0, 1.0))
    if not 0.0 < radius < math.pi / 2:
        raise ValueError(f"radius_km='auto' gave {radius * EARTH_RADIUS_KM:.1f} km (the median point's distance to "
                         f"its {min_neighbours}-th neighbour), outside (0, {math.pi / 2 * EARTH_RADIUS_KM:.0f}) km; "
                         "give radius_km as a number")
    return radius


def _resolve_radius(radius_km: float | str | None, radius_rad: float | None, xyz: np.ndarray,
                    min_neighbours: int) -> float:
    """The neighbourhood radius in radians (given, or :func:`auto_radius_rad`)."""
    if radius_rad is None:
        if isinstance(radius_km, str):
            if radius_km != "auto":
                raise ValueError(f"radius_km must be a number of km or 'auto', got {radius_km!r}")
            return auto_radius_rad(xyz, min_neighbours)
        if radius_km is None:
            raise ValueError("give radius_km (a number of km or 'auto') or radius_rad")
        radius_rad = float(radius_km) / EARTH_RADIUS_KM
    if not 0.0 < radius_rad < math.pi / 2:
        raise ValueError(f"radius must lie in (0, π/2) radians (0–{math.pi / 2 * EARTH_RADIUS_KM:.0f} km), "
                         f"got {radius_rad} rad")
    return float(radius_rad)


def _check_args(null: str, k: int, min_neighbours: int, isolated: str) -> None:
    if null not in ("pdf", "two_sided"):
        raise ValueError(f"null must be 'pdf' or 'two_sided', got {null!r}")
    if isolated not in ("exclude", "score"):
        raise ValueError(f"isolated must be 'exclude' (default) or 'score' (PyGBS parity), got {isolated!r}")
    for name, val in (("k", k), ("min_neighbours", min_neighbours)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
            raise ValueError(f"{name} must be a positive integer, got {val!r}")


def _as_marks(marks: np.ndarray | None, n_rows: int) -> np.ndarray:
    """``(n_rows, V)`` float64 marks (V = 0 without marks); a wrong row count raises."""
    if marks is None:
        return np.zeros((n_rows, 0))
    mk = np.asarray(marks, dtype=np.float64)
    if mk.ndim == 1:
        mk = mk[:, None]
    if mk.shape[0] != n_rows:
        raise ValueError(f"marks must have {n_rows} rows, got {mk.shape[0]}")
    return mk


def local_mark_surprisal(marks: np.ndarray, members: np.ndarray, null: str = "two_sided") -> np.ndarray:
    """Self-information of each neighbourhood's mark sum under the global permutation null.

    Under the null the N marks are assigned to the evaluation points at random, so the sum ``S`` of
    the n marks in a neighbourhood has the sampling-without-replacement moments
    ``E[S] = n·m̄`` and ``Var[S] = n·s²·(N − n)/(N − 1)`` (``m̄``, ``s²``: mean and population variance
    of all N marks). With ``ζ = (S − E[S])/√Var[S]``: ``null="two_sided"``: ``−ln(2Φ(−|ζ|))``;
    ``null="pdf"``: ``−ln φ(ζ)`` of the standardised normal density, ``½ζ² + ½ln 2π``.

    Args:
        marks: ``(N, V)`` marks of all evaluation points.
        members: ``(C, N)`` 0/1 matrix (dense or SciPy sparse), row c = the evaluation points in centre
            c's neighbourhood.
        null: ``"two_sided"`` or ``"pdf"``.

    Returns:
        ``(C, V)`` surprisal; NaN where ``Var[S] = 0`` (constant marks, or the neighbourhood is all N points).
    """
    from scipy import special

    mk = np.asarray(marks, dtype=np.float64)
    n_all = mk.shape[0]
    n = np.asarray(members.sum(axis=1), dtype=np.float64).reshape(-1, 1)
    sums = np.asarray(members @ mk, dtype=np.float64).reshape(len(n), mk.shape[1])
    expected = n * mk.mean(axis=0)
    var = n * mk.var(axis=0) * (n_all - n) / max(n_all - 1, 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        zeta = np.where(var > 0, (sums - expected) / np.sqrt(np.where(var > 0, var, 1.0)), np.nan)
    if null == "pdf":
        return 0.5 * zeta ** 2 + 0.5 * math.log(2.0 * math.pi)
    return -(math.log(2.0) + special.log_ndtr(-np.abs(zeta)))


def _aggregate(a: np.ndarray, scored: np.ndarray) -> tuple[float, float, float]:
    """Mean, legacy-cap fraction and degenerate fraction of per-centre SSI ``a`` over ``scored`` centres."""
    ok = np.isfinite(a) & scored
    if not scored.any():
        return float("nan"), float("nan"), float("nan")
    if not ok.any():
        return float("nan"), float("nan"), 1.0
    return float(a[ok].mean()), float(np.mean(a[ok] >= SSI_LEGACY_CAP - 1e-9)), float(1.0 - ok.sum() / scored.sum())


def geo_bias_ssi(
    lonlat: np.ndarray,
    marks: np.ndarray | None = None,
    radius_km: float | str | None = "auto",
    radius_rad: float | None = None,
    k: int = 4,
    neighbourhood_size: int = 400,
    null: str = "pdf",
    legacy_cap: bool = False,
    max_centres: int | None = None,
    seed: int = 0,
    min_neighbours: int | None = None,
    isolated: str = "exclude",
) -> SSIResult:
    """Geo-bias score = spatial self-information, unmarked and marked (reference §9; PyGBS steps).

    For each centre c (every evaluation point, or a seeded sample of ``max_centres``):

    1. neighbourhood: its ``neighbourhood_size`` (400) nearest evaluation points, c included, within
       great-circle radius r; n = their count;
    2. background: :func:`background_grid` for n, rotated from the pole to c (≈ 5n points);
    3. W: binary directed k-NN adjacency (k = 4, self excluded) over presence ∪ background;
    4. values: unmarked = 1 for presence, 0 for background; marked = the presence marks, 0 background;
    5. ``I = (z−z̄)ᵀW(z−z̄)`` (:func:`ssi_statistic`), null μ, σ from :func:`ssi_null_moments`;
    6. SSI(c) = −ln p: ``null="pdf"``: p = φ(I; μ, σ) computed as ``½ζ² + ln(σ√2π)``;
       ``null="two_sided"``: σ+1 and p = 2Φ(min(I, 2μ−I); μ, σ+1) via ``log_ndtr``.

    Two departures from PyGBS, both so that the score measures the model and not the point pattern
    (issue 10): the radius is chosen per evaluation set by default (``radius_km="auto"``,
    :func:`auto_radius_rad`: the median centre has ≥ ``min_neighbours`` neighbours), and an
    **isolated** centre — no other evaluation point within r, so its SSI is the same constant for every
    model — is left out (``isolated="exclude"``) and counted in ``isolated_frac``. The dataset score
    is the mean of SSI over the remaining centres whose null is not degenerate. Unmarked SSI depends
    only on the evaluation point pattern (not on predictions), as in PyGBS.

    Args:
        lonlat: ``(N, 2)`` (lon, lat) degrees; rows with non-finite coordinates are dropped.
        marks: ``None``, ``(N,)`` or ``(N, V)`` non-zero performance marks (binary outcomes coded
            +1/−1, as PyGBS's reader does); 0 is reserved for the background.
        radius_km: neighbourhood radius in km (the paper states 100 km; Earth radius 6371 km), or
            ``"auto"`` (default): chosen from the evaluation points (all of them, not only the
            sampled centres), so it is the same for every model scored on one test set.
        radius_rad: radius in radians instead (PyGBS's stored runs: 0.05 ≈ 319 km).
        k: neighbours in W (4).
        neighbourhood_size: PyGBS partitioner's k (400).
        null: ``"pdf"`` (TorchSpatial, default) or ``"two_sided"`` (PyGBS HEAD).
        legacy_cap: compute ``−ln(p + 1e-256)`` (saturates at 589.46) for parity with published files.
        max_centres: score a seeded random subset of centres (neighbourhoods still use all points).
        seed: seed of that subset.
        min_neighbours: neighbours of the median centre under ``radius_km="auto"`` (default ``k``).
        isolated: ``"exclude"`` (default) or ``"score"`` (PyGBS: isolated centres are averaged in).

    Cost: one k-NN query of ≈ 6n points per scored centre (loop over centres, vectorised within).
    """
    import scipy.sparse
    from scipy.spatial import cKDTree

    min_neighbours = k if min_neighbours is None else min_neighbours
    _check_args(null, k, min_neighbours, isolated)
    lonlat = np.asarray(lonlat, dtype=np.float64)
    finite = np.isfinite(lonlat).all(axis=1)
    pts = lonlat[finite]
    mk = _as_marks(marks, len(lonlat))[finite]
    if np.any(mk == 0) or not np.all(np.isfinite(mk)):
        raise ValueError("marks must be finite and non-zero (0 is reserved for background points)")
    n_pts, n_marks = len(pts), mk.shape[1]
    xyz = lonlat_to_xyz(pts) if n_pts else np.zeros((0, 3))
    if n_pts == 0 and radius_rad is None and radius_km == "auto":
        radius_rad = math.pi / 4  # nothing to score; any valid radius
    radius_rad = _resolve_radius(radius_km, radius_rad, xyz, min_neighbours)
    params = dict(radius_rad=radius_rad, radius_km=radius_rad * EARTH_RADIUS_KM,
                  radius_chosen="auto" if radius_km == "auto" and n_pts else "given", min_neighbours=min_neighbours,
                  k=k, neighbourhood_size=neighbourhood_size, null=null, legacy_cap=legacy_cap, isolated=isolated,
                  null_moments="TorchSpatial/PyGBS approximation", max_centres=max_centres, seed=seed,
                  n_points=n_pts)
    centres = np.arange(n_pts)
    if max_centres is not None and n_pts > max_centres:
        centres = np.sort(np.random.default_rng(seed).choice(n_pts, size=max_centres, replace=False))
    kq = max(min(neighbourhood_size, n_pts), 1)
    if n_pts:
        dist, nbr = cKDTree(xyz).query(xyz[centres], k=kq)
    else:
        dist, nbr = np.zeros((0, 1)), np.zeros((0, 1), dtype=np.int64)
    dist = np.asarray(dist).reshape(len(centres), kq)
    nbr = np.asarray(nbr).reshape(len(centres), kq)
    inside = dist <= _chord(radius_rad) * (1.0 + 1e-12)
    n_inside = inside.sum(axis=1)
    scored = (n_inside >= 2) if isolated == "exclude" else np.ones(len(centres), dtype=bool)
    un, mm = _score_centres(xyz, mk, np.radians(pts), centres, nbr, inside, scored, radius_rad, k, null, legacy_cap)

    rows = np.repeat(np.arange(len(centres)), kq)[inside.ravel()]
    members = scipy.sparse.csr_matrix((np.ones(len(rows)), (rows, nbr[inside])), shape=(len(centres), n_pts))
    local = np.full((len(centres), n_marks), np.nan)
    local[scored] = local_mark_surprisal(mk, members[scored], null)
    u_mean, u_cap, u_deg = _aggregate(un, scored)
    m_stats = [_aggregate(mm[:, v], scored) for v in range(n_marks)]
    return SSIResult(
        unmarked=u_mean, marked=np.array([s[0] for s in m_stats]),
        unmarked_per_centre=un, marked_per_centre=mm, centres=centres,
        neighbours=(n_inside - 1).astype(np.int64),
        isolated_frac=float(np.mean(n_inside < 2)) if len(centres) else float("nan"),
        cap_frac_unmarked=u_cap, cap_frac_marked=np.array([s[1] for s in m_stats]),
        degenerate_frac_unmarked=u_deg, degenerate_frac_marked=np.array([s[2] for s in m_stats]),
        local_marks=np.array([_aggregate(local[:, v], scored)[0] for v in range(n_marks)]),
        local_marks_per_centre=local, params=params,
    )


def _score_centres(xyz, mk, rad, centres, nbr, inside, scored, radius_rad, k, null, legacy_cap):
    """Per-centre unmarked ``(C,)`` and marked ``(C, V)`` SSI; NaN for centres not ``scored``."""
    n_marks = mk.shape[1]
    templates: dict[int, np.ndarray] = {}
    un = np.full(len(centres), np.nan)
    mm = np.full((len(centres), n_marks), np.nan)
    for ci in np.flatnonzero(scored):  # loop over centres; each is one vectorised k-NN problem
        c = centres[ci]
        idx = nbr[ci, inside[ci]]
        n = len(idx)
        if n not in templates:
            templates[n] = background_grid(n, radius_rad)
        bg = templates[n] @ _rotation_to(rad[c, 0], rad[c, 1]).T
        allxyz = np.concatenate([xyz[idx], bg], axis=0)
        vals = np.zeros((n + len(bg), 1 + n_marks))
        vals[:n, 0] = 1.0
        vals[:n, 1:] = mk[idx]
        scores = ssi_local(allxyz, vals, k=k, null=null, legacy_cap=legacy_cap)
        un[ci] = scores[0]
        mm[ci] = scores[1:]
    return un, mm
