"""The CSP pre-training loop: seeded, resumable, single process or ``torchrun`` data parallel.

Configuration (``resolve_pretrain_config``; ``profile`` = ``"quick"`` (CPU, minutes) or ``"full"``;
other keys override the profile, nested tables merge, unknown keys raise)::

    seed = 0
    [data]       flickr / cities / land (points per source), patch_size, stride, val_fraction, cache_dir
    [encoder]    name, embed_dim, net, net_kwargs, pe_kwargs     (geosrl.create_encoder arguments)
    [image]      width, depth                                    (PatchCNN)
    [objective]  kind (mc|nce|mse), terms (subset of "BLD"), symmetric, tau_b, tau_l, tau_d,
                 learnable_temperature, loc_weight, dropout_weight, num_random (K)
    [optim]      epochs, batch_size (per process), lr, weight_decay, min_lr_ratio (cosine floor)
    device = "auto"                                              ("cpu", "cuda", "auto")

Outputs in ``out_dir``: ``state.pt`` (model, optimiser, scheduler, epoch, history; written atomically
after every epoch — a rerun with the same ``out_dir`` resumes after the last finished epoch and gives
the same result as an uninterrupted run), ``log.csv`` (one row per epoch: loss terms, temperatures,
``effective_negatives``, validation retrieval top-1, pairs/s), ``location_encoder.safetensors`` (+ card,
see :mod:`geosrl.checkpoint`), ``config.json`` and ``run.json``.

Randomness: the epoch permutation, random-location negatives and dropout masks are drawn from
generators seeded by ``(seed, epoch[, rank])``, so resuming reproduces the uninterrupted run exactly.
"""

from __future__ import annotations

import copy
import csv
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from ..config import git_commit, merge_config, package_versions
from ..encoders.checkpoint import build_from_architecture, save_pretrained
from ..sphere import uniform_lonlat
from .data import PretrainData, build_pretrain_data, patches_to_float
from .distributed import gather_with_grad, init_distributed
from .image_encoder import PatchCNN
from .model import CSPModel
from .objectives import CSPObjective

__all__ = ["PRETRAIN_FULL", "PRETRAIN_QUICK", "PretrainResult", "build_model", "pretrain",
           "resolve_pretrain_config"]

PRETRAIN_QUICK: dict[str, Any] = {
    "seed": 0,
    "device": "auto",
    "data": {"flickr": 15000, "cities": 7500, "land": 7500, "patch_size": 8, "stride": 4, "val_fraction": 0.05,
             "cache_dir": None},
    "encoder": {"name": "sphere2vec_spherec_plus", "embed_dim": 64, "net": "ffn",
                "net_kwargs": {"hidden_dim": 256, "num_hidden_layers": 1, "dropout": 0.3},
                "pe_kwargs": {"frequency_num": 16, "min_radius": 0.005, "max_radius": 1.0}},
    "image": {"width": 16, "depth": 2},
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

PRETRAIN_PROFILES = {"quick": PRETRAIN_QUICK, "full": PRETRAIN_FULL}
_FREE_TABLES = {"net_kwargs", "pe_kwargs"}  # passed through to create_encoder, any keys


def resolve_pretrain_config(config: dict | None = None) -> dict[str, Any]:
    """Profile defaults (``config["profile"]``, default ``"quick"``) updated by the other keys."""
    config = dict(config or {})
    profile = config.pop("profile", "quick")
    if profile not in PRETRAIN_PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {sorted(PRETRAIN_PROFILES)}")
    config.pop("out_dir", None)
    cfg = merge_config(PRETRAIN_PROFILES[profile], config, _FREE_TABLES, what="pre-training config")
    cfg["profile"] = profile
    return cfg


def encoder_architecture(cfg: dict) -> dict[str, Any]:
    """The ``geosrl.create_encoder`` architecture dict of the configured location encoder."""
    e = cfg["encoder"]
    return {"builder": "geosrl.create_encoder", "name": e["name"], "embed_dim": int(e["embed_dim"]),
            "net": e.get("net"), "net_kwargs": dict(e.get("net_kwargs") or {}),
            "pe_kwargs": dict(e.get("pe_kwargs") or {})}


def build_model(cfg: dict) -> CSPModel:
    """Seeded :class:`CSPModel` from a resolved config (location encoder built without input validation)."""
    torch.manual_seed(int(cfg["seed"]))
    arch = encoder_architecture(cfg)
    arch["pe_kwargs"].setdefault("validate", False)  # inputs are validated once when the data are built
    loc = build_from_architecture(arch)
    d = int(cfg["encoder"]["embed_dim"])
    img = PatchCNN(in_channels=4, embed_dim=d, width=int(cfg["image"]["width"]), depth=int(cfg["image"]["depth"]))
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


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@torch.no_grad()
def _val_retrieval(model: CSPModel, ll: torch.Tensor, img: torch.Tensor, stats: dict, chunk: int = 512) -> float:
    """Top-1 of location → image retrieval within chunks of ``chunk`` validation pairs (chance = 1/chunk)."""
    if len(ll) == 0:
        return float("nan")
    model.eval()
    hits, n = 0, 0
    for s in range(0, len(ll), chunk):
        e = torch.nn.functional.normalize(model.location_encoder(ll[s:s + chunk]), dim=-1)
        f = model.image_encoder(patches_to_float(img[s:s + chunk], stats))
        if model.loc_head is not None:
            e = torch.nn.functional.normalize(model.loc_head(model.location_encoder(ll[s:s + chunk])), dim=-1)
        f = torch.nn.functional.normalize(f, dim=-1)
        pred = (e @ f.T).argmax(1)
        hits += int((pred == torch.arange(len(e), device=e.device)).sum())
        n += len(e)
    model.train()
    return hits / n


def _atomic_save(obj: Any, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)


def pretrain(config: dict | None = None, out_dir: str | Path | None = None, resume: bool = True,
             data: PretrainData | None = None, log: Callable[[str], None] | None = print,
             max_epochs: int | None = None) -> PretrainResult:
    """Pre-train a location encoder with a CSP objective against Blue Marble + elevation patches.

    Args:
        config: overrides of the profile (see module docstring); may hold ``profile`` and ``out_dir``.
        out_dir: output folder (default ``config["out_dir"]`` or ``runs/pretrain-<profile>``).
        resume: continue from ``out_dir/state.pt`` when present.
        data: pre-built pairs (tests); default :func:`~geosrl.pretrain.data.build_pretrain_data`.
        log: progress printer (rank 0 only); ``None`` = silent.
        max_epochs: stop after this many epochs in total without finishing (simulates an interruption).
    Returns:
        :class:`PretrainResult` (the encoder file is written on rank 0 when all epochs are done).
    """
    raw = dict(config or {})
    cfg = resolve_pretrain_config(raw)
    out = Path(out_dir or raw.get("out_dir") or f"runs/pretrain-{cfg['profile']}")
    info = init_distributed(None if cfg["device"] == "auto" else cfg["device"])
    dev = torch.device(info.device) if info.world_size > 1 else _device(cfg["device"])
    say = (log if (log is not None and info.is_main) else (lambda *_: None))
    seed = int(cfg["seed"])
    out.mkdir(parents=True, exist_ok=True)

    if data is None:
        dc = cfg["data"]
        counts = {k: int(dc[k]) for k in ("flickr", "cities", "land")}
        if info.world_size > 1 and not info.is_main:
            torch.distributed.barrier()  # rank 0 builds and caches the pairs first
        data = build_pretrain_data(counts, seed, int(dc["patch_size"]), int(dc["stride"]), dc["cache_dir"])
        if info.world_size > 1 and info.is_main:
            torch.distributed.barrier()
    stats = data.metadata["stats"]
    n = len(data)
    perm0 = np.random.default_rng([seed, 5]).permutation(n)
    n_val = int(round(float(cfg["data"]["val_fraction"]) * n))
    val_idx, tr_idx = np.sort(perm0[:n_val]), np.sort(perm0[n_val:])
    ll_all = torch.as_tensor(data.lonlat, dtype=torch.float32, device=dev)
    img_all = torch.as_tensor(data.patches, device=dev)
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
        st = torch.load(state_path, map_location=dev, weights_only=False)
        if st["config"] != cfg:
            raise ValueError(f"{state_path} was written with another config; use a new out_dir or resume=False")
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["optimizer"])
        sched.load_state_dict(st["scheduler"])
        history, start = st["history"], int(st["epoch"]) + 1
        say(f"resuming {out} after epoch {start}")
    ddp = model
    if info.world_size > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        ddp = DDP(model, device_ids=[dev.index] if dev.type == "cuda" else None)
    gather = gather_with_grad if info.world_size > 1 else None
    k_rand = int(cfg["objective"]["num_random"])
    if info.is_main:
        (out / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
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
            images = patches_to_float(img_tr[rows], stats)
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
               "val_top1_retrieval": _val_retrieval(model, ll_val, img_val, stats),
               "lr": sched.get_last_lr()[0], "seconds": secs,
               "pairs_per_second": steps_per_epoch * global_bs / secs, "world_size": info.world_size}
        history.append(row)
        say(f"epoch {epoch + 1}/{epochs} loss {row['loss']:.4f} val top-1 {row['val_top1_retrieval']:.3f} "
            f"negatives {row.get('effective_negatives', 0):.0f} tau_B {row.get('tau_B', float('nan')):.3f} "
            f"{row['pairs_per_second']:.0f} pairs/s")
        if info.is_main:
            _atomic_save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                          "scheduler": sched.state_dict(), "epoch": epoch, "history": history, "config": cfg},
                         state_path)
            _write_log(out / "log.csv", history)

    enc_path = None
    finished = len(history) >= epochs
    loc = model.location_encoder
    if finished and info.is_main:
        enc_path = save_pretrained(loc.cpu(), out / "location_encoder.safetensors",
                                   _card_meta(cfg, data, history, n_train=len(tr_idx), n_val=n_val))
        loc.to(dev)
        git = git_commit()
        (out / "run.json").write_text(json.dumps({
            "kind": "pretrain", "config": cfg, "seed": seed, "git_commit": git["commit"], "git_dirty": git["dirty"],
            "packages": package_versions(), "data": data.metadata, "history": history,
            "encoder_file": enc_path.name, "world_size": info.world_size,
        }, indent=2, default=str) + "\n")
    return PretrainResult(out, enc_path, history, cfg, loc)


def _write_log(path: Path, history: list[dict[str, float]]) -> None:
    keys: list[str] = []
    for r in history:
        keys += [k for k in r if k not in keys]
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        w.writerows(history)


def _card_meta(cfg: dict, data: PretrainData, history: list[dict], n_train: int, n_val: int) -> dict[str, Any]:
    m = data.metadata
    last = history[-1] if history else {}
    return {
        "architecture": encoder_architecture(cfg),
        "model_type": "CSP location encoder (Mai et al. 2023), pre-trained by geosrl.pretrain",
        "objective": cfg["objective"],
        "training_data": {"description": m.get("description"), "sources": m.get("sources"),
                          "patch_size": m.get("patch_size"), "stride": m.get("stride"),
                          "patch_degrees": m.get("patch_degrees"), "channels": m.get("channels"),
                          "n_train_pairs": n_train, "n_val_pairs": n_val, "packages": m.get("packages")},
        "spatial_extent": {"bbox": m.get("extent"), "coverage": "global; denser where Flickr photos and "
                                                                "cities are (Europe, North America)"},
        "training": {"epochs": cfg["optim"]["epochs"], "batch_size": cfg["optim"]["batch_size"],
                     "lr": cfg["optim"]["lr"], "seed": cfg["seed"], "profile": cfg["profile"],
                     "world_size": last.get("world_size", 1)},
        "licence": {"weights": "MIT (geosrl)", "data": m.get("licence")},
        "metrics": {"final_loss": last.get("loss"), "val_top1_retrieval_within_512": last.get("val_top1_retrieval")},
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
