"""Shape-centric invariances: exact for ``nuft`` (1e-6 in float64), documented failures for ``resnet1d``."""

from __future__ import annotations

import numpy as np
import shapely
import torch
from geom_strategies import (
    PROPERTY,
    duplicate_vertex,
    insert_collinear,
    multipolygons,
    reverse_rings,
    roll_rings,
    star_polygons,
)
from hypothesis import given
from hypothesis import strategies as st
from shapely import LineString, MultiLineString, MultiPolygon, Polygon

from geosrl.geometry import NUFTEncoder, ResNet1DEncoder, batch_geometries, rasterise

EXACT = 1e-6

torch.manual_seed(0)
ENCODERS = {
    "fft": NUFTEncoder(16, sampling="fft", fft_size=(12, 12), period=6.0).double().eval(),
    "geometric": NUFTEncoder(16, sampling="geometric", features="magphase").double().eval(),
}
polygons_with_holes_or_parts = st.one_of(star_polygons(), star_polygons(axis_aligned_box=True), multipolygons())


def assert_same_nuft(g1: shapely.Geometry, g2: shapely.Geometry, embeddings: bool = False) -> None:
    """Spectral features (and, if asked, full ``nuft`` embeddings) agree to 1e-6 (FFT grid and geometric sets)."""
    b1, b2 = batch_geometries(g1), batch_geometries(g2)
    for enc in ENCODERS.values():
        np.testing.assert_allclose(enc.spectral_features(b1), enc.spectral_features(b2), atol=EXACT)
        if embeddings:
            with torch.no_grad():
                np.testing.assert_allclose(enc(b1), enc(b2), atol=EXACT)


@PROPERTY
@given(polygons_with_holes_or_parts, st.integers(1, 50))
def test_start_vertex_roll(geom, shift):
    assert_same_nuft(geom, roll_rings(geom, shift), embeddings=True)


@PROPERTY
@given(polygons_with_holes_or_parts, st.floats(0.05, 0.95), st.integers(1, 3))
def test_collinear_vertex_insertion_and_removal(geom, fraction, every):
    denser = insert_collinear(geom, fraction, every)
    assert shapely.get_num_coordinates(denser) > shapely.get_num_coordinates(geom)
    assert_same_nuft(geom, denser)
    assert_same_nuft(denser, shapely.simplify(denser, 0.0))  # removal of the collinear vertices


@PROPERTY
@given(polygons_with_holes_or_parts)
def test_ring_reversal(geom):
    assert_same_nuft(geom, reverse_rings(geom))


@PROPERTY
@given(polygons_with_holes_or_parts, st.integers(0, 20))
def test_repeated_vertex(geom, index):
    assert_same_nuft(geom, duplicate_vertex(geom, index))


@PROPERTY
@given(multipolygons(), st.randoms(use_true_random=False))
def test_part_permutation(multi, rnd):
    parts = list(multi.geoms)
    rnd.shuffle(parts)
    assert_same_nuft(multi, MultiPolygon(parts))


@PROPERTY
@given(star_polygons(max_holes=2))
def test_hole_permutation(poly):
    assert_same_nuft(poly, Polygon(poly.exterior, list(poly.interiors)[::-1]))


def test_duplicate_closing_vertex():
    ring = [(0, 0), (2, 0), (2, 1), (1, 1.5), (0, 1)]
    implicit = Polygon(ring)
    explicit = Polygon(ring + [ring[0]])
    doubled = Polygon(ring + [ring[0], ring[0]])
    assert_same_nuft(implicit, explicit, embeddings=True)
    assert_same_nuft(implicit, doubled, embeddings=True)
    assert batch_geometries(explicit).coords.shape[0] == len(ring)  # stored open


@PROPERTY
@given(star_polygons(max_holes=0), st.floats(0.1, 0.9))
def test_polyline_split_and_reversal(poly, fraction):
    line = LineString(np.asarray(poly.exterior.coords)[:5])
    assert_same_nuft(line, insert_collinear(line, fraction))
    assert_same_nuft(line, line.reverse())
    multi = MultiLineString([line, shapely.affinity.translate(line, 5, 0)])
    assert_same_nuft(multi, MultiLineString(list(multi.geoms)[::-1]))


@PROPERTY
@given(star_polygons(), st.floats(-1e3, 1e3), st.floats(-1e3, 1e3), st.floats(0.01, 100))
def test_shape_frame_removes_translation_and_uniform_scale(poly, tx, ty, s):
    moved = shapely.affinity.translate(shapely.affinity.scale(poly, s, s), tx, ty)
    assert_same_nuft(poly, moved)


# ---- negative tests: different shapes must give different features ----


def feature_distance(g1: shapely.Geometry, g2: shapely.Geometry) -> float:
    enc = ENCODERS["geometric"]
    return float((enc.spectral_features(batch_geometries(g1)) - enc.spectral_features(batch_geometries(g2))).abs().max())


def test_hole_is_not_filled():
    filled = shapely.box(0, 0, 3, 3)
    holed = Polygon(filled.exterior.coords, [[(1, 1), (2, 1), (1.5, 2)]])
    assert feature_distance(holed, filled) > 1e-2
    assert feature_distance(holed, Polygon(filled.exterior.coords, [[(1, 1), (2, 1), (1.5, 2)][::-1]])) < EXACT


def test_multipolygon_is_not_its_convex_hull():
    multi = MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(2, 0, 3, 1)])
    assert feature_distance(multi, multi.convex_hull) > 1e-2


def test_polyline_is_not_its_buffer():
    line = LineString([(0, 0), (1, 0.2), (1.5, 1)])
    assert feature_distance(line, line.buffer(0.2)) > 1e-2


# ---- baselines: what they do and do not preserve ----


def test_resnet1d_is_not_invariant_to_a_one_vertex_roll():
    torch.manual_seed(0)
    enc = ResNet1DEncoder(16, num_points=32).double().eval()
    poly = Polygon([(0, 0), (2, 0.1), (2.5, 1.2), (1.2, 2.0), (0.3, 1.6), (-0.4, 0.8)])
    with torch.no_grad():
        diff = (enc([poly]) - enc([roll_rings(poly, 1)])).abs().max().item()
    assert diff > 1e-3, "resnet1d resamples from the first vertex, so a roll changes its input"


def test_resnet1d_arc_length_resampling_hides_collinear_vertices_but_not_part_order():
    """Resampling by arc length from vertex 0 makes collinear insertion harmless; part order still matters."""
    torch.manual_seed(0)
    enc = ResNet1DEncoder(16, num_points=32).double().eval()
    poly = Polygon([(0, 0), (2, 0.1), (2.5, 1.2), (1.2, 2.0), (0.3, 1.6), (-0.4, 0.8)])
    multi = MultiPolygon([poly, shapely.affinity.translate(poly, 4, 0)])
    with torch.no_grad():
        assert torch.allclose(enc([poly]), enc([insert_collinear(poly, 0.3)]), atol=1e-9)
        assert not torch.allclose(enc([multi]), enc([MultiPolygon(list(multi.geoms)[::-1])]), atol=1e-3)


@PROPERTY
@given(polygons_with_holes_or_parts, st.integers(1, 9))
def test_rasterisation_ignores_ring_start_and_direction(geom, shift):
    base = rasterise(batch_geometries(geom), 24, 2.5)
    assert torch.equal(base, rasterise(batch_geometries(roll_rings(geom, shift)), 24, 2.5))
    assert torch.equal(base, rasterise(batch_geometries(reverse_rings(geom)), 24, 2.5))
