"""The CSP pre-training loop: seeded, resumable, single process or ``torchrun`` data parallel.

Configuration (``resolve_pretrain_config``; ``profile`` = ``"quick"`` (CPU, minutes) or ``"full"``;
other keys override the profile, nested tables merge, unknown keys raise)::

    seed = 0
    [data]       flickr / cities / land / sea (points per source), contexts (declared context names, see
                 geosrl.pretrain.contexts; the card records each with its source and licence), patch_size,
                 stride, val_fraction, cache_dir
    [encoder]    name, embed_dim, net, net_kwargs, pe_kwargs     (geosrl.create_encoder arguments)
    [image]      width, depth (PatchCNN); locked (train it first by augmentation contrast, then freeze it
                 and train the location encoder against its fixed embeddings: geosrl.pretrain.locked),
                 ssl_epochs, ssl_batch_size, ssl_lr, ssl_tau (that first stage)
    [objective]  kind (mc|nce|mse), terms (subset of "BLD"), symmetric, tau_b, tau_l, tau_d,
                 learnable_temperature, loc_weight, dropout_weight, num_random (K)
    [optim]      epochs, batch_size (per process), lr, weight_decay, min_lr_ratio (cosine floor)
    device = "auto"                                              ("cpu", "cuda", "auto")

Outputs in ``out_dir``: ``state.pt`` (model, optimiser, scheduler, epoch, history; written atomically
after every epoch — a rerun with the same ``out_dir`` resumes after the last finished epoch and gives
the same result as an uninterrupted run; it holds only tensors and plain values and is read with
``torch.load(weights_only=True)`` by :func:`load_state`, so a planted pickle cannot run code, and
anything that is not a valid resume state raises :class:`~geosrl.CheckpointError`), ``log.csv`` (one
row per epoch: loss terms, temperatures, ``effective_negatives``, validation retrieval top-1, pairs/s),
``location_encoder.safetensors`` (+ card, see :mod:`geosrl.encoders.checkpoint`), ``config.json`` and
``run.json``; every file is written atomically with the ``0o666 & ~umask`` permissions.

Randomness: the epoch permutation, random-location negatives and dropout masks are drawn from
generators seeded by ``(seed, epoch[, rank])``, so resuming reproduces the uninterrupted run exactly.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ..config import (Check, ConfigError, boolean, check_config, check_device, choice, claim_output_dir, git_commit,
                      integer, mapping, merge_config, number, package_versions, text)
from ..encoders.checkpoint import CheckpointError, build_from_architecture, save_pretrained
from ..files import atomic_write
from ..sphere import uniform_lonlat
from .contexts import CONTEXTS, check_contexts
from .data import DEFAULT_CONTEXTS, SOURCES, PretrainData, build_pretrain_data, patches_to_float
from .distributed import gather_with_grad, init_distributed
from .image_encoder import PatchCNN
from .model import CSPModel
from .objectives import OBJECTIVES, CSPObjective

__all__ = ["PRETRAIN_FULL", "PRETRAIN_QUICK", "PretrainResult", "build_model", "load_state", "pretrain",
           "resolve_pretrain_config"]

PRETRAIN_QUICK: dict[str, Any] = {
    "seed": 0,
    "device": "auto",
    "data": {"flickr": 15000, "cities": 7500, "land": 5000, "sea": 2500, "contexts": list(DEFAULT_CONTEXTS),
             "patch_size": 8, "stride": 4, "val_fraction": 0.05, "cache_dir": None},
    "encoder": {"name": "sphere2vec_spherec_plus", "embed_dim": 64, "net": "ffn",
                "net_kwargs": {"hidden_dim": 256, "num_hidden_layers": 1, "dropout": 0.3},
                "pe_kwargs": {"frequency_num": 16, "min_radius": 0.005, "max_radius": 1.0}},
    "image": {"width": 16, "depth": 2, "locked": False, "ssl_epochs": 5, "ssl_batch_size": 512, "ssl_lr": 1e-3,
              "ssl_tau": 0.1},
    "objective": {"kind": "mc", "terms": "BLD", "symmetric": True, "tau_b": 0.07, "tau_l": 1.0, "tau_d": 1.0,
                  "learnable_temperature": True, "loc_weight": 1.0, "dropout_weight": 1.0, "num_random": 1},
    "optim": {"epochs": 10, "batch_size": 512, "lr": 2e-3, "weight_decay": 1e-4, "min_lr_ratio": 0.05},
}

PRETRAIN_FULL: dict[str, Any] = copy.deepcopy(PRETRAIN_QUICK)
PRETRAIN_FULL["data"].update({"flickr": 100000, "cities": 100000, "land": 100000, "patch_size": 16, "stride": 2})
PRETRAIN_FULL["encoder"].update({"embed_dim": 256})
PRETRAIN_FULL["encoder"]["net_kwargs"].update({"hidden_dim": 512})
PRETRAIN_FULL["encoder"]["pe_kwargs"].update({"frequency_num": 32, "min_radius": 0.002})
PRETRAIN_FULL["image"].update({"width": 32, "depth": 3})
PRETRAIN_FULL["optim"].update({"epochs": 30, "batch_size": 1024, "lr": 1e-3})

#: SatCLIP's recipe (Klemmer et al. 2023) on offline data: ≥ 100k pairs over land and sea, native-resolution
#: Blue Marble (1/15°, 32×32 patches = 2.1°) + Linke turbidity, a deeper CNN, spherical harmonics L = 20 + SIREN
#: (256-d), trained until validation retrieval plateaus (``satclip_bounded``: the same recipe cut to fit ~25 min of
#: one CPU core — fewer pairs, 16×16 patches at stride 2, fewer epochs; benchmarks/pretrain_recipe.py)
PRETRAIN_SATCLIP: dict[str, Any] = copy.deepcopy(PRETRAIN_QUICK)
PRETRAIN_SATCLIP["data"].update({"flickr": 40000, "cities": 40000, "land": 40000, "sea": 40000, "patch_size": 32,
                                 "stride": 1, "val_fraction": 0.03})
PRETRAIN_SATCLIP["encoder"] = {"name": "spherical_harmonics", "embed_dim": 256, "net": "siren",
                               "net_kwargs": {"hidden_dim": 512, "num_layers": 2, "dropout": 0.0},
                               "pe_kwargs": {"legendre_degree": 20, "convention": "satclip"}}
PRETRAIN_SATCLIP["image"].update({"width": 32, "depth": 4})
PRETRAIN_SATCLIP["objective"].update({"terms": "B", "num_random": 0})
PRETRAIN_SATCLIP["optim"].update({"epochs": 60, "batch_size": 1024, "lr": 1e-3, "weight_decay": 1e-2})
PRETRAIN_SATCLIP_BOUNDED: dict[str, Any] = copy.deepcopy(PRETRAIN_SATCLIP)
PRETRAIN_SATCLIP_BOUNDED["data"].update({"flickr": 25000, "cities": 25000, "land": 25000, "sea": 25000,
                                         "patch_size": 16, "stride": 2})
PRETRAIN_SATCLIP_BOUNDED["image"].update({"width": 16, "depth": 3})
PRETRAIN_SATCLIP_BOUNDED["optim"].update({"epochs": 10, "batch_size": 512})

#: SatCLIP's recipe with a locked image side (the CSP variant the issue allows): the PatchCNN is trained first by
#: augmentation contrast on the patches alone, frozen, every pair's image embedding computed once; then the
#: location encoder (spherical harmonics L = 20 + SIREN, 256-d) is trained against the fixed embeddings through
#: a linear projection, ms per step, until validation retrieval plateaus (benchmarks/results/pretrain/satclip_locked.md)
PRETRAIN_SATCLIP_LOCKED: dict[str, Any] = copy.deepcopy(PRETRAIN_SATCLIP_BOUNDED)
PRETRAIN_SATCLIP_LOCKED["image"].update({"width": 16, "depth": 3, "locked": True, "ssl_epochs": 3,
                                         "ssl_batch_size": 512, "ssl_lr": 2e-3, "ssl_tau": 0.1})
PRETRAIN_SATCLIP_LOCKED["encoder"]["net_kwargs"].update({"dropout": 0.3})
PRETRAIN_SATCLIP_LOCKED["objective"].update({"terms": "BLD", "num_random": 1})
PRETRAIN_SATCLIP_LOCKED["optim"].update({"epochs": 20, "batch_size": 1024, "lr": 1e-3})
#: the same data and locked image side with the quick profile's location encoder (Sphere2Vec sphereC+ 64-d + FFN,
#: CSP's BLD objective) beside it
PRETRAIN_SPHERE2VEC_LOCKED: dict[str, Any] = copy.deepcopy(PRETRAIN_SATCLIP_LOCKED)
PRETRAIN_SPHERE2VEC_LOCKED["encoder"] = copy.deepcopy(PRETRAIN_QUICK["encoder"])

PRETRAIN_PROFILES = {"quick": PRETRAIN_QUICK, "full": PRETRAIN_FULL, "satclip": PRETRAIN_SATCLIP,
                     "satclip_bounded": PRETRAIN_SATCLIP_BOUNDED, "satclip_locked": PRETRAIN_SATCLIP_LOCKED,
                     "sphere2vec_locked": PRETRAIN_SPHERE2VEC_LOCKED}
_FREE_TABLES = {"net_kwargs", "pe_kwargs"}  # passed through to create_encoder, any keys
_CONTEXT_LIST = Check(f"a non-empty list of context names from {sorted(CONTEXTS)}, each once",
                      lambda v, key: (isinstance(v, list) and v != [] and len(set(map(str, v))) == len(v)
                                      and all(isinstance(n, str) and n in CONTEXTS for n in v), v))


_POSITIVE = integer(min=1)
_TERMS = Check('a non-empty subset of "BLD" (e.g. "BLD", "BL")',
               lambda v, key: (isinstance(v, str) and v != "" and set(v.upper()) <= set("BLD"), v))
#: allowed values of every pre-training key (a typo, wrong type or out-of-range value is a ConfigError)
PRETRAIN_SCHEMA = {
    "seed": integer(min=0), "device": text(),
    "data": {"flickr": integer(min=0), "cities": integer(min=0), "land": integer(min=0), "sea": integer(min=0),
             "contexts": _CONTEXT_LIST, "patch_size": _POSITIVE,
             "stride": _POSITIVE, "val_fraction": number(gt=0, lt=1), "cache_dir": text(optional=True)},
    "encoder": {"name": text(), "embed_dim": _POSITIVE, "net": text(optional=True), "net_kwargs": mapping(),
                "pe_kwargs": mapping()},
    "image": {"width": _POSITIVE, "depth": _POSITIVE, "locked": boolean(), "ssl_epochs": _POSITIVE,
              "ssl_batch_size": integer(min=2), "ssl_lr": number(gt=0), "ssl_tau": number(gt=0)},
    "objective": {"kind": choice(*OBJECTIVES), "terms": _TERMS, "symmetric": boolean(), "tau_b": number(gt=0),
                  "tau_l": number(gt=0), "tau_d": number(gt=0), "learnable_temperature": boolean(),
                  "loc_weight": number(ge=0), "dropout_weight": number(ge=0), "num_random": integer(min=0)},
    "optim": {"epochs": _POSITIVE, "batch_size": _POSITIVE, "lr": number(gt=0), "weight_decay": number(ge=0),
              "min_lr_ratio": number(ge=0, le=1)},
}


def resolve_pretrain_config(config: dict | None = None) -> dict[str, Any]:
    """Profile defaults (``config["profile"]``, default ``"quick"``) updated by the other keys, then checked."""
    config = dict(config or {})
    profile = config.pop("profile", "quick")
    if profile not in PRETRAIN_PROFILES:
        raise ConfigError(f"unknown pre-training profile {profile!r}; choose one of {sorted(PRETRAIN_PROFILES)}")
    config.pop("out_dir", None)
    cfg = merge_config(PRETRAIN_PROFILES[profile], config, _FREE_TABLES, what="pre-training config")
    cfg = check_config(cfg, PRETRAIN_SCHEMA, what="pre-training config")
    check_device(cfg["device"])
    if sum(cfg["data"][s] for s in SOURCES) < 1:
        raise ConfigError("pre-training config: data.flickr + data.cities + data.land + data.sea must be at least 1")
    check_contexts(cfg["data"]["contexts"])
    cfg["profile"] = profile
    return cfg


def encoder_architecture(cfg: dict) -> dict[str, Any]:
    """The ``geosrl.create_encoder`` architecture dict of the configured location encoder."""
    e = cfg["encoder"]
    return {"builder": "geosrl.create_encoder", "name": e["name"], "embed_dim": int(e["embed_dim"]),
            "net": e.get("net"), "net_kwargs": dict(e.get("net_kwargs") or {}),
            "pe_kwargs": dict(e.get("pe_kwargs") or {})}


def build_model(cfg: dict) -> CSPModel:
    """Seeded :class:`CSPModel` from a resolved config (location encoder built without input validation).

    With ``image.locked`` the image side is a trainable linear projection of the locked encoder's fixed
    embeddings ``(B, embed_dim)``; otherwise a :class:`PatchCNN` on the patches ``(B, C, P, P)``."""
    torch.manual_seed(int(cfg["seed"]))
    arch = encoder_architecture(cfg)
    arch["pe_kwargs"].setdefault("validate", False)  # inputs are validated once when the data are built
    loc = build_from_architecture(arch)
    d = int(cfg["encoder"]["embed_dim"])
    channels = sum(len(CONTEXTS[c].channels) for c in cfg["data"]["contexts"])
    img: torch.nn.Module
    if cfg["image"]["locked"]:  # the inputs are the locked PatchCNN's fixed (B, d) embeddings
        img = torch.nn.Linear(d, d)
    else:
        img = PatchCNN(in_channels=channels, embed_dim=d, width=int(cfg["image"]["width"]),
                       depth=int(cfg["image"]["depth"]))
    o = cfg["objective"]
    obj = CSPObjective(o["kind"], o["terms"], loc_weight=o["loc_weight"], dropout_weight=o["dropout_weight"],
                       tau_b=o["tau_b"], tau_l=o["tau_l"], tau_d=o["tau_d"],
                       learnable_temperature=o["learnable_temperature"], symmetric=o["symmetric"])
    return CSPModel(loc, img, obj, embed_dim=d, image_dim=d)


@dataclass
class PretrainResult:
    """Outcome of :func:`pretrain`: output folder, encoder file, per-epoch history, resolved config."""

    out_dir: Path
    encoder_path: Path | None
    history: list[dict[str, float]]
    config: dict[str, Any]
    location_encoder: torch.nn.Module


def is_pretrain_dir(out: Path) -> bool:
    """Whether ``out`` holds a pre-training run of geosrl: its ``config.json`` is a resolved pre-training config,
    or it has a ``state.pt`` (which :func:`load_state` then checks without unpickling anything)."""
    if (out / "state.pt").exists():  # whatever it is, load_state names it and what is wrong
        return True
    try:
        cfg = json.loads((out / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(cfg, dict) and set(PRETRAIN_SCHEMA) <= set(cfg)


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def plateaued(curve: list[float]) -> bool:
    """Whether a validation retrieval curve has flattened: the last epoch is within 0.01 of the best epoch
    before it, and the last three epochs gained less than 0.01 together (needs ≥ 4 epochs)."""
    if len(curve) < 4:
        return False
    return curve[-1] >= max(curve[:-1]) - 0.01 and curve[-1] - curve[-4] < 0.01


@torch.no_grad()
def _val_retrieval(model: CSPModel, ll: torch.Tensor, img: torch.Tensor, to_input: Callable, chunk: int = 512) -> float:
    """Top-1 of location → image retrieval within chunks of ``chunk`` validation pairs (chance = 1/chunk);
    ``to_input`` turns stored image rows into the image side's input."""
    if len(ll) == 0:
        return float("nan")
    model.eval()
    hits, n = 0, 0
    for s in range(0, len(ll), chunk):
        e = torch.nn.functional.normalize(model.location_encoder(ll[s:s + chunk]), dim=-1)
        f = model.image_encoder(to_input(img[s:s + chunk]))
        if model.loc_head is not None:
            e = torch.nn.functional.normalize(model.loc_head(model.location_encoder(ll[s:s + chunk])), dim=-1)
        f = torch.nn.functional.normalize(f, dim=-1)
        pred = (e @ f.T).argmax(1)
        hits += int((pred == torch.arange(len(e), device=e.device)).sum())
        n += len(e)
    model.train()
    return hits / n


STATE_FORMAT = "geosrl-pretrain-state"
STATE_VERSION = 1
_STATE_KEYS = ("format", "version", "model", "optimizer", "scheduler", "epoch", "history", "config_json")


def _config_json(cfg: dict) -> str:
    """Canonical JSON of a resolved config (paths as strings): what ``state.pt`` records and compares."""
    return json.dumps(cfg, sort_keys=True, default=str)


def _plain_history(history: list[dict[str, Any]]) -> list[dict[str, float | int]]:
    return [{str(k): (int(v) if isinstance(v, (int, np.integer)) and not isinstance(v, bool) else float(v))
             for k, v in row.items()} for row in history]


def _write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode()))


def _atomic_save(obj: Any, path: Path) -> None:
    atomic_write(path, lambda f: torch.save(obj, f))


def _save_state(path: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, sched: Any, epoch: int,
                history: list[dict[str, Any]], cfg: dict) -> None:
    """Write the resume state: tensors and plain values only (loadable with ``weights_only=True``)."""
    _atomic_save({"format": STATE_FORMAT, "version": STATE_VERSION, "model": model.state_dict(),
                  "optimizer": opt.state_dict(), "scheduler": sched.state_dict(), "epoch": int(epoch),
                  "history": _plain_history(history), "config_json": _config_json(cfg)}, path)


def load_state(path: str | Path, map_location: Any = "cpu") -> dict[str, Any]:
    """Read and check a ``state.pt`` written by :func:`pretrain`, without running any pickled code.

    ``torch.load(weights_only=True)`` only rebuilds tensors and plain containers, so a planted pickle is
    refused, not executed. The content is checked too: format, version, the keys and their types.

    Raises:
        CheckpointError: the file is not a valid resume state (planted, truncated, foreign or corrupted);
            the message names the file and the fix.
    """
    path = Path(path)
    fix = "delete it or choose a new --out (out_dir), or pass --no-resume (resume=False) to start over"

    def bad(why: str) -> CheckpointError:
        return CheckpointError(f"{path} is not a valid geosrl pre-training resume state ({why}); {fix}")

    try:
        st = torch.load(path, map_location=map_location, weights_only=True)
    except OSError as e:
        raise bad(f"cannot read it: {e.strerror or e}") from None
    except Exception as e:  # UnpicklingError for forbidden globals, RuntimeError/EOFError when truncated, ...
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise bad(f"{type(e).__name__}: {msg[:300]}") from None
    if not isinstance(st, dict):
        raise bad(f"it holds a {type(st).__name__}, not a dict")
    if st.get("format") != STATE_FORMAT or st.get("version") != STATE_VERSION:
        raise bad(f"format {st.get('format')!r} version {st.get('version')!r}, expected {STATE_FORMAT!r} "
                  f"version {STATE_VERSION}")
    missing = [k for k in _STATE_KEYS if k not in st]
    if missing:
        raise bad(f"missing entries {missing}")
    model_sd = st["model"]
    if not (isinstance(model_sd, dict) and all(isinstance(k, str) and isinstance(v, torch.Tensor)
                                               for k, v in model_sd.items())):
        raise bad("'model' is not a state dict of tensors")
    for key in ("optimizer", "scheduler"):
        if not isinstance(st[key], dict):
            raise bad(f"{key!r} is not a state dict")
    epoch, history = st["epoch"], st["history"]
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 0:
        raise bad(f"'epoch' must be a non-negative integer, got {epoch!r}")
    if not (isinstance(history, list) and len(history) == epoch + 1 and all(
            isinstance(r, dict) and all(isinstance(k, str) and isinstance(v, (int, float)) for k, v in r.items())
            for r in history)):
        raise bad(f"'history' must be a list of epoch + 1 = {epoch + 1} dicts of numbers")
    if not isinstance(st["config_json"], str):
        raise bad("'config_json' is not a string")
    return st


def pretrain(config: dict | None = None, out_dir: str | Path | None = None, resume: bool = True,
             data: PretrainData | None = None, log: Callable[[str], None] | None = print,
             max_epochs: int | None = None) -> PretrainResult:
    """Pre-train a location encoder with a CSP objective against patches of the declared contexts.

    Args:
        config: overrides of the profile (see module docstring); may hold ``profile`` and ``out_dir``.
        out_dir: output folder (default ``config["out_dir"]`` or ``runs/pretrain-<profile>``).
        resume: continue from ``out_dir/state.pt`` when present.
        data: pre-built pairs (tests); default :func:`~geosrl.pretrain.data.build_pretrain_data`.
        log: progress printer (rank 0 only); ``None`` = silent.
        max_epochs: stop after this many epochs in total without finishing (simulates an interruption).
    Returns:
        :class:`PretrainResult` (the encoder file is written on rank 0 when all epochs are done).
    Raises:
        CheckpointError: ``out_dir/state.pt`` is not a valid resume state of this run (planted, truncated,
            foreign, another config); the message names the file and the fix.
    """
    raw = dict(config or {})
    cfg = resolve_pretrain_config(raw)
    out = Path(out_dir if out_dir is not None else raw.get("out_dir") or f"runs/pretrain-{cfg['profile']}")
    if str(out) in ("", "."):
        raise ConfigError("the pre-training output folder (--out) must name a folder, e.g. runs/pretrain")
    info = init_distributed(None if cfg["device"] == "auto" else cfg["device"])
    dev = torch.device(info.device) if info.world_size > 1 else _device(cfg["device"])
    say = (log if (log is not None and info.is_main) else (lambda *_: None))
    seed = int(cfg["seed"])
    if info.is_main:
        claim_output_dir(out, is_pretrain_dir, "geosrl pre-training folder")
    out.mkdir(parents=True, exist_ok=True)

    if data is None:
        dc = cfg["data"]
        counts = {k: int(dc[k]) for k in SOURCES}
        if info.world_size > 1 and not info.is_main:
            torch.distributed.barrier()  # rank 0 builds and caches the pairs first
        data = build_pretrain_data(counts, seed, int(dc["patch_size"]), int(dc["stride"]), dc["cache_dir"],
                                   contexts=dc["contexts"])
        if info.world_size > 1 and info.is_main:
            torch.distributed.barrier()
    stats = data.metadata["stats"]
    if list(stats.get("contexts", [])) != list(cfg["data"]["contexts"]):
        raise ConfigError(f"the pre-training pairs hold contexts {stats.get('contexts')}, the config names "
                          f"{cfg['data']['contexts']}; build the pairs with the config's data.contexts")
    n = len(data)
    perm0 = np.random.default_rng([seed, 5]).permutation(n)
    n_val = int(round(float(cfg["data"]["val_fraction"]) * n))
    val_idx, tr_idx = np.sort(perm0[:n_val]), np.sort(perm0[n_val:])
    ll_all = torch.as_tensor(data.lonlat, dtype=torch.float32, device=dev)
    img_all = torch.as_tensor(data.patches, device=dev)
    to_input: Callable[[torch.Tensor], torch.Tensor] = lambda x: patches_to_float(x, stats)  # noqa: E731
    image_history: list[dict[str, float]] = []
    if cfg["image"]["locked"]:
        img_all, image_history = _locked_embeddings(cfg, img_all, stats, tr_idx, out, info.is_main, say)
        to_input = lambda x: x  # noqa: E731
    ll_tr, img_tr = ll_all[tr_idx], img_all[tr_idx]
    ll_val, img_val = ll_all[val_idx], img_all[val_idx]

    model = build_model(cfg).to(dev)
    oc = cfg["optim"]
    epochs, bs = int(oc["epochs"]), int(oc["batch_size"])
    global_bs = bs * info.world_size
    steps_per_epoch = len(tr_idx) // global_bs
    if steps_per_epoch < 1:
        raise ValueError(f"{len(tr_idx)} training pairs are fewer than one global batch ({global_bs})")
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=float(oc["lr"]), weight_decay=float(oc["weight_decay"]))
    total = epochs * steps_per_epoch
    floor = float(oc["min_lr_ratio"])
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    history: list[dict[str, float]] = []
    start = 0
    state_path = out / "state.pt"
    if resume and state_path.is_file():
        st = load_state(state_path, map_location=dev)
        if st["config_json"] != _config_json(cfg):
            raise CheckpointError(f"{state_path} was written with another config; choose a new --out (out_dir) "
                                  "or pass --no-resume (resume=False) to start over")
        if int(st["epoch"]) >= epochs:
            raise CheckpointError(f"{state_path} records epoch {st['epoch'] + 1} of a run of {epochs} epochs; "
                                  "delete it or choose a new --out")
        try:
            model.load_state_dict(st["model"])
            opt.load_state_dict(st["optimizer"])
            sched.load_state_dict(st["scheduler"])
        except (RuntimeError, ValueError, KeyError, TypeError) as e:
            raise CheckpointError(f"{state_path} does not fit this model ({type(e).__name__}: "
                                  f"{str(e).splitlines()[0][:300] if str(e) else ''}); delete it or choose a "
                                  "new --out") from None
        history, start = st["history"], int(st["epoch"]) + 1
        say(f"resuming {out} after epoch {start}")
    ddp = model
    if info.world_size > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        ddp = DDP(model, device_ids=[dev.index] if dev.type == "cuda" else None)
    gather = gather_with_grad if info.world_size > 1 else None
    k_rand = int(cfg["objective"]["num_random"])
    if info.is_main:
        _write_text(out / "config.json", json.dumps(cfg, indent=2, default=str) + "\n")
    say(f"pre-training on {len(tr_idx)} pairs ({n_val} val), {info.world_size} process(es), global batch "
        f"{global_bs}, {steps_per_epoch} steps/epoch, device {dev}")

    last = epochs if max_epochs is None else min(epochs, int(max_epochs))
    for epoch in range(start, last):
        t0 = time.perf_counter()
        model.train()
        torch.manual_seed(seed * 100003 + epoch * 7919 + info.rank)  # dropout masks
        g = torch.Generator().manual_seed(seed * 1000 + epoch)
        perm = torch.randperm(len(tr_idx), generator=g).to(dev)
        g_rand = torch.Generator().manual_seed(seed * 1000 + epoch * 31 + info.rank + 17)
        sums: dict[str, float] = {}
        for step in range(steps_per_epoch):
            rows = perm[step * global_bs + info.rank * bs: step * global_bs + (info.rank + 1) * bs]
            ll = ll_tr[rows]
            images = to_input(img_tr[rows])
            rand = uniform_lonlat(len(rows) * k_rand, generator=g_rand).to(dev).view(len(rows), k_rand, 2)
            loss, logs = ddp(ll, images, rand, gather=gather)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            logs["loss"] = float(loss.detach())
            for k, v in logs.items():
                sums[k] = sums.get(k, 0.0) + v
        secs = time.perf_counter() - t0
        row = {"epoch": epoch, **{k: v / steps_per_epoch for k, v in sums.items()},
               "val_top1_retrieval": _val_retrieval(model, ll_val, img_val, to_input),
               "lr": sched.get_last_lr()[0], "seconds": secs,
               "pairs_per_second": steps_per_epoch * global_bs / secs, "world_size": info.world_size}
        history.append(row)
        say(f"epoch {epoch + 1}/{epochs} loss {row['loss']:.4f} val top-1 {row['val_top1_retrieval']:.3f} "
            f"negatives {row.get('effective_negatives', 0):.0f} tau_B {row.get('tau_B', float('nan')):.3f} "
            f"{row['pairs_per_second']:.0f} pairs/s")
        if info.is_main:
            _save_state(state_path, model, opt, sched, epoch, history, cfg)
            _write_log(out / "log.csv", history)

    enc_path = None
    finished = len(history) >= epochs
    loc = model.location_encoder
    if finished and info.is_main:
        enc_path = save_pretrained(loc.cpu(), out / "location_encoder.safetensors",
                                   _card_meta(cfg, data, history, n_train=len(tr_idx), n_val=n_val,
                                              image_history=image_history))
        loc.to(dev)
        git = git_commit()
        _write_text(out / "run.json", json.dumps({
            "kind": "pretrain", "config": cfg, "seed": seed, "git_commit": git["commit"], "git_dirty": git["dirty"],
            "packages": package_versions(), "data": data.metadata, "history": history,
            "encoder_file": enc_path.name, "world_size": info.world_size, "image_history": image_history,
            "plateaued": plateaued([float(r["val_top1_retrieval"]) for r in history]),
        }, indent=2, default=str) + "\n")
    return PretrainResult(out, enc_path, history, cfg, loc)


IMAGE_STATE_FORMAT = "geosrl-locked-image-encoder"


def _locked_embeddings(cfg: dict, patches: torch.Tensor, stats: dict, tr_idx: np.ndarray, out: Path, is_main: bool,
                       say: Callable[[str], None]) -> tuple[torch.Tensor, list[dict[str, float]]]:
    """The locked image side: train the PatchCNN by augmentation contrast on the training pairs' patches (or
    read it back from ``out/image_encoder.pt`` of an earlier run with the same config), then the fixed
    embeddings ``(N, embed_dim)`` of all patches. Returns them and the stage's per-epoch history."""
    from .locked import embed_patches, train_patch_encoder

    ic = cfg["image"]
    channels = sum(len(CONTEXTS[c].channels) for c in cfg["data"]["contexts"])
    d = int(cfg["encoder"]["embed_dim"])
    path = out / "image_encoder.pt"
    cnn = PatchCNN(in_channels=channels, embed_dim=d, width=int(ic["width"]), depth=int(ic["depth"]))
    if path.is_file():
        st = _load_image_state(path, cfg)
        cnn.load_state_dict(st["model"])
        history = st["history"]
        say(f"locked image encoder read back from {path}")
    else:
        t0 = time.perf_counter()
        cnn, history = train_patch_encoder(
            patches[torch.as_tensor(tr_idx, device=patches.device)], stats, in_channels=channels, embed_dim=d,
            width=int(ic["width"]), depth=int(ic["depth"]), epochs=int(ic["ssl_epochs"]),
            batch_size=int(ic["ssl_batch_size"]), lr=float(ic["ssl_lr"]), tau=float(ic["ssl_tau"]),
            seed=int(cfg["seed"]), log=say)
        if is_main:
            _atomic_save({"format": IMAGE_STATE_FORMAT, "model": cnn.state_dict(), "history": _plain_history(history),
                          "config_json": _config_json(cfg)}, path)
        say(f"image encoder trained and locked in {time.perf_counter() - t0:.0f} s")
    cnn.to(patches.device)
    t0 = time.perf_counter()
    emb = embed_patches(cnn, patches, stats)
    say(f"fixed image embeddings of {len(emb)} pairs in {time.perf_counter() - t0:.0f} s")
    return emb, history


def _load_image_state(path: Path, cfg: dict) -> dict[str, Any]:
    """Read ``image_encoder.pt`` (tensors and plain values only, ``weights_only=True``) and check it."""
    fix = "delete it or choose a new --out (out_dir)"
    try:
        st = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # planted pickle, truncated file, ...
        raise CheckpointError(f"{path} is not a locked image encoder of geosrl ({type(e).__name__}); {fix}") from None
    if not (isinstance(st, dict) and st.get("format") == IMAGE_STATE_FORMAT and isinstance(st.get("model"), dict)
            and isinstance(st.get("history"), list)):
        raise CheckpointError(f"{path} is not a locked image encoder of geosrl; {fix}")
    if st.get("config_json") != _config_json(cfg):
        raise CheckpointError(f"{path} was trained with another config; {fix}")
    return st


def _write_log(path: Path, history: list[dict[str, float]]) -> None:
    keys: list[str] = []
    for r in history:
        keys += [k for k in r if k not in keys]
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=keys)
    w.writeheader()
    w.writerows(history)
    _write_text(path, buf.getvalue())


def _card_meta(cfg: dict, data: PretrainData, history: list[dict], n_train: int, n_val: int,
               image_history: list[dict] | None = None) -> dict[str, Any]:
    m = data.metadata
    last = history[-1] if history else {}
    image = {"encoder": "PatchCNN", "width": cfg["image"]["width"], "depth": cfg["image"]["depth"],
             "training": ("augmentation contrast on the patches alone, then locked (geosrl.pretrain.locked); "
                          f"{cfg['image']['ssl_epochs']} epochs, batch {cfg['image']['ssl_batch_size']}, "
                          f"lr {cfg['image']['ssl_lr']}, tau {cfg['image']['ssl_tau']}; last view top-1 "
                          f"{image_history[-1]['ssl_top1']:.3f}" if cfg["image"]["locked"] and image_history
                          else "trained jointly with the location encoder")}
    return {
        "architecture": encoder_architecture(cfg),
        "model_type": "CSP location encoder (Mai et al. 2023), pre-trained by geosrl.pretrain",
        "objective": cfg["objective"],
        "image_side": image,
        "training_data": {"description": m.get("description"), "sources": m.get("sources"),
                          "patch_size": m.get("patch_size"), "stride": m.get("stride"),
                          "patch_degrees": m.get("patch_degrees"), "channels": m.get("channels"),
                          "contexts": m.get("contexts"),
                          "n_train_pairs": n_train, "n_val_pairs": n_val, "packages": m.get("packages")},
        "spatial_extent": {"bbox": m.get("extent"), "coverage": "global; denser where Flickr photos and "
                                                                "cities are (Europe, North America)"},
        "training": {"epochs": cfg["optim"]["epochs"], "batch_size": cfg["optim"]["batch_size"],
                     "lr": cfg["optim"]["lr"], "seed": cfg["seed"], "profile": cfg["profile"],
                     "world_size": last.get("world_size", 1)},
        "licence": {"weights": "MIT (geosrl)", "data": m.get("licence")},
        "metrics": {"final_loss": last.get("loss"), "val_top1_retrieval_within_512": last.get("val_top1_retrieval"),
                    "val_top1_retrieval_curve": [r.get("val_top1_retrieval") for r in history],
                    "plateaued": plateaued([float(r["val_top1_retrieval"]) for r in history])},
        "intended_use": "location embeddings for global regression/classification, few-shot fine-tuning",
        "out_of_scope": "fine-grained (< ~50 km) geographic problems; the patches span "
                        f"{m.get('patch_degrees')} degrees",
    }


def main(argv: list[str] | None = None) -> int:
    """``python -m geosrl.pretrain.train --config FILE [--out DIR]`` (the entry point for ``torchrun``)."""
    import argparse

    from ..config import load_config_file

    p = argparse.ArgumentParser(prog="python -m geosrl.pretrain.train")
    p.add_argument("--config", required=False)
    p.add_argument("--out", default=None)
    p.add_argument("--no-resume", action="store_true")
    a = p.parse_args(argv)
    cfg = load_config_file(a.config) if a.config else {}
    cfg = cfg.get("pretrain", cfg)
    pretrain(cfg, out_dir=a.out, resume=not a.no_resume)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
