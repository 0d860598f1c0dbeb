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

Loading rebuilds the module from ``architecture`` and calls ``load_state_dict(strict=True)``. Every
failure is a :class:`CheckpointError` (a ``ValueError``) naming the file and what is wrong:
unreadable / truncated / corrupted file, missing card, unknown architecture, missing, unexpected or
mis-shaped tensors, hash mismatch.
"""

from __future__ import annotations

import copy
import datetime as _dt
import hashlib
import inspect
import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..config import git_commit, merge_config
from ..version import __version__

__all__ = [
    "ARCH_ATTR",
    "CheckpointError",
    "build_from_architecture",
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
def build_from_architecture(arch: dict[str, Any]) -> nn.Module:
    """Rebuild a module from a card's ``architecture`` dict.

    Supported builder: ``"geosrl.create_encoder"`` with keys ``name``, ``embed_dim``, ``net``,
    ``net_kwargs``, ``pe_kwargs``.
    """
    if not isinstance(arch, dict):
        raise CheckpointError(f"architecture must be a dict, got {type(arch).__name__}")
    builder = arch.get("builder", "geosrl.create_encoder")
    if builder != "geosrl.create_encoder":
        raise CheckpointError(f"unknown architecture builder {builder!r}; supported: 'geosrl.create_encoder'")
    from .model import create_encoder

    try:
        enc = create_encoder(arch["name"], embed_dim=int(arch["embed_dim"]), net=arch.get("net"),
                             net_kwargs=dict(arch.get("net_kwargs") or {}), **dict(arch.get("pe_kwargs") or {}))
    except KeyError as e:
        raise CheckpointError(f"architecture lacks the key {e}; it needs name, embed_dim, net, net_kwargs, "
                              "pe_kwargs") from None
    except (TypeError, ValueError) as e:
        raise CheckpointError(f"cannot build architecture {arch!r}: {e}") from e
    setattr(enc, ARCH_ATTR, copy.deepcopy(dict(arch, builder=builder)))
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
        CheckpointError: architecture unknown, or meta not JSON-serialisable.
    """
    from safetensors.torch import save_file

    meta = dict(meta or {})
    if "architecture" in meta:
        arch = dict(meta.pop("architecture"))
        arch.setdefault("builder", "geosrl.create_encoder")
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
        card_json = json.dumps(card, sort_keys=True)
    except TypeError as e:
        raise CheckpointError(f"meta must be JSON-serialisable: {e}") from None
    out = _resolve_path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_file(sd, str(out), metadata={_CARD_KEY: card_json})
    side = dict(card, file_sha256=_file_sha256(out))
    out.with_suffix(".json").write_text(json.dumps(side, indent=2, sort_keys=True) + "\n")
    return out


def _locate(path_or_name: str | Path) -> Path:
    p = Path(path_or_name)
    for cand in (p, _resolve_path(p)):
        if cand.is_file():
            return cand
    name = str(path_or_name)
    shipped = pretrained_dir() / f"{name}.safetensors"
    if shipped.is_file():
        return shipped
    raise CheckpointError(f"no checkpoint file {str(p)!r} and no shipped checkpoint named {name!r}; "
                          f"shipped: {list_pretrained()}")


def read_card(path_or_name: str | Path) -> dict[str, Any]:
    """The model card of a checkpoint, read from the safetensors header without loading tensors."""
    from safetensors import safe_open

    path = _locate(path_or_name)
    try:
        with safe_open(str(path), framework="pt") as f:
            header = f.metadata() or {}
    except Exception as e:  # SafetensorError, OSError, ...
        raise CheckpointError(f"{path}: not a readable safetensors file (truncated or corrupted header?): {e}") from e
    if _CARD_KEY not in header:
        raise CheckpointError(f"{path}: no geosrl model card in the safetensors header (not saved by save_pretrained?)")
    try:
        card = json.loads(header[_CARD_KEY])
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path}: the model card is not valid JSON: {e}") from None
    if card.get("format") != FORMAT:
        raise CheckpointError(f"{path}: card format {card.get('format')!r}, expected {FORMAT!r}")
    if int(card.get("format_version", -1)) > FORMAT_VERSION:
        raise CheckpointError(f"{path}: card format_version {card.get('format_version')} is newer than this geosrl "
                              f"supports ({FORMAT_VERSION}); upgrade geosrl")
    return card


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
    card = read_card(path)
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
        except json.JSONDecodeError as e:
            raise CheckpointError(f"{side}: sidecar card is not valid JSON: {e}") from None
        want = side_card.get("file_sha256")
        if want and want != _file_sha256(path):
            raise CheckpointError(f"{path}: file SHA-256 differs from {side.name}'s file_sha256 "
                                  "(file modified or corrupted; pass check_sidecar=False to skip)")
    model = build_from_architecture(card["architecture"])
    dtypes = {v.dtype for v in sd.values() if v.is_floating_point()}
    if len(dtypes) == 1:
        model.to(dtypes.pop())
    own = model.state_dict()
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    shapes = sorted(f"{k}: file {tuple(sd[k].shape)} vs model {tuple(own[k].shape)}"
                    for k in set(own) & set(sd) if own[k].shape != sd[k].shape)
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"missing tensors {missing[:5]}{'…' if len(missing) > 5 else ''}")
        if unexpected:
            parts.append(f"unexpected tensors {unexpected[:5]}{'…' if len(unexpected) > 5 else ''}")
        if shapes:
            parts.append(f"shape mismatches {shapes[:5]}")
        raise CheckpointError(f"{path}: weights do not match architecture {card['architecture'].get('name')!r}: "
                              + "; ".join(parts))
    model.load_state_dict(sd, strict=True)
    model.to(device).eval()
    model.card = card
    return model
