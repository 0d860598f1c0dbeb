"""Geo-bias score = spatial self-information (SSI; reference §9, PyGBS).

See :func:`geo_bias_ssi`. The null distribution is the **TorchSpatial/PyGBS approximation** of the
permutation null (not its exact moments); ``null="pdf"`` (TorchSpatial's file, default) or
``null="two_sided"`` (PyGBS HEAD). SSI is computed analytically (no ``1e-256`` cap) unless
``legacy_cap=True``; the fraction of centres at/above the legacy cap (589.46) is always reported.

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
    "background_grid",
    "geo_bias_ssi",
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
        unmarked: mean SSI over valid centres of the presence (1) / background (0) pattern.
        marked: ``(V,)`` mean SSI per mark vector (empty when no marks were given).
        unmarked_per_centre / marked_per_centre: ``(n_centres,)`` / ``(n_centres, V)`` values
            (NaN where the null was degenerate).
        centres: ``(n_centres,)`` indices (into the finite-coordinate rows) of the centres scored.
        cap_frac_unmarked / cap_frac_marked: fraction of valid centres with SSI ≥ the legacy cap 589.46.
        degenerate_frac_unmarked / degenerate_frac_marked: fraction of centres left out because the
            null had σ = 0 (``null="pdf"`` with a single presence point, for example).
        params: radius, k, neighbourhood size, null, cap flag.
    """

    unmarked: float
    marked: np.ndarray
    unmarked_per_centre: np.ndarray
    marked_per_centre: np.ndarray
    centres: np.ndarray
    cap_frac_unmarked: float
    cap_frac_marked: np.ndarray
    degenerate_frac_unmarked: float
    degenerate_frac_marked: np.ndarray
    params: dict[str, Any] = field(default_factory=dict)


def geo_bias_ssi(
    lonlat: np.ndarray,
    marks: np.ndarray | None = None,
    radius_km: float | None = 100.0,
    radius_rad: float | None = None,
    k: int = 4,
    neighbourhood_size: int = 400,
    null: str = "pdf",
    legacy_cap: bool = False,
    max_centres: int | None = None,
    seed: int = 0,
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

    The dataset score is the mean of SSI over centres whose null is not degenerate. Unmarked SSI
    depends only on the evaluation point pattern (not on predictions), as in PyGBS.

    Args:
        lonlat: ``(N, 2)`` (lon, lat) degrees; rows with non-finite coordinates are dropped.
        marks: ``None``, ``(N,)`` or ``(N, V)`` non-zero performance marks (binary outcomes coded
            +1/−1, as PyGBS's reader does); 0 is reserved for the background.
        radius_km: neighbourhood radius in km (the paper's 100 km; Earth radius 6371 km).
        radius_rad: radius in radians instead (PyGBS's stored runs: 0.05 ≈ 319 km).
        k: neighbours in W (4).
        neighbourhood_size: PyGBS partitioner's k (400).
        null: ``"pdf"`` (TorchSpatial, default) or ``"two_sided"`` (PyGBS HEAD).
        legacy_cap: compute ``−ln(p + 1e-256)`` (saturates at 589.46) for parity with published files.
        max_centres: score a seeded random subset of centres (neighbourhoods still use all points).
        seed: seed of that subset.

    Cost: one k-NN query of ≈ 6n points per centre (loop over centres, vectorised within).
    """
    from scipy.spatial import cKDTree

    if null not in ("pdf", "two_sided"):
        raise ValueError(f"null must be 'pdf' or 'two_sided', got {null!r}")
    if radius_rad is None:
        if radius_km is None:
            raise ValueError("give radius_km or radius_rad")
        radius_rad = float(radius_km) / EARTH_RADIUS_KM
    if not 0.0 < radius_rad < math.pi / 2:
        raise ValueError(f"radius must lie in (0, π/2) radians, got {radius_rad}")
    lonlat = np.asarray(lonlat, dtype=np.float64)
    finite = np.isfinite(lonlat).all(axis=1)
    pts = lonlat[finite]
    if marks is None:
        mk = np.zeros((len(lonlat), 0))
    else:
        mk = np.asarray(marks, dtype=np.float64)
        if mk.ndim == 1:
            mk = mk[:, None]
        if mk.shape[0] != len(lonlat):
            raise ValueError(f"marks must have {len(lonlat)} rows, got {mk.shape[0]}")
    mk = mk[finite]
    if np.any(mk == 0) or not np.all(np.isfinite(mk)):
        raise ValueError("marks must be finite and non-zero (0 is reserved for background points)")
    n_pts, n_marks = len(pts), mk.shape[1]
    params = dict(radius_rad=radius_rad, radius_km=radius_rad * EARTH_RADIUS_KM, k=k,
                  neighbourhood_size=neighbourhood_size, null=null, legacy_cap=legacy_cap,
                  null_moments="TorchSpatial/PyGBS approximation", max_centres=max_centres, seed=seed,
                  n_points=n_pts)
    if n_pts == 0:
        nan_v = np.full(n_marks, np.nan)
        return SSIResult(float("nan"), nan_v, np.zeros(0), np.zeros((0, n_marks)), np.zeros(0, np.int64),
                         float("nan"), nan_v, float("nan"), nan_v, params)

    xyz = lonlat_to_xyz(pts)
    centres = np.arange(n_pts)
    if max_centres is not None and n_pts > max_centres:
        centres = np.sort(np.random.default_rng(seed).choice(n_pts, size=max_centres, replace=False))
    kq = min(neighbourhood_size, n_pts)
    dist, nbr = cKDTree(xyz).query(xyz[centres], k=kq)
    dist = np.asarray(dist).reshape(len(centres), kq)
    nbr = np.asarray(nbr).reshape(len(centres), kq)
    inside = dist <= _chord(radius_rad) * (1.0 + 1e-12)

    templates: dict[int, np.ndarray] = {}
    rad = np.radians(pts)
    un = np.full(len(centres), np.nan)
    mm = np.full((len(centres), n_marks), np.nan)
    for ci, c in enumerate(centres):
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

    def _agg(a: np.ndarray) -> tuple[float, float, float]:
        ok = np.isfinite(a)
        if not ok.any():
            return float("nan"), float("nan"), 1.0
        return float(a[ok].mean()), float(np.mean(a[ok] >= SSI_LEGACY_CAP - 1e-9)), float(1.0 - ok.mean())

    u_mean, u_cap, u_deg = _agg(un)
    m_stats = [_agg(mm[:, v]) for v in range(n_marks)]
    return SSIResult(
        unmarked=u_mean,
        marked=np.array([s[0] for s in m_stats]),
        unmarked_per_centre=un,
        marked_per_centre=mm,
        centres=centres,
        cap_frac_unmarked=u_cap,
        cap_frac_marked=np.array([s[1] for s in m_stats]),
        degenerate_frac_unmarked=u_deg,
        degenerate_frac_marked=np.array([s[2] for s in m_stats]),
        params=params,
    )

