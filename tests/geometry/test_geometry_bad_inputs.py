"""Geometries whose normalisation frame would overflow or underflow float64 are refused with a clear error
(issue 11, finding 12: polygons near 1e300 gave NaN embeddings), and every encoder's output is finite
for valid input up to the accepted bounds."""

from __future__ import annotations

import math
import warnings

import pytest
import shapely
import torch
from shapely import LineString, MultiPoint, Point, Polygon

from geosrl.geometry import batch_geometries, create_geometry_encoder, list_geometry_encoders
from geosrl.geometry.ingest import MAX_ABS_COORDINATE, MIN_SIZE

SQUARE = shapely.box(0, 0, 2, 2)


def _square(size: float, x0: float = 0.0) -> Polygon:
    return Polygon([(x0, 0), (x0 + size, 0), (x0 + size, size), (x0, size)])


def _triangle(size: float) -> Polygon:
    return Polygon([(0, 0), (size, 0), (0, size)])


def _line(size: float) -> LineString:
    return LineString([(0, 0), (size, 0.5 * size), (size, size)])


def _nan_triangle() -> Polygon:
    with warnings.catch_warnings():  # shapely warns while building it
        warnings.simplefilter("ignore", RuntimeWarning)
        return Polygon([(0, 0), (1, 0), (math.nan, 1)])


BAD = [
    # (label, batch, match)
    ("polygon near 1e300", [SQUARE, _square(1e300)],
     r"coordinates up to 1e\+300 in item\(s\) \[1\], beyond the accepted"),
    ("polygon near 1e150", [_square(1e150), SQUARE], r"coordinates up to 1e\+150 in item\(s\) \[0\]"),
    ("polygon just above the bound", [_square(2 * MAX_ABS_COORDINATE)], r"beyond the accepted \|x\|, \|y\| <= 1e\+75"),
    ("one far vertex", [Polygon([(0, 0), (1, 0), (-1e200, 1)])], r"item\(s\) \[0\].*[Rr]escale the input units"),
    ("negative huge", [Polygon([(-1e300, -1e300), (0, -1e300), (0, 0)])], r"coordinates up to 1e\+300"),
    ("line near 1e300", [_line(1.0), _line(1e300)], r"item\(s\) \[1\]"),
    ("point near 1e300", [Point(0, 0), Point(1e300, 0)], r"item\(s\) \[1\]"),
    ("multipoint near 1e200", [MultiPoint([(0, 0), (0, -1e200)])], r"coordinates up to 1e\+200"),
    ("tiny polygon", [SQUARE, _square(1e-160)], r"item\(s\) \[1\] are too small .*√area below 1e-75"),
    ("tiny line", [_line(1e-100)], r"item\(s\) \[0\] are too small .*length below 1e-75"),
    ("NaN vertex", [SQUARE, _nan_triangle()], r"non-finite .* item\(s\) \[1\]"),
    ("inf point", [Point(math.inf, 0)], r"non-finite"),
]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # shapely building the bad input
@pytest.mark.parametrize("frame", ["shape", "absolute"])
@pytest.mark.parametrize("label, geoms, match", BAD, ids=[b[0] for b in BAD])
def test_bad_geometry_is_refused(label, geoms, match, frame):
    with pytest.raises(ValueError, match=match):
        batch_geometries(geoms, frame=frame)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("name", ["nuft", "raster_cnn", "resnet1d"])
def test_encoders_refuse_huge_polygons_instead_of_returning_nan(name):
    enc = create_geometry_encoder(name).eval()
    with pytest.raises(ValueError, match="beyond the accepted"):
        enc([_square(1e300), _triangle(1e300)])


# ---- valid input at the bounds gives finite frames and embeddings ----

EXTREMES = {
    "large areas": [_square(MAX_ABS_COORDINATE), _triangle(0.5 * MAX_ABS_COORDINATE)],
    "large lines": [_line(0.5 * MAX_ABS_COORDINATE), _line(1.0)],
    "small areas": [_square(2 * MIN_SIZE), _triangle(4 * MIN_SIZE)],
    "small lines": [_line(MIN_SIZE), _line(1e-50)],
    "far from the origin": [_square(1e60, x0=-0.5 * MAX_ABS_COORDINATE), _triangle(1e60)],
    "points": [MultiPoint([(0, 0), (MAX_ABS_COORDINATE, -MAX_ABS_COORDINATE)]), Point(1e-300, 0)],
}


@pytest.mark.parametrize("case", list(EXTREMES))
def test_frame_is_finite_at_the_bounds(case):
    batch = batch_geometries(EXTREMES[case])
    for field in ("coords", "location", "scale", "measure"):
        assert torch.isfinite(getattr(batch, field)).all(), field
    assert (batch.scale > 0).all()
    if batch.dimension == 2:  # shape frame: unit area whatever the input size
        torch.testing.assert_close(batch.measure_in_frame(), torch.ones(2, dtype=torch.float64))


@pytest.mark.parametrize("name", ["nuft", "raster_cnn", "resnet1d"])
@pytest.mark.parametrize("case", list(EXTREMES))
def test_encoder_outputs_are_finite_at_the_bounds(name, case):
    enc = create_geometry_encoder(name).eval()
    batch = batch_geometries(EXTREMES[case])
    if batch.dimension not in enc.dimensions:
        pytest.skip(f"{name} does not take this dimension")
    with torch.no_grad():
        assert torch.isfinite(enc(batch)).all()


@pytest.mark.parametrize("name", ["nuft", "raster_cnn", "resnet1d"])
def test_encoder_outputs_are_finite_in_the_absolute_frame(name):
    """Projected coordinates (metres, up to 1e7) in the absolute frame."""
    enc = create_geometry_encoder(name, frame="absolute").eval()
    geoms = [_square(5e3, x0=6.5e6), _triangle(2e4), shapely.affinity.translate(_square(1.0), -4e6, 9e6)]
    with torch.no_grad():
        assert torch.isfinite(enc(geoms)).all()


def test_geometry_encoders_listed():
    assert list_geometry_encoders() == ["nuft", "raster_cnn", "resnet1d"]


def test_collapsing_ring_is_a_clear_error():
    import shapely

    from geosrl.geometry import batch_geometries

    with pytest.raises(ValueError, match="too close together|zero|area"):
        batch_geometries([shapely.box(0, 0, 1e-300, 1e-300)])
