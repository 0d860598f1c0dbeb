"""Shared machinery of the protocols: configuration, results, encoders, splits.

Configuration
-------------
``run_task(..., config)`` takes a plain dict. ``config["profile"]`` (``"quick"`` default, or ``"full"``)
selects the defaults below; every other key overrides one default (nested dicts merge key by key).
Unknown keys raise ``ValueError`` so a typo cannot silently change nothing.

=====================  =====================  =====================  ==========================================
key                    quick                  full                   meaning
=====================  =====================  =====================  ==========================================
epochs                 6                      30                     passes of the sampler (no early stopping;
                                                                     the last epoch is evaluated, as §4.3)
batch_size             1024                   1024                   positives per step (+ as many negatives)
lr_grid                [1e-3, 1e-2]           [3e-4, 1e-3, 3e-3,     Adam learning rates tried; the best on the
                                              1e-2]                  **validation** split is kept
lr_decay               0.98                   0.98                   ExponentialLR γ per epoch
weight_decay           0.0                    0.0                    Adam weight decay
fused_adam             False                  False                  PyTorch's fused Adam kernel (the same
                                                                     update up to float rounding; faster on
                                                                     large parameter tables, e.g. tile)
fast_dropout           False                  False                  dropout masks from random bits
                                                                     (encoders.nets.BitDropout: ≈ 4× faster
                                                                     on CPU, p rounded to 2⁻¹⁵; another random
                                                                     stream, so other numbers per seed)
embed_dim              64                     256                    location embedding width
encoder_kwargs         {}                     {}                     extra ``create_encoder`` kwargs
                                                                     (``net``, ``net_kwargs``, PE kwargs)
max_train_samples      4000                   None                   seeded subsample of the training split
max_per_class          100                    100                    balanced sampler cap per class and epoch
                                                                     (None = off, e.g. YFCC)
pos_weight             None                   None                   λ of the classification loss (None = C)
po_pos_weight          None                   None                   λ of SINR's an_full (presence-only);
                                                                     None = number of species S (= 1 here,
                                                                     as λ = C in the geo-prior protocol);
                                                                     SINR's 2048 is for S ≈ 47k outputs
po_batch_size          256                    256                    presences per step (presence-only)
po_min_steps           40                     40                     presence-only epochs are raised to make
                                                                     at least this many Adam steps per trial
po_negatives_grid      ["uniform",            ["uniform",            presence-only pseudo-negatives tried on
                       "background"]          "background"]          val: uniform on the sphere (SINR) or
                                                                     training background rows
regress_dim            64                     64                     E = embed_dim_before_regress (§5)
head_hidden            [128]                  [256, 256]             regression head widths on concat[e_I, e_x]
image_hidden           [128]                  [256]                  image-feature MLP widths (→ E)
dropout                0.0                    0.1                    dropout in the regression MLPs
image_cnn              {epochs 4, lr 2e-3,    {epochs 20, lr 1e-3,   small CNN giving P(y|I) for image
                       width 16, batch 256}   width 32, batch 256}   patches; epoch chosen on val
image_clf              {epochs 30, lr 1e-2}   {epochs 100, lr 1e-2}  softmax probe on image features when
                                                                     they are not already probabilities
eval_batch_size        4096                   4096                   rows per evaluation forward/rank chunk
ssi                    {radius_km "auto",     same but               geo-bias settings (metrics.geo_bias_ssi).
                       min_neighbours 4,      max_centres 10000      radius "auto": the median test point has
                       isolated "exclude",                           ≥ min_neighbours others within it (a fixed
                       k 4, null "two_sided",                        100 km leaves 54–89 % of the offline test
                       max_centres 1000,                             points isolated, each scoring one
                       legacy_cap False}                             constant); isolated centres are left out
                                                                     and counted (ssi_isolated_frac); the
                                                                     ranked score is ssi_local_marks.
                                                                     "two_sided" = PyGBS HEAD; "pdf"
                                                                     (TorchSpatial) is degenerate (σ = 0 → NaN)
                                                                     at a centre with a single neighbour
worst_region           {nside None (auto),    same                   equal-area cells of worst_region_<metric>
                       min_count 30}
morans_k               8                      8                      k of Moran's I of residuals
split                  {fractions             same                   used when ``split`` is a kind name;
                       [0.7, 0.15, 0.15],                            block side block_km, or None = from the
                       block_km None,                                data's density: the coarsest HEALPix
                       block_points 20,                              blocks in which a typical point shares
                                                                     its block with ≤ block_points points
                                                                     (``splits.density_nside``; ≈ 30 test
                                                                     blocks at n = 4000);
                                                                     stratify None = auto (presence-only:
                                                                     blocks stratified by presence/background
                       stratify None,                                and refined until each class spans
                       min_blocks_per_class                          ≥ min_blocks_per_class blocks and
                       10, max_block_share                           none holds > max_block_share of a
                       0.2, buffer_km                                class, see ``split_blocks``); training
                       None}                                         rows within buffer_km of a test row are
                                                                     excluded (None = a quarter of the block
                                                                     side for spatial splits, 0 for random)
geo_bias               True                   True                   compute ssi_* / worst_region / Moran's I
knn_k_grid             [1, 3, 5, 10, 20, 50]  same                   k of the ``knn`` baseline, chosen on val
classification_loss    "auto"                 "auto"                 geoprior | softmax | auto (softmax for
                                                                     binary tasks, geo-prior otherwise)
softmax_alongside      True                   True                   multi-class tasks without images also
                                                                     report a softmax model (``*_softmax``)
fusion_weight_grid     [0, 0.25, 0.5, 1]      same                   w of the fused P(c|I)^w·P(c|x), chosen
                                                                     on val with the learning rate
tune                   {trials 0, lr          same                   hyper-parameter search on validation
                       [1e-4, 0.3], lr_start                         (``tasks.search``): ``trials`` > 0 runs
                       3e-3, weight_decay                            a seeded Optuna TPE study of that many
                       [1e-7, 1e-2],                                 trials over lr, weight decay and (with
                       encoder_scales True,                          encoder_scales) the encoder's scale;
                       edge_fraction 0.05,                           0 = the lr_grid (published protocol).
                       pruner "none",                                edge_fraction: share of a (log) range
                       prune_startup 5,                              counted as its edge in ``hparams.csv``;
                       prune_warmup 10}                              pruner "median" (needs patience) stops a
                                                                     trial after prune_warmup epochs when its
                                                                     best val score is below the median of
                                                                     the finished trials' at that epoch,
                                                                     once prune_startup trials finished
patience               None                   None                   epochs without a validation gain before
                                                                     training stops, the best epoch kept
                                                                     (None = fixed epochs, last evaluated)
=====================  =====================  =====================  ==========================================

Cost of a quick cell is dominated by (#trials × epochs × steps) encoder forward/backward passes:
classification steps are few (the balanced sampler caps each class at 100 per epoch); regression and
presence-only run ``max_train_samples/batch_size`` steps per epoch; ``country_from_imagery`` adds one
SmallCNN fit per (task, split, seed) and process (cached across encoders); the geo-bias score costs
one k-NN query of ≈ 6n points per scored centre (``ssi.max_centres``).
"""

from __future__ import annotations

import copy
import hashlib
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from ..config import (ConfigError, boolean, check_config, choice, either, integer, list_of, mapping, merge_config,
                      number)
from ..splits import (density_nside, healpix_cell_side_km, make_split, nside_for_block_km, split_distances,
                      stratified_nside)

__all__ = [
    "FULL",
    "PROFILES",
    "QUICK",
    "TaskResult",
    "build_encoder",
    "resolve_config",
    "resolve_split",
]

QUICK: dict[str, Any] = {
    "epochs": 6,
    "batch_size": 1024,
    "lr_grid": [1e-3, 1e-2],
    "lr_decay": 0.98,
    "weight_decay": 0.0,
    "fused_adam": False,
    "fast_dropout": False,
    "embed_dim": 64,
    "encoder_kwargs": {},
    "max_train_samples": 4000,
    "max_per_class": 100,
    "pos_weight": None,
    "po_pos_weight": None,
    "po_negatives_grid": ["uniform", "background"],
    "po_batch_size": 256,
    "po_min_steps": 40,
    "regress_dim": 64,
    "head_hidden": [128],
    "image_hidden": [128],
    "dropout": 0.0,
    "image_cnn": {"epochs": 4, "lr": 2e-3, "width": 16, "batch_size": 256},
    "image_clf": {"epochs": 30, "lr": 1e-2},
    "eval_batch_size": 4096,
    "ssi": {"radius_km": "auto", "min_neighbours": 4, "isolated": "exclude", "k": 4, "null": "two_sided",
            "max_centres": 1000, "legacy_cap": False},
    "worst_region": {"nside": None, "min_count": 30},
    "morans_k": 8,
    "split": {"fractions": [0.7, 0.15, 0.15], "block_km": None, "block_points": 20, "stratify": None,
              "min_blocks_per_class": 10, "max_block_share": 0.2, "buffer_km": None},
    "geo_bias": True,
    "knn_k_grid": [1, 3, 5, 10, 20, 50],
    "classification_loss": "auto",
    "softmax_alongside": True,
    "fusion_weight_grid": [0.0, 0.25, 0.5, 1.0],
    "tune": {"trials": 0, "lr": [1e-4, 0.3], "lr_start": 3e-3, "weight_decay": [1e-7, 1e-2], "encoder_scales": True,
             "edge_fraction": 0.05, "pruner": "none", "prune_startup": 5, "prune_warmup": 10},
    "patience": None,
}

FULL: dict[str, Any] = copy.deepcopy(QUICK)
FULL.update({
    "epochs": 30,
    "lr_grid": [3e-4, 1e-3, 3e-3, 1e-2],
    "embed_dim": 256,
    "max_train_samples": None,
    "po_negatives_grid": ["uniform", "background"],
    "head_hidden": [256, 256],
    "image_hidden": [256],
    "dropout": 0.1,
    "image_cnn": {"epochs": 20, "lr": 1e-3, "width": 32, "batch_size": 256},
    "image_clf": {"epochs": 100, "lr": 1e-2},
})
FULL["ssi"] = dict(QUICK["ssi"], max_centres=10000)

PROFILES = {"quick": QUICK, "full": FULL}

#: allowed values of every protocol key (checked after the profile merge: a typo, a wrong type or an
#: out-of-range value is a ConfigError naming the key, never a traceback or an untrained model's score)
_POSITIVE = integer(min=1)
SPLIT_SCHEMA = {
    "fractions": list_of(number(gt=0, lt=1), length=3), "block_km": number(gt=0, optional=True),
    "block_points": _POSITIVE,
    "stratify": boolean(optional=True), "min_blocks_per_class": _POSITIVE, "max_block_share": number(gt=0, le=1),
    "buffer_km": number(ge=0, optional=True),
}
SCHEMA = {
    "epochs": _POSITIVE, "batch_size": _POSITIVE, "lr_grid": list_of(number(gt=0)), "lr_decay": number(gt=0, le=1),
    "weight_decay": number(ge=0), "fused_adam": boolean(), "fast_dropout": boolean(), "embed_dim": _POSITIVE, "encoder_kwargs": mapping(),
    "max_train_samples": integer(min=1, optional=True), "max_per_class": integer(min=1, optional=True),
    "pos_weight": number(gt=0, optional=True), "po_pos_weight": number(gt=0, optional=True),
    "po_negatives_grid": list_of(choice("uniform", "background")), "po_batch_size": integer(min=1, optional=True),
    "po_min_steps": integer(min=0), "regress_dim": _POSITIVE, "head_hidden": list_of(_POSITIVE, min_len=0),
    "image_hidden": list_of(_POSITIVE, min_len=0), "dropout": number(ge=0, lt=1),
    "image_cnn": {"epochs": _POSITIVE, "lr": number(gt=0), "width": _POSITIVE, "batch_size": _POSITIVE},
    "image_clf": {"epochs": _POSITIVE, "lr": number(gt=0)},
    "eval_batch_size": _POSITIVE,
    "ssi": {"radius_km": either(choice("auto"), number(gt=0)), "min_neighbours": _POSITIVE,
            "isolated": choice("exclude", "score"), "k": _POSITIVE, "null": choice("two_sided", "pdf"),
            "max_centres": _POSITIVE, "legacy_cap": boolean()},
    "worst_region": {"nside": integer(min=1, optional=True), "min_count": _POSITIVE},
    "morans_k": _POSITIVE, "split": SPLIT_SCHEMA, "geo_bias": boolean(), "knn_k_grid": list_of(_POSITIVE),
    "classification_loss": choice("auto", "geoprior", "softmax"), "softmax_alongside": boolean(),
    "fusion_weight_grid": list_of(number(ge=0)),
    "tune": {"trials": integer(min=0), "lr": list_of(number(gt=0), length=2), "lr_start": number(gt=0),
             "weight_decay": list_of(number(gt=0), length=2), "encoder_scales": boolean(),
             "edge_fraction": number(ge=0, lt=0.5), "pruner": choice("none", "median"), "prune_startup": integer(min=1),
             "prune_warmup": integer(min=0)},
    "patience": integer(min=1, optional=True),
}


def resolve_config(config: dict | None) -> dict[str, Any]:
    """Profile defaults (``config["profile"]``, default ``"quick"``) updated by the other keys."""
    config = dict(config or {})
    profile = config.pop("profile", "quick")
    if profile not in PROFILES:
        raise ConfigError(f"unknown protocol profile {profile!r}; choose one of {sorted(PROFILES)}")
    cfg = merge_config(PROFILES[profile], config, free_tables={"encoder_kwargs"}, what="protocol config")
    cfg = check_config(cfg, SCHEMA, what="protocol config")
    if abs(sum(cfg["split"]["fractions"]) - 1.0) > 1e-9:
        raise ConfigError(f"protocol config key 'split.fractions' must sum to 1, got {cfg['split']['fractions']}")
    for key in ("lr", "weight_decay"):
        low, high = cfg["tune"][key]
        if not low < high:
            raise ConfigError(f"protocol config key 'tune.{key}' must be [low, high] with low < high, got [{low}, {high}]")
    if not cfg["tune"]["lr"][0] <= cfg["tune"]["lr_start"] <= cfg["tune"]["lr"][1]:
        raise ConfigError(f"protocol config key 'tune.lr_start' must lie in tune.lr {cfg['tune']['lr']}, "
                          f"got {cfg['tune']['lr_start']}")
    if cfg["tune"]["pruner"] != "none" and (cfg["patience"] is None or cfg["tune"]["trials"] == 0):
        raise ConfigError("protocol config key 'tune.pruner' stops trials on their per-epoch validation score: it "
                          "needs 'patience' (early stopping) and 'tune.trials' > 0, or set tune.pruner = \"none\"")
    cfg["profile"] = profile
    return cfg


@dataclass
class TaskResult:
    """Outcome of one ``run_task`` cell.

    Attributes:
        metrics: test-split metrics (names in ``docs/bench_contracts.md``).
        val_metrics: validation metrics of the chosen hyper-parameters.
        predictions: per-test-sample columns, each ``(N_test,)``: ``lon, lat, y_true, y_pred`` + extras.
        chosen_hparams: the hyper-parameters picked on validation, and the fixed ones that matter.
        train_seconds: wall time of all training (every trial), seconds.
        surface: the chosen location-only model as a function ``(n, 2)`` (lon, lat) degrees → ``(n,)``
            predictions (presence probability, regression value), for prediction maps; ``None`` where the
            protocol has no single location-only surface (classification, image-only). Not stored in cells.
    """

    metrics: dict[str, float]
    val_metrics: dict[str, float]
    predictions: dict[str, np.ndarray]
    chosen_hparams: dict
    train_seconds: float
    info: dict = field(default_factory=dict)
    surface: Callable[[np.ndarray], np.ndarray] | None = None


def resolve_split(data, split, seed: int, cfg: dict) -> tuple[str, dict[str, np.ndarray]]:
    """``split`` as a kind name (``"random"``/``"spatial"``, built with ``make_split``) or a ready dict."""
    if isinstance(split, str):
        sc = cfg["split"]
        nside, strata = split_blocks(data, cfg) if split == "spatial" else (None, None)
        buffer = buffer_km(cfg, nside)
        idx = make_split(data.lonlat, split, seed, fractions=tuple(sc["fractions"]), nside=nside, strata=strata,
                         buffer_km=buffer)
        name = split
    elif isinstance(split, dict):
        idx = {k: np.asarray(split[k], dtype=np.int64) for k in ("train", "val", "test")}
        name = "given"
    else:
        raise TypeError(f"split must be 'random', 'spatial' or a dict of index arrays, got {type(split).__name__}")
    for k in ("train", "val", "test"):
        if len(idx[k]) == 0:
            raise ValueError(f"the {k} split is empty")
    return name, idx


def split_record(data, idx: dict[str, np.ndarray]) -> dict[str, Any]:
    """What a cell records about its split: sizes, the excluded (buffer) rows, test→train distances (km)."""
    return {"split_sizes": {k: int(len(idx.get(k, ()))) for k in ("train", "val", "test", "excluded")},
            "split_distance_km": split_distances(data.lonlat, idx)}


def buffer_km(cfg: dict, nside: int | None) -> float:
    """Exclusion buffer of a split: ``split.buffer_km``, or a quarter of the block side (blocked splits,
    ``nside`` given) and 0 (random splits, ``nside`` None) when it is None."""
    buffer = cfg["split"]["buffer_km"]
    if buffer is None:
        return 0.25 * healpix_cell_side_km(nside) if nside is not None else 0.0
    return float(buffer)


def split_blocks(data, cfg: dict) -> tuple[int, np.ndarray | None]:
    """HEALPix ``nside`` and strata of the spatial split of ``data``.

    The block size is ``split.block_km`` when given, else from the data's density: the coarsest blocks in
    which a typical point shares its block with at most ``split.block_points`` points
    (:func:`geosrl.splits.density_nside`). ``split.stratify`` None (auto) stratifies presence-only data by presence/background (True/False force
    it for any task with integer targets). Stratified, the blocks are refined from ``split.block_km`` until
    each class spans ``split.min_blocks_per_class`` blocks and no block holds more than
    ``split.max_block_share`` of a class (:func:`geosrl.splits.stratified_nside`; the banana slug gets
    nside 256, 25 km blocks), so val and test both hold presences and background.
    """
    sc = cfg["split"]
    if sc["block_km"] is None:
        nside = density_nside(data.lonlat, int(sc["block_points"]))
    else:
        nside = nside_for_block_km(float(sc["block_km"]))
    stratify = sc["stratify"]
    if stratify is None:
        stratify = getattr(data, "kind", None) == "presence_only"
    if not stratify:
        return nside, None
    strata = np.asarray(data.target)
    if getattr(data, "kind", None) == "presence_only":
        strata = (strata > 0).astype(np.int64)
    nside = stratified_nside(data.lonlat, strata, nside, int(sc["min_blocks_per_class"]),
                             float(sc["max_block_share"]))
    return nside, strata


def build_encoder(encoder: str | Callable[..., nn.Module] | nn.Module, cfg: dict, seed: int) -> nn.Module:
    """A fresh, seeded location encoder ``(..., 2)`` degrees → ``(..., embed_dim)``.

    ``encoder`` is a registry name (``geosrl.create_encoder(name, embed_dim, **encoder_kwargs)``), a
    factory called as ``factory(embed_dim=...)``, or a module (deep-copied so trials start equal).
    """
    torch.manual_seed(seed)
    if isinstance(encoder, nn.Module):
        return copy.deepcopy(encoder)
    if isinstance(encoder, str):
        from ..encoders import create_encoder

        kw = dict(cfg["encoder_kwargs"])
        kw.setdefault("validate", False)  # inputs are validated TaskData / generated uniform points
        return create_encoder(encoder, embed_dim=int(cfg["embed_dim"]), **kw)
    if callable(encoder):
        return encoder(embed_dim=int(cfg["embed_dim"]))
    raise TypeError(f"encoder must be a name, a factory or an nn.Module, got {type(encoder).__name__}")


def encoder_name(encoder) -> str:
    if isinstance(encoder, str):
        return encoder
    return getattr(encoder, "__name__", type(encoder).__name__)


def subsample(idx: np.ndarray, max_n: int | None, rng: np.random.Generator) -> np.ndarray:
    """Seeded subsample of an index array (sorted), or the array itself."""
    if max_n is None or len(idx) <= max_n:
        return idx
    return np.sort(rng.choice(idx, size=int(max_n), replace=False))


def lonlat_tensor(lonlat: np.ndarray, device) -> torch.Tensor:
    """``(N, 2)`` (lon, lat) degrees as a float64 tensor on ``device``.

    Coordinates stay float64 up to the encoding, which forms its phases in float64 and writes its
    features in the network's dtype; an encoder given as a module or factory must accept float64 input.
    """
    return torch.as_tensor(np.asarray(lonlat, dtype=np.float64), device=device)


class Timer:
    def __init__(self) -> None:
        self.seconds = 0.0

    def __enter__(self):
        self._t = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds += time.perf_counter() - self._t


# ---------------------------------------------------------------------------------------------------
# result helpers (cache keys, metric-name suffixes)
# ---------------------------------------------------------------------------------------------------
def array_key(*arrays, extra: Any = None) -> str:
    h = hashlib.sha1()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    h.update(repr(extra).encode())
    return h.hexdigest()


def suffixed(metrics_by_variant: dict[str, dict[str, float]]) -> dict[str, float]:
    """Flatten ``{suffix: {name: v}}`` into ``{name + suffix: v}``."""
    out: dict[str, float] = {}
    for suffix, d in metrics_by_variant.items():
        for k, v in d.items():
            out[k + suffix] = float(v)
    return out
