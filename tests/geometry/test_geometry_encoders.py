"""Registry-parametrised encoder contract and per-encoder behaviour (nuft options, resampling, raster)."""

from __future__ import annotations

import math

import pytest
import shapely
import torch
from shapely import LineString, MultiPoint, MultiPolygon, Point, Polygon

from geosrl.geometry import (
    GeometryEncoder,
    NUFTEncoder,
    batch_geometries,
    create_geometry_encoder,
    fft_grid_frequencies,
    polar_frequencies,
    list_geometry_encoders,
    rasterise,
    resample_boundary,
)

AREAS = [
    shapely.box(0, 0, 2, 1),
    Polygon(shapely.box(0, 0, 3, 3).exterior.coords, [[(1, 1), (2, 1), (1.5, 2)]]),
    MultiPolygon([shapely.box(0, 0, 1, 1), shapely.box(3, 0, 4, 2)]),
    Point(5, 5).buffer(2.0, quad_segs=8),
]
LINES = [LineString([(0, 0), (1, 1), (2, 0)]), shapely.MultiLineString([[(0, 0), (0, 1)], [(1, 0), (2, 2)]])]
POINTS = [Point(0, 0), MultiPoint([(0, 0), (1, 2), (3, 1)])]


def test_registry_lists_the_encoders():
    assert list_geometry_encoders() == ["nuft", "raster_cnn", "resnet1d"]
    assert list_geometry_encoders("r*") == ["raster_cnn", "resnet1d"]
    with pytest.raises(ValueError, match="unknown geometry encoder 'polymp'"):
        create_geometry_encoder("polymp")


@pytest.mark.parametrize("name", list_geometry_encoders())
def test_forward_contract(name):
    torch.manual_seed(0)
    enc = create_geometry_encoder(name, embed_dim=12, hidden_dim=None).eval()
    assert isinstance(enc, GeometryEncoder) and enc.registry_name == name
    with torch.no_grad():
        out = enc(AREAS)
        assert out.shape == (4, 12) and out.dtype == torch.float32 and torch.isfinite(out).all()
        assert torch.equal(out, enc(AREAS)), "deterministic"
        single = torch.cat([enc([g]) for g in AREAS])
        torch.testing.assert_close(single, out, atol=1e-5, rtol=1e-5)  # batch-size independent in eval
        assert enc.double()(AREAS).dtype == torch.float64
        assert enc(LINES).shape == (2, 12)


@pytest.mark.parametrize("name", list_geometry_encoders())
def test_training_step_gives_finite_gradients(name):
    torch.manual_seed(0)
    enc = create_geometry_encoder(name, embed_dim=8)
    enc(AREAS).square().mean().backward()
    grads = [p.grad for p in enc.parameters() if p.requires_grad]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)


def test_points_are_supported_by_nuft_and_raster_but_not_resnet1d():
    assert create_geometry_encoder("nuft", embed_dim=4).eval()(POINTS).shape == (2, 4)
    assert create_geometry_encoder("raster_cnn", embed_dim=4).eval()(POINTS).shape == (2, 4)
    with pytest.raises(ValueError, match="ResNet1DEncoder accepts lines, areas; got a batch of points"):
        create_geometry_encoder("resnet1d", embed_dim=4)(POINTS)


@pytest.mark.parametrize("sampling", ["fft", "geometric", "learned"])
@pytest.mark.parametrize("features", ["reim", "magnitude", "magphase"])
def test_nuft_sampling_and_feature_modes(sampling, features):
    enc = NUFTEncoder(8, sampling=sampling, features=features, fft_size=(8, 8), num_radii=4, num_angles=4)
    width = {"reim": 2, "magnitude": 1, "magphase": 3}[features] * enc.num_frequencies
    assert enc.spectral_features(batch_geometries(AREAS)).shape == (4, width)
    assert enc.frequencies.dtype == torch.float64
    enc(AREAS).sum().backward()
    assert (enc.frequencies.grad is not None) == (sampling == "learned")


def test_learned_frequencies_get_finite_gradients_through_the_exact_transform():
    enc = NUFTEncoder(8, sampling="learned", num_radii=3, num_angles=3)
    enc(AREAS + [Polygon([(0, 0), (1, 0), (0, 1)])]).square().sum().backward()
    assert torch.isfinite(enc.frequencies.grad).all() and enc.frequencies.grad.abs().sum() > 0


def test_magnitude_features_ignore_position_in_the_absolute_frame():
    enc = NUFTEncoder(8, features="magnitude", frame="absolute")
    shifted = [shapely.affinity.translate(g, 123.0, -45.0) for g in AREAS]
    torch.testing.assert_close(
        enc.spectral_features(enc.batch(AREAS)), enc.spectral_features(enc.batch(shifted)), atol=1e-9, rtol=0
    )


def test_frequency_sets():
    k = fft_grid_frequencies((16, 16), 8.0)
    assert k.shape == (135, 2) and not (k == 0).all(dim=1).any()
    assert ((k[:, 1] > 0) | ((k[:, 1] == 0) & (k[:, 0] > 0))).all()  # open half-plane
    g = polar_frequencies(4, 6, 0.5, 8.0)
    radii = g.norm(dim=1).reshape(4, 6)
    expected = 0.5 * 16.0 ** (torch.arange(4, dtype=torch.float64) / 3)  # geometric from 0.5 to 8
    torch.testing.assert_close(radii, expected[:, None].expand(4, 6))
    with pytest.raises(ValueError, match="even"):
        fft_grid_frequencies((15, 16))
    with pytest.raises(ValueError, match="k_min"):
        polar_frequencies(4, 4, 2.0, 1.0)


def test_resample_boundary_is_equally_spaced_in_arc_length():
    batch = batch_geometries([shapely.box(0, 0, 2, 2), LineString([(0, 0), (1, 0)]).buffer(0.5, cap_style="flat")])
    pts = resample_boundary(batch, 16)
    side = 2.0 / math.sqrt(4.0)  # the shape frame scales the 2×2 square to unit area
    steps = (pts[0].roll(-1, 0) - pts[0]).norm(dim=1)
    torch.testing.assert_close(steps, torch.full((16,), 4 * side / 16, dtype=torch.float64))


def test_raster_area_matches_the_unit_area_of_the_shape_frame():
    image = rasterise(batch_geometries(AREAS), resolution=256, extent=2.5)
    pixel = 5.0 / 256  # error ≤ perimeter (< 5.7 in the frame) × pixel / 2
    torch.testing.assert_close(image.sum(dim=(1, 2, 3)) * pixel**2, torch.ones(4, dtype=torch.float64), atol=0.06, rtol=0)
    holed = rasterise(batch_geometries(AREAS[1]), resolution=32, extent=1.0)[0, 0]
    assert holed[15:17, 15:17].sum() == 0 and holed[10, 16] == 1  # the hole (around the centroid) is empty


def test_raster_lines_and_points():
    lines = rasterise(batch_geometries(LINES), 32, 1.0)
    assert lines.amax() > 0.5 and 10 < (lines > 0).sum() < 32 * 32 / 2
    points = rasterise(batch_geometries(POINTS), 32, 1.0)
    assert points.sum(dim=(1, 2, 3)).tolist() == [1.0, 3.0]


def test_invalid_encoder_arguments():
    with pytest.raises(ValueError, match="embed_dim"):
        create_geometry_encoder("nuft", embed_dim=0)
    with pytest.raises(ValueError, match="sampling"):
        create_geometry_encoder("nuft", sampling="random")
    with pytest.raises(ValueError, match="num_points"):
        create_geometry_encoder("resnet1d", num_points=30)
    with pytest.raises(ValueError, match="resolution"):
        create_geometry_encoder("raster_cnn", resolution=30)


def test_scanline_raster_matches_point_in_polygon_at_pixel_centres():
    from geosrl.geometry.raster_cnn import pixel_centres

    batch = batch_geometries(AREAS)
    image = rasterise(batch, resolution=40, extent=1.5)
    centres = pixel_centres(40, 1.5, torch.device("cpu")).numpy()
    for i, geom in enumerate(AREAS):  # the same geometry in the shape frame
        loc, scale = batch.location[i].numpy(), batch.scale[i].item()
        inside = shapely.contains_xy(geom, centres[:, 0] * scale + loc[0], centres[:, 1] * scale + loc[1])
        assert torch.equal(image[i, 0].reshape(-1), torch.as_tensor(inside, dtype=torch.float64))
