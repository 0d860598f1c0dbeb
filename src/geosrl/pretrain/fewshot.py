"""CSP's few-shot protocol on the offline tasks (reference benchmark.md §7.2, adapted to geosrl's tasks).

1. **Pre-train** a location encoder on all unlabelled locations (:func:`geosrl.pretrain.train.pretrain`),
   or load one (``pretrained`` = a path or a :func:`geosrl.list_pretrained` name).
2. For every task (default ``country``, ``city_population``, ``elevation``, ``air_temperature``, loaded
   with :func:`geosrl.datasets.load_offline_task`), split once with
   :func:`geosrl.splits.make_split` (``split.seed``, 70/15/15), then draw for each labelled fraction
   r ∈ {5, 10, 20, 100} % and seed a **stratified** subset of the training split, stored in
   ``subsets/`` (classification: per class ``max(1, round(r·n_c))`` rows without replacement — CSP's
   ``stratified-fix``; regression: the same per decile of the target).
3. Train and score each method on that subset (same head, loss and schedule for all):

   * ``scratch`` — the pre-trained architecture, randomly initialised, trained end to end;
   * ``pretrained_finetune`` — the pre-trained encoder + a new head, trained end to end (CSP) with the
     head learning rate and the encoder's learning-rate multiplier chosen on validation
     (``encoder_lr_mult_grid`` {1, 0.1, 0}; 1 = plain fine-tuning, 0.1 = gentler updates that keep the pre-trained
     features, 0 = frozen encoder in eval mode + trainable head, i.e. the linear-probe stage of LP-FT
     trained with the fine-tuning loss and schedule);
   * ``pretrained_probe`` — the pre-trained encoder frozen, a linear head on its embeddings;
   * ``geoclip_probe`` — GeoCLIP's pre-trained location encoder (512-d, loaded offline from the wheel
     by :func:`geosrl.external.load_geoclip_location_encoder`) frozen + a linear head (the anchor).

   Heads and losses: classification — a linear head ``s_c = w_cᵀ Enc(x) + b_c`` and Mac Aodha's
   presence–absence loss (:func:`geosrl.losses.presence_absence_loss`, λ = C, one uniform random
   location per example, as the benchmark's geo-prior protocol); regression — a linear head on the
   standardised target with MSE (probes: closed-form ridge, λ chosen on validation). All
   hyper-parameters are chosen on the **full** validation split (as CSP), never on test: every
   trial is scored on validation only, the best (first on ties) is kept and only that model is
   evaluated on test. ``scratch`` searches ``finetune.scratch_lr_grid``; ``pretrained_finetune``
   searches ``finetune.lr_grid`` (head / base lr) × ``finetune.encoder_lr_mult_grid`` — each profile
   gives both methods the same number of trials (quick 18, full 9; scratch's lr grid covers the
   fine-tune head-lr grid's range and more), so neither method gets more tuning than the other. The chosen values
   and every trial's validation score are recorded per cell (``hparams`` in ``results.csv``).
4. Metrics on the test split: ``top1``/``top3``/``mrr`` (:mod:`geosrl.metrics`, ranks of σ(s_c)) and
   ``r2``/``mae``/``rmse``; mean ± std over seeds; relative gain over ``scratch`` =
   (m − m_scratch)/|m_scratch| on the primary metric (top1, r2).

Outputs (``out_dir``): ``cells/*.json`` (one per task × method × fraction × seed; finished cells are
skipped on rerun — resumable), ``subsets/*.npz``, ``results.csv`` (one row per cell),
``summary.csv`` + ``summary.md`` (mean ± std and gains), ``run.json`` (config, seeds, git commit,
package versions, command).
"""

from __future__ import annotations

import copy
import csv
import json
import math
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from .. import metrics as M
from ..sphere import uniform_lonlat
from ..losses import presence_absence_loss
from ..splits import make_split

__all__ = ["FEWSHOT_FULL", "FEWSHOT_QUICK", "METHODS", "resolve_fewshot_config", "run_fewshot",
           "stratified_subset", "summarize"]

METHODS = ("scratch", "pretrained_probe", "pretrained_finetune", "geoclip_probe")
PRIMARY = {"classification": "top1", "regression": "r2"}

FEWSHOT_QUICK: dict[str, Any] = {
    "seeds": [0, 1, 2],
    "tasks": ["country", "city_population", "elevation", "air_temperature"],
    "max_samples": 4000,
    "fractions": [0.05, 0.1, 0.2, 1.0],
    "methods": list(METHODS),
    "pretrained": None,  # None: pre-train with the [pretrain] table into out_dir/pretrain; or a path / name
    "pretrain": {},
    "split": {"kind": "random", "fractions": [0.7, 0.15, 0.15], "seed": 0},
    "strat_bins": 10,
    # pretrained_finetune: lr_grid (head lr) x encoder_lr_mult_grid trials; scratch: scratch_lr_grid trials
    # (same count, so both methods get the same tuning budget); all chosen on validation
    "finetune": {"epochs": 8, "min_steps": 60, "batch_size": 256, "lr_grid": [2e-4, 6e-4, 2e-3, 6e-3, 2e-2, 6e-2],
                 "encoder_lr_mult_grid": [1.0, 0.1, 0.0],
                 "scratch_lr_grid": [1e-4, 2e-4, 3e-4, 4e-4, 6e-4, 8e-4, 1e-3, 1.5e-3, 2e-3, 3e-3, 4e-3, 6e-3,
                                     8e-3, 1e-2, 2e-2, 3e-2, 6e-2, 1e-1],
                 "lr_decay": 0.98, "weight_decay": 0.0},
    "probe": {"steps": 100, "lr_grid": [1e-2], "ridge_grid": [1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0],
              "negatives_pool": 8192},
    "eval_batch_size": 8192,
    "device": "cpu",
    "cache_dir": None,
}

FEWSHOT_FULL: dict[str, Any] = copy.deepcopy(FEWSHOT_QUICK)
FEWSHOT_FULL.update({"seeds": [0, 1, 2, 3, 4], "max_samples": 20000})
FEWSHOT_FULL["finetune"].update({"epochs": 100, "min_steps": 500, "lr_grid": [3e-4, 1e-3, 3e-3],
                                 "encoder_lr_mult_grid": [1.0, 0.1, 0.0],
                                 "scratch_lr_grid": [1e-4, 2e-4, 3e-4, 6e-4, 1e-3, 2e-3, 3e-3, 6e-3, 1e-2]})
FEWSHOT_FULL["probe"].update({"steps": 500, "lr_grid": [3e-3, 1e-2, 3e-2]})
FEWSHOT_PROFILES = {"quick": FEWSHOT_QUICK, "full": FEWSHOT_FULL}


def resolve_fewshot_config(config: dict | None = None) -> dict[str, Any]:
    """Profile defaults (``config["profile"]``, default quick) updated by the other keys (unknown keys raise)."""
    config = dict(config or {})
    profile = config.pop("profile", "quick")
    if profile not in FEWSHOT_PROFILES:
        raise ValueError(f"unknown profile {profile!r}; choose one of {sorted(FEWSHOT_PROFILES)}")
    config.pop("out_dir", None)
    cfg = copy.deepcopy(FEWSHOT_PROFILES[profile])
    for k, v in config.items():
        if k not in cfg:
            raise ValueError(f"unknown few-shot config key {k!r}; known: {sorted(cfg)}")
        if isinstance(cfg[k], dict) and isinstance(v, dict) and k != "pretrain":
            unknown = set(v) - set(cfg[k])
            if unknown:
                raise ValueError(f"unknown few-shot config keys {sorted(unknown)} in [{k}]")
            cfg[k].update(copy.deepcopy(v))
        else:
            cfg[k] = copy.deepcopy(v)
    bad = set(cfg["methods"]) - set(METHODS)
    if bad:
        raise ValueError(f"unknown methods {sorted(bad)}; choose from {METHODS}")
    if isinstance(cfg["seeds"], int):
        cfg["seeds"] = list(range(cfg["seeds"]))
    cfg["profile"] = profile
    return cfg


# ---------------------------------------------------------------------------------------------------
# subsets
# ---------------------------------------------------------------------------------------------------
def stratified_subset(y: np.ndarray, fraction: float, rng: np.random.Generator, kind: str,
                      bins: int = 10) -> np.ndarray:
    """Positions of a stratified ``fraction`` of ``y`` (sorted int64).

    Classification: per class ``max(1, round(fraction·n_c))`` without replacement (CSP ``stratified-fix``).
    Regression: the same per quantile bin of ``y`` (``bins`` bins). ``fraction >= 1`` returns everything.
    """
    n = len(y)
    if fraction >= 1.0:
        return np.arange(n, dtype=np.int64)
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    if kind == "classification":
        strata = np.asarray(y, dtype=np.int64)
    else:
        edges = np.quantile(y, np.linspace(0, 1, bins + 1)[1:-1])
        strata = np.searchsorted(edges, y, side="right")
    out = []
    for s in np.unique(strata):
        members = np.flatnonzero(strata == s)
        k = max(1, int(round(fraction * len(members))))
        out.append(rng.choice(members, size=min(k, len(members)), replace=False))
    return np.sort(np.concatenate(out)).astype(np.int64)


# ---------------------------------------------------------------------------------------------------
# training
# ---------------------------------------------------------------------------------------------------
class _Head(nn.Module):
    def __init__(self, encoder: nn.Module | None, dim: int, out: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = nn.Linear(dim, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x) if self.encoder is not None else x)


def _train_end_to_end(encoder: nn.Module, dim: int, kind: str, ll: torch.Tensor, y: torch.Tensor, n_out: int,
                      lr: float, fc: dict, seed: int, encoder_lr_mult: float = 1.0) -> _Head:
    """Train encoder + linear head on ``(n, 2)`` locations.

    The head learns at ``lr``, the encoder at ``lr · encoder_lr_mult`` (Adam parameter groups, same
    exponential decay). ``encoder_lr_mult == 0`` freezes the encoder (``requires_grad=False``, eval mode,
    so no dropout) and trains the head only.
    """
    torch.manual_seed(seed)
    model = _Head(encoder, dim, n_out).to(ll.device)
    mult = float(encoder_lr_mult)
    if mult < 0:
        raise ValueError(f"encoder_lr_mult must be >= 0, got {mult}")
    frozen = mult == 0.0
    groups = [{"params": list(model.head.parameters()), "lr": lr}]
    if frozen:
        model.encoder.requires_grad_(False)
    else:
        groups.insert(0, {"params": list(model.encoder.parameters()), "lr": lr * mult})
    opt = torch.optim.Adam(groups, lr=lr, weight_decay=float(fc["weight_decay"]))
    n, bs = len(ll), int(fc["batch_size"])
    steps_per_epoch = max(1, math.ceil(n / bs))
    epochs = max(int(fc["epochs"]), math.ceil(int(fc["min_steps"]) / steps_per_epoch))
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=float(fc["lr_decay"]))
    g = torch.Generator().manual_seed(seed)
    model.train()
    if frozen:
        model.encoder.eval()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=g).to(ll.device)
        for s in range(0, n, bs):
            b = perm[s:s + bs]
            if kind == "classification":
                rand = uniform_lonlat(len(b), generator=g).to(ll.device, ll.dtype)
                logits = model(torch.cat([ll[b], rand]))
                loss = presence_absence_loss(logits[:len(b)], y[b], logits[len(b):])
            else:
                loss = torch.mean((model(ll[b])[:, 0] - y[b]) ** 2)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sched.step()
    return model.eval()


def _train_probe_cls(f_tr: torch.Tensor, y: torch.Tensor, f_rand: torch.Tensor, n_out: int, lr: float,
                     pc: dict, seed: int) -> _Head:
    """Linear head on frozen (standardised) features with the presence-absence loss, full batch."""
    torch.manual_seed(seed)
    model = _Head(None, f_tr.shape[1], n_out)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    g = torch.Generator().manual_seed(seed)
    for _ in range(int(pc["steps"])):
        neg = f_rand[torch.randint(len(f_rand), (len(f_tr),), generator=g)]
        logits = model(torch.cat([f_tr, neg]))
        loss = presence_absence_loss(logits[:len(f_tr)], y, logits[len(f_tr):])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model.eval()


def _ridge(f_tr: np.ndarray, y: np.ndarray, lam: float) -> tuple[np.ndarray, float]:
    """Closed-form ridge on centred features: ``w = (XᵀX + λ·n·I)⁻¹ Xᵀ(y − ȳ)``, intercept ȳ."""
    x = f_tr.astype(np.float64)
    n, d = x.shape
    a = x.T @ x + lam * max(n, 1) * np.eye(d)
    w = np.linalg.solve(a, x.T @ (y - y.mean()))
    return w, float(y.mean())


@torch.no_grad()
def _embed(enc: nn.Module, ll: np.ndarray, batch: int = 8192) -> torch.Tensor:
    enc.eval()
    t = torch.as_tensor(ll, dtype=torch.float32)
    return torch.cat([enc(t[s:s + batch]).float() for s in range(0, len(t), batch)]) if len(t) else torch.zeros(0)


def _cls_metrics(scores: torch.Tensor, y: np.ndarray) -> dict[str, float]:
    return M.classification_metrics(M.label_ranks(torch.sigmoid(scores), y))


# ---------------------------------------------------------------------------------------------------
# runner
# ---------------------------------------------------------------------------------------------------
def _cell_id(task: str, method: str, fraction: float, seed: int) -> str:
    return f"{task}__{method}__f{fraction:g}__s{seed}"


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, default=_json_default) + "\n")
    tmp.replace(path)


def _json_default(o: Any) -> Any:
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(type(o).__name__)


def _get_pretrained(cfg: dict, out: Path, resume: bool, log) -> tuple[nn.Module, dict]:
    from ..encoders.checkpoint import load_pretrained

    if cfg["pretrained"]:
        enc = load_pretrained(cfg["pretrained"])
        return enc, {"source": str(cfg["pretrained"]), "card": enc.card}
    from .train import pretrain

    pcfg = dict(cfg["pretrain"])
    pcfg.setdefault("seed", 0)
    if cfg["cache_dir"] is not None:
        pcfg.setdefault("data", {}).setdefault("cache_dir", cfg["cache_dir"])
    res = pretrain(pcfg, out_dir=out / "pretrain", resume=resume, log=log)
    enc = load_pretrained(res.encoder_path)
    return enc, {"source": str(res.encoder_path), "card": enc.card}


def run_fewshot(config: dict | None = None, out_dir: str | Path | None = None, resume: bool = True,
                log: Callable[[str], None] | None = print) -> dict[str, Any]:
    """Run the few-shot grid (see module docstring) and write its result files.

    Args:
        config: overrides of the profile (keys of :data:`FEWSHOT_QUICK`; ``profile``, ``out_dir``).
        out_dir: output folder (default ``config["out_dir"]`` or ``runs/fewshot-<profile>``).
        resume: skip cells whose JSON exists (and resume pre-training).
        log: progress printer or None.
    Returns:
        ``{"records": [...], "summary": [...], "summary_path": Path, "out_dir": Path}``.
    """
    from ..datasets import load_offline_task

    raw = dict(config or {})
    cfg = resolve_fewshot_config(raw)
    out = Path(out_dir or raw.get("out_dir") or f"runs/fewshot-{cfg['profile']}")
    (out / "cells").mkdir(parents=True, exist_ok=True)
    (out / "subsets").mkdir(exist_ok=True)
    say = log or (lambda *_: None)
    dev = torch.device("cuda" if cfg["device"] == "auto" and torch.cuda.is_available() else
                       ("cpu" if cfg["device"] == "auto" else cfg["device"]))
    t_start = time.perf_counter()
    methods = list(cfg["methods"])
    pre_enc, pre_info = (None, {})
    if any(m.startswith("pretrained") or m == "scratch" for m in methods):
        pre_enc, pre_info = _get_pretrained(cfg, out, resume, log)
    arch = pre_enc.card["architecture"] if pre_enc is not None else None
    geo = None
    if "geoclip_probe" in methods:
        from ..encoders.external import load_geoclip_location_encoder

        geo = load_geoclip_location_encoder(validate=False)
    fc, pc = cfg["finetune"], cfg["probe"]
    records: list[dict[str, Any]] = []
    for task in cfg["tasks"]:
        data = load_offline_task(task, cache_dir=cfg["cache_dir"], max_samples=cfg["max_samples"], seed=0)
        kind = data.kind
        sp = cfg["split"]
        idx = make_split(data.lonlat, sp["kind"], int(sp["seed"]), fractions=tuple(sp["fractions"]))
        lonlat = data.lonlat
        y_all = np.asarray(data.target)
        n_out = int(data.num_classes) if kind == "classification" else 1
        feats: dict[str, dict[str, torch.Tensor]] = {}
        rand_pool = uniform_lonlat(int(pc["negatives_pool"]), generator=torch.Generator().manual_seed(123))
        for name, enc in (("pretrained_probe", pre_enc), ("geoclip_probe", geo)):
            if name in methods and enc is not None:
                t0 = time.perf_counter()
                feats[name] = {"all": _embed(enc, lonlat), "rand": _embed(enc, rand_pool.numpy())}
                feats[name]["seconds"] = time.perf_counter() - t0
        for seed in cfg["seeds"]:
            for frac in cfg["fractions"]:
                sub_path = out / "subsets" / f"{task}__f{frac:g}__s{seed}.npz"
                if resume and sub_path.is_file():
                    sub = np.load(sub_path)["train"]
                else:
                    rng = np.random.default_rng([int(seed), int(round(frac * 1000)), 77])
                    pos = stratified_subset(y_all[idx["train"]], float(frac), rng, kind, int(cfg["strat_bins"]))
                    sub = idx["train"][pos]
                    np.savez(sub_path, train=sub, val=idx["val"], test=idx["test"])
                for method in methods:
                    cid = _cell_id(task, method, frac, seed)
                    cpath = out / "cells" / f"{cid}.json"
                    if resume and cpath.is_file():
                        rec = json.loads(cpath.read_text())
                        if _same_trials(rec, method, fc):
                            records.append(rec)
                            continue
                        say(f"{cid}: written with another fine-tuning grid; recomputing")
                    t0 = time.perf_counter()
                    test_m, val_m, hp = _run_cell(method, kind, lonlat, y_all, sub, idx, n_out, arch, pre_enc,
                                                  feats.get(method), fc, pc, int(seed), dev)
                    rec = {"task": task, "kind": kind, "method": method, "fraction": float(frac), "seed": int(seed),
                           "n_labels": int(len(sub)), "n_val": int(len(idx["val"])), "n_test": int(len(idx["test"])),
                           "primary_metric": PRIMARY[kind], **test_m, **{f"val_{k}": v for k, v in val_m.items()},
                           "hparams": hp, "seconds": time.perf_counter() - t0}
                    _write_json(cpath, rec)
                    records.append(rec)
                    say(f"{task:16s} {method:20s} {frac:5.0%} seed {seed}: {PRIMARY[kind]} "
                        f"{rec[PRIMARY[kind]]:.4f} ({rec['seconds']:.1f}s)")
    summary = summarize(records)
    paths = _write_outputs(out, cfg, records, summary, pre_info, time.perf_counter() - t_start)
    return {"records": records, "summary": summary, "summary_path": paths["summary_md"], "out_dir": out}


def _finetune_trials(method: str, fc: dict) -> list[dict[str, float]]:
    """The hyper-parameter trials of an end-to-end method (in grid order; ties keep the first)."""
    if method == "scratch":
        return [{"lr": float(lr)} for lr in fc["scratch_lr_grid"]]
    return [{"lr": float(lr), "encoder_lr_mult": float(m)} for lr in fc["lr_grid"]
            for m in fc["encoder_lr_mult_grid"]]


def _same_trials(rec: dict, method: str, fc: dict) -> bool:
    """Whether a stored cell of an end-to-end method was tuned over the current grid (other methods: True)."""
    if method not in ("scratch", "pretrained_finetune"):
        return True
    tried = [{k: v for k, v in t.items() if not k.startswith("val_")} for t in rec.get("hparams", {}).get("trials", [])]
    return tried == _finetune_trials(method, fc)


def _run_cell(method: str, kind: str, lonlat: np.ndarray, y_all: np.ndarray, sub: np.ndarray, idx: dict,
              n_out: int, arch: dict | None, pre_enc: nn.Module | None, feats: dict | None, fc: dict, pc: dict,
              seed: int, dev: torch.device) -> tuple[dict, dict, dict]:
    """Train ``method`` on ``sub``; select its hyper-parameters on ``idx["val"]`` only.

    Every trial is scored on validation; the test split is touched once, by the selected model
    (so test labels cannot influence the choice). Returns ``(test_metrics, val_metrics, hparams)``;
    ``hparams`` holds the chosen values, ``n_trials`` and each trial's validation primary metric.
    """
    from ..encoders.checkpoint import build_from_architecture

    val, test = idx["val"], idx["test"]
    primary = PRIMARY[kind]
    mu, sd = 0.0, 1.0
    if kind == "regression":
        mu, sd = float(y_all[sub].mean()), float(y_all[sub].std()) or 1.0
    if method in ("scratch", "pretrained_finetune"):
        ll = torch.as_tensor(lonlat, dtype=torch.float32, device=dev)
        y_t = (torch.as_tensor(y_all, device=dev).long() if kind == "classification" else
               torch.as_tensor((y_all - mu) / sd, dtype=torch.float32, device=dev))
        sub_t = torch.as_tensor(sub, device=dev)
        best, tried = None, []
        for trial in _finetune_trials(method, fc):
            if method == "scratch":
                torch.manual_seed(seed)
                enc = build_from_architecture(dict(arch, pe_kwargs=dict(arch["pe_kwargs"], validate=False)))
            else:
                enc = copy.deepcopy(pre_enc)
            enc.train()
            model = _train_end_to_end(enc.to(dev), int(arch["embed_dim"]), kind, ll[sub_t], y_t[sub_t], n_out,
                                      trial["lr"], fc, seed, trial.get("encoder_lr_mult", 1.0))
            with torch.no_grad():
                out_v = model(ll[torch.as_tensor(val, device=dev)]).cpu()
            vm = _score_one(kind, out_v, y_all[val], mu, sd)
            tried.append({**trial, f"val_{primary}": float(vm[primary])})
            if best is None or vm[primary] > best[0]:
                best = (vm[primary], model, vm, trial)
        _, model, vm, trial = best
        with torch.no_grad():
            tm = _score_one(kind, model(ll[torch.as_tensor(test, device=dev)]).cpu(), y_all[test], mu, sd)
        return tm, vm, {**trial, "n_trials": len(tried), "trials": tried}
    # frozen probes on standardised features
    f_all = feats["all"]
    f_mu, f_sd = f_all[sub].mean(0), f_all[sub].std(0) + 1e-6
    z = (f_all - f_mu) / f_sd
    if kind == "regression":
        zn = z.double().numpy()
        yt = (y_all[sub] - mu) / sd
        best = None
        for lam in pc["ridge_grid"]:
            w, b = _ridge(zn[sub], yt, float(lam))
            vm = _score_one(kind, torch.as_tensor(zn[val] @ w + b)[:, None], y_all[val], mu, sd)
            if best is None or vm["r2"] > best[0]:
                best = (vm["r2"], (w, b), vm, {"ridge_lambda": float(lam)})
        _, (w, b), vm, hp = best
        tm = _score_one(kind, torch.as_tensor(zn[test] @ w + b)[:, None], y_all[test], mu, sd)
        return tm, vm, hp
    z_rand = (feats["rand"] - f_mu) / f_sd
    y_t = torch.as_tensor(y_all[sub]).long()
    best = None
    for lr in pc["lr_grid"]:
        model = _train_probe_cls(z[sub], y_t, z_rand, n_out, float(lr), pc, seed)
        with torch.no_grad():
            vm = _score_one(kind, model(z[val]), y_all[val], 0.0, 1.0)
        if best is None or vm["top1"] > best[0]:
            best = (vm["top1"], model, vm, {"lr": float(lr)})
    _, model, vm, hp = best
    with torch.no_grad():
        tm = _score_one(kind, model(z[test]), y_all[test], 0.0, 1.0)
    return tm, vm, hp


def _score_one(kind: str, out: torch.Tensor, y: np.ndarray, mu: float, sd: float) -> dict:
    """Metrics of one split's outputs (classification: ranks of σ(s); regression: de-standardised)."""
    if kind == "classification":
        return _cls_metrics(out.float(), y)
    return M.regression_metrics(y, out[:, 0].double().numpy() * sd + mu)


# ---------------------------------------------------------------------------------------------------
# reporting
# ---------------------------------------------------------------------------------------------------
def summarize(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean ± std (sample std, ddof=1) over seeds of the primary metric per (task, method, fraction),
    and the relative gain over ``scratch`` (of the seed means): ``(m − m_scratch)/|m_scratch|``."""
    groups: dict[tuple, list[float]] = {}
    meta: dict[tuple, dict] = {}
    for r in records:
        key = (r["task"], r["method"], r["fraction"])
        groups.setdefault(key, []).append(float(r[r["primary_metric"]]))
        meta[key] = {"kind": r["kind"], "metric": r["primary_metric"], "n_labels": r["n_labels"]}
    rows = []
    for (task, method, frac), vals in groups.items():
        v = np.asarray(vals)
        rows.append({"task": task, "method": method, "fraction": frac, **meta[(task, method, frac)],
                     "mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else float("nan"),
                     "n_seeds": int(len(v))})
    base = {(r["task"], r["fraction"]): r["mean"] for r in rows if r["method"] == "scratch"}
    for r in rows:
        b = base.get((r["task"], r["fraction"]))
        r["rel_gain_vs_scratch"] = (r["mean"] - b) / abs(b) if b not in (None, 0.0) else float("nan")
    order = {m: i for i, m in enumerate(METHODS)}
    rows.sort(key=lambda r: (r["task"], r["fraction"], order.get(r["method"], 99)))
    return rows


def _fmt_trial(hp: dict) -> str:
    if "encoder_lr_mult" in hp:
        return f"{hp['lr']:g}/×{hp['encoder_lr_mult']:g}"
    return f"{hp['lr']:g}" if "lr" in hp else "?"


def _render_chosen(cfg: dict, records: list[dict], tasks: list[str], fracs: list[float]) -> list[str]:
    """Markdown section: hyper-parameters chosen on validation per task × end-to-end method × fraction."""
    fc = cfg["finetune"]
    rows = [r for r in records if r["method"] in ("scratch", "pretrained_finetune") and r.get("hparams")]
    if not rows:
        return []
    n_ft = len(fc["lr_grid"]) * len(fc["encoder_lr_mult_grid"])
    lines = ["## Fine-tuning hyper-parameters chosen on validation", "",
             f"`scratch`: lr ∈ {list(map(float, fc['scratch_lr_grid']))} ({len(fc['scratch_lr_grid'])} trials); "
             f"`pretrained_finetune`: head lr ∈ {list(map(float, fc['lr_grid']))} × encoder-lr multiplier ∈ "
             f"{list(map(float, fc['encoder_lr_mult_grid']))} ({n_ft} trials; ×0 = frozen encoder + trained "
             "head). Chosen on the validation split's primary metric, never on test; cells list the choice per "
             "seed in seed order (`lr` or `head lr/×encoder multiplier`). Every trial's validation score is in "
             "`results.csv` (`hparams`).", "",
             "| task | method | " + " | ".join(f"{f:.0%}" for f in fracs) + " |", "|---|---|" + "---|" * len(fracs)]
    by: dict[tuple, list] = {}
    for r in sorted(rows, key=lambda r: r["seed"]):
        by.setdefault((r["task"], r["method"], r["fraction"]), []).append(_fmt_trial(r["hparams"]))
    for t in tasks:
        for m in ("scratch", "pretrained_finetune"):
            if any((t, m, f) in by for f in fracs):
                lines.append(f"| {t} | {m} | " + " | ".join(", ".join(by.get((t, m, f), ["—"])) for f in fracs)
                             + " |")
    return lines + [""]


def _render_md(cfg: dict, summary: list[dict], run: dict, records: list[dict] | None = None) -> str:
    fracs = sorted({r["fraction"] for r in summary})
    tasks = list(dict.fromkeys(r["task"] for r in summary))
    methods = [m for m in METHODS if any(r["method"] == m for r in summary)]
    by = {(r["task"], r["method"], r["fraction"]): r for r in summary}
    lines = ["# CSP few-shot results", "",
             f"Profile `{cfg['profile']}`; seeds {cfg['seeds']}; tasks {tasks}; labelled fractions "
             f"{[f'{f:.0%}' for f in fracs]} of the training split (stratified, stored in `subsets/`).",
             f"git commit `{run['git_commit']}`{' (dirty)' if run.get('git_dirty') else ''}; command: "
             f"`{run['command']}`; pre-trained encoder: `{run['pretrained'].get('source')}`.", "",
             "Mean ± std over seeds of the primary metric on the test split (top-1 for classification, "
             "R² for regression); in brackets the relative gain over `scratch`.", ""]
    for task in tasks:
        metric = next(r["metric"] for r in summary if r["task"] == task)
        lines += [f"## {task} ({metric})", "", "| method | " + " | ".join(f"{f:.0%}" for f in fracs) + " |",
                  "|---|" + "---|" * len(fracs)]
        for m in methods:
            cells = []
            for f in fracs:
                r = by.get((task, m, f))
                if r is None:
                    cells.append("—")
                    continue
                s = f"{r['mean']:.3f} ± {r['std']:.3f}"
                if m != "scratch" and np.isfinite(r["rel_gain_vs_scratch"]):
                    s += f" ({r['rel_gain_vs_scratch']:+.1%})"
                cells.append(s)
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
        n_lab = {f: by[(task, methods[0], f)]["n_labels"] for f in fracs if (task, methods[0], f) in by}
        lines += ["", "Labels used: " + ", ".join(f"{f:.0%} → {n}" for f, n in n_lab.items()), ""]
    lines += _render_chosen(cfg, records or [], tasks, fracs)
    lo = min(fracs)
    checks = []
    for m in ("pretrained_finetune", "pretrained_probe"):
        gains = [(t, by[(t, m, lo)]["rel_gain_vs_scratch"]) for t in tasks if (t, m, lo) in by]
        if gains:
            checks.append(f"`{m}`: " + ", ".join(f"{t} {g:+.1%}" for t, g in gains)
                          + f" — {sum(g >= 0.10 for _, g in gains)} of {len(gains)} tasks ≥ +10 %")
    if checks:
        lines += [f"## Target check at {lo:.0%} labels (≥ +10 % relative over scratch on ≥ 3 tasks)", ""]
        lines += [f"- {c}" for c in checks]
        lines += ["", "Relative gains of R² are unstable where the scratch R² is near or below 0 "
                  "(read the absolute values too).", ""]
    return "\n".join(lines)


def _write_outputs(out: Path, cfg: dict, records: list[dict], summary: list[dict], pre_info: dict,
                   seconds: float) -> dict[str, Path]:
    from ..config import git_commit, package_versions

    cols = ["task", "kind", "method", "fraction", "seed", "n_labels", "n_val", "n_test", "primary_metric",
            "top1", "top3", "mrr", "r2", "mae", "rmse", "val_top1", "val_r2", "seconds"]
    with open(out / "results.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=cols + ["hparams"], extrasaction="ignore")
        w.writeheader()
        for r in records:
            w.writerow({**r, "hparams": json.dumps(r.get("hparams", {}))})
    scols = ["task", "kind", "metric", "method", "fraction", "n_labels", "mean", "std", "n_seeds",
             "rel_gain_vs_scratch"]
    with open(out / "summary.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=scols, extrasaction="ignore")
        w.writeheader()
        w.writerows(summary)
    git = git_commit()
    card = pre_info.get("card", {})
    run = {"kind": "fewshot", "config": cfg, "seeds": cfg["seeds"], "git_commit": git["commit"],
           "git_dirty": git["dirty"], "packages": package_versions(),
           "command": " ".join(["geosrl", *sys.argv[1:]]) if sys.argv and sys.argv[0].endswith("geosrl")
           else " ".join(sys.argv),
           "pretrained": {"source": pre_info.get("source"), "architecture": card.get("architecture"),
                          "tensors_sha256": card.get("tensors_sha256"), "training_data": card.get("training_data")},
           "seconds": seconds, "n_cells": len(records),
           "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    _write_json(out / "run.json", run)
    md = out / "summary.md"
    md.write_text(_render_md(cfg, summary, run, records))
    return {"summary_md": md}
