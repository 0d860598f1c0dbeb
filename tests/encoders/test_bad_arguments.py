"""Bad constructor arguments of every registered position encoding, of the networks and of ``create_encoder``
are refused with an error naming the argument and the value (issue 11, finding 3), and precision-losing
coordinate dtypes are refused (finding 12).

Argument policy (``geosrl.checks``): counts take ints and NumPy ints, and integral
floats such as 4.0; a non-integral float, NaN or inf is a ``ValueError`` (never truncated), a bool or a
string a ``TypeError``. Reals must be finite and in range; flags must be bools.
"""

from __future__ import annotations

import inspect
import math

import numpy as np
import pytest
import torch

import geosrl
from geosrl import CoordinateError
from geosrl.encoders import embed_locations
from geosrl.encoders.nets import FCNet, FFN, GeoCLIPMLP, ResLayer, Siren
from geosrl.encoders.registry import get_encoder_class

ALL = geosrl.list_encoders()
NAN, INF = math.nan, math.inf

_SPACE = {"frequency_num": "count", "min_radius": "positive", "max_radius": "positive", "validate": "flag"}
_SPHERE = {**_SPACE, "legacy_single_scale": "flag"}
#: every constructor argument of every registered encoding → its kind (the test below checks completeness)
ARGUMENTS = {
    "direct": {"mode": "choice", "validate": "flag"},
    "geoclip_rff": {"sigmas": "reals", "num_frequencies": "count", "seed": "seed", "validate": "flag"},
    "nerf": {"frequency_num": "count", "validate": "flag"},
    "rbf": {"num_anchors": "count", "kernel_size_deg": "positive", "anchors": "anchors", "distance": "choice",
            "seed": "seed", "validate": "flag"},
    "rff": {"frequency_num": "count", "omega_var": "positive", "omega_std": "positive", "extent": "extent",
            "seed": "seed", "validate": "flag"},
    "space2vec_grid": _SPACE,
    "space2vec_theory": _SPACE,
    "sphere2vec_dfs": _SPHERE,
    "sphere2vec_spherec": _SPHERE,
    "sphere2vec_spherec_plus": _SPHERE,
    "sphere2vec_spherem": _SPHERE,
    "sphere2vec_spherem_plus": _SPHERE,
    "spherical_harmonics": {"legendre_degree": "count", "convention": "choice", "validate": "flag"},
    "tile": {"cell_size_deg": "positive", "cell_dim": "count", "extent": "extent", "max_cells": "count",
             "legacy_single_cell": "flag", "validate": "flag"},
    "wrap": {"lat_mode": "choice", "validate": "flag"},
    "wrap_ffn": {"lat_mode": "choice", "validate": "flag"},
    "xyz": {"validate": "flag"},
}

#: kind → (label, bad value, expected exception)
BAD_VALUES = {
    "count": [("non-integral float", 4.5, ValueError), ("bool", True, TypeError), ("negative", -3, ValueError),
              ("zero", 0, ValueError), ("NaN", NAN, ValueError), ("inf", INF, ValueError),
              ("string", "4", TypeError), ("tensor", torch.tensor([4]), TypeError)],
    "positive": [("zero", 0.0, ValueError), ("negative", -1.0, ValueError), ("NaN", NAN, ValueError),
                 ("inf", INF, ValueError), ("bool", True, TypeError), ("string", "1.0", TypeError)],
    "seed": [("non-integral float", 1.5, ValueError), ("bool", False, TypeError), ("negative", -1, ValueError),
             ("NaN", NAN, ValueError), ("string", "0", TypeError), ("too large", 2**64, ValueError)],
    "flag": [("int", 1, TypeError), ("string", "yes", TypeError), ("float", 0.0, TypeError)],
    "choice": [("unknown", "bogus", ValueError), ("wrong type", 3, ValueError)],
    "reals": [("empty", (), ValueError), ("negative", (1.0, -2.0), ValueError), ("NaN", (NAN,), ValueError),
              ("inf", (INF,), ValueError), ("bool", (True,), TypeError), ("string", "1", TypeError),
              ("scalar", 1.0, TypeError)],
    "extent": [("min > max", (10.0, -10.0, -90.0, 90.0), ValueError), ("min == max", (0.0, 10.0, 5.0, 5.0), ValueError),
               ("NaN", (NAN, 180.0, -90.0, 90.0), ValueError), ("inf", (-INF, 180.0, -90.0, 90.0), ValueError),
               ("three numbers", (-180.0, 180.0, -90.0), ValueError), ("string", "global", TypeError)],
    "anchors": [("out of range", torch.tensor([[0.0, 95.0]]), CoordinateError),
                ("wrong shape", torch.zeros(3, 3, dtype=torch.float64), ValueError),
                ("no anchors", torch.zeros(0, 2, dtype=torch.float64), ValueError),
                ("not numeric", "anchors", TypeError)],
}

CASES = [
    pytest.param(name, arg, value, exc, id=f"{name}-{arg}-{label}")
    for name, args in ARGUMENTS.items()
    for arg, kind in args.items()
    for label, value, exc in BAD_VALUES[kind]
]


def test_table_covers_every_constructor_argument():
    assert sorted(ARGUMENTS) == ALL
    for name in ALL:
        params = set(inspect.signature(get_encoder_class(name)).parameters)
        assert params == set(ARGUMENTS[name]), name


def _message_names(exc: BaseException, arg: str, value) -> None:
    """The message names the argument, says what is allowed ("must …") and shows a scalar value."""
    message = str(exc)
    assert arg in message and "must" in message, message
    if isinstance(value, (int, float, str)):
        assert repr(value) in message, message


@pytest.mark.parametrize("name, arg, value, exc", CASES)
def test_bad_argument_is_refused(name, arg, value, exc):
    with pytest.raises(exc) as info:
        geosrl.create_positional_encoding(name, **{arg: value})
    if exc is not CoordinateError:  # out-of-range anchors get the coordinate message
        _message_names(info.value, arg, value)


@pytest.mark.parametrize("name", [n for n in ALL if n.startswith(("space2vec", "sphere2vec"))])
def test_min_radius_above_max_radius(name):
    expected = r"min_radius must not exceed max_radius, got min_radius=10\.0 and max_radius=1\.0"
    with pytest.raises(ValueError, match=expected):
        geosrl.create_positional_encoding(name, min_radius=10.0, max_radius=1.0)


@pytest.mark.parametrize("name", [n for n in ALL if n.startswith(("space2vec", "sphere2vec"))])
def test_tiny_min_radius_whose_frequency_overflows(name):
    with pytest.raises(ValueError, match="min_radius=5e-324 is too small"):
        geosrl.create_positional_encoding(name, min_radius=5e-324)


COUNTS = [(name, arg) for name, args in ARGUMENTS.items() for arg, kind in args.items() if kind == "count"]


@pytest.mark.parametrize("name, arg", COUNTS)
def test_integral_float_and_numpy_int_counts_are_accepted(name, arg):
    small = {"max_cells": 100_000, "embed_dim": 8, "legendre_degree": 3, "num_anchors": 5}.get(arg, 4)
    extra = {"cell_size_deg": 30.0} if name == "tile" else {}
    ref = geosrl.create_positional_encoding(name, **{arg: small}, **extra)
    for value in (float(small), np.int64(small), np.float32(small)):
        pe = geosrl.create_positional_encoding(name, **{arg: value}, **extra)
        assert pe.output_dim == ref.output_dim
        assert type(getattr(pe, arg, 0)) is int


def test_numpy_reals_and_list_sequences_are_accepted():
    pe = geosrl.create_positional_encoding("space2vec_grid", frequency_num=np.int32(4), min_radius=np.float32(0.5),
                                           max_radius=np.float64(360))
    assert pe.output_dim == 16 and isinstance(pe.min_radius, float)
    pe = geosrl.create_positional_encoding("geoclip_rff", sigmas=[1, 16.0, np.float64(256)], num_frequencies=8)
    assert pe.sigmas == (1.0, 16.0, 256.0)
    pe = geosrl.create_positional_encoding("rff", extent=np.array([-10, 10, -5, 5]))
    assert pe(torch.tensor([[0.0, 0.0]], dtype=torch.float64)).shape == (1, 64)


def test_frequency_num_four_and_a_half_is_not_truncated():
    """The original finding: frequency_num=4.5 silently became 4."""
    for name in ("space2vec_grid", "sphere2vec_spherec_plus", "rff", "nerf"):
        with pytest.raises(ValueError, match=r"frequency_num must be an integer >= 1.*, got 4\.5"):
            geosrl.create_positional_encoding(name, frequency_num=4.5)


def test_huge_counts_that_would_overflow_are_refused():
    with pytest.raises(ValueError, match="frequency_num must be an integer >= 1 and <= 1023"):
        geosrl.create_positional_encoding("nerf", frequency_num=1024)
    with pytest.raises(ValueError, match=r"sigmas\[0\] must be a positive finite number <= 1e\+30"):
        geosrl.create_positional_encoding("geoclip_rff", sigmas=(1e300,))
    with pytest.raises(ValueError, match="kernel_size_deg"):
        geosrl.create_positional_encoding("rbf", kernel_size_deg=1e-200)


def test_rbf_from_locations_arguments():
    cls = get_encoder_class("rbf")
    locations = torch.tensor([[0.0, 0.0], [10.0, 10.0]], dtype=torch.float64)
    with pytest.raises(ValueError, match=r"num_anchors must be an integer >= 1 and <= 1000000, got 2\.5"):
        cls.from_locations(locations, num_anchors=2.5)
    with pytest.raises(TypeError, match="seed"):
        cls.from_locations(locations, num_anchors=2, seed=True)
    with pytest.raises(TypeError, match="lonlat must be"):
        cls.from_locations("here", num_anchors=2)


# ---- networks ----

_NET_DIMS = {"in_dim": 8, "out_dim": 4}
NET_ARGUMENTS = {
    FFN: ({**_NET_DIMS}, {"in_dim": "count", "out_dim": "count", "num_hidden_layers": "count0", "hidden_dim": "count",
                          "activation": "choice", "dropout": "dropout", "layer_norm": "flag", "skip": "flag"}),
    Siren: ({**_NET_DIMS}, {"in_dim": "count", "out_dim": "count", "hidden_dim": "count", "num_layers": "count0",
                            "w0_initial": "positive", "w0": "positive", "dropout": "dropout"}),
    FCNet: ({"in_dim": 8}, {"in_dim": "count", "out_dim": "count", "depth": "count0", "dropout": "dropout"}),
    ResLayer: ({"width": 8}, {"width": "count", "dropout": "dropout"}),
    GeoCLIPMLP: ({"in_dim": 6, "out_dim": 4, "n_branches": 3, "hidden_dim": 8},
                 {"in_dim": "count", "out_dim": "count", "n_branches": "count", "hidden_dim": "count"}),
}
NET_BAD = {
    **{k: BAD_VALUES[k] for k in ("count", "positive", "flag", "choice")},
    "count0": [("non-integral float", 1.5, ValueError), ("bool", True, TypeError), ("negative", -1, ValueError),
               ("NaN", NAN, ValueError), ("string", "2", TypeError)],
    "dropout": [("one", 1.0, ValueError), ("negative", -0.1, ValueError), ("NaN", NAN, ValueError),
                ("bool", False, TypeError), ("string", "0.5", TypeError)],
}
NET_CASES = [
    pytest.param(cls, base, arg, value, exc, id=f"{cls.__name__}-{arg}-{label}")
    for cls, (base, args) in NET_ARGUMENTS.items()
    for arg, kind in args.items()
    for label, value, exc in NET_BAD[kind]
]


def test_net_table_covers_every_argument():
    for cls, (_, args) in NET_ARGUMENTS.items():
        assert set(inspect.signature(cls).parameters) == set(args), cls


@pytest.mark.parametrize("cls, base, arg, value, exc", NET_CASES)
def test_bad_net_argument_is_refused(cls, base, arg, value, exc):
    with pytest.raises(exc) as info:
        cls(**{**base, arg: value})
    _message_names(info.value, arg, value)


@pytest.mark.parametrize("cls, base", [(cls, base) for cls, (base, _) in NET_ARGUMENTS.items()])
def test_nets_build_with_their_defaults(cls, base):
    assert isinstance(cls(**base), torch.nn.Module)


# ---- create_encoder ----

@pytest.mark.parametrize("label, kwargs, exc, match", [
    ("embed_dim float", {"embed_dim": 64.5}, ValueError, r"embed_dim must be an integer >= 1 and <= 1000000, got 64\.5"),
    ("embed_dim bool", {"embed_dim": True}, TypeError, "embed_dim"),
    ("embed_dim zero", {"embed_dim": 0}, ValueError, "embed_dim"),
    ("embed_dim string", {"embed_dim": "64"}, TypeError, "embed_dim"),
    ("net unknown", {"net": "transformer"}, ValueError, "unknown net 'transformer'"),
    ("net wrong type", {"net": 1}, ValueError, "unknown net 1"),
    ("net_kwargs not a dict", {"net_kwargs": [("hidden_dim", 8)]}, TypeError, "net_kwargs must be None or a dict"),
    ("net_kwargs unknown key", {"net_kwargs": {"hidden": 8}}, TypeError,
     r"net_kwargs \['hidden'\].*allowed: .*hidden_dim"),
    ("net_kwargs sets in_dim", {"net_kwargs": {"in_dim": 8}}, TypeError, r"net_kwargs \['in_dim'\]"),
    ("net_kwargs bad value", {"net_kwargs": {"dropout": 1.5}}, ValueError, "dropout must be"),
    ("siren bad w0", {"net": "siren", "net_kwargs": {"w0": -1.0}}, ValueError, "w0 must be a positive"),
    ("linear unknown key", {"net": "linear", "net_kwargs": {"hidden_dim": 8}}, TypeError, "allowed: .*bias"),
    ("pe argument", {"frequency_num": 2.5}, ValueError, "frequency_num"),
])
def test_create_encoder_bad_arguments(label, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        geosrl.create_encoder("space2vec_grid", **kwargs)


def test_create_encoder_native_nets_check_their_kwargs():
    with pytest.raises(TypeError, match=r"net_kwargs \['num_hidden_layers'\].*FCNet"):
        geosrl.create_encoder("wrap", net_kwargs={"num_hidden_layers": 2})
    with pytest.raises(TypeError, match=r"net_kwargs \['n_branches'\]"):
        geosrl.create_encoder("geoclip_rff", net_kwargs={"n_branches": 2})
    enc = geosrl.create_encoder("geoclip_rff", embed_dim=8.0, num_frequencies=4, net_kwargs={"hidden_dim": 8})
    assert enc.embed_dim == 8 and enc.geosrl_architecture["embed_dim"] == 8


def test_embed_locations_batch_size():
    enc = geosrl.create_encoder("xyz", embed_dim=4)
    x = torch.zeros(3, 2, dtype=torch.float64)
    for bad, exc in [(0, ValueError), (2.5, ValueError), (True, TypeError)]:
        with pytest.raises(exc, match="batch_size"):
            embed_locations(enc, x, batch_size=bad)


# ---- precision of the coordinates (finding 12) ----

@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name", ALL)
def test_low_precision_coordinates_are_refused(name, dtype):
    x = torch.tensor([[179.3, 45.1]], dtype=torch.float64).to(dtype)  # bfloat16 stores lon 179.3 as 179.0
    for validate in (True, False):
        with pytest.raises(CoordinateError, match=rf"{dtype}.*\.double\(\)"):
            geosrl.create_positional_encoding(name, validate=validate)(x)
    with pytest.raises(CoordinateError, match=r"\.double\(\)"):
        geosrl.create_encoder(name, embed_dim=4)(x)


def test_validate_lonlat_refuses_low_precision():
    with pytest.raises(CoordinateError, match="rounding errors up to 0.5 degrees"):
        geosrl.validate_lonlat(torch.zeros(2, 2, dtype=torch.bfloat16))


@pytest.mark.parametrize("name", ALL)
def test_float16_output_from_float64_coordinates_is_allowed(name):
    pe = geosrl.create_positional_encoding(name)
    x = torch.tensor([[179.3, 45.1], [-12.0, -80.0]], dtype=torch.float64)
    out = pe(x, dtype=torch.float16)
    assert out.dtype == torch.float16 and torch.isfinite(out).all()
    torch.testing.assert_close(out.double(), pe(x, dtype=torch.float64), atol=1e-2, rtol=1e-2)


@pytest.mark.parametrize("name, kwargs", [("space2vec_grid", {"frequency_num": 2**40}), ("rbf", {"num_anchors": 2**40}),
                                          ("geoclip_rff", {"num_frequencies": 2**40}),
                                          ("spherical_harmonics", {"legendre_degree": 10**6})])
def test_huge_counts_are_refused_before_allocating(name, kwargs):
    arg = next(iter(kwargs))
    with pytest.raises(ValueError, match=f"{arg} must be an integer >= 1 and <= "):
        geosrl.create_positional_encoding(name, **kwargs)
