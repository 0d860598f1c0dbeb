"""Ingest: bad input, repair/reject, orientation, ragged layout and the normalisation frame."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
import torch
from geom_strategies import PROPERTY, insert_collinear, star_polygons
from hypothesis import given
from hypothesis import strategies as st
from shapely import (
    GeometryCollection,
    LinearRing,
    LineString,
    MultiLineString,
    MultiPoint,
    MultiPolygon,
    Point,
    Polygon,
)

from geosrl.geometry import batch_geometries, create_geometry_encoder

SQUARE = shapely.box(0, 0, 2, 2)
HOLED = Polygon(SQUARE.exterior.coords, [[(0.5, 0.5), (1.5, 0.5), (1.0, 1.5)]])


# ---- bad input ----


@pytest.mark.parametrize("empty", [Polygon(), LineString(), Point(), MultiPolygon()])
def test_empty_geometry_raises(empty):
    with pytest.raises(ValueError, match=r"empty geometry at item\(s\) \[1\]"):
        batch_geometries([SQUARE, empty] if empty.geom_type.endswith("Polygon") else [Point(0, 0), empty])


def test_empty_batch_raises():
    with pytest.raises(ValueError, match="batch is empty"):
        batch_geometries([])


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # shapely building the bad input
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_coordinates_raise(bad):
    with pytest.raises(ValueError, match=r"non-finite .* item\(s\) \[1\]"):
        batch_geometries([SQUARE, Polygon([(0, 0), (1, 0), (bad, 1)])])
    with pytest.raises(ValueError, match="non-finite"):
        batch_geometries(Point(0, bad))


def test_non_geometry_raises_type_error():
    with pytest.raises(TypeError, match="expected shapely geometries"):
        batch_geometries([SQUARE, "POLYGON ((0 0, 1 0, 1 1, 0 0))"])


def test_mixed_dimensions_raise_with_counts():
    with pytest.raises(ValueError, match=r"mixes geometry dimensions \(1 points, 1 lines, 2 areas\)"):
        batch_geometries([SQUARE, Point(0, 0), LineString([(0, 0), (1, 1)]), HOLED])


def test_geometry_collection_is_rejected():
    with pytest.raises(ValueError, match="unsupported geometry type GeometryCollection"):
        batch_geometries([GeometryCollection([SQUARE, Point(5, 5)])])


BOWTIE = Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])
ZERO_AREA = Polygon([(0, 0), (1, 0), (2, 0), (0, 0)])


def test_self_intersecting_ring_is_rejected_by_default():
    with pytest.raises(ValueError, match=r"invalid geometry \(first: item 1, Self-intersection.*invalid='repair'"):
        batch_geometries([SQUARE, BOWTIE])


def test_self_intersecting_ring_is_repaired_on_request():
    batch = batch_geometries([SQUARE, BOWTIE], invalid="repair")
    assert batch.measure[1].item() == pytest.approx(2.0)  # two triangles of area 1 (make_valid)
    assert int((batch.part_geometry == 1).sum()) == 2


def test_repair_keeps_only_parts_of_the_batch_dimension():
    spike = Polygon([(0, 0), (2, 0), (2, 2), (0, 2), (0, 0), (-1, -1), (0, 0)])  # polygon + dangling line
    batch = batch_geometries(spike, invalid="repair")
    assert batch.measure.item() == pytest.approx(4.0)


@pytest.mark.parametrize("invalid", ["raise", "repair"])
def test_zero_area_polygon_raises(invalid):
    with pytest.raises(ValueError, match="zero area|invalid"):
        batch_geometries([SQUARE, ZERO_AREA], invalid=invalid)


def test_zero_length_line_raises():
    with pytest.raises(ValueError, match=r"zero length|invalid"):
        batch_geometries([LineString([(1, 1), (1, 1)])], invalid="repair")


def test_bad_options_raise():
    with pytest.raises(ValueError, match="invalid must be"):
        batch_geometries([BOWTIE], invalid="ignore")
    with pytest.raises(ValueError, match="frame must be"):
        batch_geometries([SQUARE], frame="dataset")


# ---- single and multi parts batch together; layout ----


def test_polygon_and_multipolygon_batch_together():
    multi = MultiPolygon([shapely.box(-3, 0, -2, 1), HOLED])
    batch = batch_geometries([SQUARE, multi, HOLED])
    assert batch.num_geometries == 3 and batch.dimension == 2
    assert torch.bincount(batch.part_geometry).tolist() == [1, 3, 2]  # rings per geometry
    for name in ("nuft", "resnet1d", "raster_cnn"):
        assert create_geometry_encoder(name, embed_dim=4).eval()([SQUARE, multi, HOLED]).shape == (3, 4)


def test_lines_and_points_batch_with_their_multi_parts():
    lines = batch_geometries([LineString([(0, 0), (1, 0)]), MultiLineString([[(0, 0), (0, 1)], [(2, 2), (3, 3), (4, 3)]])])
    assert (lines.dimension, lines.edge_start.numel()) == (1, 4)
    points = batch_geometries([Point(1, 2), MultiPoint([(0, 0), (2, 0), (2, 0)])])
    assert (points.dimension, points.coords.shape[0], points.measure.tolist()) == (0, 4, [1.0, 3.0])


def test_linear_ring_is_read_as_a_closed_line():
    batch = batch_geometries(LinearRing([(0, 0), (1, 0), (1, 1)]))
    assert batch.dimension == 1 and batch.measure.item() == pytest.approx(2 + math.sqrt(2))


def test_rings_are_stored_open_and_oriented():
    clockwise_shell = Polygon(SQUARE.exterior.coords[::-1], [HOLED.interiors[0].coords[::-1]])
    batch = batch_geometries(clockwise_shell, frame="absolute")
    assert batch.coords.shape[0] == 4 + 3  # no repeated closing vertex
    a, b = batch.edge_endpoints()
    signed = 0.5 * (a[:, 0] * b[:, 1] - b[:, 0] * a[:, 1])
    ring_of_edge = torch.repeat_interleave(torch.arange(2), torch.tensor([4, 3]))
    ring_area = torch.zeros(2, dtype=torch.float64).index_add_(0, ring_of_edge, signed)
    assert ring_area[0] > 0 > ring_area[1]  # exterior CCW, hole CW


def test_geoseries_input_if_geopandas_is_installed():
    gpd = pytest.importorskip("geopandas")
    series = gpd.GeoSeries([SQUARE, HOLED], crs="EPSG:3857")
    assert batch_geometries(series).num_geometries == 2
    with pytest.warns(UserWarning, match="geographic CRS"):
        batch_geometries(gpd.GeoSeries([SQUARE], crs="EPSG:4326"))


def test_numpy_object_array_and_single_geometry_input():
    assert batch_geometries(np.array([SQUARE, HOLED], dtype=object)).num_geometries == 2
    assert batch_geometries(SQUARE).num_geometries == 1


# ---- normalisation frame ----


def test_frame_values():
    rect = shapely.box(10, 20, 14, 21)  # area 4, centroid (12, 20.5)
    batch = batch_geometries(rect)
    assert batch.location.tolist() == [[12.0, 20.5]] and batch.scale.tolist() == [2.0]
    assert batch.coords.abs().max().item() == pytest.approx(1.0)
    assert batch.measure_in_frame().item() == pytest.approx(1.0)
    line = batch_geometries(LineString([(0, 0), (3, 0), (3, 1)]))  # length 4; centroid (1.5·3 + 3·0.5... )/4
    assert line.location[0].tolist() == pytest.approx([(1.5 * 3 + 3 * 1) / 4, (0 * 3 + 0.5 * 1) / 4])
    assert line.scale.item() == pytest.approx(4.0)
    pts = batch_geometries([MultiPoint([(0, 0), (3, 4), (3, 4)]), Point(7, 7)])
    assert pts.location[0].tolist() == pytest.approx([2.0, 8 / 3]) and pts.scale.tolist() == [5.0, 1.0]


def test_absolute_frame_keeps_coordinates_and_still_reports_location():
    batch = batch_geometries(shapely.box(10, 20, 14, 21), frame="absolute")
    assert batch.coords.min(0).values.tolist() == [10.0, 20.0]
    assert batch.location.tolist() == [[12.0, 20.5]] and batch.measure_in_frame().item() == pytest.approx(4.0)


@PROPERTY
@given(star_polygons(), st.floats(0.05, 0.95))
def test_frame_is_unchanged_by_collinear_vertices(poly, fraction):
    dense = insert_collinear(poly, fraction)
    b1, b2 = batch_geometries(poly), batch_geometries(dense)
    np.testing.assert_allclose(b1.location, b2.location, rtol=0, atol=1e-9)
    np.testing.assert_allclose(b1.scale, b2.scale, rtol=1e-12)
    line = LineString(np.asarray(poly.exterior.coords))
    l1, l2 = batch_geometries(line), batch_geometries(insert_collinear(line, fraction))
    np.testing.assert_allclose(l1.location, l2.location, atol=1e-9)
    np.testing.assert_allclose(l1.scale, l2.scale, rtol=1e-12)


def test_batch_to_device_keeps_dtypes():
    batch = batch_geometries([SQUARE, HOLED]).to("cpu")
    assert batch.coords.dtype == torch.float64 and batch.edge_start.dtype == torch.int64
