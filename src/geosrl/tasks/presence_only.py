"""Presence-only species distribution protocol (SINR "assume negative, full"; reference §6).

Data: ``target`` 1 = presence, 0 = background/absence. Training uses the presences of the training
split; each step pairs B = ``po_batch_size`` presences with B pseudo-negatives r_i and minimises
:func:`geosrl.losses.an_full_loss` (λ = ``po_pos_weight``) on one output ``p = σ(wᵀEnc(x))``
(bias-free head). λ defaults to the number of species S = 1 (as λ = C in the geo-prior protocol):
SINR's λ = 2048 weighs a positive against the S − 1 ≈ 47k "other species here" terms of its
multi-species output; with one species those terms do not exist, and λ = 2048 drives the whole study
region (all of it far from uniform-sphere negatives) to σ ≈ 1, where the ε of ``log(1 − p + ε)``
leaves background points without gradient — training collapsed and scores even inverted (val AUC
0.05–0.25 for ``wrap``). Small training splits get at least ``po_min_steps`` steps per trial. Pseudo-negatives, chosen on validation from ``po_negatives_grid``:

* ``"uniform"`` — uniform on the sphere (SINR's definition);
* ``"background"`` — drawn with replacement from the training split's target-0 rows (or
  ``TaskData.background_lonlat`` when the training split has none).

Adam, ×``lr_decay`` per epoch; (learning rate, negatives — and with ``tune.trials`` weight decay and the
encoder's scale, :mod:`geosrl.tasks.search`) chosen on the validation AUC; epochs fixed, or chosen by
early stopping on the validation AUC (``patience``).
Test metric: ``auc`` of presences vs background/absences. Spatial metrics: marks +1 where a point is
ranked on the right side of at least half of the opposite class (its own AUC contribution ≥ ½),
else −1; ``worst_region_auc``; Moran's I of ``y − p``.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.stats import rankdata
from torch import nn

from .. import metrics as M
from ..losses import an_full_loss
from ..metrics.spatial import spatial_metrics
from ..sphere import uniform_lonlat
from .common import TaskResult, Timer, build_encoder, encoder_name, lonlat_tensor, subsample, suffixed
from .search import Param, edge_rows, encoder_fixed_kwargs, run_search, search_space, split_params
from .training import EarlyStopping, PositionCache, protocol_optimizer, train_epochs

__all__ = ["auc_contribution", "run_presence_only"]

NEGATIVES = ("uniform", "background")


def auc_contribution(y: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Per-sample share of correctly ordered opposite-class pairs (ties ½), ``(N,)`` in [0, 1].

    For a positive: fraction of negatives scored lower; for a negative: fraction of positives scored
    higher. The mean over positives (or negatives) equals the AUC. NaN when a class is absent.
    """
    y = np.asarray(y).astype(bool)
    s = np.asarray(score, dtype=np.float64)
    n1, n0 = int(y.sum()), int((~y).sum())
    out = np.full(len(y), np.nan)
    if n1 == 0 or n0 == 0:
        return out
    r_all = rankdata(s)            # average ranks among all
    r_pos = rankdata(s[y])         # among positives
    r_neg = rankdata(s[~y])        # among negatives
    # negatives below a positive (ties ½) = (rank among all − rank among positives)
    out[y] = (r_all[y] - r_pos) / n0
    # positives above a negative = n1 − positives at or below it (ties ½)
    out[~y] = (n1 - (r_all[~y] - r_neg)) / n1
    return out


def po_pos_weight(cfg: dict) -> float:
    """λ of the presence-only loss: ``po_pos_weight``, or the number of species (1) when None."""
    return 1.0 if cfg["po_pos_weight"] is None else float(cfg["po_pos_weight"])


def po_epochs(n_pos: int, cfg: dict) -> int:
    """Epochs of one trial: ``epochs``, raised so that a trial makes at least ``po_min_steps`` Adam steps.

    A presence-only training split is small (≈ 700 presences for the banana slug): at one step per epoch,
    6 epochs are 6 steps, too few for any encoder to leave its initialisation.
    """
    bs = int(cfg["po_batch_size"] or cfg["batch_size"])
    steps = max(1, -(-int(n_pos) // bs))
    return max(int(cfg["epochs"]), -(-int(cfg["po_min_steps"]) // steps))


def _val_auc(model, y_val: np.ndarray, ll_val: np.ndarray, cfg: dict, device) -> float:
    """Validation AUC (the early-stopping score)."""
    return M.auc(y_val, _predict(model, ll_val, cfg, device))


def _train(model, ll_pos, neg_pool, kind: str, lr: float, cfg: dict, seed: int, device, stopper=None) -> None:
    gen = torch.Generator(device=device).manual_seed(seed)
    cpu_gen = torch.Generator().manual_seed(seed)
    n = len(ll_pos)
    positions, head = PositionCache(model[0], ll_pos), model[1]

    def epoch_order() -> torch.Tensor:
        return torch.randperm(n, generator=cpu_gen).to(device)

    def batch_loss(b: torch.Tensor) -> torch.Tensor:
        if kind == "uniform":
            rand = uniform_lonlat(len(b), generator=gen, device=device, dtype=ll_pos.dtype)
        else:
            rand = neg_pool[torch.randint(len(neg_pool), (len(b),), generator=cpu_gen).to(device)]
        logits = head(positions(b, rand))  # presences and pseudo-negatives in one forward pass
        zeros = torch.zeros(len(b), dtype=torch.long, device=device)
        return an_full_loss(logits[:len(b)], zeros, logits[len(b):], pos_weight=po_pos_weight(cfg))

    train_epochs(model, protocol_optimizer(model, lr, cfg), po_epochs(n, cfg),
                 int(cfg["po_batch_size"] or cfg["batch_size"]), epoch_order, batch_loss, float(cfg["lr_decay"]),
                 after_epoch=stopper)


@torch.no_grad()
def _predict(model, lonlat: np.ndarray, cfg: dict, device) -> np.ndarray:
    """Logits ``s(x)`` (float64), ``(N,)``. Ranking uses the logits, not ``σ(s)``: AUC is invariant to the
    monotone σ, but σ rounds to exactly 1.0 in float32 once ``s ≳ 17`` (which λ = 2048 readily reaches
    on a regional data set), and those ties collapse the AUC to 0.5."""
    ll = lonlat_tensor(lonlat, device)
    eb = int(cfg["eval_batch_size"])
    return torch.cat([model(ll[s:s + eb])[:, 0] for s in range(0, len(ll), eb)]).double().cpu().numpy()


def _sigmoid(s: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * s))


def run_presence_only(data, encoder, split_name: str, idx: dict[str, np.ndarray], seed: int, cfg: dict,
                      device: torch.device) -> TaskResult:
    """Presence-only protocol on a presence_only :class:`~geosrl.datasets.base.TaskData` (see module doc)."""
    rng = np.random.default_rng(seed)
    lonlat = data.lonlat
    y = (np.asarray(data.target) > 0).astype(np.int64)
    ok = np.isfinite(lonlat).all(axis=1)
    train = idx["train"][ok[idx["train"]]]
    pos = subsample(train[y[train] == 1], cfg["max_train_samples"], rng)
    if len(pos) == 0:
        raise ValueError("the training split holds no presence")
    bg_rows = train[y[train] == 0]
    pool = lonlat[bg_rows] if len(bg_rows) else data.background_lonlat
    val, test = idx["val"][ok[idx["val"]]], idx["test"][ok[idx["test"]]]
    ll_pos = lonlat_tensor(lonlat[pos], device)
    neg_pool = None if pool is None or len(pool) == 0 else lonlat_tensor(pool, device)
    grid = [g for g in cfg["po_negatives_grid"] if g != "background" or neg_pool is not None]
    bad = [g for g in grid if g not in NEGATIVES]
    if bad or not grid:
        raise ValueError(f"po_negatives_grid must hold values of {NEGATIVES}, got {cfg['po_negatives_grid']}")

    timer = Timer()
    fixed = encoder_fixed_kwargs(encoder, cfg, lonlat[pos], seed)
    epochs = po_epochs(len(pos), cfg)
    stopping = cfg["patience"] is not None

    def objective(params, monitor):
        trial_cfg, rest = split_params(params, cfg, fixed)
        model = nn.Sequential(build_encoder(encoder, trial_cfg, seed), nn.Linear(int(cfg["embed_dim"]), 1, bias=False))
        model = model.to(device)
        stopper = EarlyStopping(model, lambda: _val_auc(model, y[val], lonlat[val], cfg, device),
                                cfg["patience"], monitor.report) if stopping else None
        with timer:
            _train(model, ll_pos, neg_pool, rest["negatives"], float(rest["lr"]), trial_cfg, seed, device, stopper)
        kept = stopper.best_epoch if stopping else epochs
        if stopping:
            stopper.restore()
        a = M.auc(y[val], _predict(model, lonlat[val], cfg, device))
        return ((a if np.isfinite(a) else -np.inf),), (model, a, kept), [{"epochs": kept, "auc": a}]

    outcome = run_search(search_space(encoder, cfg, (Param("negatives", choices=tuple(grid), default=grid[0]),)),
                         objective, cfg, seed)
    model, val_auc, kept = outcome.payload
    neg, lr, trials = outcome.params["negatives"], float(outcome.params["lr"]), outcome.records
    y_test, ll_test = y[test], lonlat[test]
    score = _predict(model, ll_test, cfg, device)  # logits: the ranking statistic
    p = _sigmoid(score)
    metrics = {"": {"auc": M.auc(y_test, score)}}
    contrib = auc_contribution(y_test, score)
    marks = np.where(np.nan_to_num(contrib, nan=1.0) >= 0.5, 1.0, -1.0)
    sp = spatial_metrics(ll_test, marks={"": marks}, cfg=cfg, seed=seed,
                         worst={"": ("auc", (y_test, score), "auc", True)}, residuals={"": y_test - p})
    metrics[""].update(sp[""])
    preds = {"lon": ll_test[:, 0], "lat": ll_test[:, 1], "y_true": y_test, "y_pred": p, "score": score,
             "auc_contribution": contrib}
    hp = {"lr": lr, "negatives": neg, "lr_grid": list(cfg["lr_grid"]), "negatives_grid": grid,
          "epochs": po_epochs(len(pos), cfg), "batch_size": int(cfg["po_batch_size"] or cfg["batch_size"]),
          "embed_dim": int(cfg["embed_dim"]), "pos_weight": po_pos_weight(cfg), "n_train_presences": int(len(pos)),
          "n_background_pool": 0 if neg_pool is None else int(len(neg_pool)), "split": split_name,
          "encoder": encoder_name(encoder), "protocol": "presence_only_an_full",
          "tuned": {**outcome.params, "epochs": kept}, "sampler": outcome.sampler,
          "search": edge_rows(outcome, cfg, "", kept if stopping else None, epochs)}
    return TaskResult(metrics=suffixed(metrics), val_metrics={"auc": val_auc}, predictions=preds, chosen_hparams=hp,
                      surface=lambda ll: _sigmoid(_predict(model, ll, cfg, device)),
                      train_seconds=timer.seconds, info={"val_trials": trials})
