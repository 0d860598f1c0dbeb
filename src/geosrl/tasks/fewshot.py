"""CSP's few-shot protocol (reference benchmark.md §7.2), a protocol of the benchmark like the others.

A cell is (task, method, split, seed, label fraction), run by ``geosrl bench`` with a few-shot profile
(``--profile fewshot_quick`` / ``fewshot_full``): the bench loads the task, pre-trains a location
encoder first when the profile asks for it (:func:`geosrl.bench.suites.prepare_fewshot`), stores each
cell like any other and writes the reports with the same writer.

1. The task is split by :func:`geosrl.tasks.common.resolve_split` (``random`` or ``spatial``, seeded
   by the cell's seed, 70/15/15); a **stratified** ``fraction`` of the training split is drawn
   (classification: per class ``max(1, round(r·n_c))`` rows without replacement — CSP's
   ``stratified-fix``; regression: the same per decile of the target).
2. Each method is trained on that subset (same head, loss and schedule for all):

   * ``scratch`` — the pre-trained architecture, randomly initialised, trained end to end;
   * ``pretrained_finetune`` — the pre-trained encoder + a new head, trained end to end (CSP) with the
     head learning rate and the encoder's learning-rate multiplier chosen on validation
     (``encoder_lr_mult_grid`` {1, 0.1, 0}; 1 = plain fine-tuning, 0.1 = gentler updates that keep the
     pre-trained features, 0 = frozen encoder in eval mode + trainable head, i.e. the linear-probe stage
     of LP-FT trained with the fine-tuning loss and schedule);
   * ``pretrained_probe`` — the pre-trained encoder frozen, a linear head on its embeddings;
   * ``pretrained_knn`` — k nearest neighbours of the frozen pre-trained embeddings (cosine similarity of
     the standardised embeddings; mean of the neighbours' targets, or their class votes), k chosen on
     validation from ``probe.knn_k_grid``;
   * ``geoclip_probe`` — GeoCLIP's pre-trained location encoder (512-d, loaded offline from the wheel
     by :func:`geosrl.encoders.load_geoclip_location_encoder`) frozen + a linear head (the anchor).

   Heads and losses: classification — a linear head ``s_c = w_cᵀ Enc(x) + b_c`` and Mac Aodha's
   presence–absence loss (:func:`geosrl.losses.presence_absence_loss`, λ = C, one uniform random
   location per example, as the geo-prior protocol); regression — a linear head on the standardised
   target with MSE (probes: closed-form ridge, λ chosen on validation). Every hyper-parameter is chosen
   on the **full** validation split (as CSP), never on test. ``scratch`` searches
   ``finetune.scratch_lr_grid``; ``pretrained_finetune`` searches ``finetune.lr_grid`` (head lr) ×
   ``finetune.encoder_lr_mult_grid`` — each profile gives both methods the same number of trials
   (9 in both profiles), so neither gets more tuning than the other, and the head-lr grid reaches the top of
   the scratch grid, so a new head is not held to smaller steps than scratch's.
3. Metrics on the test split: ``top1``/``top3``/``mrr`` (ranks of σ(s_c)) or ``r2``/``mae``/``rmse``.
   The report shows the relative gain over ``scratch`` (``[bench] reference``);
   :func:`relative_gain_interval` gives it with a 95 % interval over (pre-training seed, split seed) pairs.

No target context. Each task declares the raw source and quantity of its target (:data:`TASK_TARGETS`); a
checkpoint's card declares its pre-training contexts (source and quantities of each, written by
:mod:`geosrl.pretrain`). A cell whose task target shares a source or a quantity with a context is a leak:
with ``target_context = "refuse"`` (default) it raises a :class:`ConfigError` naming the fix (pre-train
without that context); with ``"label"`` it runs and its record carries ``target_context`` (the offending
contexts), to be shown as "with target context". ``geosrl bench`` checks every task before any work
(:func:`check_target_contexts`).
"""

from __future__ import annotations

import copy
import hashlib
import math
import time
from functools import lru_cache
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import metrics as M
from ..config import ConfigError, check_config, choice, integer, list_of, merge_config, number, text
from ..datasets.sources import SOURCE_QUANTITIES
from ..encoders import embed_locations, load_geoclip_location_encoder, load_pretrained
from ..encoders.checkpoint import build_from_architecture
from ..losses import presence_absence_loss
from ..sphere import uniform_lonlat
from .common import QUICK, SPLIT_SCHEMA, TaskResult, resolve_split, split_record
from .training import adam, positive_negative_logits, train_epochs

__all__ = ["FEWSHOT_FULL", "FEWSHOT_QUICK", "METHODS", "TASK_TARGETS", "card_contexts", "check_target_contexts",
           "relative_gain_interval", "resolve_fewshot_config", "run_fewshot_cell", "stratified_subset",
           "target_context_conflicts"]

METHODS = ("scratch", "pretrained_probe", "pretrained_finetune", "pretrained_knn", "geoclip_probe")

#: each offline task's target: the raw source it is read from and the quantity it measures. A pre-training
#: context with the same source or quantity would hand the encoder the answer (see the module docstring).
TASK_TARGETS: dict[str, dict[str, str]] = {
    "land_ocean": {"source": "global_land_mask", "quantity": "land_water"},
    "country": {"source": "natural_earth_countries", "quantity": "country"},
    "city_population": {"source": "geonames_cities", "quantity": "population"},
    "elevation": {"source": "pvlib_altitude", "quantity": "elevation"},
    "air_temperature": {"source": "met_office_preindustrial_air_temperature", "quantity": "air_temperature"},
    "country_from_imagery": {"source": "natural_earth_countries", "quantity": "country"},
    "sdm_presence_only": {"source": "elapid_ariolimax_presences", "quantity": "species_presence"},
}
PRIMARY = {"classification": "top1", "regression": "r2"}

FEWSHOT_QUICK: dict[str, Any] = {
    # a geosrl.load_pretrained path or shipped name; geosrl bench fills it in when it pre-trains
    "pretrained": None,
    # SHA-256 of the checkpoint's tensors (its card's tensors_sha256), checked on load when set
    "pretrained_sha256": None,
    "split": copy.deepcopy(QUICK["split"]),
    "strat_bins": 10,
    # pretrained_finetune: lr_grid (head lr) x encoder_lr_mult_grid trials; scratch: scratch_lr_grid trials
    # (same count, so both methods get the same tuning budget); all chosen on validation. The head-lr grid reaches
    # past the top of the scratch grid: with [2e-3, 6e-3, 2e-2] the fine-tune chose its top head lr on validation
    # in 21 of 60 cells (scratch its top lr in 1 of 60) — its new head was under-trained in the shared step budget
    "finetune": {"epochs": 8, "min_steps": 60, "batch_size": 256, "lr_grid": [6e-3, 2e-2, 6e-2],
                 "encoder_lr_mult_grid": [1.0, 0.1, 0.0],
                 "scratch_lr_grid": [1e-4, 3e-4, 6e-4, 1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2, 3e-2],
                 "lr_decay": 0.98, "weight_decay": 0.0},
    "probe": {"steps": 100, "lr_grid": [1e-2], "ridge_grid": [1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0],
              "negatives_pool": 8192, "knn_k_grid": [1, 3, 5, 10, 20, 50]},
    "eval_batch_size": 8192,
    # a task whose target source or quantity is a pre-training context: "refuse" (ConfigError) or "label"
    "target_context": "refuse",
}

FEWSHOT_FULL: dict[str, Any] = copy.deepcopy(FEWSHOT_QUICK)
FEWSHOT_FULL["finetune"].update({"epochs": 100, "min_steps": 500, "lr_grid": [1e-3, 3e-3, 1e-2],
                                 "encoder_lr_mult_grid": [1.0, 0.1, 0.0],
                                 "scratch_lr_grid": [1e-4, 2e-4, 3e-4, 6e-4, 1e-3, 2e-3, 3e-3, 6e-3, 1e-2]})
FEWSHOT_FULL["probe"].update({"steps": 500, "lr_grid": [3e-3, 1e-2, 3e-2]})
FEWSHOT_PROFILES = {"quick": FEWSHOT_QUICK, "full": FEWSHOT_FULL}

_POSITIVE = integer(min=1)
FEWSHOT_SCHEMA = {
    "pretrained": text(optional=True), "pretrained_sha256": text(optional=True), "split": SPLIT_SCHEMA,
    "strat_bins": _POSITIVE, "eval_batch_size": _POSITIVE,
    "finetune": {"epochs": _POSITIVE, "min_steps": integer(min=0), "batch_size": _POSITIVE,
                 "lr_grid": list_of(number(gt=0)), "encoder_lr_mult_grid": list_of(number(ge=0)),
                 "scratch_lr_grid": list_of(number(gt=0)), "lr_decay": number(gt=0, le=1),
                 "weight_decay": number(ge=0)},
    "probe": {"steps": _POSITIVE, "lr_grid": list_of(number(gt=0)), "ridge_grid": list_of(number(gt=0)),
              "negatives_pool": _POSITIVE, "knn_k_grid": list_of(_POSITIVE)},
    "target_context": choice("refuse", "label"),
}


def resolve_fewshot_config(config: dict | None = None) -> dict[str, Any]:
    """Profile defaults (``config["profile"]``, default quick) updated by the other keys (unknown keys raise)."""
    config = dict(config or {})
    profile = config.pop("profile", "quick")
    if profile not in FEWSHOT_PROFILES:
        raise ConfigError(f"unknown few-shot profile {profile!r}; choose one of {sorted(FEWSHOT_PROFILES)}")
    cfg = merge_config(FEWSHOT_PROFILES[profile], config, what="few-shot config")
    cfg = check_config(cfg, FEWSHOT_SCHEMA, what="few-shot config")
    cfg["profile"] = profile
    return cfg


# ---------------------------------------------------------------------------------------------------
# target context (leak) checks
# ---------------------------------------------------------------------------------------------------
#: contexts of checkpoints written before contexts were declared, recognised by their channel names
_LEGACY_CHANNELS = {
    "bmng_red": ("bmng_rgb", "nasa_blue_marble"),
    "bmng_green": ("bmng_rgb", "nasa_blue_marble"),
    "bmng_blue": ("bmng_rgb", "nasa_blue_marble"),
    "pvlib_altitude_code": ("altitude", "pvlib_altitude"),
}


def card_contexts(card: dict) -> list[dict]:
    """The pre-training contexts a checkpoint card declares: ``[{"name", "source", "quantities"}, …]``.

    Cards of :mod:`geosrl.pretrain` list them under ``training_data.contexts``; older cards are read from
    their channel names. A card without training data (an encoder not pre-trained on contexts) has none.
    Each context's quantities are those its card recorded plus what its source shows today
    (:data:`geosrl.datasets.sources.SOURCE_QUANTITIES`, so a stricter declaration applies to older checkpoints).

    Raises:
        ConfigError: the card lists channels whose source is not declared.
    """
    td = card.get("training_data") or {}
    if td.get("contexts") is not None:
        return [{"name": c["name"], "source": c["source"],
                 "quantities": sorted(set(c["quantities"]) | set(SOURCE_QUANTITIES.get(c["source"], ())))}
                for c in td["contexts"]]
    out: dict[str, dict] = {}
    for ch in td.get("channels") or []:
        if ch not in _LEGACY_CHANNELS:
            raise ConfigError(f"the pre-trained encoder's card lists channel {ch!r} without a declared source; "
                              "re-run geosrl pretrain, whose card declares each context's source")
        name, source = _LEGACY_CHANNELS[ch]
        out[name] = {"name": name, "source": source, "quantities": sorted(SOURCE_QUANTITIES[source])}
    return list(out.values())


def target_context_conflicts(task: str, contexts: list[dict]) -> list[str]:
    """Names of the ``contexts`` that share the source or the quantity of ``task``'s target.

    Raises:
        ConfigError: contexts are declared but ``task`` has no declared target (so no check is possible).
    """
    if not contexts:
        return []
    if task not in TASK_TARGETS:
        raise ConfigError(f"few-shot task {task!r} declares no target source, so its pre-training contexts "
                          f"cannot be checked for leaks; add it to geosrl.tasks.fewshot.TASK_TARGETS")
    target = TASK_TARGETS[task]
    return [c["name"] for c in contexts
            if c["source"] == target["source"] or target["quantity"] in c["quantities"]]


def check_target_contexts(tasks, card: dict, policy: str = "refuse") -> dict[str, list[str]]:
    """``{task: conflicting context names}`` for each task (see :func:`target_context_conflicts`).

    Raises:
        ConfigError: ``policy == "refuse"`` and a task's target is among the contexts; the message names
            the tasks, the contexts and both fixes.
    """
    contexts = card_contexts(card)
    found = {t: target_context_conflicts(t, contexts) for t in tasks}
    bad = {t: c for t, c in found.items() if c}
    if bad and policy == "refuse":
        detail = "; ".join(f"{t} (target {TASK_TARGETS[t]['source']}/{TASK_TARGETS[t]['quantity']}) is in "
                           f"context(s) {c}" for t, c in bad.items())
        raise ConfigError(f"target context: {detail}. Pre-train without these contexts ([pretrain] data.contexts, "
                          "e.g. leave one out per task) or drop the task; [protocol] target_context = \"label\" "
                          "runs it labelled \"with target context\" (not transfer)")
    return found


# ---------------------------------------------------------------------------------------------------
# statistics
# ---------------------------------------------------------------------------------------------------
def relative_gain_interval(method: dict, reference: dict, direction: int = 1,
                           level: float = 0.95) -> dict[str, float]:
    """Relative gain of ``method`` over ``reference``, paired over the keys they share, with a t interval.

    ``method`` and ``reference`` map a key (e.g. ``(pretrain_seed, split_seed)``) to a score. With the paired
    differences ``d = direction·(m − r)``: gain ``mean(d)/|mean(r)|``, interval
    ``(mean(d) ± t_{(1+level)/2, n−1}·sd(d)/√n)/|mean(r)|`` (``nan`` bounds for one pair).

    Returns:
        ``{"gain", "low", "high", "n", "diff", "reference"}`` (``diff`` = mean(d), ``reference`` = mean(r)).
    """
    from scipy import stats as st

    keys = sorted(set(method) & set(reference))
    if not keys:
        raise ValueError("no key is shared by the method and the reference scores")
    d = direction * (np.array([method[k] for k in keys], float) - np.array([reference[k] for k in keys], float))
    ref = float(np.mean([reference[k] for k in keys]))
    scale = abs(ref) if ref != 0 else float("nan")
    n = len(d)
    half = float(st.t.ppf((1 + level) / 2, n - 1) * d.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan")
    return {"gain": float(d.mean()) / scale, "low": (float(d.mean()) - half) / scale,
            "high": (float(d.mean()) + half) / scale, "n": n, "diff": float(d.mean()), "reference": ref}


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
    n, bs = len(ll), int(fc["batch_size"])
    steps_per_epoch = max(1, math.ceil(n / bs))
    epochs = max(int(fc["epochs"]), math.ceil(int(fc["min_steps"]) / steps_per_epoch))
    g = torch.Generator().manual_seed(seed)

    def epoch_order() -> torch.Tensor:
        return torch.randperm(n, generator=g).to(ll.device)

    def batch_loss(b: torch.Tensor) -> torch.Tensor:
        if kind == "classification":
            rand = uniform_lonlat(len(b), generator=g).to(ll.device, ll.dtype)
            pos, neg = positive_negative_logits(model, ll[b], rand)
            return presence_absence_loss(pos, y[b], neg)
        return torch.mean((model(ll[b])[:, 0] - y[b]) ** 2)

    return train_epochs(model, adam(groups, lr, fc["weight_decay"]), epochs, bs, epoch_order, batch_loss,
                        float(fc["lr_decay"]), frozen=[model.encoder] if frozen else [])


def _train_probe_cls(f_tr: torch.Tensor, y: torch.Tensor, f_rand: torch.Tensor, n_out: int, lr: float,
                     pc: dict, seed: int) -> _Head:
    """Linear head on frozen (standardised) features with the presence-absence loss, full batch."""
    torch.manual_seed(seed)
    model = _Head(None, f_tr.shape[1], n_out)
    g = torch.Generator().manual_seed(seed)
    every_row = torch.arange(len(f_tr))

    def batch_loss(b: torch.Tensor) -> torch.Tensor:
        neg = f_rand[torch.randint(len(f_rand), (len(b),), generator=g)]
        pos, neg_logits = positive_negative_logits(model, f_tr[b], neg)
        return presence_absence_loss(pos, y[b], neg_logits)

    # full batch: one step per "epoch", constant learning rate
    return train_epochs(model, adam(model.parameters(), lr), int(pc["steps"]), len(f_tr), lambda: every_row,
                        batch_loss)


def _ridge(f_tr: np.ndarray, y: np.ndarray, lam: float) -> tuple[np.ndarray, float]:
    """Closed-form ridge on centred features: ``w = (XᵀX + λ·n·I)⁻¹ Xᵀ(y − ȳ)``, intercept ȳ."""
    x = f_tr.astype(np.float64)
    n, d = x.shape
    a = x.T @ x + lam * max(n, 1) * np.eye(d)
    w = np.linalg.solve(a, x.T @ (y - y.mean()))
    return w, float(y.mean())


def _embed(enc: nn.Module, ll: np.ndarray, batch: int = 8192) -> torch.Tensor:
    """float32 embeddings ``(N, D)`` of float64 ``(N, 2)`` coordinates, encoder in eval mode."""
    enc.eval()
    return embed_locations(enc, torch.as_tensor(ll, dtype=torch.float64), batch).float()


_FROZEN: dict[tuple[str, str], torch.Tensor] = {}


def _frozen_embed(key: str, enc: nn.Module, ll: np.ndarray) -> torch.Tensor:
    """:func:`_embed` of a frozen, never-trained encoder (``key`` names it), kept for the last 8 point sets.

    The cells of one task share its points (only splits and subsets change), and a frozen encoder in eval
    mode gives the same embeddings every time, so they are computed once per process.
    """
    arr = np.ascontiguousarray(ll, dtype=np.float64)
    k = (key, hashlib.sha1(arr.tobytes()).hexdigest())
    if k not in _FROZEN:
        if len(_FROZEN) >= 8:
            _FROZEN.pop(next(iter(_FROZEN)))
        _FROZEN[k] = _embed(enc, arr)
    return _FROZEN[k]


def _cls_metrics(scores: torch.Tensor, y: np.ndarray) -> dict[str, float]:
    return M.classification_metrics(M.label_ranks(torch.sigmoid(scores), y))


def _finetune_trials(method: str, fc: dict) -> list[dict[str, float]]:
    """The hyper-parameter trials of an end-to-end method (in grid order; ties keep the first)."""
    if method == "scratch":
        return [{"lr": float(lr)} for lr in fc["scratch_lr_grid"]]
    return [{"lr": float(lr), "encoder_lr_mult": float(m)} for lr in fc["lr_grid"]
            for m in fc["encoder_lr_mult_grid"]]


def _run_cell(method: str, kind: str, lonlat: np.ndarray, y_all: np.ndarray, sub: np.ndarray, idx: dict,
              n_out: int, arch: dict | None, pre_enc: nn.Module | None, feats: dict | None, fc: dict, pc: dict,
              seed: int, dev: torch.device) -> tuple[dict, dict, dict, np.ndarray]:
    """Train ``method`` on ``sub``; select its hyper-parameters on ``idx["val"]`` only.

    Every trial is scored on validation; the test split is touched once, by the selected model
    (so test labels cannot influence the choice). Returns ``(test_metrics, val_metrics, hparams,
    test_predictions)``; ``hparams`` holds the chosen values, ``n_trials`` and each trial's validation
    primary metric; ``test_predictions`` ``(N_test,)`` are predicted classes or de-standardised values.
    """
    val, test = idx["val"], idx["test"]
    primary = PRIMARY[kind]
    mu, sd = 0.0, 1.0
    if kind == "regression":
        mu, sd = float(y_all[sub].mean()), float(y_all[sub].std()) or 1.0
    if method in ("scratch", "pretrained_finetune"):
        ll = torch.as_tensor(lonlat, dtype=torch.float64, device=dev)
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
            out_t = model(ll[torch.as_tensor(test, device=dev)]).cpu()
        tm = _score_one(kind, out_t, y_all[test], mu, sd)
        return tm, vm, {**trial, "n_trials": len(tried), "trials": tried}, _predictions(kind, out_t, mu, sd)
    # frozen probes on standardised features
    f_all = feats["all"]
    f_mu, f_sd = f_all[sub].mean(0), f_all[sub].std(0) + 1e-6
    z = (f_all - f_mu) / f_sd
    if method == "pretrained_knn":
        return _run_knn(kind, z, y_all, sub, idx, n_out, pc, mu, sd)
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
        out_t = torch.as_tensor(zn[test] @ w + b)[:, None]
        return _score_one(kind, out_t, y_all[test], mu, sd), vm, hp, _predictions(kind, out_t, mu, sd)
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
        out_t = model(z[test])
    return _score_one(kind, out_t, y_all[test], 0.0, 1.0), vm, hp, _predictions(kind, out_t, 0.0, 1.0)


def _knn_scores(z_tr: torch.Tensor, y_tr: torch.Tensor, z_q: torch.Tensor, k: int, kind: str, n_out: int,
                chunk: int = 4096) -> torch.Tensor:
    """kNN outputs of queries ``z_q`` ``(Q, D)`` from ``(z_tr (N, D), y_tr (N,))`` by cosine similarity.

    Regression: ``(Q, 1)`` mean of the ``k`` neighbours' targets; classification: ``(Q, n_out)`` vote shares
    plus 1e-3 × the training class shares (ties broken towards frequent classes).
    """
    a = torch.nn.functional.normalize(z_tr, dim=1)
    k = min(int(k), len(a))
    prior = None
    if kind == "classification":
        prior = torch.bincount(y_tr, minlength=n_out).float() / len(y_tr)
    out = []
    for s in range(0, len(z_q), chunk):
        top = (torch.nn.functional.normalize(z_q[s:s + chunk], dim=1) @ a.T).topk(k, dim=1).indices
        if kind == "classification":
            votes = torch.nn.functional.one_hot(y_tr[top], n_out).float().mean(1)
            out.append(votes + 1e-3 * prior)
        else:
            out.append(y_tr[top].mean(1, keepdim=True))
    return torch.cat(out)


def _run_knn(kind: str, z: torch.Tensor, y_all: np.ndarray, sub: np.ndarray, idx: dict, n_out: int, pc: dict,
             mu: float, sd: float) -> tuple[dict, dict, dict, np.ndarray]:
    """kNN on standardised frozen embeddings ``z`` ``(N, D)``; k chosen on validation."""
    y_sub = (torch.as_tensor(y_all[sub]).long() if kind == "classification"
             else torch.as_tensor((y_all[sub] - mu) / sd, dtype=torch.float32))
    primary, best = PRIMARY[kind], None
    for k in pc["knn_k_grid"]:
        vm = _score_one(kind, _knn_scores(z[sub], y_sub, z[idx["val"]], k, kind, n_out), y_all[idx["val"]], mu, sd)
        if best is None or vm[primary] > best[0]:
            best = (vm[primary], int(k), vm)
    _, k, vm = best
    out_t = _knn_scores(z[sub], y_sub, z[idx["test"]], k, kind, n_out)
    return _score_one(kind, out_t, y_all[idx["test"]], mu, sd), vm, {"knn_k": k}, _predictions(kind, out_t, mu, sd)


def _score_one(kind: str, out: torch.Tensor, y: np.ndarray, mu: float, sd: float) -> dict:
    """Metrics of one split's outputs (classification: ranks of σ(s); regression: de-standardised)."""
    if kind == "classification":
        return _cls_metrics(out.float(), y)
    return M.regression_metrics(y, out[:, 0].double().numpy() * sd + mu)


def _predictions(kind: str, out: torch.Tensor, mu: float, sd: float) -> np.ndarray:
    """Predicted class ids (classification) or de-standardised values (regression), ``(N,)``."""
    if kind == "classification":
        return out.argmax(1).cpu().numpy()
    return out[:, 0].double().cpu().numpy() * sd + mu


@lru_cache(maxsize=2)
def _pretrained_encoder(source: str, sha256: str | None) -> nn.Module:
    """The pre-trained encoder at ``source`` (a path or shipped name), loaded once per process."""
    enc = load_pretrained(source)
    if sha256 and enc.card.get("tensors_sha256") != sha256:
        raise ConfigError(f"pre-trained encoder {source!r} has tensors_sha256 {enc.card.get('tensors_sha256')}, "
                          f"not the {sha256} this run was started with; use a new --out")
    return enc


@lru_cache(maxsize=1)
def _geoclip_encoder() -> nn.Module:
    return load_geoclip_location_encoder(validate=False)


def run_fewshot_cell(data, method: str, split, seed: int, config: dict | None = None,
                     device: str | torch.device = "cpu", fraction: float = 1.0) -> TaskResult:
    """Train and evaluate one few-shot cell (see the module docstring).

    Args:
        data: a classification or regression :class:`~geosrl.datasets.base.TaskData`.
        method: one of :data:`METHODS`.
        split: ``"random"`` / ``"spatial"`` (seeded by ``seed``) or a dict of index arrays.
        seed: seeds the split, the labelled subset, initialisation and sampling.
        config: overrides of the few-shot profile (``profile``, ``pretrained``, ``finetune``, ``probe``, …).
        device: torch device.
        fraction: labelled share of the training split, in (0, 1].
    Returns:
        :class:`TaskResult` with test metrics, the validation metrics of the chosen trial, test predictions
        and ``chosen_hparams`` (``tuned``: the values chosen on validation).
    """
    cfg = resolve_fewshot_config(config)
    if method not in METHODS:
        raise ConfigError(f"unknown few-shot method {method!r}; choose from {list(METHODS)}")
    kind = getattr(data, "kind", None)
    if kind not in PRIMARY:
        raise ConfigError(f"the few-shot protocol runs classification and regression tasks, not {kind!r} "
                          f"({getattr(data, 'name', '?')})")
    dev = torch.device(device)
    split_name, idx = resolve_split(data, split, seed, cfg)
    lonlat, y_all = np.asarray(data.lonlat, dtype=np.float64), np.asarray(data.target)
    rng = np.random.default_rng([int(seed), int(round(float(fraction) * 1000)), 77])
    sub = idx["train"][stratified_subset(y_all[idx["train"]], float(fraction), rng, kind, int(cfg["strat_bins"]))]
    n_out = int(data.num_classes) if kind == "classification" else 1
    pre_enc = arch = feats = None
    if method != "geoclip_probe":
        if not cfg["pretrained"]:
            raise ConfigError("the few-shot protocol needs a pre-trained encoder: set [protocol] pretrained to a "
                              "checkpoint (or a shipped name), or let geosrl bench pre-train it with [pretrain]")
        pre_enc = _pretrained_encoder(str(cfg["pretrained"]), cfg["pretrained_sha256"])
        arch = pre_enc.card["architecture"]
    name = str(getattr(data, "name", "?"))
    found = check_target_contexts([name], pre_enc.card, cfg["target_context"]) if pre_enc is not None else {}
    start = time.perf_counter()
    if method.endswith("_probe") or method == "pretrained_knn":
        enc = _geoclip_encoder() if method == "geoclip_probe" else pre_enc
        rand_pool = uniform_lonlat(int(cfg["probe"]["negatives_pool"]), generator=torch.Generator().manual_seed(123),
                                   dtype=torch.float64)
        key = "geoclip" if method == "geoclip_probe" else f"{cfg['pretrained']}:{pre_enc.card.get('tensors_sha256')}"
        feats = {"all": _frozen_embed(key, enc, lonlat), "rand": _frozen_embed(key, enc, rand_pool.numpy())}
    tm, vm, hp, pred = _run_cell(method, kind, lonlat, y_all, sub, idx, n_out, arch, pre_enc, feats, cfg["finetune"],
                                 cfg["probe"], int(seed), dev)
    test = idx["test"]
    tuned = {k: v for k, v in hp.items() if k in ("lr", "encoder_lr_mult", "ridge_lambda", "knn_k")}
    hparams = {"protocol": "fewshot", "method": method, "fraction": float(fraction), "n_labels": int(len(sub)),
               "n_val": int(len(idx["val"])), "n_test": int(len(test)), "split": split_name,
               "pretrained": None if pre_enc is None else {"source": str(cfg["pretrained"]),
                                                           "tensors_sha256": pre_enc.card.get("tensors_sha256")},
               "tuned": tuned, "n_trials": hp.get("n_trials", 1), **split_record(data, idx),
               # contexts holding this task's target ("with target context" when not empty; refused by default)
               "target_context": found.get(name, []),
               "pretraining_contexts": None if pre_enc is None else [c["name"] for c in card_contexts(pre_enc.card)]}
    preds = {"lon": lonlat[test, 0], "lat": lonlat[test, 1], "y_true": y_all[test], "y_pred": pred}
    return TaskResult(metrics=tm, val_metrics=vm, predictions=preds, chosen_hparams=hparams,
                      train_seconds=time.perf_counter() - start, info={"val_trials": hp.get("trials", [])})
