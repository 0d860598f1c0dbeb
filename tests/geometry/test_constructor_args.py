"""Geometry-encoder constructor arguments: every bad value is refused with a message naming it."""

import math

import pytest
import shapely
import torch

from geosrl.geometry import create_geometry_encoder

BAD = [
    ("nuft", {"embed_dim": 0}, "embed_dim"),
    ("nuft", {"embed_dim": True}, "embed_dim"),
    ("nuft", {"invalid": "fix"}, "invalid"),
    ("nuft", {"frame": "abs"}, "frame"),
    ("nuft", {"sampling": "grid"}, "sampling"),
    ("nuft", {"features": "x"}, "features"),
    ("nuft", {"k_min": -1.0}, "k_min"),
    ("nuft", {"k_min": 5.0, "k_max": 1.0}, "k_min"),
    ("nuft", {"num_radii": 2**40}, "num_radii"),
    ("nuft", {"hidden_dim": 1.5}, "hidden_dim"),
    ("nuft", {"sampling": "fft", "fft_size": (16,)}, "fft_size"),
    ("nuft", {"sampling": "fft", "period": math.nan}, "period"),
    ("nuft", {"taylor_threshold": 0.0}, "taylor_threshold"),
    ("resnet1d", {"num_points": 12}, "num_points"),
    ("resnet1d", {"num_points": "64"}, "num_points"),
    ("resnet1d", {"width": 0}, "width"),
    ("resnet1d", {"point_frequencies": ()}, "point_frequencies"),
    ("resnet1d", {"point_frequencies": (math.inf,)}, "point_frequencies"),
    ("raster_cnn", {"resolution": 10}, "resolution"),
    ("raster_cnn", {"extent": 0.0}, "extent"),
    ("raster_cnn", {"width": 10**9}, "width"),
]


@pytest.mark.parametrize(("name", "kwargs", "argument"), BAD, ids=[f"{n}-{a}-{i}" for i, (n, _, a) in enumerate(BAD)])
def test_bad_constructor_argument_is_refused(name, kwargs, argument):
    with pytest.raises((TypeError, ValueError), match=argument):
        create_geometry_encoder(name, **kwargs)


@pytest.mark.parametrize("name", ["nuft", "resnet1d", "raster_cnn"])
def test_defaults_and_integral_floats_are_accepted(name):
    encoder = create_geometry_encoder(name, embed_dim=8.0)
    assert encoder.embed_dim == 8 and isinstance(encoder.embed_dim, int)


def test_resnet1d_absolute_frame_overflow_is_an_error_not_inf():
    encoder = create_geometry_encoder("resnet1d", frame="absolute").eval()
    huge = shapely.Polygon([(0, 0), (1e39, 0), (1e39, 1e39), (0, 1e39)])
    with pytest.raises(ValueError, match="frame='shape'"):
        encoder([huge])
    assert torch.isfinite(encoder.double()([huge])).all()
