"""Independent float64 NumPy implementations of the position encodings (reference formulas, TorchSpatial
column order), written from ../shared/reference/location_encoders.md without looking at the library code."""

from __future__ import annotations

import numpy as np

D2R = np.pi / 180.0


def geometric(S, lmin, lmax):
    if S == 1:
        return np.array([1.0 / lmin])
    return np.array([1.0 / (lmin * (lmax / lmin) ** (s / (S - 1))) for s in range(S)])


def space2vec_grid(x, S=32, lmin=0.1, lmax=360.0):
    w = geometric(S, lmin, lmax)
    out = np.zeros((len(x), 4 * S))
    for c in range(2):
        for s in range(S):
            out[:, c * 2 * S + 2 * s] = np.sin(x[:, c] * w[s])
            out[:, c * 2 * S + 2 * s + 1] = np.cos(x[:, c] * w[s])
    return out


def space2vec_theory(x, S=32, lmin=0.1, lmax=360.0):
    w = geometric(S, lmin, lmax)
    a = [(1.0, 0.0), (-0.5, np.sqrt(3) / 2), (-0.5, -np.sqrt(3) / 2)]
    out = np.zeros((len(x), 6 * S))
    for s in range(S):
        for j, (ax, ay) in enumerate(a):
            u = x[:, 0] * ax + x[:, 1] * ay
            out[:, 6 * s + 2 * j] = np.sin(u * w[s])
            out[:, 6 * s + 2 * j + 1] = np.cos(u * w[s])
    return out


def _angles(x, w):
    th, ph = x[:, 0] * D2R, x[:, 1] * D2R
    return th, ph, th[:, None] * w[None], ph[:, None] * w[None]


def spherec(x, S=32, lmin=1e-3, lmax=1.0, w=None):
    w = geometric(S, lmin, lmax) if w is None else w
    th, ph, ths, phs = _angles(x, w)
    cols = []
    for s in range(len(w)):
        cols += [np.sin(phs[:, s]), np.cos(phs[:, s]) * np.cos(ths[:, s]), np.cos(phs[:, s]) * np.sin(ths[:, s])]
    return np.stack(cols, 1)


def spherec_plus(x, S=32, lmin=1e-3, lmax=1.0):
    w = geometric(S, lmin, lmax)
    th, ph, ths, phs = _angles(x, w)
    cols = []
    for s in range(S):
        cols += [np.sin(phs[:, s]), np.cos(phs[:, s]), np.sin(ths[:, s]), np.cos(ths[:, s]),
                 np.cos(phs[:, s]) * np.cos(ths[:, s]), np.cos(phs[:, s]) * np.sin(ths[:, s])]
    return np.stack(cols, 1)


def spherem(x, S=32, lmin=1e-3, lmax=1.0):
    w = geometric(S, lmin, lmax)
    th, ph, ths, phs = _angles(x, w)
    cols = []
    for s in range(S):
        cols += [np.sin(phs[:, s]), np.cos(phs[:, s]) * np.cos(th), np.cos(ph) * np.cos(ths[:, s]),
                 np.cos(phs[:, s]) * np.sin(th), np.cos(ph) * np.sin(ths[:, s])]
    return np.stack(cols, 1)


def spherem_plus(x, S=32, lmin=1e-3, lmax=1.0, w=None):
    w = geometric(S, lmin, lmax) if w is None else w
    th, ph, ths, phs = _angles(x, w)
    cols = []
    for s in range(len(w)):
        cols += [np.sin(phs[:, s]), np.cos(phs[:, s]), np.sin(ths[:, s]), np.cos(ths[:, s]),
                 np.cos(phs[:, s]) * np.cos(th), np.cos(ph) * np.cos(ths[:, s]),
                 np.cos(phs[:, s]) * np.sin(th), np.cos(ph) * np.sin(ths[:, s])]
    return np.stack(cols, 1)


def dfs(x, S=8, lmin=1e-3, lmax=1.0, w=None):
    w = geometric(S, lmin, lmax) if w is None else w
    S = len(w)
    th, ph, ths, phs = _angles(x, w)
    U = np.concatenate([np.sin(ths), np.cos(ths)], 1)
    V = np.concatenate([np.sin(phs), np.cos(phs)], 1)
    n = len(x)
    outer = np.zeros((n, 4 * S * S))
    for a in range(2 * S):
        for b in range(2 * S):
            outer[:, a * 2 * S + b] = U[:, a] * V[:, b]
    cols = []
    for s in range(S):
        cols += [np.sin(phs[:, s]), np.cos(phs[:, s]), np.sin(ths[:, s]), np.cos(ths[:, s])]
    return np.concatenate([outer, np.stack(cols, 1)], 1)


def legacy_omega(S, lmax):
    return np.array([lmax ** (-s / (S - 1)) for s in range(S)])


def xyz(x):
    th, ph = x[:, 0] * D2R, x[:, 1] * D2R
    return np.stack([np.cos(ph) * np.cos(th), np.cos(ph) * np.sin(th), np.sin(ph)], 1)


def nerf(x, L=16):
    p = xyz(x)
    cols = []
    for fn in (np.sin, np.cos):
        for c in range(3):
            for k in range(L):
                cols.append(fn(np.pi * 2.0**k * p[:, c]))
    return np.stack(cols, 1)


def wrap(x, mac_aodha=False):
    th, ph = x[:, 0] * D2R, x[:, 1] * D2R * (2 if mac_aodha else 1)
    return np.stack([np.sin(th), np.sin(ph), np.cos(th), np.cos(ph)], 1)


def wrap_torchspatial(x):
    """TorchSpatial utils.encode_loc_time(encode_cos_sin) on (lon/180, lat/90)."""
    xn = np.stack([x[:, 0] / 180.0, x[:, 1] / 90.0], 1)
    return np.concatenate([np.sin(np.pi * xn), np.cos(np.pi * xn)], 1)


def direct(x):
    return np.stack([x[:, 0] / 180.0, x[:, 1] / 90.0], 1)


def great_circle_deg(x, a):
    """(N, M) great-circle angle in degrees by the spherical law of cosines on unit vectors."""
    vx, va = xyz(x), xyz(a)
    return np.degrees(np.arccos(np.clip(vx @ va.T, -1, 1)))


def rbf(x, anchors, sigma, euclidean=False):
    if euclidean:
        d2 = ((x[:, None, :] - anchors[None]) ** 2).sum(-1)
    else:
        d2 = great_circle_deg(x, anchors) ** 2
    return np.exp(-d2 / (2 * sigma**2))


def rff(x, dirvec, shift):
    xn = np.stack([x[:, 0] / 180.0, x[:, 1] / 90.0], 1)
    D = dirvec.shape[1]
    return np.sqrt(2.0 / D) * np.cos(xn @ dirvec + shift)


def equal_earth_geoclip(x):
    A1, A2, A3, A4, SF = 1.340264, -0.081106, 0.000893, 0.003796, 66.50336
    lon, lat = x[:, 0] * D2R, x[:, 1] * D2R
    eta = np.arcsin(np.sqrt(3) / 2 * np.sin(lat))
    xx = 2 * np.sqrt(3) * lon * np.cos(eta) / (3 * (9 * A4 * eta**8 + 7 * A3 * eta**6 + 3 * A2 * eta**2 + A1))
    yy = A4 * eta**9 + A3 * eta**7 + A2 * eta**3 + A1 * eta
    return np.stack([xx, yy], 1) * SF / 180.0


def geoclip_rff(x, bs):
    v = equal_earth_geoclip(x)
    blocks = []
    for b in bs:
        proj = 2 * np.pi * v @ b.T
        blocks += [np.cos(proj), np.sin(proj)]
    return np.concatenate(blocks, 1)
