#!/usr/bin/env python3
"""Adversarial probe of geosrl's public surfaces (issue 11, "Hardening"): bad inputs and faults, with outcome counts.

Runs a table of bad inputs / faults (plus a few valid edge cases as controls) against

* location encoders (``geosrl.create_encoder`` / ``create_positional_encoding``): bad arguments and coordinates;
* geometry encoders (``geosrl.geometry.create_geometry_encoder`` / ``batch_geometries``);
* checkpoints (``geosrl.load_pretrained`` / ``read_card`` / ``save_pretrained``);
* datasets (``geosrl.datasets.locbench.load_locbench`` on damaged files in the published formats, the
  offline-task ``.npz`` cache);
* the command line (``geosrl bench``, ``geosrl bench merge``, ``geosrl pretrain``), as subprocesses;

and classifies each outcome:

==================  ===========================================================================================
``clear``           a typed exception (a ValueError/TypeError/OSError/MemoryError subclass defined by geosrl, or a
                    plain one raised by geosrl code) whose message contains an expected substring; CLI: non-zero
                    exit, stderr exactly one ``geosrl: error:`` line (or an argparse usage error, exit 2), no traceback
``obscure``         any other exception, a message that does not name the problem, a CLI traceback / several lines
``silent-wrong``    no error where one was required (or a wrong / non-finite result)
``hang``            the per-case timeout was exceeded
``data-lost``       a user's pre-existing file was modified or deleted
``code-execution``  a planted pickle payload ran (its marker file exists)
``correct``         a valid input (control) behaved correctly
``refused-valid``   a valid input (control) was refused
==================  ===========================================================================================

Python-API cases run in forked children (per-case timeout, 8 GiB address-space limit); CLI cases run
``.venv/bin/geosrl`` in a subprocess per case (own session, killed on timeout), two at a time, while the API
cases run in a second process. Every case gets its own temporary folder.

Writes ``benchmarks/results/hardening.md`` and ``benchmarks/results/hardening.csv``.

Run: ``.venv/bin/python benchmarks/hardening_probe.py`` (a few minutes on 2 cores; ``--only SURFACE`` to run a
subset, ``--keep`` to keep the temporary folder).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # forked children must not inherit an OpenMP pool
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import csv
import dataclasses
import fcntl
import hashlib
import importlib.util
import io
import json
import math
import pickle
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
GEOSRL = REPO / ".venv" / "bin" / "geosrl"
RESULTS = REPO / "benchmarks" / "results"
API_TIMEOUT = 30.0
CLI_TIMEOUT = 60.0
MARKER = "PWNED"
TYPED = (ValueError, TypeError, OSError, MemoryError)
TYPED_NAMES = {"ValueError", "TypeError", "MemoryError", "OSError", "FileNotFoundError", "FileExistsError", "PermissionError",
               "IsADirectoryError", "NotADirectoryError"}

CATEGORIES = ("clear", "correct", "obscure", "silent-wrong", "hang", "data-lost", "code-execution", "refused-valid")


# =============================================================================================== the case table
@dataclasses.dataclass
class Case:
    surface: str
    name: str
    expected: str  # "error" | "ok" | "error_or_ok"
    match: tuple = ()  # every element must occur in the message (case-insensitive); a tuple element = any of
    timeout: float = API_TIMEOUT
    # API cases
    fn: Callable[[Path], Any] | None = None  # runs in a forked child with its own folder
    check: Callable[[Any], tuple[bool, str]] | None = None  # on a normal return: (correct?, detail)
    # CLI cases
    argv: Callable[[Path], list[str]] | None = None  # builds the folder, returns the arguments after `geosrl`
    cli_check: Callable[[Path, str, str], tuple[bool, str]] | None = None  # (dir, stdout, stderr) on exit 0
    protect: Callable[[Path], list[Path]] | None = None  # user files that must survive unchanged
    hold_lock: Callable[[Path], Path] | None = None  # a file to flock while the CLI runs
    phase: int = 1  # CLI: phase-0 cases build fixtures for later ones
    keep_files: dict | None = None  # API: files (relative to the case folder) the case writes and that must survive

    @property
    def kind(self) -> str:
        return "cli" if self.argv is not None else "api"


CASES: list[Case] = []


def case(surface, name, expected, **kw) -> None:
    CASES.append(Case(surface, name, expected, **kw))


def err(surface, name, fn, *match, timeout=API_TIMEOUT):
    case(surface, name, "error", fn=fn, match=match, timeout=timeout)


# ----------------------------------------------------------------------------------------------- helpers (child side)
def _finite_shape(shape=None):
    def check(out):
        import torch

        if not isinstance(out, torch.Tensor):
            return False, f"returned {type(out).__name__}"
        if shape is not None and tuple(out.shape) != tuple(shape):
            return False, f"shape {tuple(out.shape)}, expected {tuple(shape)}"
        if not torch.isfinite(out.float()).all():
            return False, f"non-finite output ({int((~torch.isfinite(out.float())).sum())} values)"
        return True, f"finite {tuple(out.shape)} {out.dtype}"
    return check


def _true(detail_ok="as expected"):
    def check(res):
        ok, detail = res if isinstance(res, tuple) else (bool(res), "")
        return bool(ok), detail or detail_ok
    return check


def _t(rows, dtype="float64"):
    import torch

    return torch.tensor(rows, dtype=getattr(torch, dtype))


def _pe(name, **kw):
    import geosrl

    return geosrl.create_positional_encoding(name, **kw)


def _enc(name, **kw):
    import geosrl
    import torch

    torch.manual_seed(0)
    return geosrl.create_encoder(name, **kw).eval()


class Payload:
    """Unpickling this creates ``marker`` (what a planted pickle could do instead)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _pickle_bytes(d: Path) -> bytes:
    return pickle.dumps({"model": Payload(d / MARKER)}, protocol=2)


def _torch_zip_payload(d: Path, path: Path, extra=None) -> None:
    import torch

    torch.save({**(extra or {}), "model": Payload(d / MARKER)}, path)


# =============================================================================================== location encoders
S = "encoder-args"
for enc_name in ("space2vec_grid", "sphere2vec_spherec", "rff", "nerf"):
    for bad in (4.5, 0, -1, True, "8", float("nan")):
        err(S, f"{enc_name} frequency_num={bad!r}", lambda d, n=enc_name, b=bad: _pe(n, frequency_num=b), "frequency_num")
for enc_name in ("space2vec_theory", "sphere2vec_spherem"):
    err(S, f"{enc_name} min_radius=nan", lambda d, n=enc_name: _pe(n, min_radius=float("nan")), "min_radius")
    err(S, f"{enc_name} max_radius=inf", lambda d, n=enc_name: _pe(n, max_radius=float("inf")), "max_radius")
    err(S, f"{enc_name} min_radius > max_radius", lambda d, n=enc_name: _pe(n, min_radius=2.0, max_radius=1.0),
        ("min_radius", "max_radius"))
    err(S, f"{enc_name} min_radius=0", lambda d, n=enc_name: _pe(n, min_radius=0.0), "min_radius")
    err(S, f"{enc_name} min_radius=-1", lambda d, n=enc_name: _pe(n, min_radius=-1.0), "min_radius")
err(S, "sphere2vec_dfs frequency_num=0", lambda d: _pe("sphere2vec_dfs", frequency_num=0), "frequency_num")
err(S, "space2vec_grid frequency_num=2**40 (huge)", lambda d: _pe("space2vec_grid", frequency_num=2**40), "frequency_num")
err(S, "rbf num_anchors=2**40 (huge)", lambda d: _pe("rbf", num_anchors=2**40), "num_anchors")
err(S, "unknown kwarg frequncy_num", lambda d: _pe("space2vec_grid", frequncy_num=8), "frequncy_num")
err(S, "unknown kwarg on create_encoder", lambda d: _enc("wrap", lat_mod="sphere"), "lat_mod")
err(S, "unknown encoder name", lambda d: _pe("space2vec"), "space2vec")
err(S, "encoder name None", lambda d: _pe(None), ("name", "None"))
err(S, "encoder name 123", lambda d: _pe(123), ("name", "123"))
err(S, "create_encoder embed_dim=0", lambda d: _enc("wrap", embed_dim=0), "embed_dim")
err(S, "create_encoder embed_dim=-5", lambda d: _enc("wrap", embed_dim=-5), "embed_dim")
err(S, "create_encoder embed_dim=2.5", lambda d: _enc("wrap", embed_dim=2.5), "embed_dim")
err(S, "create_encoder embed_dim='64'", lambda d: _enc("wrap", embed_dim="64"), "embed_dim")
err(S, "create_encoder net='transformer'", lambda d: _enc("wrap", net="transformer"), "net")
err(S, "create_encoder net=3", lambda d: _enc("wrap", net=3), "net")
err(S, "create_encoder net_kwargs typo", lambda d: _enc("rff", net="ffn", net_kwargs={"hidden_dm": 3}), "hidden_dm")
err(S, "create_encoder net_kwargs='x'", lambda d: _enc("rff", net_kwargs="x"), "net_kwargs")
err(S, "ffn dropout=1.5", lambda d: _enc("rff", net="ffn", net_kwargs={"dropout": 1.5}), "dropout")
err(S, "ffn hidden_dim=0", lambda d: _enc("rff", net="ffn", net_kwargs={"hidden_dim": 0}), "hidden_dim")
err(S, "spherical_harmonics legendre_degree=0", lambda d: _pe("spherical_harmonics", legendre_degree=0), "legendre_degree")
err(S, "spherical_harmonics legendre_degree=4.5", lambda d: _pe("spherical_harmonics", legendre_degree=4.5), "legendre_degree")
err(S, "spherical_harmonics convention='foo'", lambda d: _pe("spherical_harmonics", convention="foo"), "convention")
err(S, "rbf num_anchors=0", lambda d: _pe("rbf", num_anchors=0), "num_anchors")
err(S, "rbf kernel_size_deg=0", lambda d: _pe("rbf", kernel_size_deg=0.0), "kernel_size_deg")
err(S, "rbf kernel_size_deg=nan", lambda d: _pe("rbf", kernel_size_deg=float("nan")), "kernel_size_deg")
err(S, "rbf distance='manhattan'", lambda d: _pe("rbf", distance="manhattan"), "distance")
err(S, "rbf anchors with NaN", lambda d: _pe("rbf", anchors=_t([[0.0, float("nan")]])), ("anchors", "nan", "finite"))
err(S, "rff omega_var=-1", lambda d: _pe("rff", omega_var=-1.0), "omega_var")
err(S, "rff seed='a'", lambda d: _pe("rff", seed="a"), "seed")
err(S, "rff extent inverted", lambda d: _pe("rff", extent=(10.0, -10.0, 0.0, 5.0)), "extent")
err(S, "geoclip_rff sigmas=()", lambda d: _pe("geoclip_rff", sigmas=()), "sigmas")
err(S, "geoclip_rff sigmas=(1,-16)", lambda d: _pe("geoclip_rff", sigmas=(1.0, -16.0)), "sigmas")
err(S, "geoclip_rff num_frequencies=0", lambda d: _pe("geoclip_rff", num_frequencies=0), "num_frequencies")
err(S, "tile cell_size_deg=0", lambda d: _pe("tile", cell_size_deg=0.0), "cell_size_deg")
err(S, "tile cell_size_deg=-1", lambda d: _pe("tile", cell_size_deg=-1.0), "cell_size_deg")
err(S, "tile cell_size_deg=0.001 (6.5e10 cells)", lambda d: _pe("tile", cell_size_deg=0.001),
    ("cell_size_deg", "max_cells"))
err(S, "tile extent inverted", lambda d: _pe("tile", extent=(10.0, -10.0, 0.0, 5.0)), "extent")
err(S, "wrap lat_mode='foo'", lambda d: _pe("wrap", lat_mode="foo"), "lat_mode")
err(S, "direct mode='foo'", lambda d: _pe("direct", mode="foo"), "mode")
err(S, "validate='yes'", lambda d: _pe("wrap", validate="yes"), "validate")

# ----------------------------------------------------------------------------------------------- coordinates
S = "encoder-coords"
NAN, INF = float("nan"), float("inf")
BAD_COORDS = [
    ("NaN lon", lambda: _t([[NAN, 10.0]]), (("nan", "finite"),)),
    ("NaN lat", lambda: _t([[10.0, NAN]]), (("nan", "finite"),)),
    ("+inf lat", lambda: _t([[10.0, INF]]), (("inf", "finite"),)),
    ("lat 95", lambda: _t([[10.0, 95.0]]), ("lat",)),
    ("lat -90.0001", lambda: _t([[10.0, -90.0001]]), ("lat",)),
    ("lon 200", lambda: _t([[200.0, 10.0]]), ("lon",)),
    ("lon -180.5", lambda: _t([[-180.5, 10.0]]), ("lon",)),
    ("swapped (lat, lon), |lon| > 90", lambda: _t([[48.85, 2.35], [37.8, -122.4]]), ("swap",)),
    ("int64 dtype", lambda: _t([[10, 20]], "int64"), (("dtype", "float"),)),
    ("bool dtype", lambda: _t([[True, False]], "bool"), (("dtype", "float"),)),
    ("complex64 dtype", lambda: _t([[1 + 0j, 2 + 0j]], "complex64"), (("dtype", "float", "complex"),)),
    ("last dim 3", lambda: _t([[1.0, 2.0, 3.0]]), (("2", "shape"),)),
    ("last dim 1", lambda: _t([[1.0]]), (("2", "shape"),)),
    ("0-d tensor", lambda: _t(5.0), (("2", "shape", "dim"),)),
]
for enc_name in ("wrap", "sphere2vec_spherec", "spherical_harmonics", "tile", "rbf"):
    for label, make, match in BAD_COORDS:
        if enc_name in ("rbf", "tile") and label not in ("NaN lon", "lat 95", "lon 200", "swapped (lat, lon), |lon| > 90", "int64 dtype"):
            continue
        err(S, f"{enc_name}: {label}", lambda d, n=enc_name, m=make: _pe(n)(m()), *match)
for label, make, match in BAD_COORDS[:8]:
    err(S, f"create_encoder(rff): {label}", lambda d, m=make: _enc("rff", embed_dim=8)(m()), *match)
err(S, "wrap: NaN with requires_grad", lambda d: _pe("wrap")(_t([[NAN, 1.0]]).requires_grad_()), ("nan", "finite"))


def _same_as_tensor(kind):
    def fn(d):
        import torch

        pe = _pe("sphere2vec_spherec")
        rows = [[2.35, 48.85], [-122.4, 37.8]]
        x = {"numpy": lambda: __import__("numpy").array(rows), "list": lambda: rows}[kind]()
        return bool(torch.allclose(pe(x).double(), pe(_t(rows)).double())), "same as the tensor input"
    return fn


for kind in ("numpy", "list"):
    case(S, f"{kind} input instead of a tensor", "error_or_ok", fn=_same_as_tensor(kind), check=_true(),
         match=(("tensor", "Tensor"),))
for dt in ("float16", "bfloat16"):
    case(S, f"{dt} input (sphere2vec_spherec)", "error_or_ok", fn=lambda d, dt=dt: _pe("sphere2vec_spherec")(_t([[179.9, 89.9], [-179.9, -89.9]], dt)),
         check=_finite_shape((2, 96)), match=(("dtype", "float16", "bfloat16", "half"),))
    case(S, f"{dt} input (create_encoder space2vec_grid)", "error_or_ok",
         fn=lambda d, dt=dt: _enc("space2vec_grid", embed_dim=8)(_t([[179.9, 89.9]], dt)),
         check=_finite_shape((1, 8)), match=(("dtype", "float16", "bfloat16", "half"),))

# controls
case(S, "control: empty batch (0, 2)", "ok", fn=lambda d: _pe("sphere2vec_spherec_plus")(_t([]).reshape(0, 2)),
     check=_finite_shape((0, 192)))
case(S, "control: empty batch through create_encoder", "ok", fn=lambda d: _enc("rff", embed_dim=16)(_t([]).reshape(0, 2)),
     check=_finite_shape((0, 16)))
case(S, "control: single point shape (2,)", "ok", fn=lambda d: _pe("wrap")(_t([10.0, 20.0])), check=_finite_shape((4,)))


def _equal_outputs(name, a, b, tol=1e-6, **kw):
    def fn(d):
        import torch

        pe = _pe(name, **kw)
        out = pe(_t([a, b]))
        diff = float((out[0] - out[1]).abs().max())
        return diff <= tol and bool(torch.isfinite(out).all()), f"max |f(a) - f(b)| = {diff:.2e}"
    return fn


case(S, "control: pole, spherical_harmonics same at any lon", "ok", fn=_equal_outputs("spherical_harmonics", [0.0, 90.0], [123.0, 90.0]), check=_true())
case(S, "control: pole, xyz same at any lon", "ok", fn=_equal_outputs("xyz", [-70.0, -90.0], [45.0, -90.0]), check=_true())
case(S, "control: dateline ±180, wrap", "ok", fn=_equal_outputs("wrap", [-180.0, 10.0], [180.0, 10.0]), check=_true())
case(S, "control: dateline ±180, rbf great-circle", "ok", fn=_equal_outputs("rbf", [-180.0, 10.0], [180.0, 10.0]), check=_true())
case(S, "control: dateline ±180, spherical_harmonics", "ok", fn=_equal_outputs("spherical_harmonics", [-180.0, -33.0], [180.0, -33.0]), check=_true())
case(S, "control: tile at the grid corners (±180, ±90)", "ok",
     fn=lambda d: _pe("tile", cell_size_deg=10.0)(_t([[180.0, 90.0], [-180.0, -90.0]])), check=_finite_shape((2, 256)))


def _grad_at_pole(name):
    def fn(d):
        import torch

        x = _t([[30.0, 90.0], [30.0, -90.0]]).requires_grad_()
        _pe(name)(x).sum().backward()
        return bool(torch.isfinite(x.grad).all()), f"grad {x.grad.tolist()}"
    return fn


for n in ("sphere2vec_spherec_plus", "spherical_harmonics"):
    case(S, f"control: gradient at the poles is finite ({n})", "ok", fn=_grad_at_pole(n), check=_true())
case(S, "control: non-contiguous input equals contiguous", "ok",
     fn=lambda d: (lambda pe, x: (bool(__import__("torch").equal(pe(x.t().contiguous().t()), pe(x.t().t()))), ""))(
         _pe("nerf"), _t([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]).t()), check=_true())

# =============================================================================================== geometry
S = "geometry"


def _geo(fn_name, *args, **kw):
    from geosrl import geometry

    return getattr(geometry, fn_name)(*args, **kw)


def _nuft(geoms, **kw):
    from geosrl.geometry import create_geometry_encoder

    return create_geometry_encoder("nuft", embed_dim=8, **kw).eval()(geoms)


def _shp():
    import shapely

    return shapely


BOWTIE = "POLYGON ((0 0, 1 1, 1 0, 0 1, 0 0))"
err(S, "bowtie (self-intersecting) polygon", lambda d: _geo("batch_geometries", [_shp().from_wkt(BOWTIE)]), ("invalid", "self-intersection"))
err(S, "bowtie through the encoder", lambda d: _nuft([_shp().from_wkt(BOWTIE)]), ("invalid", "self-intersection"))
err(S, "overlapping MultiPolygon", lambda d: _geo("batch_geometries", [_shp().MultiPolygon([_shp().box(0, 0, 2, 2), _shp().box(1, 1, 3, 3)])]),
    ("invalid", "self-intersection", "overlap"))
err(S, "empty Polygon", lambda d: _geo("batch_geometries", [_shp().Polygon()]), "empty")
err(S, "empty list", lambda d: _geo("batch_geometries", []), "empty")
err(S, "empty GeometryCollection", lambda d: _geo("batch_geometries", [_shp().GeometryCollection()]), ("empty", "GeometryCollection"))
err(S, "GeometryCollection of a point and a polygon", lambda d: _geo("batch_geometries", [_shp().GeometryCollection([_shp().Point(0, 0), _shp().box(0, 0, 1, 1)])]),
    ("GeometryCollection", "unsupported"))
err(S, "NaN vertex", lambda d: _geo("batch_geometries", [_shp().Polygon([(0, 0), (1, float("nan")), (1, 1)])]), ("nan", "finite"))
err(S, "inf vertex", lambda d: _geo("batch_geometries", [_shp().Polygon([(0, 0), (1, float("inf")), (1, 1)])]), ("inf", "finite"))
err(S, "NaN point", lambda d: _geo("batch_geometries", [_shp().Point(float("nan"), 0.0)]), ("nan", "finite", "empty"))
err(S, "zero-area polygon (collinear)", lambda d: _geo("batch_geometries", [_shp().Polygon([(0, 0), (1, 0), (2, 0)])]), ("area", "invalid"))
err(S, "zero-length LineString", lambda d: _geo("batch_geometries", [_shp().LineString([(1, 1), (1, 1)])]), ("length", "invalid"))
err(S, "mixed Point and Polygon", lambda d: _geo("batch_geometries", [_shp().Point(0, 0), _shp().box(0, 0, 1, 1)]), ("dimension", "mixed"))
err(S, "WKT string instead of a geometry", lambda d: _geo("batch_geometries", ["POLYGON ((0 0, 1 0, 1 1, 0 0))"]), ("geometry", "shapely", "str"))
err(S, "int instead of a geometry", lambda d: _geo("batch_geometries", [5]), ("geometry", "shapely", "int"))
err(S, "None in the list", lambda d: _geo("batch_geometries", [_shp().box(0, 0, 1, 1), None]), ("None", "missing", "geometry"))
err(S, "frame='foo'", lambda d: _geo("batch_geometries", [_shp().box(0, 0, 1, 1)], frame="foo"), "frame")
err(S, "invalid='foo'", lambda d: _geo("batch_geometries", [_shp().box(0, 0, 1, 1)], invalid="foo"), "invalid")
err(S, "unknown encoder name 'nufft'", lambda d: _geo("create_geometry_encoder", "nufft"), "nufft")
err(S, "nuft embed_dim=0", lambda d: _geo("create_geometry_encoder", "nuft", embed_dim=0), "embed_dim")
err(S, "nuft embed_dim=-3", lambda d: _geo("create_geometry_encoder", "nuft", embed_dim=-3), "embed_dim")
err(S, "nuft sampling='foo'", lambda d: _geo("create_geometry_encoder", "nuft", sampling="foo"), "sampling")
err(S, "nuft num_radii=0", lambda d: _geo("create_geometry_encoder", "nuft", num_radii=0), "num_radii")
err(S, "nuft k_min > k_max", lambda d: _geo("create_geometry_encoder", "nuft", k_min=10.0, k_max=1.0), ("k_min", "k_max"))
err(S, "nuft features='foo'", lambda d: _geo("create_geometry_encoder", "nuft", features="foo"), "features")
err(S, "nuft unknown kwarg", lambda d: _geo("create_geometry_encoder", "nuft", frequncies="fft"), "frequncies")
err(S, "resnet1d embed_dim=2.5", lambda d: _geo("create_geometry_encoder", "resnet1d", embed_dim=2.5), "embed_dim")
err(S, "raster_cnn with a tensor instead of geometries", lambda d: _geo("create_geometry_encoder", "raster_cnn", embed_dim=8)(
    __import__("torch").zeros(3, 2)), ("geometry", "shapely", "Tensor", "GeometryBatch"))


def _huge(scale):
    def fn(d):
        import torch

        shapely = _shp()
        geoms = [shapely.box(0, 0, scale, scale), shapely.box(scale, scale, 2 * scale, 3 * scale)]
        batch = _geo("batch_geometries", geoms)
        out = _nuft(batch)
        ok = bool(torch.isfinite(out).all()) and bool(torch.isfinite(batch.scale).all()) and bool((batch.scale > 0).all())
        return ok, f"output finite={bool(torch.isfinite(out).all())}, scale={batch.scale.tolist()}"
    return fn


for sc in (1e300, 1e200, 1e-300):
    case(S, f"box with side {sc:g}", "error_or_ok", fn=_huge(sc), check=_true(), match=(("finite", "overflow", "area", "scale", "range"),))
case(S, "control: polygon with a hole", "ok",
     fn=lambda d: _nuft([_shp().Point(0, 0).buffer(1).difference(_shp().box(-.2, -.2, .2, .2)), _shp().box(0, 0, 4, 1)]),
     check=_finite_shape((2, 8)))
case(S, "control: invalid='repair' on a bowtie", "ok", fn=lambda d: _nuft(_geo("batch_geometries", [_shp().from_wkt(BOWTIE)], invalid="repair")),
     check=_finite_shape((1, 8)))
case(S, "control: points batch", "ok", fn=lambda d: _nuft([_shp().Point(0, 0), _shp().MultiPoint([(0, 0), (1, 1)])]), check=_finite_shape((2, 8)))

# =============================================================================================== checkpoints
S = "checkpoint"


def _ckpt_fixture(d: Path, name="wrap", **kw) -> Path:
    import geosrl

    return geosrl.save_pretrained(_enc(name, embed_dim=8, **kw), d / "good.safetensors", {"licence": "test"})


def _rewrite(src: Path, dst: Path, card_fn=None, tensors_fn=None, drop_card=False, raw_card=None) -> Path:
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(src), "pt") as f:
        meta = f.metadata() or {}
        tensors = {k: f.get_tensor(k) for k in f.keys()}
    card = json.loads(meta["geosrl_card"])
    if card_fn:
        card_fn(card)  # mutates the card in place
    if tensors_fn:
        tensors = tensors_fn(tensors) or tensors
    md = {} if drop_card else {"geosrl_card": raw_card if raw_card is not None else json.dumps(card)}
    save_file(tensors, str(dst), metadata=md)
    return dst


def _load(path, **kw):
    import geosrl

    return geosrl.load_pretrained(path, **kw)


def _card_case(label, card_fn, *match, fixture="wrap", fixture_kw=None, tensors_fn=None, drop_card=False, raw_card=None, timeout=API_TIMEOUT):
    def fn(d):
        good = _ckpt_fixture(d, fixture, **(fixture_kw or {}))
        bad = _rewrite(good, d / "bad.safetensors", card_fn, tensors_fn, drop_card, raw_card)
        return _load(bad, check_sidecar=False)
    err(S, label, fn, *match, timeout=timeout)


def _bytes_case(label, make, *match, fname="bad.safetensors", loader="load"):
    def fn(d):
        good = _ckpt_fixture(d)
        p = d / fname
        p.write_bytes(make(d, good.read_bytes()))
        import geosrl

        return geosrl.read_card(p) if loader == "read_card" else _load(p)
    err(S, label, fn, *match)


_bytes_case("truncated to half", lambda d, b: b[: len(b) // 2], "bad.safetensors")
_bytes_case("truncated to 8 bytes", lambda d, b: b[:8], "bad.safetensors")
_bytes_case("empty file", lambda d, b: b"", "bad.safetensors")
_bytes_case("random bytes", lambda d, b: os.urandom(4096), "bad.safetensors")
_bytes_case("header length 2**62", lambda d, b: (2**62).to_bytes(8, "little") + b[8:], "bad.safetensors")
_bytes_case("header length points past the end", lambda d, b: (len(b) + 100).to_bytes(8, "little") + b[8:], "bad.safetensors")
_bytes_case("pickle with payload renamed .safetensors", lambda d, b: _pickle_bytes(d), "bad.safetensors")
_bytes_case("read_card: random bytes", lambda d, b: os.urandom(512), "bad.safetensors", loader="read_card")
_bytes_case("read_card: truncated", lambda d, b: b[:100], "bad.safetensors", loader="read_card")
_bytes_case("text file with .txt suffix", lambda d, b: b"hello\n", ("model.txt",), fname="model.txt")


def _torch_zip_ckpt(d):
    p = d / "bad.safetensors"
    _torch_zip_payload(d, p)
    return _load(p)


err(S, "torch.save zip with payload renamed .safetensors", _torch_zip_ckpt, "bad.safetensors")
_card_case("safetensors without a card", None, "card", drop_card=True)
_card_case("card is not JSON", None, "card", raw_card="{not json")
_card_case("card is a JSON list", None, "card", raw_card="[1, 2]")
_card_case("card embed_dim '8' (string)", lambda c: c.update(embed_dim="8"), "embed_dim")
_card_case("card architecture.embed_dim '8' (string)", lambda c: c["architecture"].update(embed_dim="8"), "embed_dim")
_card_case("card without architecture", lambda c: c.pop("architecture"), "architecture")
_card_case("card architecture is a string", lambda c: c.update(architecture="wrap"), "architecture")
_card_case("card unknown encoder name", lambda c: c["architecture"].update(name="no_such_encoder"), "no_such_encoder")
_card_case("card net 'transformer'", lambda c: c["architecture"].update(net="transformer"), "net")
_card_case("card format_version 99", lambda c: c.update(format_version=99), ("format_version", "version"))
_card_case("card format 'other'", lambda c: c.update(format="other"), "format")
_card_case("card coord_order 'latlon'", lambda c: c.update(coord_order="latlon"), "coord_order")
_card_case("card units 'radians'", lambda c: c.update(units="radians"), "units")
_card_case("card embed_dim 2**31-1", lambda c: (c.update(embed_dim=2**31 - 1), c["architecture"].update(embed_dim=2**31 - 1)), "embed_dim")
_card_case("card pe_kwargs unknown argument", lambda c: c["architecture"].update(pe_kwargs={"frequency_num": 10**9}), "frequency_num")
_card_case("card pe_kwargs NaN", lambda c: c["architecture"]["pe_kwargs"].update(lat_mode=float("nan")), ("finite", "nan", "lat_mode"))
_card_case("card tile cell_size_deg 0.001 (6.5e10 cells)",
           lambda c: c["architecture"]["pe_kwargs"].update(cell_size_deg=0.001), ("cell_size_deg", "max_cells", "size"),
           fixture="tile", fixture_kw={"cell_size_deg": 30.0})
_card_case("card tile pe embed_dim 10**8", lambda c: c["architecture"]["pe_kwargs"].update(embed_dim=10**8), ("embed_dim",),
           fixture="tile", fixture_kw={"cell_size_deg": 30.0})
_card_case("card rff frequency_num 10**9", lambda c: c["architecture"]["pe_kwargs"].update(frequency_num=10**9),
           ("frequency_num",), fixture="rff", fixture_kw={"frequency_num": 8})
_card_case("card net_kwargs hidden_dim 10**7", lambda c: c["architecture"]["net_kwargs"].update(hidden_dim=10**7),
           ("hidden_dim",), fixture="rff", fixture_kw={"frequency_num": 8, "net": "ffn"})
_card_case("card nested 100 deep", lambda c: c["architecture"]["pe_kwargs"].update(lat_mode=json.loads("[" * 100 + "]" * 100)),
           ("deep", "nested", "lat_mode"))




def _flip_tensor_byte(d):
    good = _ckpt_fixture(d)
    raw = bytearray(good.read_bytes())
    raw[-5] ^= 0x40
    good.write_bytes(bytes(raw))
    return _load(good, check_sidecar=False)


err(S, "tensor byte flipped (hash mismatch)", _flip_tensor_byte, ("hash", "sha256", "checksum", "corrupt"))
_card_case("extra tensor in the file", None, ("unexpected", "extra", "hash", "sha256"),
           tensors_fn=lambda t: {**t, "extra": __import__("torch").zeros(3)})
_card_case("a tensor missing from the file", None, ("missing", "hash", "sha256"),
           tensors_fn=lambda t: {k: v for i, (k, v) in enumerate(t.items()) if i})


def _wrong_shape_rehashed(d):
    from geosrl.encoders.checkpoint import tensors_sha256

    good = _ckpt_fixture(d)
    holder = {}

    def tfn(t):
        k = next(iter(t))
        t = {**t, k: __import__("torch").zeros(*t[k].shape[:-1], t[k].shape[-1] + 1) if t[k].dim() else t[k]}
        holder["h"] = tensors_sha256(t)
        return t

    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(good), "pt") as f:
        card = json.loads(f.metadata()["geosrl_card"])
        tensors = tfn({k: f.get_tensor(k) for k in f.keys()})
    card["tensors_sha256"] = holder["h"]
    save_file(tensors, str(d / "bad.safetensors"), metadata={"geosrl_card": json.dumps(card)})
    return _load(d / "bad.safetensors", check_sidecar=False)


err(S, "a tensor of the wrong shape (hash recomputed)", _wrong_shape_rehashed, "shape")


def _sidecar(d, content):
    good = _ckpt_fixture(d)
    side = good.with_suffix(".json")
    side.write_text(content(json.loads(side.read_text())))
    return _load(good)


err(S, "sidecar file_sha256 wrong", lambda d: _sidecar(d, lambda j: json.dumps({**j, "file_sha256": "0" * 64})),
    ("sha256", "sidecar", "good.json"))
err(S, "sidecar is garbage", lambda d: _sidecar(d, lambda j: "{garbage"), ("sidecar", "good.json"))
err(S, "missing file", lambda d: _load(d / "missing.safetensors"), "missing.safetensors")
err(S, "unknown shipped name", lambda d: _load("no_such_model"), "no_such_model")
err(S, "a directory", lambda d: (d / "adir").mkdir() or _load(d / "adir"), "adir")
err(S, "path_or_name=123", lambda d: _load(123), ("path", "name", "int", "123"))
err(S, "device='cuda' without CUDA", lambda d: _load(_ckpt_fixture(d), device="cuda"), "cuda")
err(S, "read_card: missing card", lambda d: __import__("geosrl").read_card(_rewrite(_ckpt_fixture(d), d / "bad.safetensors", drop_card=True)), "card")


def _save_below_file(d):
    (d / "blocker").write_text("a user's file\n")
    return __import__("geosrl").save_pretrained(_enc("wrap", embed_dim=8), d / "blocker" / "model.safetensors")


err(S, "save below a regular file", _save_below_file, "blocker")
err(S, "save to an existing directory", lambda d: (d / "dir.safetensors").mkdir() or __import__("geosrl").save_pretrained(
    _enc("wrap", embed_dim=8), d / "dir.safetensors"), "dir.safetensors")
err(S, "save nn.Linear (no architecture)", lambda d: __import__("geosrl").save_pretrained(
    __import__("torch").nn.Linear(2, 3), d / "lin.safetensors"), "architecture")
def _save_nan_metric(d):
    p = __import__("geosrl").save_pretrained(_enc("wrap", embed_dim=8), d / "m.safetensors", {"metrics": {"acc": float("nan")}})

    def strict(name):
        raise ValueError(f"non-standard JSON constant {name}")
    try:
        json.loads(p.with_suffix(".json").read_text(), parse_constant=strict)
        json.loads(__import__("safetensors").safe_open(str(p), "pt").metadata()["geosrl_card"], parse_constant=strict)
    except ValueError as e:
        return False, f"saved, but the card is not standard JSON ({e}; strict JSON readers refuse it)"
    return True, "saved as standard JSON"


case(S, "save meta metrics NaN", "error_or_ok", fn=_save_nan_metric, check=_true(), match=(("finite", "nan"), "metrics"))
err(S, "save meta holding a tensor", lambda d: __import__("geosrl").save_pretrained(
    _enc("wrap", embed_dim=8), d / "m.safetensors", {"x": __import__("torch").ones(2)}), ("meta", "json", "Tensor"))
err(S, "save meta not a dict", lambda d: __import__("geosrl").save_pretrained(_enc("wrap", embed_dim=8), d / "m.safetensors", ["a"]),
    "meta")


def _save_overriding_hash(d):
    import geosrl

    p = geosrl.save_pretrained(_enc("wrap", embed_dim=8), d / "m.safetensors", {"tensors_sha256": "abc"})
    geosrl.load_pretrained(p)
    return True, "saved and loads back"


case(S, "save meta overriding tensors_sha256", "error_or_ok", fn=_save_overriding_hash, check=_true(), match=("tensors_sha256",))


def _roundtrip(d):
    import torch

    m = _enc("sphere2vec_spherec", embed_dim=8)
    p = __import__("geosrl").save_pretrained(m, d / "rt.safetensors", {"licence": "x"})
    m2 = _load(p)
    x = _t([[0.0, 0.0], [180.0, 90.0]])
    return bool(torch.equal(m(x), m2.eval()(x))), "identical outputs"


case(S, "control: save/load round trip", "ok", fn=_roundtrip, check=_true())
case(S, "control: load the shipped checkpoint by name", "ok",
     fn=lambda d: _load(__import__("geosrl").list_pretrained()[0]).eval()(_t([[2.35, 48.85]])), check=_finite_shape())

# =============================================================================================== datasets: LocBench
S = "datasets-locbench"
_spec = importlib.util.spec_from_file_location("locbench_fixture_data", REPO / "tests" / "data" / "locbench" / "data.py")
FIX = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(FIX)


def _lb(name, split, damage=None, rel=None, **kw):
    def fn(d):
        import warnings

        from geosrl.datasets.locbench import load_locbench

        root = d / "root"
        FIX.write_dataset(name, root)
        if damage is not None:
            damage(d, root / rel)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return load_locbench(name, root, split, **kw)
    return fn


def replace_line(n, new):
    def apply(d, path):
        lines = path.read_bytes().split(b"\n")
        lines[n - 1] = new.encode() if isinstance(new, str) else new
        path.write_bytes(b"\n".join(lines))
    return apply


def raw(fn):
    def apply(d, path):
        path.write_bytes(fn(d, path.read_bytes()))
    return apply


def json_edit(fn):
    def apply(d, path):
        obj = json.loads(path.read_text())
        path.write_text(json.dumps(fn(obj)))
    return apply


def npy(make):
    def apply(d, path):
        import numpy as np

        arr = make(d, np.load(path) if path.suffix == ".npy" else None)
        with open(path, "wb") as f:
            np.save(f, arr, allow_pickle=True)
    return apply


YF = "yfcc/train_test_split.csv"
YP = "yfcc/features_inception/YFCC_train_preds.npy"
YN = "yfcc/features_inception/YFCC_train_net_feats.npy"
lbe = lambda label, fn, *m: err(S, label, fn, *m)  # noqa: E731
lbe("unknown dataset name", lambda d: __import__("geosrl.datasets.locbench", fromlist=["x"]).load_locbench("nope", d, "train"), "nope")
lbe("unknown split", _lb("yfcc", "validation"), "split")
lbe("image_input='bogus'", _lb("yfcc", "train", image_input="bogus"), "image_input")
lbe("root without the files", lambda d: __import__("geosrl.datasets.locbench", fromlist=["x"]).load_locbench("yfcc", d, "train"),
    ("train_test_split.csv", "yfcc"))
lbe("root is a regular file", lambda d: (d / "rootfile").write_text("x") and __import__("geosrl.datasets.locbench", fromlist=["x"]).load_locbench(
    "yfcc", d / "rootfile", "train"), "rootfile")
lbe("yfcc: short CSV row", _lb("yfcc", "train", replace_line(3, "180.0,0.0"), YF), "train_test_split.csv", "line")
lbe("yfcc: lon 'abc'", _lb("yfcc", "train", replace_line(2, "abc,0.0,0,train"), YF), "abc")
lbe("yfcc: lon 200", _lb("yfcc", "train", replace_line(2, "200.0,0.0,0,train"), YF), ("200", "lon"))
lbe("yfcc: lat inf", _lb("yfcc", "train", replace_line(2, "0.0,inf,0,train"), YF), ("inf", "finite"))
lbe("yfcc: split 'bogus'", _lb("yfcc", "train", replace_line(2, "0.0,0.0,0,bogus"), YF), "bogus")
lbe("yfcc: class 1.7", _lb("yfcc", "train", replace_line(2, "0.0,0.0,1.7,train"), YF), "1.7")
lbe("yfcc: class 99 (unknown)", _lb("yfcc", "train", replace_line(2, "0.0,0.0,99,train"), YF), "99")
lbe("yfcc: NUL byte", _lb("yfcc", "train", replace_line(2, b"0.0,0\x00.0,0,train"), YF), ("nul", "\\x00", "null byte"))
lbe("yfcc: invalid UTF-8", _lb("yfcc", "train", replace_line(2, b"0.0,0.0,0,tr\xff\xfeain"), YF), ("utf-8", "utf8"))
lbe("yfcc: truncated mid-number", _lb("yfcc", "train", raw(lambda d, b: b[: b.index(b"180.0,0.0,1,train") + 7]), YF), "train_test_split.csv")
lbe("yfcc: truncated at a line end, test split (preds have more rows)",
    _lb("yfcc", "test", raw(lambda d, b: b[: b.index(b"nan,nan,0,test")]), YF), ("YFCC_test", "train_test_split.csv"))
lbe("yfcc: preds .npy is text", _lb("yfcc", "train", raw(lambda d, b: b"not an array\n"), YP), "YFCC_train_preds.npy")
lbe("yfcc: preds .npy truncated", _lb("yfcc", "train", raw(lambda d, b: b[: len(b) - 7]), YP), "YFCC_train_preds.npy")
lbe("yfcc: preds .npy empty", _lb("yfcc", "train", raw(lambda d, b: b""), YP), "YFCC_train_preds.npy")
lbe("yfcc: preds .npy pickled object array with payload", _lb("yfcc", "train", npy(lambda d, a: __import__("numpy").array([Payload(d / MARKER)] * 2, dtype=object)), YP),
    "YFCC_train_preds.npy")
lbe("yfcc: preds row count differs", _lb("yfcc", "train", npy(lambda d, a: a[:1]), YP), "YFCC_train_preds.npy")
lbe("yfcc: preds 3-D", _lb("yfcc", "train", npy(lambda d, a: a[:, :, None]), YP), "YFCC_train_preds.npy")
lbe("yfcc: preds contain NaN", _lb("yfcc", "train", npy(lambda d, a: a * float("nan")), YP), ("YFCC_train_preds.npy", "nan", "finite"))
lbe("yfcc: net_feats object array with payload (image_input=net_feats)",
    _lb("yfcc", "train", npy(lambda d, a: __import__("numpy").array([Payload(d / MARKER)] * 2, dtype=object)), YN, image_input="net_feats"),
    "YFCC_train_net_feats.npy")
BJ = "birdsnap/birdsnap_with_loc_2019.json"
lbe("birdsnap: JSON truncated", _lb("birdsnap", "train", raw(lambda d, b: b[: len(b) // 2]), BJ), "birdsnap_with_loc_2019.json")
case(S, "birdsnap: key 'classes' missing", "error_or_ok",
     fn=_lb("birdsnap", "train", json_edit(lambda o: {k: v for k, v in o.items() if k != "classes"}), BJ),
     check=lambda t: (t.num_classes == 3 and len(t.lonlat) == 3, f"loaded; class_names={t.class_names}"), match=("classes",))
lbe("birdsnap: class_id 1.7", _lb("birdsnap", "train", json_edit(lambda o: (o["train"][0].update(class_id=1.7), o)[1]), BJ), ("1.7", "class_id"))
lbe("birdsnap: lon 'east'", _lb("birdsnap", "train", json_edit(lambda o: (o["train"][0]["orig_meta"].update(lon="east"), o)[1]), BJ), ("east", "lon"))
lbe("birdsnap: top level is a list", _lb("birdsnap", "train", json_edit(lambda o: [o]), BJ), "birdsnap_with_loc_2019.json")


def _npz_payload(d, path):
    import numpy as np

    np.savez(path, data=np.array([Payload(d / MARKER)], dtype=object), indices=np.array([Payload(d / MARKER)], dtype=object))


lbe("birdsnap: sparse preds .npz with pickled payload", _lb("birdsnap", "train", _npz_payload, "birdsnap/features_inception/birdsnap_train_preds_sparse.npz"),
    "birdsnap_train_preds_sparse")
IL = "inat_2018/train2018_locations.json"
lbe("inat_2018: location lon 'abc'", _lb("inat_2018", "train", json_edit(lambda o: (o[0].update(lon="abc"), o)[1]), IL), ("abc", "lon"))
lbe("inat_2018: locations not a list", _lb("inat_2018", "train", json_edit(lambda o: {"x": o}), IL), "train2018_locations.json")
lbe("inat_2018: annotation with unknown category", _lb("inat_2018", "train", json_edit(lambda o: (o["annotations"][0].update(category_id=77), o)[1]), "inat_2018/train2018.json"),
    "77")
lbe("fmow: category.json is a list", _lb("fmow", "train", json_edit(lambda o: list(o)), "fmow/category.json"), "category.json")
lbe("mosaiks: X rows differ", _lb("mosaiks_population", "train", npy(lambda d, a: a[:2]), "mosaiks/X_population.npy"), "X_population.npy")
lbe("mosaiks: label 'abc'", _lb("mosaiks_population", "train", replace_line(2, "-180.0,10.0,train,abc"), "mosaiks/Y_population.csv"), "abc")
lbe("sustainbench: lat 95", _lb("sustainbench_asset_index", "train", replace_line(2, "AA-1,AA,2010,95.0,-180.0,0.5,0.1,0.2,0.3,0.4,0.5,0.6"),
                                  "sustainbench/dhs_trainval_labels.csv"), ("95", "lat"))
lbe("sustainbench: short row", _lb("sustainbench_asset_index", "train", replace_line(2, "AA-1,AA,2010"), "sustainbench/dhs_trainval_labels.csv"),
    "dhs_trainval_labels.csv")
case(S, "control: yfcc train (fixture, drops one row)", "ok", fn=_lb("yfcc", "train"),
     check=lambda t: (len(t.lonlat) == 2 and t.metadata["dropped_rows"]["count"] == 1, f"{len(t.lonlat)} rows, dropped {t.metadata.get('dropped_rows')}"))
case(S, "control: sustainbench train (fixture, NaN label dropped)", "ok", fn=_lb("sustainbench_asset_index", "train"),
     check=lambda t: (len(t.lonlat) == 2, f"{len(t.lonlat)} rows"))

# =============================================================================================== datasets: offline cache
S = "datasets-cache"


def _offline(d, **kw):
    from geosrl.datasets import load_offline_task

    return load_offline_task("land_ocean", cache_dir=d / "cache", max_samples=kw.pop("max_samples", 300), **kw)


def _corrupt_and_reload(damage):
    def fn(d):
        import warnings

        import numpy as np

        fresh = _offline(d)
        path = Path(fresh.metadata["cache_path"])
        damage(d, path)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            again = _offline(d)
        kinds = sorted({type(x.message).__name__ for x in w})
        same = np.array_equal(fresh.lonlat, again.lonlat) and np.array_equal(fresh.target, again.target)
        ok = same and "CacheCorruptWarning" in kinds
        return ok, f"rebuilt identical={same}, warnings={kinds}, cache_hit={again.metadata.get('cache_hit')}"
    return fn


def _truncate(frac):
    return lambda d, p: p.write_bytes(p.read_bytes()[: int(len(p.read_bytes()) * frac)])


def _flip(d, p):
    b = bytearray(p.read_bytes())
    b[len(b) // 2] ^= 0x10
    p.write_bytes(bytes(b))


def _cache_payload(d, p):
    import numpy as np

    with np.load(p, allow_pickle=False) as z:
        members = {k: z[k] for k in z.files}
    members["lonlat"] = np.array([Payload(d / MARKER)], dtype=object)
    p.unlink()
    np.savez(p, **members)


def _to_dir(d, p):
    p.unlink()
    p.mkdir()
    (p / "inside.txt").write_text("x")


def _to_symlink(d, p):
    p.unlink()
    p.symlink_to(d / "precious.txt")


for label, dmg in [("truncated to half", _truncate(0.5)), ("truncated to 0 bytes", _truncate(0.0)),
                   ("random bytes", lambda d, p: p.write_bytes(os.urandom(2048))), ("one bit flipped", _flip),
                   ("object array with a pickled payload", _cache_payload), ("replaced by a symlink to a user's file", _to_symlink),
                   ("replaced by a folder", _to_dir)]:
    case(S, f"cache entry {label}", "error_or_ok" if label == "replaced by a folder" else "ok", fn=_corrupt_and_reload(dmg),
         check=_true(), match=("land_ocean-",), timeout=60, keep_files={"precious.txt": "a user's file\n"})
err(S, "unknown offline task", lambda d: __import__("geosrl.datasets", fromlist=["x"]).load_offline_task("nope", cache_dir=d), "nope")
err(S, "max_samples=-5", lambda d: _offline(d, max_samples=-5), "max_samples")
err(S, "max_samples='ten'", lambda d: _offline(d, max_samples="ten"), "max_samples")
err(S, "max_samples=4.5", lambda d: _offline(d, max_samples=4.5), "max_samples")
def _cache_dir_file(d):
    import warnings

    (d / "cf").write_text("x")
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        t = __import__("geosrl.datasets", fromlist=["x"]).load_offline_task("land_ocean", cache_dir=d / "cf", max_samples=300)
    msgs = [str(x.message) for x in w]
    warned = any("could not write" in m and "cf" in m for m in msgs)
    return warned and len(t.lonlat) == 300, f"loaded {len(t.lonlat)} rows; warnings: {[m[:90] for m in msgs]}"


case(S, "cache_dir is a regular file", "error_or_ok", fn=_cache_dir_file, check=_true(), match=("cf",))
err(S, "unknown task option", lambda d: _offline(d, colour="red"), "colour")

# =============================================================================================== CLI: bench
S = "cli-bench"
SHARED: dict[str, Path] = {}  # filled in by main(): cache, resA, resB, pretrain fixtures
BASE_TOML = """[protocol]
epochs = 1
[task.land_ocean]
max_samples = 300
[task.land_ocean.protocol]
epochs = 1
"""
GRID = {"--tasks": "land_ocean", "--encoders": "wrap", "--splits": "random", "--seeds": "1"}


def bench_argv(toml=BASE_TOML, omit=(), extra=(), out="out", config=True, cache=None, grid=GRID):
    def build(d: Path) -> list[str]:
        argv = ["bench"]
        for k, v in grid.items():
            if k not in omit:
                argv += [k, v]
        if "--device" not in omit:
            argv += ["--device", "cpu"]
        if "--workers" not in omit:
            argv += ["--workers", "1"]
        if "--cache-dir" not in omit:
            argv += ["--cache-dir", str(cache(d) if cache else SHARED["cache"])]
        if config:
            cfg = d / "c.toml"
            cfg.write_bytes(toml.encode() if isinstance(toml, str) else toml)
            argv += ["--config", str(cfg)]
        if "--out" not in omit:
            argv += ["--out", str(d / out) if out else out]
        return argv + [x if not callable(x) else x(d) for x in extra]
    return build


def cli(surface, name, argv, *match, expected="error", **kw):
    case(surface, name, expected, argv=argv, match=match, timeout=kw.pop("timeout", CLI_TIMEOUT), **kw)


def _toml_case(label, toml, *match, omit=()):
    cli(S, f"config: {label}", bench_argv(BASE_TOML + toml if not toml.startswith("!") else toml[1:], omit=omit), *match)


for val in ("0", "-1", '"ten"', "4.5", "true"):
    # on elevation: the quick profile's [task.land_ocean.protocol] epochs would shadow [protocol] epochs for land_ocean
    cli(S, f"config: [protocol] epochs = {val} (task elevation)",
        bench_argv(f"[protocol]\nepochs = {val}\n[task.elevation]\nmax_samples = 300\n", omit=("--tasks",), extra=["--tasks", "elevation"]),
        "epochs", timeout=90)
cli(S, "config: [protocol] epochs = 0 shadowed by the profile's [task.land_ocean.protocol] epochs",
    bench_argv("[protocol]\nepochs = 0\n[task.land_ocean]\nmax_samples = 300\n"), "epochs", timeout=90)
_toml_case("[task.land_ocean.protocol] epochs = 0", f"!{BASE_TOML.replace('[task.land_ocean.protocol]' + chr(10) + 'epochs = 1', '[task.land_ocean.protocol]' + chr(10) + 'epochs = 0')}", "epochs")
for val in ('[0, "a"]', "0", "-1", "[]", '"two"'):
    _toml_case(f"[bench] seeds = {val}", f"[bench]\nseeds = {val}\n", "seeds", omit=("--seeds",))
_toml_case("[bench] tasks = 5", "[bench]\ntasks = 5\n", "tasks", omit=("--tasks",))
_toml_case("[bench] encoders = ['nope']", "[bench]\nencoders = ['nope']\n", "nope", omit=("--encoders",))
_toml_case("[bench] encoders = 5", "[bench]\nencoders = 5\n", "encoders", omit=("--encoders",))
_toml_case("[bench] splits = ['published'] (offline suite)", "[bench]\nsplits = ['published']\n", "published", omit=("--splits",))
_toml_case("[bench] workers = 0", "[bench]\nworkers = 0\n", "workers", omit=("--workers",))
_toml_case("[bench] device = 'cuda'", "[bench]\ndevice = 'cuda'\n", "cuda", omit=("--device",))
_toml_case("[bench] shard = '3/2'", "[bench]\nshard = '3/2'\n", "shard")
_toml_case("[bench] unknown key", "[bench]\ncolour = 1\n", "colour")
_toml_case("unknown top-level table", "[colour]\nx = 1\n", "colour")
_toml_case("[task.land_ocean.protocol] unknown key", "learnig_rate = 0.1\n", "learnig_rate")
_toml_case("[protocol] profile = 'nope'", f"!{BASE_TOML.replace('epochs = 1', 'epochs = 1' + chr(10) + 'profile = ' + chr(34) + 'nope' + chr(34), 1)}", "nope")
_toml_case("[protocol] batch_size = 0", f"!{BASE_TOML.replace('epochs = 1', 'epochs = 1' + chr(10) + 'batch_size = 0', 1)}", "batch_size")
_toml_case("[protocol] dropout = 1.5", f"!{BASE_TOML.replace('epochs = 1', 'epochs = 1' + chr(10) + 'dropout = 1.5', 1)}", "dropout")
for val in ("-5", '"x"', "4.5", "0"):
    _toml_case(f"[task.land_ocean] max_samples = {val}", f"!{BASE_TOML.replace('max_samples = 300', f'max_samples = {val}')}", "max_samples")
_toml_case("[task.nope] section", "[task.nope]\nmax_samples = 3\n", "nope")
_toml_case("[task.land_ocean] unknown option", f"!{BASE_TOML.replace('max_samples = 300', 'max_samples = 300' + chr(10) + 'colour = 1')}", "colour")
_toml_case("[protocol] lr_typo in the protocol table", f"!{BASE_TOML.replace('epochs = 1', 'epochs = 1' + chr(10) + 'lr_tpyo = 0.1', 1)}", "lr_tpyo")
cli(S, "config: malformed TOML", bench_argv("[protocol\nepochs = 1\n"), "c.toml")
cli(S, "config: non-UTF-8 TOML", bench_argv(b"[protocol]\nepochs = 1 # caf\xe9\n"), "c.toml")
cli(S, "config: missing file", lambda d: bench_argv(config=False, extra=["--config", str(d / "missing.toml")])(d), "missing.toml")
cli(S, "config: --config .", lambda d: bench_argv(config=False, extra=["--config", "."])(d), ("'.'", "director", " . "))
cli(S, "config: JSON array top level", lambda d: (d / "c.json").write_text("[1, 2]") and bench_argv(config=False, extra=["--config", str(d / "c.json")])(d),
    "c.json")
cli(S, "--out ''", bench_argv(out=""), "--out")
cli(S, "--out is a file", lambda d: (d / "afile").write_text("x\n") and bench_argv(out="afile")(d), "afile", protect=lambda d: [d / "afile"])
cli(S, "--out below a regular file", lambda d: (d / "afile").write_text("x\n") and bench_argv(out="afile/sub")(d), "afile",
    protect=lambda d: [d / "afile"])


def _user_folder(files, dirs=()):
    def build(d):
        u = d / "out"
        u.mkdir()
        for rel in dirs:
            (u / rel).mkdir()
        for rel, text in files.items():
            (u / rel).write_text(text)
        return bench_argv()(d)
    return build


cli(S, "--out non-empty folder with a user's leaderboard.csv", _user_folder({"leaderboard.csv": "mine,1\n"}), "out",
    protect=lambda d: [d / "out" / "leaderboard.csv"])
cli(S, "--out folder with a user's run.json", _user_folder({"run.json": '{"mine": 1}\n'}), "out", protect=lambda d: [d / "out" / "run.json"])
cli(S, "--out folder with a cells/ subfolder and a user's leaderboard.csv and summary.md",
    _user_folder({"leaderboard.csv": "mine,1\n", "summary.md": "# my notes\n"}, dirs=("cells",)), "out",
    protect=lambda d: [d / "out" / "leaderboard.csv", d / "out" / "summary.md"], timeout=90)
cli(S, "--device cuda (no CUDA)", bench_argv(omit=("--device",), extra=["--device", "cuda"]), "cuda")
cli(S, "--device tpu", bench_argv(omit=("--device",), extra=["--device", "tpu"]), "tpu")
cli(S, "--seeds 0", bench_argv(omit=("--seeds",), extra=["--seeds", "0"]), "seeds")
cli(S, "--seeds abc", bench_argv(omit=("--seeds",), extra=["--seeds", "abc"]), "seeds")
cli(S, "--workers 0", bench_argv(omit=("--workers",), extra=["--workers", "0"]), "workers")
cli(S, "--shard 3/2", bench_argv(extra=["--shard", "3/2"]), "shard")
cli(S, "--shard x", bench_argv(extra=["--shard", "x"]), "shard")
cli(S, "--shard 0/0", bench_argv(extra=["--shard", "0/0"]), "shard")
cli(S, "--tasks nope", bench_argv(omit=("--tasks",), extra=["--tasks", "nope"]), "nope")
cli(S, "--encoders nope", bench_argv(omit=("--encoders",), extra=["--encoders", "nope"]), "nope")
cli(S, "--splits foo", bench_argv(omit=("--splits",), extra=["--splits", "foo"]), "foo")
cli(S, "--splits ''", bench_argv(omit=("--splits",), extra=["--splits", ""]), "splits")
cli(S, "--profile nope", bench_argv(extra=["--profile", "nope"]), "profile")
cli(S, "no subcommand", lambda d: [], "command")
cli(S, "--suite locbench with an empty --root (every task skipped)",
    lambda d: (d / "lbroot").mkdir() or ["bench", "--suite", "locbench", "--root", str(d / "lbroot"), "--out", str(d / "out"),
                                          "--tasks", "yfcc,fmow", "--encoders", "wrap", "--splits", "random", "--device", "cpu",
                                          "--seeds", "1"], ("nothing ran", "skipped"))
cli(S, "--suite locbench without --root", lambda d: ["bench", "--suite", "locbench", "--out", str(d / "out"), "--device", "cpu"], "root")
cli(S, "--suite locbench --root missing folder", lambda d: ["bench", "--suite", "locbench", "--root", str(d / "missing"), "--out",
                                                           str(d / "out"), "--tasks", "yfcc", "--encoders", "wrap", "--splits",
                                                           "random", "--device", "cpu", "--seeds", "1"], "missing")
cli(S, "--cache-dir is a regular file", lambda d: (d / "cachefile").write_text("x\n") and bench_argv(cache=lambda d: d / "cachefile")(d),
    "cachefile", protect=lambda d: [d / "cachefile"], expected="error_or_ok",
    cli_check=lambda d, o, e: ("could not write cache" in e and (d / "out" / "leaderboard.csv").is_file(),
                               "ran without a cache, warned 'could not write cache entry'" if "could not write cache" in e else "no warning"))


def _locked(d):
    (d / "out").mkdir()
    return d / "out" / ".lock"


cli(S, "a second process on the same --out (lock held)", bench_argv(), "another geosrl process", hold_lock=_locked)


def _corrupt_cache_copy(d):
    c = d / "cache"
    shutil.copytree(SHARED["cache"], c)
    entries = list((c / "offline").glob("land_ocean-*.npz"))
    for p in entries:
        p.write_bytes(p.read_bytes()[:100])
    return c


def _ok_run(d, out, err_):
    ok = (d / "out" / "leaderboard.csv").is_file()
    return ok, "leaderboard.csv written" if ok else "no leaderboard.csv"


cli(S, "truncated cache entries in --cache-dir (must warn and rebuild)", bench_argv(cache=_corrupt_cache_copy), expected="ok",
    cli_check=lambda d, o, e: (_ok_run(d, o, e)[0] and "corrupt" in e.lower(), f"leaderboard={(d / 'out' / 'leaderboard.csv').is_file()}, "
                               f"warned={'corrupt' in e.lower()}"), timeout=90)


def _fewshot_pretrained(make):
    def build(d):
        p = d / "weights.safetensors"
        make(d, p)
        cfg = d / "fs.toml"
        cfg.write_text(f'[protocol]\npretrained = "{p}"\n[task.elevation]\nmax_samples = 300\n')
        return ["bench", "--profile", "fewshot_quick", "--tasks", "elevation", "--seeds", "1", "--device", "cpu", "--workers", "1",
                "--config", str(cfg), "--cache-dir", str(SHARED["cache"]), "--out", str(d / "out")]
    return build


cli(S, "fewshot [protocol] pretrained = pickle with payload", _fewshot_pretrained(lambda d, p: p.write_bytes(_pickle_bytes(d))),
    "weights.safetensors")
cli(S, "fewshot [protocol] pretrained = torch zip with payload", _fewshot_pretrained(lambda d, p: _torch_zip_payload(d, p)),
    "weights.safetensors")
cli(S, "fewshot [protocol] pretrained = missing file", _fewshot_pretrained(lambda d, p: None), "weights.safetensors")
cli(S, "fewshot [protocol] pretrained = random bytes", _fewshot_pretrained(lambda d, p: p.write_bytes(os.urandom(1000))),
    "weights.safetensors")

# controls
cli(S, "control: tiny valid run (fixture A)", lambda d: bench_argv(out=str(SHARED["resA"]))(d), expected="ok", phase=0,
    cli_check=lambda d, o, e: (((SHARED["resA"] / "leaderboard.csv").is_file()), "leaderboard.csv written"), timeout=120)
cli(S, "control: tiny valid run, other config (fixture B)",
    lambda d: bench_argv(BASE_TOML.replace("[task.land_ocean.protocol]\nepochs = 1", "[task.land_ocean.protocol]\nepochs = 2"), out=str(SHARED["resB"]))(d),
    expected="ok", phase=0, cli_check=lambda d, o, e: (((SHARED["resB"] / "leaderboard.csv").is_file()), "leaderboard.csv written"), timeout=120)
cli(S, "control: rerun resumes fixture A", lambda d: bench_argv(out=str(SHARED["resA"]))(d), expected="ok", phase=2,
    cli_check=lambda d, o, e: ("0 to run" in o, "'0 to run' in stdout" if "0 to run" in o else o[:200]), timeout=90)
cli(S, "control: geosrl encoders", lambda d: ["encoders"], expected="ok",
    cli_check=lambda d, o, e: (len(o.strip().splitlines()) == 17, f"{len(o.strip().splitlines())} lines"))

# =============================================================================================== CLI: merge
S = "cli-merge"


def _merge(out_fn, *srcs):
    def build(d):
        return ["bench", "merge", str(out_fn(d))] + [str(s(d)) for s in srcs]
    return build


A, B = (lambda d: SHARED["resA"]), (lambda d: SHARED["resB"])
cli(S, "merge two folders with different configs", _merge(lambda d: d / "m", A, B), "config", phase=2)
cli(S, "merge a missing source", _merge(lambda d: d / "m", A, lambda d: d / "missing"), "missing", phase=2)
cli(S, "merge an empty folder", _merge(lambda d: d / "m", A, lambda d: (d / "empty").mkdir() or d / "empty"), "empty", phase=2)
cli(S, "merge a source that is a file", _merge(lambda d: d / "m", A, lambda d: (d / "f.txt").write_text("x") and d / "f.txt"), "f.txt", phase=2)


def _user_out(d):
    u = d / "m"
    u.mkdir()
    (u / "leaderboard.csv").write_text("mine,1\n")
    return u


cli(S, "merge into a user's non-empty folder", _merge(_user_out, A), "m", protect=lambda d: [d / "m" / "leaderboard.csv"], phase=2)


def _copy_with_broken_cell(d):
    c = d / "A2"
    shutil.copytree(SHARED["resA"], c, ignore=shutil.ignore_patterns(".lock"))
    cell = sorted((c / "cells").glob("*.json"))[0]
    cell.write_text(cell.read_text()[:40])
    return c


cli(S, "merge a source with a truncated cell JSON", _merge(lambda d: d / "m", _copy_with_broken_cell), (".json",), phase=2)


def _locked_merge(d):
    (d / "m").mkdir()
    return d / "m" / ".lock"


cli(S, "merge while OUT is locked by another process", _merge(lambda d: d / "m", A), "another geosrl process", hold_lock=_locked_merge, phase=2)
cli(S, "merge with no sources", lambda d: ["bench", "merge", str(d / "m")], "sources", phase=2)
cli(S, "control: merge one folder", _merge(lambda d: d / "m", A), expected="ok", phase=2,
    cli_check=lambda d, o, e: ((d / "m" / "leaderboard.csv").is_file(), "merged leaderboard written"))
cli(S, "control: merge a folder with itself twice", _merge(lambda d: d / "m", A, A), expected="ok", phase=2,
    cli_check=lambda d, o, e: ((d / "m" / "leaderboard.csv").is_file(), "merged leaderboard written"))

# =============================================================================================== CLI: pretrain
S = "cli-pretrain"


def pre_toml(**over):
    cfg = {"device": "cpu",
           "data": {"flickr": 300, "cities": 150, "land": 150, "patch_size": 8, "stride": 4, "cache_dir": "@CACHE@"},
           "encoder": {"embed_dim": 16, "net_kwargs": {"hidden_dim": 32}, "pe_kwargs": {"frequency_num": 4}},
           "image": {"width": 4, "depth": 2}, "optim": {"epochs": 1, "batch_size": 128}}
    for dotted, v in over.items():
        *path, key = dotted.split("__")
        t = cfg
        for p in path:
            t = t.setdefault(p, {})
        if v is None:
            t.pop(key, None)
        else:
            t[key] = v
    return cfg


def _toml_dump(cfg: dict) -> str:
    def val(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k} = {val(x)}" for k, x in v.items()) + "}"
        return "[" + ", ".join(val(x) for x in v) + "]"

    lines = ["[pretrain]"] + [f"{k} = {val(v)}" for k, v in cfg.items() if not isinstance(v, dict)]
    for k, v in cfg.items():
        if isinstance(v, dict):
            lines += [f"[pretrain.{k}]"] + [f"{kk} = {val(vv)}" for kk, vv in v.items()]
    return "\n".join(lines) + "\n"


def pretrain_argv(plant=None, out="out", extra=(), **over):
    def build(d):
        cfg = pre_toml(**over)
        text = _toml_dump(cfg).replace("@CACHE@", str(SHARED["pcache"]))
        (d / "p.toml").write_text(text)
        o = d / out if out else None
        if plant is not None:
            o.mkdir(parents=True, exist_ok=True)
            plant(d, o)
        return ["pretrain", "--config", str(d / "p.toml"), "--out", str(o) if o is not None else out] + list(extra)
    return build


def _plant(make):
    return lambda d, o: make(d, o / "state.pt")


cli(S, "control: tiny valid pre-training (fixture)", lambda d: pretrain_argv(out=str(SHARED["pre"]))(d), expected="ok", phase=0,
    cli_check=lambda d, o, e: ((SHARED["pre"] / "location_encoder.safetensors").is_file(), "encoder written"), timeout=120)
cli(S, "planted state.pt: raw pickle with payload", pretrain_argv(_plant(lambda d, p: p.write_bytes(_pickle_bytes(d)))), "state.pt")
cli(S, "planted state.pt: torch zip with payload",
    pretrain_argv(_plant(lambda d, p: _torch_zip_payload(d, p, {"format": "geosrl-pretrain-state", "version": 1}))), "state.pt")
cli(S, "state.pt random bytes", pretrain_argv(_plant(lambda d, p: p.write_bytes(os.urandom(3000)))), "state.pt")
cli(S, "state.pt empty", pretrain_argv(_plant(lambda d, p: p.write_bytes(b""))), "state.pt")
cli(S, "state.pt is a folder", pretrain_argv(_plant(lambda d, p: p.mkdir())), "state.pt")
cli(S, "state.pt tensors only, keys missing",
    pretrain_argv(_plant(lambda d, p: __import__("torch").save({"format": "geosrl-pretrain-state", "version": 1}, p))), "state.pt")
cli(S, "state.pt of another config (seed 1)",
    pretrain_argv(_plant(lambda d, p: shutil.copy(SHARED["pre"] / "state.pt", p)), seed=1), ("state.pt", "config"), phase=2)
cli(S, "state.pt truncated (from a real run)",
    pretrain_argv(_plant(lambda d, p: p.write_bytes((SHARED["pre"] / "state.pt").read_bytes()[:2000]))), "state.pt", phase=2)
cli(S, "config: optim.epochz typo", pretrain_argv(optim__epochz=1), "epochz")
cli(S, "config: optim.epochs = 0", pretrain_argv(optim__epochs=0), "epochs")
cli(S, "config: optim.epochs = 'ten'", pretrain_argv(optim__epochs="ten"), "epochs")
cli(S, "config: optim.epochs = 4.5", pretrain_argv(optim__epochs=4.5), "epochs")
cli(S, "config: optim.batch_size larger than the data", pretrain_argv(optim__batch_size=100000), "batch")
cli(S, "config: encoder.name = 'nope'", pretrain_argv(encoder__name="nope"), "nope")
cli(S, "config: encoder.pe_kwargs.frequency_num = 4.5", pretrain_argv(encoder__pe_kwargs__frequency_num=4.5), "frequency_num")
cli(S, "config: data.patch_size = 0", pretrain_argv(data__patch_size=0), "patch_size")
cli(S, "config: data.val_fraction = 1.5", pretrain_argv(data__val_fraction=1.5), "val_fraction")
cli(S, "config: objective.kind = 'magic'", pretrain_argv(objective__kind="magic"), "magic")
cli(S, "config: profile = 'huge'", pretrain_argv(profile="huge"), "huge")
cli(S, "config: data.cache_dir is a regular file", lambda d: (d / "cf").write_text("x\n") and pretrain_argv(data__cache_dir=str(d / "cf"))(d), "cf",
    protect=lambda d: [d / "cf"])
cli(S, "config: missing file", lambda d: ["pretrain", "--config", str(d / "missing.toml"), "--out", str(d / "out")], "missing.toml")
cli(S, "config: malformed TOML", lambda d: (d / "p.toml").write_text("[pretrain\n") and ["pretrain", "--config", str(d / "p.toml"), "--out", str(d / "out")],
    "p.toml")
cli(S, "--device cuda (no CUDA)", pretrain_argv(extra=["--device", "cuda"]), "cuda")
cli(S, "--out is a file", lambda d: (d / "afile").write_text("x\n") and pretrain_argv(out="afile")(d), "afile", protect=lambda d: [d / "afile"])
cli(S, "--out ''", pretrain_argv(out=""), "out")


def _pre_user(d, o):
    (o / "log.csv").write_text("my,log\n1,2\n")
    (o / "run.json").write_text('{"mine": true}\n')
    (o / "config.json").write_text('{"mine": true}\n')


cli(S, "--out a user's folder with log.csv, run.json, config.json", pretrain_argv(_pre_user), "out",
    protect=lambda d: [d / "out" / n for n in ("log.csv", "run.json", "config.json")], timeout=120)


# =============================================================================================== running
def _run_api_case(c: Case, d: Path) -> dict:
    """Run one API case in a forked child with a timeout; return the raw result dict."""
    import multiprocessing as mp

    ctx = mp.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)

    def child():
        import resource
        import warnings

        try:
            resource.setrlimit(resource.RLIMIT_AS, (8 << 30, 8 << 30))
        except (ValueError, OSError):
            pass
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            try:
                res = c.fn(d)
                if c.check is not None:
                    ok, detail = c.check(res)
                else:
                    ok, detail = True, repr(res)[:200]
                msg = {"status": "ok", "ok": bool(ok), "detail": str(detail)}
            except BaseException as e:  # noqa: BLE001
                tb, last = e.__traceback__, None
                while tb is not None:
                    last, tb = tb, tb.tb_next
                origin = last.tb_frame.f_code.co_filename if last is not None else ""
                cls = type(e)
                msg = {"status": "exc", "type": cls.__name__, "module": cls.__module__, "msg": str(e),
                       "typed": isinstance(e, TYPED), "geosrl_class": cls.__module__.startswith("geosrl"),
                       "origin": origin, "origin_geosrl": "/geosrl/" in origin and "site-packages/torch" not in origin}
        msg["warnings"] = sorted({type(x.message).__name__ for x in w})
        msg["rss_mb"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
        try:
            send.send(msg)
        except Exception as e:  # noqa: BLE001
            send.send({"status": "exc", "type": "ProbeError", "module": "probe", "msg": f"unpicklable result: {e}",
                       "typed": False, "geosrl_class": False, "origin": "", "origin_geosrl": False})
        os._exit(0)

    t0 = time.perf_counter()
    p = ctx.Process(target=child)
    p.start()
    send.close()
    result = None
    if recv.poll(c.timeout):
        try:
            result = recv.recv()
        except EOFError:
            result = None
    p.join(5)
    if p.is_alive():
        p.kill()
        p.join()
        if result is None:
            result = {"status": "hang"}
    if result is None:
        result = {"status": "crash", "exitcode": p.exitcode}
    result["seconds"] = round(time.perf_counter() - t0, 2)
    return result


def _hash(paths: list[Path]) -> dict[str, str | None]:
    out = {}
    for p in paths:
        try:
            out[str(p)] = hashlib.sha256(p.read_bytes()).hexdigest()
        except OSError:
            out[str(p)] = None
    return out


def _run_cli_case(c: Case, d: Path) -> dict:
    argv = c.argv(d)
    protected = c.protect(d) if c.protect else []
    before = _hash(protected)
    lock_fd = None
    if c.hold_lock is not None:
        lock_path = c.hold_lock(d)
        lock_fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        os.pwrite(lock_fd, str(os.getpid()).encode(), 0)
    env = {k: v for k, v in os.environ.items() if k != "GEOSRL_DEBUG"}
    env.update(CUDA_VISIBLE_DEVICES="", PYTHONWARNINGS="default")
    t0 = time.perf_counter()
    proc = subprocess.Popen([str(GEOSRL), *argv], cwd=d, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        out, err_ = proc.communicate(timeout=c.timeout)
        status = "done"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err_ = proc.communicate()
        status = "hang"
    finally:
        if lock_fd is not None:
            os.close(lock_fd)
    after = _hash(protected)
    return {"status": status, "rc": proc.returncode, "stdout": out.decode(errors="replace"),
            "stderr": err_.decode(errors="replace"), "argv": argv, "seconds": round(time.perf_counter() - t0, 2),
            "changed": [p for p in before if before[p] != after[p]]}


def _matches(c: Case, text: str) -> tuple[bool, list[str]]:
    low = text.lower()
    missing = []
    for m in c.match:
        alts = m if isinstance(m, tuple) else (m,)
        if not any(a.lower() in low for a in alts):
            missing.append("|".join(alts))
    return not missing, missing


def _one_line(text: str, n: int = 220) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def classify(c: Case, d: Path, r: dict) -> tuple[str, str, str]:
    """(category, outcome, detail) of one case's raw result."""
    if (d / MARKER).exists():
        return "code-execution", "planted payload ran (marker file created)", _one_line(str(r.get("msg") or r.get("stderr", "")))
    if r.get("changed"):
        return "data-lost", f"user file(s) modified or deleted: {', '.join(Path(p).name for p in r['changed'])}", \
            _one_line(r.get("stderr", "") or r.get("stdout", "")[-300:])
    if r["status"] == "hang":
        return "hang", f"timed out after {c.timeout:.0f} s", ""
    if c.kind == "api":
        return _classify_api(c, r)
    return _classify_cli(c, r)


def _classify_api(c: Case, r: dict) -> tuple[str, str, str]:
    if r["status"] == "crash":
        return "obscure", f"child process died (exit code {r.get('exitcode')})", "crash (e.g. segfault or killed for memory)"
    if r["status"] == "ok":
        outcome = f"returned normally: {r['detail']}"
        if c.expected == "error":
            return "silent-wrong", outcome, "an error was required"
        return ("correct", outcome, "") if r["ok"] else ("silent-wrong", outcome, "wrong result")
    outcome = f"{r['type']}: {_one_line(r['msg'], 300)}"
    typed = r["typed"] and (r["geosrl_class"] or r["origin_geosrl"])
    where = f"raised in {Path(r['origin']).name}" if r.get("origin") else ""
    if c.expected == "ok":
        return "refused-valid", outcome, where
    if not typed:
        why = (f"{r['type']} is not a typed geosrl error" if not r["typed"]
               else f"plain {r['type']} raised outside geosrl ({where})")
        return "obscure", outcome, why
    ok, missing = _matches(c, r["msg"])
    if not ok:
        return "obscure", outcome, f"message does not name the problem (expected {' & '.join(missing)})"
    return "clear", outcome, f"{where}; peak +{r.get('rss_mb', 0):.0f} MB" if r.get("rss_mb", 0) > 200 else where


def _classify_cli(c: Case, r: dict) -> tuple[str, str, str]:
    lines = [ln for ln in r["stderr"].splitlines() if ln.strip()]
    rc = r["rc"]
    outcome = f"exit {rc}; " + (_one_line(lines[-1], 260) if lines else "(no stderr)")
    if rc == 0:
        if c.expected == "error":
            return "silent-wrong", outcome if lines else "exit 0", "an error was required; stdout: " + _one_line(r["stdout"][-200:], 200)
        ok, detail = c.cli_check(Path(r["dir"]), r["stdout"], r["stderr"]) if c.cli_check else (True, "")
        return ("correct" if ok else "silent-wrong"), f"exit 0; {detail}", ""
    if c.expected == "ok":
        return "refused-valid", outcome, _one_line(r["stderr"][-400:], 300)
    if "Traceback" in r["stderr"]:
        return "obscure", outcome, "traceback on stderr"
    argparse_usage = rc == 2 and lines and lines[0].startswith("usage:") and ": error:" in lines[-1]
    if argparse_usage:
        ok, missing = _matches(c, lines[-1])
        return ("clear", outcome, "argparse usage error") if ok else \
            ("obscure", outcome, f"usage error does not name the problem (expected {' & '.join(missing)})")
    if len(lines) != 1 or not lines[0].startswith("geosrl: error:"):
        return "obscure", outcome, f"{len(lines)} stderr lines: " + _one_line(" ⏎ ".join(lines[:4]), 300)
    unexpected = re.match(r"geosrl: error: unexpected (\w+):", lines[0])
    if unexpected and unexpected.group(1) not in TYPED_NAMES:
        return "obscure", outcome, f"internal {unexpected.group(1)} surfaced (exit {rc})"
    ok, missing = _matches(c, lines[0])
    if not ok:
        return "obscure", outcome, f"message does not name the problem (expected {' & '.join(missing)})"
    return "clear", outcome, ""


def _run_cases(cases: list[tuple[int, Case]], root: Path, log) -> list[dict]:
    rows = []
    for i, c in cases:
        d = root / f"case{i:03d}"
        d.mkdir(parents=True, exist_ok=True)
        for rel, text in (c.keep_files or {}).items():
            (d / rel).write_text(text)
        r = _run_api_case(c, d)
        for rel, text in (c.keep_files or {}).items():
            try:
                if (d / rel).read_text() != text:
                    r.setdefault("changed", []).append(str(d / rel))
            except OSError:
                r.setdefault("changed", []).append(str(d / rel))
        cat, outcome, detail = classify(c, d, r)
        rows.append({"i": i, "surface": c.surface, "case": c.name, "expected": c.expected, "outcome": outcome,
                     "category": cat, "detail": detail, "seconds": r.get("seconds")})
        log(f"[api {i:3d}] {cat:14s} {c.surface}: {c.name}  ({r.get('seconds')} s)")
    return rows


def _run_cli(i: int, c: Case, root: Path, log) -> dict:
    d = root / f"case{i:03d}"
    d.mkdir(parents=True, exist_ok=True)
    try:
        r = _run_cli_case(c, d)
    except Exception as e:  # noqa: BLE001 - a probe-side setup failure is reported, not fatal
        r = {"status": "probe-error", "rc": None, "stdout": "", "stderr": f"probe setup failed: {type(e).__name__}: {e}",
             "argv": [], "seconds": 0, "changed": []}
    r["dir"] = str(d)
    if r["status"] == "probe-error":
        cat, outcome, detail = "obscure", r["stderr"], "PROBE ERROR (not a geosrl result)"
    else:
        cat, outcome, detail = classify(c, d, r)
    cmd = "geosrl " + " ".join(a if a and " " not in a else repr(a) for a in r["argv"])
    log(f"[cli {i:3d}] {cat:14s} {c.surface}: {c.name}  ({r.get('seconds')} s)")
    return {"i": i, "surface": c.surface, "case": c.name, "expected": c.expected, "outcome": outcome, "category": cat,
            "detail": (detail + " | " if detail else "") + "cmd: " + cmd.replace(str(root), "$TMP"), "seconds": r.get("seconds")}


def _git(*args) -> str:
    try:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception:  # noqa: BLE001
        return "?"


def write_reports(rows: list[dict], wall: float, command: str, only: str | None) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    rows = sorted(rows, key=lambda r: r["i"])
    with open(RESULTS / "hardening.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["surface", "case", "expected", "outcome", "category", "detail"], extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    surfaces = list(dict.fromkeys(r["surface"] for r in rows))
    cats = [c for c in CATEGORIES if any(r["category"] == c for r in rows) or c in ("clear", "correct", "obscure", "silent-wrong",
                                                                                     "hang", "data-lost", "code-execution")]
    commit, dirty = _git("rev-parse", "HEAD"), _git("status", "--porcelain", "--untracked-files=no", "--", "src")
    lines = [
        "# Hardening probe (issue 11): bad inputs and faults across geosrl's public surfaces", "",
        f"- command: `{command}`" + (f" (subset: {only})" if only else ""),
        f"- date: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- git commit: {commit}" + (" with uncommitted changes in src/ (the results are those of the tree at run "
                                     "time)" if dirty else ""),
        f"- cases: {len(rows)}; wall time {wall:.0f} s on {os.cpu_count()} CPU cores",
        "- categories: `clear` typed geosrl error naming the problem (CLI: one `geosrl: error:` line or an argparse usage "
        "error, non-zero exit, no traceback) · `obscure` other exception / message not naming the problem / traceback or "
        "several lines · `silent-wrong` no error where one was required, or a wrong result · `hang` per-case timeout "
        f"({API_TIMEOUT:.0f} s API, {CLI_TIMEOUT:.0f}–120 s CLI) · `data-lost` a user's file changed · `code-execution` a "
        "planted pickle ran · `correct` a valid control behaved · `refused-valid` a valid control was refused", "",
        "## Counts", "",
        "| surface | cases | " + " | ".join(cats) + " |",
        "|---|---:|" + "---:|" * len(cats),
    ]
    for s in surfaces + ["**total**"]:
        sel = rows if s == "**total**" else [r for r in rows if r["surface"] == s]
        lines.append(f"| {s} | {len(sel)} | " + " | ".join(str(sum(r['category'] == c for r in sel)) for c in cats) + " |")
    bad = [r for r in rows if r["category"] not in ("clear", "correct")]
    lines += ["", f"## Cases that were not clear / correct ({len(bad)})", "",
              "| surface | case | expected | category | outcome | detail |", "|---|---|---|---|---|---|"]
    esc = lambda t: str(t).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    for r in bad:
        lines.append(f"| {r['surface']} | {esc(r['case'])} | {r['expected']} | **{r['category']}** | {esc(r['outcome'])} | "
                     f"{esc(r['detail'])} |")
    lines += ["", "Every case with its outcome: `hardening.csv` (surface, case, expected, outcome, category, detail).", ""]
    (RESULTS / "hardening.md").write_text("\n".join(lines))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", help="run only the surfaces whose name contains this text")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--api-worker", nargs=2, metavar=("ROOT", "JSON"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    indexed = [(i, c) for i, c in enumerate(CASES) if not args.only or args.only in c.surface]

    if args.api_worker:  # the second process: API cases, results as JSON
        import geosrl  # noqa: F401 - imported once, before forking
        import geosrl.datasets  # noqa: F401
        import geosrl.datasets.locbench  # noqa: F401
        import geosrl.geometry  # noqa: F401
        import torch

        torch.set_num_threads(1)
        rows = _run_cases([(i, c) for i, c in indexed if c.kind == "api"], Path(args.api_worker[0]),
                          lambda m: print(m, flush=True))
        Path(args.api_worker[1]).write_text(json.dumps(rows))
        return 0

    t0 = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="geosrl-hardening-"))
    print(f"probe folder: {root}; {len(indexed)} cases "
          f"({sum(c.kind == 'api' for _, c in indexed)} API, {sum(c.kind == 'cli' for _, c in indexed)} CLI)", flush=True)
    SHARED.update(cache=root / "shared-cache", pcache=root / "shared-pretrain-cache", resA=root / "resA", resB=root / "resB",
                  pre=root / "pre")
    api_json = root / "api.json"
    api = None
    if any(c.kind == "api" for _, c in indexed):
        api = subprocess.Popen([sys.executable, __file__, "--api-worker", str(root / "api"), str(api_json)]
                               + (["--only", args.only] if args.only else []))
    cli_cases = [(i, c) for i, c in indexed if c.kind == "cli"]
    rows: list[dict] = []
    log = lambda m: print(m, flush=True)  # noqa: E731
    # phase 0 (the fixtures later cases use), then the rest, two at a time
    needs = {p for _, c in cli_cases for p in [c.phase]}
    if needs - {0} and not any(c.phase == 0 for _, c in cli_cases):
        cli_cases = [(i, c) for i, c in enumerate(CASES) if c.phase == 0] + cli_cases
    with ThreadPoolExecutor(max_workers=2) as pool:
        for phase in (0, 1, 2):
            batch = [(i, c) for i, c in cli_cases if c.phase == phase]
            rows += list(pool.map(lambda ic: _run_cli(ic[0], ic[1], root / "cli", log), batch))
    if api is not None:
        api.wait()
        rows += json.loads(api_json.read_text()) if api_json.is_file() else []
    wall = time.perf_counter() - t0
    command = "cd /work/main && .venv/bin/python benchmarks/hardening_probe.py" + (f" --only {args.only}" if args.only else "")
    write_reports(rows, wall, command, args.only)
    counts = {c: sum(r["category"] == c for r in rows) for c in CATEGORIES}
    print(f"\n{len(rows)} cases in {wall:.0f} s: " + ", ".join(f"{k} {v}" for k, v in counts.items() if v))
    print(f"wrote {RESULTS / 'hardening.md'} and {RESULTS / 'hardening.csv'}")
    if not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
