"""Exact Fourier transform: reference values, identities, degenerate frequencies, brute-force integrals."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import shapely
import torch
from geom_strategies import PROPERTY, star_polygons
from hypothesis import given
from hypothesis import strategies as st
from scipy import special
from shapely import LineString, MultiLineString, MultiPoint, Polygon

from geosrl.geometry import area_moments, batch_geometries, fft_grid_frequencies, fourier_transform

EXACT = 1e-6


def spectrum(geoms, k, frame="absolute", **kw) -> np.ndarray:
    """``(B, M)`` complex spectrum of ``geoms`` at ``k`` (array-like ``(M, 2)``)."""
    batch = batch_geometries(geoms, frame=frame)
    return fourier_transform(batch, torch.as_tensor(np.asarray(k, dtype=np.float64)), **kw).numpy()


def rectangle_ft(k: np.ndarray, x0: float, x1: float, y0: float, y1: float) -> np.ndarray:
    """Separable closed form of ``[x0, x1] × [y0, y1]`` with the k = 0 limit ``g(0) = b − a``."""

    def g(kappa: np.ndarray, a: float, b: float) -> np.ndarray:
        safe = np.where(kappa == 0, 1.0, kappa)
        return np.where(kappa == 0, b - a, (np.exp(-1j * safe * a) - np.exp(-1j * safe * b)) / (1j * safe))

    return g(k[:, 0], x0, x1) * g(k[:, 1], y0, y1)


def fan_with_zeroed_limits(ring: np.ndarray, k: np.ndarray) -> np.ndarray:
    """The wrong answer of a naive transform: a fan of triangles (origin, a, b) over the ring's edges, each by
    the simplex formula ``F_T(k) = −2A Σ_j e^{-iw_j} / Π_{l≠j} (w_j − w_l)`` (``w_j = k·v_j``, signed area A),
    dropping the terms whose denominator vanishes instead of taking their limits."""
    total = np.zeros(len(k), dtype=complex)
    for a, b in zip(ring, np.roll(ring, -1, axis=0)):
        verts = np.array([[0.0, 0.0], a, b])
        area = (a[0] * b[1] - a[1] * b[0]) / 2
        w = k @ verts.T  # (M, 3)
        for j in range(3):
            den = np.prod([w[:, j] - w[:, m] for m in range(3) if m != j], axis=0)
            ok = np.abs(den) > 1e-12
            total[ok] -= 2 * area * np.exp(-1j * w[ok, j]) / den[ok]
    return total


def rotate_k(k: np.ndarray, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return k @ np.array([[c, -s], [s, c]]).T


K = np.array([[3.0, 0.0], [0.0, 3.0], [2.0, 1.3], [-4.0, 2.5], [0.7, -5.0], [1e-7, 0.0], [0.0, 0.0]])


def test_reference_values():
    k = np.array([[3.0, 0.0], [0.0, 3.0], [2.0, 1.3], [-4.0, 2.5], [0.7, -5.0]])
    boxes = [(0, 0, 1, 1), (0.2, 0.1, 0.9, 0.5)]
    f = spectrum([shapely.box(*b) for b in boxes], k)
    for got, (x0, y0, x1, y1) in zip(f, boxes):
        # w×h box centred at c: F(k) = e^{-ik·c} · w sinc(k_x w/2) · h sinc(k_y h/2), sinc t = sin t / t
        w, h, c = x1 - x0, y1 - y0, np.array([x0 + x1, y0 + y1]) / 2
        box = np.exp(-1j * k @ c) * w * np.sinc(k[:, 0] * w / (2 * np.pi)) * h * np.sinc(k[:, 1] * h / (2 * np.pi))
        np.testing.assert_allclose(got, box, atol=EXACT)
    # right triangle (0,0), (1,0), (0,1): ∫₀¹ e^{-iax} ∫₀^{1-x} e^{-iby} dy dx with (a, b) = k, a, b, a − b ≠ 0
    a, b = k[2:, 0], k[2:, 1]
    triangle = ((1 - np.exp(-1j * a)) / (1j * a) - (np.exp(-1j * b) - np.exp(-1j * a)) / (1j * (a - b))) / (1j * b)
    np.testing.assert_allclose(spectrum(Polygon([(0, 0), (1, 0), (0, 1)]), k[2:])[0], triangle, atol=EXACT)
    # disk of radius R at c: F(k) = e^{-ik·c} 2πR² J₁(|k|R)/(|k|R); the inscribed 4096-gon misses an area
    # πR²(2π/n)²/6 ≈ 4e-7 of it, which bounds the difference
    radius, centre = 0.6, np.array([0.2, -0.1])
    kr = np.linalg.norm(k, axis=1) * radius
    disk = np.exp(-1j * k @ centre) * 2 * np.pi * radius**2 * special.j1(kr) / kr
    polygon = shapely.Point(*centre).buffer(radius, quad_segs=1024)
    np.testing.assert_allclose(spectrum(polygon, k)[0], disk, atol=1e-6)


def test_axis_aligned_edges_on_fft_grid_match_separable_closed_form():
    """The k_x = 0 and k_y = 0 lines are degenerate for simplex forms; the edge sum needs no special case."""
    k = fft_grid_frequencies((16, 16), period=4.0).numpy()
    assert ((k[:, 0] == 0).sum(), (k[:, 1] == 0).sum()) == (8, 7)
    got = spectrum(shapely.box(0.2, 0.1, 0.9, 0.5), k)[0]
    np.testing.assert_allclose(got, rectangle_ft(k, 0.2, 0.9, 0.1, 0.5), atol=EXACT)
    k_axes = np.array([[3.0, 0.0], [0.0, 3.0]])
    zeroed = fan_with_zeroed_limits(np.asarray(shapely.box(0.2, 0.1, 0.9, 0.5).exterior.coords)[:-1], k_axes)
    assert np.abs(spectrum(shapely.box(0.2, 0.1, 0.9, 0.5), k_axes)[0] - zeroed).min() > 0.2


@PROPERTY
@given(star_polygons(axis_aligned_box=True))
def test_holed_rectangles_subtract_holes(poly: Polygon):
    x0, y0, x1, y1 = poly.exterior.bounds
    filled = rectangle_ft(K, x0, x1, y0, y1)
    holes = spectrum([Polygon(h) for h in poly.interiors], K).sum(0) if poly.interiors else 0
    np.testing.assert_allclose(spectrum(poly, K)[0], filled - holes, atol=EXACT * max(1, poly.area))


def test_dc_is_area_length_count():
    holed = Polygon(shapely.box(0, 0, 3, 2).exterior.coords, [shapely.box(1, 0.5, 2, 1.5).exterior.coords])
    assert spectrum(holed, [[0, 0]])[0, 0] == pytest.approx(5.0, abs=1e-12)
    lines = MultiLineString([[(0, 0), (3, 4)], [(10, 0), (10, 2), (11, 2)]])
    assert spectrum(lines, [[0, 0]])[0, 0] == pytest.approx(8.0, abs=1e-12)
    assert spectrum(MultiPoint([(0, 0), (1, 5), (1, 5), (7, 7)]), [[0, 0]])[0, 0] == pytest.approx(4.0)


def test_dc_sign_shows_orientation_was_normalised():
    clockwise = Polygon([(0, 0), (0, 1), (1, 1), (1, 0)])
    assert spectrum(clockwise, [[0, 0]])[0, 0].real == pytest.approx(1.0)


def test_unnormalised_reversed_rings_negate_the_spectrum():
    batch = batch_geometries(Polygon([(0, 0), (2, 0.3), (1, 2)]), frame="absolute")
    reversed_batch = dataclasses.replace(batch, edge_start=batch.edge_end, edge_end=batch.edge_start)
    k = torch.as_tensor(K)
    np.testing.assert_allclose(fourier_transform(reversed_batch, k), -fourier_transform(batch, k), atol=1e-12)


@PROPERTY
@given(star_polygons(), st.floats(-30, 30), st.floats(-30, 30))
def test_translation_multiplies_by_a_phase(poly: Polygon, tx: float, ty: float):
    moved = shapely.affinity.translate(poly, tx, ty)
    phase = np.exp(-1j * (K @ np.array([tx, ty])))
    np.testing.assert_allclose(spectrum(moved, K)[0], phase * spectrum(poly, K)[0], atol=EXACT * poly.area)


@PROPERTY
@given(star_polygons(), st.floats(0, 2 * math.pi))
def test_rotation_rotates_the_frequency(poly: Polygon, angle: float):
    rotated = shapely.affinity.rotate(poly, angle, origin=(0, 0), use_radians=True)
    expected = spectrum(poly, rotate_k(K, -angle))[0]  # F_{RP}(k) = F_P(Rᵀk)
    np.testing.assert_allclose(spectrum(rotated, K)[0], expected, atol=EXACT * poly.area)


@PROPERTY
@given(star_polygons(), st.floats(0.1, 10))
def test_scaling_scales_frequency_and_measure(poly: Polygon, s: float):
    scaled = shapely.affinity.scale(poly, s, s, origin=(0, 0))
    np.testing.assert_allclose(spectrum(scaled, K)[0], s**2 * spectrum(poly, s * K)[0], atol=EXACT * scaled.area)
    line = LineString(np.asarray(poly.exterior.coords))
    scaled_line = shapely.affinity.scale(line, s, s, origin=(0, 0))
    np.testing.assert_allclose(spectrum(scaled_line, K)[0], s * spectrum(line, s * K)[0], atol=EXACT * scaled_line.length)


@PROPERTY
@given(star_polygons())
def test_mirror_and_hermitian_symmetry(poly: Polygon):
    mirrored = shapely.affinity.scale(poly, 1, -1, origin=(0, 0))  # reverses orientation; ingest re-orients
    flip = np.array([1.0, -1.0])
    np.testing.assert_allclose(spectrum(mirrored, K)[0], spectrum(poly, K * flip)[0], atol=EXACT * poly.area)
    np.testing.assert_allclose(spectrum(poly, -K)[0], np.conj(spectrum(poly, K)[0]), atol=EXACT * poly.area)


def test_taylor_switch_is_continuous_and_accurate():
    poly = Polygon([(0, 0), (1.0, 0.1), (0.8, 0.9), (0.3, 0.7), (0.1, 1.0)], [[(0.3, 0.3), (0.5, 0.3), (0.4, 0.5)]])
    direction = np.array([0.6, 0.8])
    radii = np.geomspace(1e-7, 1e-2, 41)
    k = radii[:, None] * direction
    taylor_everywhere = spectrum(poly, k, frame="shape", taylor_threshold=1e-1)[0]
    edges_everywhere = spectrum(poly, k, frame="shape", taylor_threshold=0.0)[0]
    default = spectrum(poly, k, frame="shape")[0]
    # the truncated series is off by O((|k|R)³) (6e-10 at |k| = 1e-2); the edge sum by O(ε/(|k|R)) at tiny |k|
    np.testing.assert_allclose(default, taylor_everywhere, atol=1e-9)
    np.testing.assert_allclose(default[radii > 1e-3], edges_everywhere[radii > 1e-3], atol=1e-12)
    assert np.abs(np.diff(default)).max() < 1e-4  # no jump where the branch switches


def test_gradients_are_finite_at_k_zero():
    batch = batch_geometries(Polygon([(0, 0), (2, 0), (2, 1), (0, 1)]))
    coords = batch.coords.clone().requires_grad_(True)
    k = torch.tensor([[0.0, 0.0], [1e-9, 0.0], [1.0, 0.0], [0.0, 2.0]], dtype=torch.float64, requires_grad=True)
    f = fourier_transform(dataclasses.replace(batch, coords=coords), k)
    (f.real.sum() + f.imag.sum()).backward()
    assert torch.isfinite(k.grad).all() and torch.isfinite(coords.grad).all()


def test_chunking_does_not_change_the_result():
    poly = Polygon([(0, 0), (1.0, 0.1), (0.8, 0.9), (0.3, 0.7), (0.1, 1.0)], [[(0.3, 0.3), (0.5, 0.3), (0.4, 0.5)]])
    geoms = [poly, LineString([(0, 0), (1, 2), (3, 1)])]
    for g in geoms:
        np.testing.assert_allclose(spectrum(g, K, chunk_elements=1)[0], spectrum(g, K)[0], atol=1e-13)


# ---- brute-force numerical integrals on fixed examples (~1e-4 relative) ----

BRUTE_K = np.array([[3.0, 0.0], [0.0, 3.0], [2.0, 1.3], [-4.0, 2.5], [0.0, 0.0]])


def brute_force_area(poly: Polygon, k: np.ndarray, n: int = 800) -> np.ndarray:
    minx, miny, maxx, maxy = poly.bounds
    hx, hy = (maxx - minx) / n, (maxy - miny) / n
    x, y = np.meshgrid(minx + (np.arange(n) + 0.5) * hx, miny + (np.arange(n) + 0.5) * hy)
    inside = shapely.contains_xy(poly, x.ravel(), y.ravel())
    xi, yi = x.ravel()[inside], y.ravel()[inside]
    return np.exp(-1j * (np.outer(xi, k[:, 0]) + np.outer(yi, k[:, 1]))).sum(0) * hx * hy


def brute_force_line(line: LineString | MultiLineString, k: np.ndarray, n: int = 4000) -> np.ndarray:
    total = np.zeros(len(k), dtype=complex)
    for part in shapely.get_parts(line):
        c = np.asarray(part.coords)
        for a, b in zip(c[:-1], c[1:]):
            t = (np.arange(n) + 0.5) / n
            pts = a + t[:, None] * (b - a)
            total += np.exp(-1j * pts @ k.T).sum(0) * np.linalg.norm(b - a) / n
    return total


@pytest.mark.parametrize(
    "poly",
    [
        Polygon([(0, 0), (1.0, 0.1), (0.8, 0.9), (0.3, 0.7), (0.1, 1.0)], [[(0.3, 0.3), (0.5, 0.3), (0.4, 0.5)]]),
        Polygon(shapely.box(-0.5, -0.5, 0.5, 0.5).exterior.coords, [shapely.box(-0.2, -0.2, 0.2, 0.1).exterior.coords]),
        shapely.Point(0.2, -0.1).buffer(0.6, quad_segs=4),
    ],
    ids=["holed-pentagon", "holed-axis-aligned-square", "octagon"],
)
def test_area_transform_matches_brute_force_integral(poly: Polygon):
    exact = spectrum(poly, BRUTE_K)[0]
    np.testing.assert_allclose(exact, brute_force_area(poly, BRUTE_K), rtol=1e-4)


def test_multipolygon_transform_matches_brute_force_integral():
    multi = shapely.MultiPolygon([shapely.box(0, 0, 0.5, 0.5), Polygon([(0.7, 0), (1.2, 0.1), (0.9, 0.6)])])
    # n = 960 puts the square's axis-aligned edges on cell boundaries (the midpoint rule is O(h) otherwise)
    np.testing.assert_allclose(spectrum(multi, BRUTE_K)[0], brute_force_area(multi, BRUTE_K, n=960), rtol=1e-4)


def test_line_transform_matches_brute_force_integral():
    line = MultiLineString([[(0, 0), (0, 1), (0.7, 1.4)], [(1, 0), (1.5, -0.5)]])
    np.testing.assert_allclose(spectrum(line, BRUTE_K)[0], brute_force_line(line, BRUTE_K), rtol=1e-4)


def test_point_transform_is_the_sum_of_phasors():
    pts = np.array([[0.0, 0.0], [1.0, 2.0], [-0.5, 0.25]])
    expected = np.exp(-1j * pts @ BRUTE_K.T).sum(0)
    np.testing.assert_allclose(spectrum(MultiPoint(pts), BRUTE_K)[0], expected, atol=1e-12)


def test_moments_match_shapely():
    poly = Polygon([(0, 0), (3, 0.5), (2, 2), (0.5, 1.5)], [[(1, 0.8), (1.5, 0.8), (1.2, 1.2)]])
    area, first, _ = area_moments(batch_geometries(poly, frame="absolute"))
    assert area.item() == pytest.approx(poly.area)
    np.testing.assert_allclose(first[0].numpy() / area.item(), [poly.centroid.x, poly.centroid.y], atol=1e-12)
