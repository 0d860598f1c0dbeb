"""Save and load fitted estimators: a folder of safetensors files and a JSON card, never pickle.

Folder layout (``est.save("model")``):

* ``estimator.json`` — the card: ``format`` ``"geosrl-estimator"``, ``format_version``, ``estimator`` (class
  name), ``params`` (``get_params()``; ``encoder`` is the registry name, or null for a module), ``head``
  (``in_dim``, ``out_dim``, ``hidden``, ``bias``), ``fitted`` (``classes_``, ``train_extent_``, target scaling,
  …), ``head_sha256``, ``geosrl_version``, ``created``, ``coord_order``/``units``/``crs``;
* ``encoder.safetensors`` + ``encoder.json`` — the encoder as a geosrl checkpoint
  (:func:`geosrl.save_pretrained`): ``geosrl embed --checkpoint model/encoder.safetensors`` embeds with it;
* ``head.safetensors`` — the head's weights.

Loading refuses a bad folder with a :class:`geosrl.CheckpointError` naming the file and the problem: the
encoder goes through :func:`geosrl.load_pretrained` (card, sizes, shapes, hashes checked before use); the
card is strict JSON with known keys and checked values; the head's tensor names and shapes are compared with
those the card implies before any tensor is read, and their SHA-256 with ``head_sha256``.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import ConfigError
from ..encoders.checkpoint import CheckpointError, load_pretrained, save_pretrained, tensors_sha256
from ..files import atomic_write_text
from ..version import __version__
from .network import KINDS, LocationNet, head_shapes

__all__ = ["FORMAT", "load_estimator", "save_estimator"]

FORMAT = "geosrl-estimator"
FORMAT_VERSION = 1
CARD, ENCODER, HEAD = "estimator.json", "encoder.safetensors", "head.safetensors"
_MAX_WIDTH = 2**24
#: fitted attributes stored in the card, per kind of value
_FITTED = ("classes_", "train_extent_", "n_epochs_", "validation_loss_", "y_mean_", "y_scale_", "single_output_")


def save_estimator(est, path: str | Path, overwrite: bool = False) -> Path:
    """Write fitted ``est`` to the folder ``path`` (created; an existing folder must be empty, or an
    estimator folder with ``overwrite=True``). Returns the folder.

    Raises:
        CheckpointError: not fitted, an encoder module whose architecture cannot be recorded, or the
            folder cannot be written; ConfigError: the folder holds other files.
    """
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(est, "model_")
    except NotFittedError as exc:
        raise CheckpointError(f"cannot save an unfitted {type(est).__name__}: {exc}") from None
    folder = _claim(Path(path), overwrite)
    head = est.model_.head
    hidden = [m.out_features for m in list(head)[:-1] if isinstance(m, torch.nn.Linear)]
    last = head[-1]
    sd = {k: v.detach().cpu().contiguous().clone() for k, v in head.state_dict().items()}
    params = est.get_params(deep=False)
    params["encoder"] = params["encoder"] if isinstance(params["encoder"], str) else None
    params["head_hidden"] = list(params["head_hidden"])
    card = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "estimator": type(est).__name__, "params": params,
        "head": {"in_dim": int(head[0].in_features), "out_dim": int(last.out_features), "hidden": hidden,
                 "bias": last.bias is not None},
        "fitted": {k: _jsonable(getattr(est, k)) for k in _FITTED if hasattr(est, k)},
        "head_sha256": tensors_sha256(sd), "geosrl_version": __version__,
        "created": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        "coord_order": "lonlat", "units": "degrees", "crs": "EPSG:4326",
    }
    try:
        text = json.dumps(card, indent=2, sort_keys=True, allow_nan=False) + "\n"
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"cannot record the estimator's parameters as JSON ({exc}); use JSON values "
                              "(numbers, strings, lists, dicts) for encoder_kwargs") from None
    encoder = est.model_.encoder
    save_pretrained(encoder, folder / ENCODER, meta={"estimator": type(est).__name__})
    from safetensors.torch import save as save_bytes

    payload = save_bytes(sd, metadata={"format": FORMAT})
    try:
        atomic_write(folder / HEAD, payload)
        atomic_write_text(folder / CARD, text)
    except OSError as exc:
        raise CheckpointError(f"cannot write the estimator to {folder}: {exc.strerror or exc}") from None
    return folder


def atomic_write(path: Path, payload: bytes) -> None:
    from ..files import atomic_write as write

    write(path, lambda f: f.write(payload))


def _claim(folder: Path, overwrite: bool) -> Path:
    if folder.exists() and not folder.is_dir():
        raise ConfigError(f"{folder} is a file; save() writes a folder: choose a new folder name")
    if folder.is_dir() and any(folder.iterdir()):
        if not (folder / CARD).is_file():
            raise ConfigError(f"{folder} is a non-empty folder that is not a saved estimator; geosrl never "
                              "overwrites files it did not create: choose a new or empty folder")
        if not overwrite:
            raise ConfigError(f"{folder} already holds a saved estimator; pass overwrite=True to replace it")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def load_estimator(path: str | Path, device: str = "cpu"):
    """Rebuild the estimator saved in the folder ``path`` (any of the four classes), on ``device``.

    Raises:
        CheckpointError: a missing, unreadable or inconsistent folder (see the module doc).
    """
    folder = Path(path)
    card_path = folder / CARD
    if not card_path.is_file():
        raise CheckpointError(f"{folder}: no {CARD}; not a folder written by an estimator's save()")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"), parse_constant=_reject_constant)
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CheckpointError(f"{card_path}: not a readable JSON card: {exc}") from None
    try:
        cls, params, head = _check_card(card)
    except (CheckpointError, ConfigError, TypeError) as exc:
        raise CheckpointError(f"{card_path}: {exc}") from None
    encoder = load_pretrained(folder / ENCODER, device=device)
    if int(getattr(encoder, "embed_dim", -1)) != head["in_dim"]:
        raise CheckpointError(f"{folder / ENCODER}: encoder width {getattr(encoder, 'embed_dim', '?')} differs from "
                              f"the head's input {head['in_dim']} in {CARD}")
    name = params["encoder"]
    params["encoder"] = name if isinstance(name, str) else encoder
    if isinstance(params["head_hidden"], list):
        params["head_hidden"] = tuple(params["head_hidden"])
    est = cls(**params)
    try:
        est._checked_params()
    except (ConfigError, ValueError) as exc:
        raise CheckpointError(f"{card_path}: bad parameters: {exc}") from None
    est.model_ = _load_head(folder / HEAD, encoder, head, card.get("head_sha256"), device)
    _set_fitted(est, card.get("fitted", {}), head["out_dim"], card_path)
    return est


def _check_card(card: Any) -> tuple[type, dict, dict]:
    if not isinstance(card, dict) or card.get("format") != FORMAT:
        raise CheckpointError(f"card format {card.get('format') if isinstance(card, dict) else None!r}, "
                              f"expected {FORMAT!r}")
    version = card.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= FORMAT_VERSION:
        raise CheckpointError(f"card format_version must be an integer in [1, {FORMAT_VERSION}] (newer files need a "
                              f"newer geosrl), got {version!r}")
    classes = KINDS
    cls = classes.get(card.get("estimator"))
    if cls is None:
        raise CheckpointError(f"unknown estimator {card.get('estimator')!r}; known: {sorted(classes)}")
    params = card.get("params")
    expected = set(cls().get_params(deep=False))
    if not isinstance(params, dict) or set(params) != expected:
        got = sorted(params) if isinstance(params, dict) else type(params).__name__
        raise CheckpointError(f"params must hold exactly the {cls.__name__} parameters {sorted(expected)}, got {got}")
    if params["encoder"] is not None and not isinstance(params["encoder"], str):
        raise CheckpointError(f"params.encoder must be a registry name or null, got {params['encoder']!r}")
    head = card.get("head")
    if not isinstance(head, dict) or set(head) != {"in_dim", "out_dim", "hidden", "bias"}:
        raise CheckpointError("head must be {in_dim, out_dim, hidden, bias}")
    widths = [head["in_dim"], head["out_dim"], *(head["hidden"] if isinstance(head["hidden"], list) else [None])]
    if not all(isinstance(w, int) and not isinstance(w, bool) and 1 <= w <= _MAX_WIDTH for w in widths):
        raise CheckpointError(f"head widths must be integers in [1, {_MAX_WIDTH}], got {head}")
    if not isinstance(head["bias"], bool):
        raise CheckpointError(f"head.bias must be true or false, got {head['bias']!r}")
    return cls, dict(params), head


def _load_head(path: Path, encoder: torch.nn.Module, head: dict, sha: Any, device: str) -> LocationNet:
    from safetensors import safe_open
    from safetensors.torch import load_file

    want = head_shapes(head["in_dim"], head["out_dim"], tuple(head["hidden"]), head["bias"])
    try:
        with safe_open(str(path), framework="pt") as f:
            have = {k: tuple(int(d) for d in f.get_slice(k).get_shape()) for k in f.keys()}
    except Exception as exc:  # SafetensorError, OSError
        raise CheckpointError(f"{path}: not a readable safetensors file (missing, truncated or corrupted): {exc}") \
            from None
    if have != want:
        raise CheckpointError(f"{path}: head tensors {have} do not match the card's head {want}")
    try:
        sd = load_file(str(path), device="cpu")
    except Exception as exc:
        raise CheckpointError(f"{path}: cannot read the tensors (truncated or corrupted): {exc}") from None
    if sha is not None and tensors_sha256(sd) != sha:
        raise CheckpointError(f"{path}: tensor data do not match the card's head_sha256 (file modified or corrupted)")
    net = LocationNet(encoder, head["in_dim"], head["out_dim"], tuple(head["hidden"]), head["bias"])
    dtypes = {v.dtype for v in sd.values()}
    net.head.to(dtypes.pop() if len(dtypes) == 1 else torch.float32)
    net.head.load_state_dict(sd, strict=True)
    return net.to(device).eval()


def _set_fitted(est, fitted: Any, out_dim: int, where: Path) -> None:
    if not isinstance(fitted, dict) or not set(fitted) <= set(_FITTED):
        raise CheckpointError(f"{where}: fitted must be a dict with keys among {list(_FITTED)}")
    for key, value in fitted.items():
        setattr(est, key, np.asarray(value) if key in ("classes_", "y_mean_", "y_scale_") else value)
    est.n_features_in_ = 2
    classes = getattr(est, "classes_", None)
    if classes is not None and classes.ndim != 1:
        raise CheckpointError(f"{where}: fitted.classes_ must be a list of labels")
    if hasattr(est, "predict_proba") and type(est).__name__ != "PresenceOnlySDM":
        if classes is None or len(classes) != out_dim:
            raise CheckpointError(f"{where}: fitted.classes_ must list {out_dim} labels (one per head output)")
    if type(est).__name__ == "LocationRegressor":
        for key in ("y_mean_", "y_scale_"):
            v = getattr(est, key, None)
            if v is None or v.shape != (out_dim,) or not np.issubdtype(v.dtype, np.number) \
                    or not np.isfinite(v.astype(float)).all():
                raise CheckpointError(f"{where}: fitted.{key} must be {out_dim} finite numbers")
        if not isinstance(getattr(est, "single_output_", None), bool):
            raise CheckpointError(f"{where}: fitted.single_output_ must be true or false")
    extent = getattr(est, "train_extent_", None)
    if not (isinstance(extent, list) and len(extent) == 4 and all(isinstance(v, (int, float)) and math.isfinite(v)
                                                                  for v in extent)):
        raise CheckpointError(f"{where}: fitted.train_extent_ must be four finite numbers")
