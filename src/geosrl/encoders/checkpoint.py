"""Pretrained location encoders: safetensors weights + a JSON model card, strict loading.

File format (``<name>.safetensors``)
------------------------------------
* tensors: the encoder's ``state_dict()`` (frozen random matrices and anchors included, they are
  buffers), stored contiguous on CPU;
* header metadata ``{"geosrl_card": <JSON>}``: the model card (below), readable without loading
  tensors (``safetensors.safe_open(path, "pt").metadata()``);
* a sidecar ``<name>.json`` with the same card plus ``file_sha256`` (the SHA-256 of the
  ``.safetensors`` file), for people and for an extra integrity check.

The card holds ``architecture`` (builder name and keyword arguments, enough to rebuild the module),
``coord_order`` ``"lonlat"``, ``units`` ``"degrees"``, ``crs`` ``"EPSG:4326"``, ``embed_dim``,
``num_parameters``, ``geosrl_version``, ``created`` (UTC ISO date), ``git_commit`` (when known),
``tensors_sha256`` (a hash of every tensor's name, dtype, shape and bytes — safetensors itself does
not checksum data), merged with the caller's ``meta`` (``training_data``, ``spatial_extent``,
``licence``, ``metrics``, ``publication``, ...).

Loading validates the card (types, required keys, ranges), bounds the architecture's size arguments
by the tensors the file holds, builds the module on the ``meta`` device (no memory) and compares its
tensor names and shapes with the file's header, and only then reads the tensors, rebuilds the module for
real and calls ``load_state_dict(strict=True)``; a crafted card therefore cannot make the loader allocate
more than the file's own size. Every failure is a :class:`CheckpointError` (a ``ValueError``) naming the
file and what is wrong: unreadable / truncated / corrupted file, missing or malformed card, unknown
architecture, size arguments out of range, missing, unexpected or mis-shaped tensors, hash mismatch.

Files are written atomically (temporary file in the same folder, then ``os.replace``) with the usual
``0o666 & ~umask`` permissions (:func:`geosrl.files.atomic_write`).
"""

from __future__ import annotations

import copy
import datetime as _dt
import hashlib
import inspect
import json
import math
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from ..config import ConfigError, check_device, git_commit, merge_config
from ..files import atomic_write
from ..version import __version__

__all__ = [
    "ARCH_ATTR",
    "CheckpointError",
    "build_from_architecture",
    "check_architecture",
    "infer_architecture",
    "list_pretrained",
    "load_pretrained",
    "pretrained_dir",
    "read_card",
    "save_pretrained",
    "tensors_sha256",
]

#: attribute on a module holding the architecture dict it was built from (set by the CSP pipeline
#: and by :func:`load_pretrained`; read by :func:`save_pretrained`)
ARCH_ATTR = "geosrl_architecture"
FORMAT = "geosrl-pretrained"
FORMAT_VERSION = 1
_CARD_KEY = "geosrl_card"
_AUTO_KEYS = ("format", "format_version", "tensors_sha256", "num_parameters", "embed_dim")


class CheckpointError(ValueError):
    """A pretrained-weights file cannot be used: the message says which file and why."""


def pretrained_dir() -> Path:
    """Folder of the checkpoints shipped with geosrl (``geosrl/pretrained``, package data)."""
    return Path(__file__).resolve().parent / "pretrained"


def list_pretrained() -> list[str]:
    """Names of the shipped checkpoints (``load_pretrained(name)`` loads one), sorted."""
    d = pretrained_dir()
    return sorted(p.stem for p in d.glob("*.safetensors")) if d.is_dir() else []


# ---------------------------------------------------------------------------------------------------
# architecture description
# ---------------------------------------------------------------------------------------------------
_ARCH_KEYS = ("builder", "name", "embed_dim", "net", "net_kwargs", "pe_kwargs")
_BUILDER = "geosrl.create_encoder"
_MAX_DIM = 2**31 - 1
_MAX_JSON_DEPTH = 8

#: how :func:`load_pretrained` bounds the integer constructor arguments of encodings and networks before
#: building anything (``n`` = elements in the file, ``t`` = tensors in the file): a width / count of
#: features, anchors or units gives at least that many stored elements, a layer or branch count (or a
#: list with one entry per branch) at least that many stored tensors, a Legendre degree ``L`` an
#: ``L²``-wide feature layer; other lists hold at most ``n`` values. ``tests/encoders`` checks that every
#: ``int`` parameter of every registered encoding and network is listed here.
SIZE_ARGS = frozenset({"embed_dim", "cell_dim", "frequency_num", "num_frequencies", "num_anchors", "hidden_dim", "in_dim",
                       "out_dim"})
COUNT_ARGS = frozenset({"num_hidden_layers", "num_layers", "depth", "n_branches", "sigmas"})
SQUARED_ARGS = frozenset({"legendre_degree"})
FREE_INT_ARGS = frozenset({"seed", "max_cells"})  # no allocation follows from their value


def _check_json_value(v: Any, where: str, depth: int = 0) -> Any:
    """A JSON-like value (finite floats, lists of them); tuples become lists."""
    if depth > _MAX_JSON_DEPTH:
        raise CheckpointError(f"{where} is nested too deeply")
    if v is None or isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, float):
        if not math.isfinite(v):
            raise CheckpointError(f"{where} must be finite, got {v}")
        return v
    if isinstance(v, (list, tuple)):
        return [_check_json_value(x, f"{where}[{i}]", depth + 1) for i, x in enumerate(v)]
    if isinstance(v, dict):
        return {_check_key(k, where): _check_json_value(x, f"{where}.{k}", depth + 1) for k, x in v.items()}
    raise CheckpointError(f"{where} must be a JSON value (number, string, bool, null, list, dict), "
                          f"got {type(v).__name__}")


def _check_key(k: Any, where: str) -> str:
    if not isinstance(k, str) or not k.isidentifier():
        raise CheckpointError(f"{where} has the key {k!r}; keys must be identifiers (argument names)")
    return k


def _count_leaves(v: Any) -> int:
    return sum(_count_leaves(x) for x in v) if isinstance(v, list) else 1


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def check_architecture(arch: Any) -> dict[str, Any]:
    """Validate the types and ranges of an ``architecture`` dict; return it normalised (a new dict).

    Required: ``name`` (a registered encoder) and ``embed_dim`` (an integer ≥ 1). Optional: ``builder``
    (``"geosrl.create_encoder"``), ``net`` (``None`` or one of :data:`geosrl.encoders.model.NETS`),
    ``net_kwargs`` and ``pe_kwargs`` (``None`` or dicts of argument name → JSON value). No other keys.

    Raises:
        CheckpointError: saying which key is wrong and why.
    """
    from .model import NETS
    from .registry import list_encoders

    if not isinstance(arch, dict):
        raise CheckpointError(f"architecture must be a dict, got {type(arch).__name__}")
    unknown = sorted(str(k) for k in arch if k not in _ARCH_KEYS)
    if unknown:
        raise CheckpointError(f"architecture has unknown keys {unknown}; allowed: {list(_ARCH_KEYS)}")
    builder = arch.get("builder", _BUILDER)
    if builder != _BUILDER:
        raise CheckpointError(f"unknown architecture builder {builder!r}; supported: {_BUILDER!r}")
    missing = [k for k in ("name", "embed_dim") if k not in arch]
    if missing:
        raise CheckpointError(f"architecture lacks the key(s) {missing}; it needs name, embed_dim, net, "
                              "net_kwargs, pe_kwargs (the arguments of geosrl.create_encoder)")
    name = arch["name"]
    if not isinstance(name, str) or not name:
        raise CheckpointError(f"architecture name must be a non-empty string, got {name!r}")
    if name not in list_encoders():
        raise CheckpointError(f"cannot build architecture: unknown encoder name {name!r}; "
                              f"registered: {list_encoders()}")
    dim = arch["embed_dim"]
    if not _is_int(dim) or not 1 <= dim <= _MAX_DIM:
        raise CheckpointError(f"architecture embed_dim must be an integer in [1, {_MAX_DIM}], got {dim!r}")
    net = arch.get("net")
    if net is not None and net not in NETS:
        raise CheckpointError(f"architecture net must be null or one of {list(NETS)}, got {net!r}")
    out = {"builder": builder, "name": name, "embed_dim": dim, "net": net}
    for key in ("net_kwargs", "pe_kwargs"):
        kw = arch.get(key)
        if kw is None:
            kw = {}
        if not isinstance(kw, dict):
            raise CheckpointError(f"architecture {key} must be a dict (or null), got {type(kw).__name__}")
        out[key] = _check_json_value(kw, f"architecture {key}")
    return out


def _check_sizes(arch: dict[str, Any], n_elements: int, n_tensors: int) -> None:
    """Bound the size arguments of a checked architecture by what the file holds (see :data:`SIZE_ARGS`)."""
    items = [("embed_dim", arch["embed_dim"])]
    items += [(k, v) for kw in ("pe_kwargs", "net_kwargs") for k, v in arch[kw].items()]
    for key, v in items:
        if isinstance(v, list):
            limit = n_tensors if key in COUNT_ARGS else n_elements + 16
            if _count_leaves(v) > limit:
                raise CheckpointError(f"architecture argument {key!r} lists {_count_leaves(v)} values, more than "
                                      f"the file's {n_tensors} tensors / {n_elements} elements allow")
            continue
        if not _is_int(v) or key in FREE_INT_ARGS:
            continue
        if key in COUNT_ARGS:
            limit, what = n_tensors, f"the file's {n_tensors} tensors"
        elif key in SQUARED_ARGS:
            limit, what = math.isqrt(n_elements), f"√(the file's {n_elements} elements)"
        elif key in SIZE_ARGS:
            limit, what = n_elements, f"the file's {n_elements} tensor elements"
        else:
            continue
        if not 0 <= v <= limit:
            raise CheckpointError(f"architecture argument {key}={v} is out of range: it must be in [0, {limit}] "
                                  f"({what}); the card does not describe the weights in this file")


def build_from_architecture(arch: dict[str, Any]) -> nn.Module:
    """Rebuild a module from a card's ``architecture`` dict (validated by :func:`check_architecture`).

    Supported builder: ``"geosrl.create_encoder"`` with keys ``name``, ``embed_dim``, ``net``,
    ``net_kwargs``, ``pe_kwargs``. Builds on the current default device (``with torch.device("meta"):``
    gives a skeleton without memory).

    Raises:
        CheckpointError: the dict is malformed or the encoder refuses its arguments.
    """
    arch = check_architecture(arch)
    from .model import create_encoder

    try:
        enc = create_encoder(arch["name"], embed_dim=arch["embed_dim"], net=arch["net"],
                             net_kwargs=dict(arch["net_kwargs"]), **dict(arch["pe_kwargs"]))
    except Exception as e:  # the constructors raise TypeError / ValueError; torch may raise others
        raise CheckpointError(f"cannot build architecture {arch!r}: {type(e).__name__}: {e}") from e
    setattr(enc, ARCH_ATTR, copy.deepcopy(arch))
    return enc


def _jsonable(v: Any) -> Any:
    if isinstance(v, (bool, int, float, str)) or v is None:
        return v
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, torch.Tensor) and v.numel() == 1:
        return v.item()
    raise TypeError(type(v).__name__)


def _infer_net(net: nn.Module) -> tuple[str, dict[str, Any]]:
    from .nets import FFN, GeoCLIPMLP

    if isinstance(net, nn.Linear):
        return "linear", {"bias": net.bias is not None}
    if isinstance(net, GeoCLIPMLP):
        return "native", {"hidden_dim": net.branches[0].head[0].in_features}
    if isinstance(net, FFN):
        blocks = list(net.blocks)
        act_names = {nn.ReLU: "relu", nn.LeakyReLU: "leakyrelu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh",
                     nn.GELU: "gelu"}
        first = blocks[0]
        kw = {
            "num_hidden_layers": len(blocks) - 1,
            "hidden_dim": first.linear.out_features if len(blocks) > 1 else 512,
            "activation": act_names[type(first.activation)],
            "dropout": float(first.dropout.p),
            "layer_norm": first.layer_norm is not None if len(blocks) > 1 else True,
            "skip": any(b.skip for b in blocks[:-1]) or len(blocks) == 1 or all(
                b.linear.in_features != b.linear.out_features for b in blocks[:-1]),
        }
        return "ffn", kw
    raise TypeError(f"network {type(net).__name__}")


def infer_architecture(model: nn.Module) -> dict[str, Any]:
    """The ``architecture`` dict of ``model``.

    Uses ``model.geosrl_architecture`` when present (modules built by the CSP pipeline or by
    :func:`load_pretrained`). Otherwise, for a :class:`geosrl.LocationEncoder` from ``create_encoder``
    with an FFN, linear or GeoCLIP network, reads the position encoding's constructor arguments from
    its attributes and the network's from its layers, then **verifies** the guess by rebuilding the
    module, loading the weights strictly and comparing outputs on probe points.

    Raises:
        CheckpointError: the architecture cannot be recovered; pass ``meta={"architecture": {...}}``.
    """
    arch = getattr(model, ARCH_ATTR, None)
    if arch is not None:
        return copy.deepcopy(dict(arch))
    from .model import LocationEncoder

    hint = ("pass meta={'architecture': {'name': ..., 'embed_dim': ..., 'net': ..., 'net_kwargs': {...}, "
            "'pe_kwargs': {...}}} (the arguments of geosrl.create_encoder)")
    if not isinstance(model, LocationEncoder):
        raise CheckpointError(f"cannot infer the architecture of a {type(model).__name__}; {hint}")
    pe = model.pe
    pe_kwargs = {}
    for p in inspect.signature(type(pe).__init__).parameters.values():
        if p.name == "self" or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if not hasattr(pe, p.name):
            raise CheckpointError(f"cannot infer {type(pe).__name__}'s argument {p.name!r}; {hint}")
        try:
            pe_kwargs[p.name] = _jsonable(getattr(pe, p.name))
        except TypeError:
            raise CheckpointError(f"argument {p.name!r} of {type(pe).__name__} is not JSON-serialisable; {hint}")
    try:
        net, net_kwargs = _infer_net(model.net)
    except (TypeError, KeyError) as e:
        raise CheckpointError(f"cannot infer the network ({e}); {hint}") from None
    arch = {"builder": "geosrl.create_encoder", "name": getattr(pe, "registry_name", type(pe).__name__),
            "embed_dim": int(model.embed_dim), "net": net, "net_kwargs": net_kwargs, "pe_kwargs": pe_kwargs}
    _verify(model, arch, hint)
    return arch


def _verify(model: nn.Module, arch: dict[str, Any], hint: str) -> None:
    try:
        rebuilt = build_from_architecture(arch)
        rebuilt.load_state_dict(model.state_dict(), strict=True)
    except (CheckpointError, RuntimeError) as e:
        raise CheckpointError(f"the inferred architecture does not rebuild this module ({e}); {hint}") from None
    probe = torch.tensor([[0.0, 0.0], [-120.5, 37.2], [151.2, -33.9], [10.0, 80.0], [179.9, -60.0]],
                         dtype=torch.float64)
    was_training = model.training
    model.eval()
    rebuilt.eval()
    param = next(model.parameters(), None)
    dtype = param.dtype if param is not None else torch.float32
    rebuilt.to(dtype)
    try:
        with torch.no_grad():
            dev = param.device if param is not None else torch.device("cpu")
            a = model(probe.to(dev)).cpu()
            b = rebuilt(probe).cpu()
    finally:
        model.train(was_training)
    if a.shape != b.shape or not torch.allclose(a, b, rtol=1e-4, atol=1e-5):
        raise CheckpointError(f"the inferred architecture gives different outputs; {hint}")


# ---------------------------------------------------------------------------------------------------
# hashing, card
# ---------------------------------------------------------------------------------------------------
def tensors_sha256(tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 over every tensor's name, dtype, shape and bytes, in sorted name order."""
    h = hashlib.sha256()
    for k in sorted(tensors):
        t = tensors[k].detach().cpu().contiguous()
        h.update(k.encode())
        h.update(str(t.dtype).encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _non_finite_key(value: Any, path: str = "") -> str | None:
    """Dotted key of the first NaN/infinite float inside nested dicts/lists (``None`` when there is none)."""
    if isinstance(value, float) and not math.isfinite(value):
        return path or "."
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, (list, tuple)) else ()
    for key, item in items:
        found = _non_finite_key(item, f"{path}.{key}" if path else str(key))
        if found:
            return found
    return None


def _known_commit() -> str | None:
    commit = git_commit()["commit"]
    return None if commit == "unknown" else commit


def _resolve_path(path: str | Path) -> Path:
    p = Path(path)
    return p if p.suffix == ".safetensors" else p.with_name(p.name + ".safetensors")


def save_pretrained(model: nn.Module, path: str | Path, meta: dict[str, Any] | None = None) -> Path:
    """Write ``model``'s weights and card to ``path`` (``.safetensors`` added if missing) + ``.json`` sidecar.

    Args:
        model: a location encoder ``(..., 2)`` (lon, lat) degrees → ``(..., embed_dim)``.
        path: output file.
        meta: card entries merged over the automatic ones (``training_data``, ``spatial_extent``,
            ``licence``, ``metrics``, ...; ``architecture`` overrides the inferred one and is verified).
            Must be JSON-serialisable.
    Returns:
        the ``.safetensors`` path.
    Raises:
        CheckpointError: architecture unknown, meta not JSON-serialisable, or the target not writable
            (the message names the target file).
    """
    from safetensors.torch import save as save_bytes

    if meta is not None and not isinstance(meta, dict):
        raise CheckpointError(f"meta must be a dict, got {type(meta).__name__}")
    meta = dict(meta or {})
    if "architecture" in meta:
        arch = meta.pop("architecture")
        if not isinstance(arch, dict):
            raise CheckpointError(f"meta['architecture'] must be a dict, got {type(arch).__name__}")
        arch = check_architecture(arch)
        _verify(model, arch, "fix meta['architecture']")
    else:
        arch = infer_architecture(model)
    sd = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    card: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "architecture": arch,
        "input": "float tensor (..., 2): (lon, lat) in degrees, lon in [-180, 180], lat in [-90, 90]",
        "coord_order": "lonlat",
        "units": "degrees",
        "crs": "EPSG:4326",
        "output": f"float tensor (..., {arch.get('embed_dim')})",
        "geosrl_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        "git_commit": _known_commit(),
        "torch_version": torch.__version__,
    }
    card = merge_config(card, {k: v for k, v in meta.items() if k not in _AUTO_KEYS}, strict=False)
    card["embed_dim"] = int(arch.get("embed_dim", 0))
    card["num_parameters"] = int(sum(p.numel() for p in model.parameters()))
    card["tensors_sha256"] = tensors_sha256(sd)
    try:
        card_json = json.dumps(card, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as e:
        where = _non_finite_key(meta)
        detail = f"meta[{where!r}] is NaN or infinite" if where else str(e)
        raise CheckpointError(f"meta must be JSON-serialisable, without NaN or infinity (strict JSON readers refuse "
                              f"them; store null instead): {detail}") from None
    out = _resolve_path(path)
    data = save_bytes(sd, metadata={_CARD_KEY: card_json})
    side = dict(card, file_sha256=hashlib.sha256(data).hexdigest())
    side_bytes = (json.dumps(side, indent=2, sort_keys=True) + "\n").encode()
    for target, payload in ((out, data), (out.with_suffix(".json"), side_bytes)):
        try:
            atomic_write(target, lambda f, b=payload: f.write(b))
        except OSError as e:
            raise CheckpointError(f"cannot write the checkpoint {target}: {e.strerror or e}; choose a writable "
                                  "path") from e
    return out


def _locate(path_or_name: str | Path) -> Path:
    if not isinstance(path_or_name, (str, os.PathLike)):
        raise CheckpointError(f"expected a checkpoint path or name, got {type(path_or_name).__name__}")
    p = Path(path_or_name)
    try:
        for cand in (p, _resolve_path(p)):
            if cand.is_file():
                return cand
        name = str(path_or_name)
        shipped = pretrained_dir() / f"{name}.safetensors"
        if shipped.is_file():
            return shipped
    except (OSError, ValueError) as e:  # e.g. a name too long or holding a NUL byte
        raise CheckpointError(f"invalid checkpoint path or name {str(p)!r}: {e}") from None
    raise CheckpointError(f"no checkpoint file {str(p)!r} and no shipped checkpoint named {name!r}; "
                          f"shipped: {list_pretrained()}")


_HEX = frozenset("0123456789abcdef")


def _check_card(card: Any) -> dict[str, Any]:
    """Validate a decoded model card (without the file name; the caller prefixes it)."""
    if not isinstance(card, dict):
        raise CheckpointError(f"the model card must be a JSON object, got {type(card).__name__}")
    if card.get("format") != FORMAT:
        raise CheckpointError(f"card format {card.get('format')!r}, expected {FORMAT!r}")
    if "format_version" not in card:
        raise CheckpointError("the card lacks format_version")
    version = card["format_version"]
    if not _is_int(version) or version < 1:
        raise CheckpointError(f"card format_version must be a positive integer, got {version!r}")
    if version > FORMAT_VERSION:
        raise CheckpointError(f"card format_version {version} is newer than this geosrl supports "
                              f"({FORMAT_VERSION}); upgrade geosrl")
    if "architecture" not in card:
        raise CheckpointError("the card lacks the architecture (the arguments of geosrl.create_encoder)")
    check_architecture(card["architecture"])
    for key, low in (("embed_dim", 1), ("num_parameters", 0)):
        if key in card and (not _is_int(card[key]) or not low <= card[key] <= 2**62):
            raise CheckpointError(f"card {key} must be an integer >= {low}, got {card[key]!r}")
    sha = card.get("tensors_sha256")
    if sha is not None and not (isinstance(sha, str) and len(sha) == 64 and set(sha) <= _HEX):
        raise CheckpointError(f"card tensors_sha256 must be null or 64 lowercase hex digits, got {sha!r}")
    for key, want in (("coord_order", "lonlat"), ("units", "degrees"), ("crs", "EPSG:4326")):
        if key in card and card[key] != want:
            raise CheckpointError(f"card {key} is {card[key]!r}; geosrl encoders take {want!r}")
    return card


def read_card(path_or_name: str | Path) -> dict[str, Any]:
    """The model card of a checkpoint, read from the safetensors header without loading tensors.

    The card is validated: a JSON object with ``format``, an integer ``format_version`` this geosrl
    supports, a well-formed ``architecture`` (:func:`check_architecture`) and well-typed ``embed_dim``,
    ``num_parameters``, ``tensors_sha256``, ``coord_order``, ``units``, ``crs`` when present.

    Raises:
        CheckpointError: naming the file and what is wrong.
    """
    path = _locate(path_or_name)
    card, _ = _read_header(path)
    return card


def _read_header(path: Path) -> tuple[dict[str, Any], dict[str, tuple[str, tuple[int, ...]]]]:
    """The validated card and ``{tensor name: (dtype, shape)}`` from the header, without tensor data."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
            shapes = {}
            for k in f.keys():
                sl = f.get_slice(k)
                shapes[k] = (str(sl.get_dtype()), tuple(int(d) for d in sl.get_shape()))
    except Exception as e:  # SafetensorError, OSError, ...
        raise CheckpointError(f"{path}: not a readable safetensors file (truncated or corrupted header?): {e}") from e
    if _CARD_KEY not in header:
        raise CheckpointError(f"{path}: no geosrl model card in the safetensors header (not saved by save_pretrained?)")
    try:
        card = json.loads(header[_CARD_KEY])
    except (ValueError, RecursionError) as e:  # JSONDecodeError, or an integer too long to convert
        raise CheckpointError(f"{path}: the model card is not valid JSON: {e}") from None
    try:
        _check_card(card)
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from None
    return card, shapes


_DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
                "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}


class _ParametersOnMeta(TorchFunctionMode):
    """``torch.empty`` without an explicit device makes ``meta`` tensors: the layers' parameters (which
    ``torch.nn`` creates with ``torch.empty``) get their shapes without memory, while the encodings' own
    buffers are computed on the CPU as usual (bounded by :func:`_check_sizes`). Cheaper than a full
    ``torch.device("meta")`` context, whose first arithmetic loads torch's decompositions (seconds)."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = dict(kwargs or {})
        if func is torch.empty and kwargs.get("device") is None:
            kwargs["device"] = "meta"
        return func(*args, **kwargs)


def _meta_related(e: CheckpointError) -> bool:
    cause = e.__cause__
    return isinstance(cause, NotImplementedError) or "meta" in str(cause)


def _skeleton(path: Path, arch: dict[str, Any]) -> nn.Module:
    """The module with its parameters on the ``meta`` device (shapes only, no memory).

    Tries parameters-on-meta, then a full ``torch.device("meta")`` context; every registered encoder
    builds the first way (tested). Should an encoder need real tensors to build, it is built on the CPU,
    which :func:`_check_sizes` has already bounded by the file's size.
    """
    for context in (_ParametersOnMeta, lambda: torch.device("meta")):
        try:
            with context():
                return build_from_architecture(arch)
        except CheckpointError as e:
            if not _meta_related(e):
                raise CheckpointError(f"{path}: {e}") from e
    try:
        return build_from_architecture(arch)
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from e


def _check_against_file(path: Path, arch: dict[str, Any], shapes: dict[str, tuple[str, tuple[int, ...]]]) -> None:
    """Refuse an architecture that does not describe the file's tensors, before anything is allocated."""
    n_elements = sum(math.prod(shape) for _, shape in shapes.values())
    n_bytes = sum(math.prod(shape) * _DTYPE_BYTES.get(dt, 8) for dt, shape in shapes.values())
    size = path.stat().st_size
    if n_bytes > size:
        raise CheckpointError(f"{path}: the header declares {n_bytes} bytes of tensors but the file has {size} "
                              "(truncated or corrupted)")
    try:
        _check_sizes(arch, n_elements, len(shapes))
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from None
    skeleton = _skeleton(path, arch)
    own = {k: tuple(v.shape) for k, v in skeleton.state_dict().items()}
    allocated = sum(t.numel() for t in list(skeleton.parameters()) + list(skeleton.buffers()))
    file_shapes = {k: shape for k, (_, shape) in shapes.items()}
    missing = sorted(set(own) - set(file_shapes))
    unexpected = sorted(set(file_shapes) - set(own))
    mismatched = sorted(f"{k}: file {file_shapes[k]} vs model {own[k]}"
                        for k in set(own) & set(file_shapes) if own[k] != file_shapes[k])
    if missing or unexpected or mismatched:
        parts = []
        if missing:
            parts.append(f"missing tensors {missing[:5]}{'…' if len(missing) > 5 else ''}")
        if unexpected:
            parts.append(f"unexpected tensors {unexpected[:5]}{'…' if len(unexpected) > 5 else ''}")
        if mismatched:
            parts.append(f"shape mismatches {mismatched[:5]}")
        raise CheckpointError(f"{path}: weights do not match architecture {arch['name']!r}: " + "; ".join(parts))
    if allocated > 4 * n_elements + (1 << 20):
        raise CheckpointError(f"{path}: architecture {arch['name']!r} would allocate {allocated} elements of "
                              f"parameters and buffers for {n_elements} stored ones; refusing the card")


def load_pretrained(path_or_name: str | Path, device: str | torch.device = "cpu",
                    check_sidecar: bool = True) -> nn.Module:
    """Rebuild and strictly load a checkpoint written by :func:`save_pretrained`.

    Args:
        path_or_name: a ``.safetensors`` path (suffix optional) or a name from :func:`list_pretrained`.
        device: where to put the module.
        check_sidecar: when ``<name>.json`` lies next to the file and has ``file_sha256``, verify it.
    Returns:
        the encoder in eval mode, ``(..., 2)`` (lon, lat) degrees → ``(..., embed_dim)``, with the card
        in ``.card`` (dict) and its architecture in ``.geosrl_architecture``.
    Raises:
        CheckpointError: see the module docstring.
    """
    from safetensors.torch import load_file

    path = _locate(path_or_name)
    try:
        check_device(str(device))
    except ConfigError as e:
        raise CheckpointError(f"cannot load {path} onto {device}: {e}") from None
    card, shapes = _read_header(path)
    arch = check_architecture(card["architecture"])
    _check_against_file(path, arch, shapes)  # before reading tensors or building for real
    try:
        sd = load_file(str(path), device="cpu")
    except Exception as e:
        raise CheckpointError(f"{path}: cannot read the tensors (file truncated or corrupted): {e}") from e
    digest = tensors_sha256(sd)
    if card.get("tensors_sha256") and digest != card["tensors_sha256"]:
        raise CheckpointError(f"{path}: tensor data do not match the card's tensors_sha256 (file corrupted); "
                              f"expected {card['tensors_sha256'][:12]}…, got {digest[:12]}…")
    side = path.with_suffix(".json")
    if check_sidecar and side.is_file():
        try:
            side_card = json.loads(side.read_text())
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:
            raise CheckpointError(f"{side}: sidecar card is not readable JSON: {e}") from None
        want = side_card.get("file_sha256") if isinstance(side_card, dict) else None
        if not isinstance(side_card, dict) or (want is not None and not isinstance(want, str)):
            raise CheckpointError(f"{side}: sidecar card must be a JSON object with a string file_sha256 "
                                  "(pass check_sidecar=False to skip it)")
        if want and want != _file_sha256(path):
            raise CheckpointError(f"{path}: file SHA-256 differs from {side.name}'s file_sha256 "
                                  "(file modified or corrupted; pass check_sidecar=False to skip)")
    try:
        model = build_from_architecture(arch)
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from e
    dtypes = {v.dtype for v in sd.values() if v.is_floating_point()}
    if len(dtypes) == 1:
        model.to(dtypes.pop())
    try:
        model.load_state_dict(sd, strict=True)
    except RuntimeError as e:
        raise CheckpointError(f"{path}: weights do not load into architecture {arch['name']!r}: {e}") from None
    model.to(device).eval()
    model.card = card
    return model
