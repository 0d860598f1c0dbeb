"""Geo-prior classification protocol (Mac Aodha et al. 2019 as run by TorchSpatial; reference §4).

Model: the location encoder Enc and a bias-free head, ``s_c(x) = w_cᵀ Enc(x)``, ``P(c|x) ≈ σ(s_c(x))``.
Training: :func:`geosrl.losses.presence_absence_loss` with ``pos_weight = C`` and one random location
per positive, **uniform on the sphere** (fixing TorchSpatial's NE-quadrant bug B1); positives and
negatives in one forward pass; a balanced sampler drawing ``min(n_c, max_per_class)`` examples of
each class per epoch without replacement; Adam, ×``lr_decay`` per epoch, a fixed number of epochs,
the last epoch evaluated — or, with ``patience``, the epoch chosen by early stopping on validation
(−log-loss for the softmax loss, mrr otherwise). The learning rate (with ``tune.trials``: also weight decay
and the encoder's scale, :mod:`geosrl.tasks.search`) is chosen on the validation split (top-1 of the fused
score), never on test.

Loss (``classification_loss``): ``"geoprior"`` as above — built for presence-only labels — or
``"softmax"``: cross-entropy on the true labels over every training row (no pseudo-negatives, no class
cap), a head with a bias, ``P(c|x) = softmax(s(x))_c``: a calibrated classifier. ``"auto"`` (default)
uses softmax for binary tasks (a calibrated binary classifier: BCE on the true labels) and the geo-prior
loss otherwise. With ``softmax_alongside`` a multi-class task without an image input also trains the
softmax model and reports its metrics with the suffix ``_softmax``; the plain names (what the
leaderboard ranks) stay those of ``classification_loss``.

Metrics: top1, top3 (only when C > 3; trivially 1 otherwise), mrr (only when C > 2); binary tasks
(C = 2) add ``auc`` of ``log score_1 − log score_0``; the softmax loss adds ``log_loss`` (mean −log P(y|x),
tasks without an image input).

Evaluation: ``score_c = P(c|I)^w·σ(s_c(x))`` ranked over c in row chunks, with the image weight ``w``
chosen on validation from ``fusion_weight_grid`` together with the learning rate (``w = 0`` is the
location-only model, so the fused model is never worse than location alone on validation); rows without
a location keep ``P(c|I)``. Without an image input P(c|I) is constant and the ranking is
that of ``σ(s_c(x))``. With one, three variants are reported: fused (plain names), ``_image_only``
and ``_location_only``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .. import metrics as M
from ..losses import presence_absence_loss
from ..metrics.spatial import spatial_metrics
from ..sphere import uniform_lonlat
from .common import (
    TaskResult,
    Timer,
    build_encoder,
    encoder_name,
    lonlat_tensor,
    subsample,
    suffixed,
)
from .imagery import image_probs
from .search import edge_rows, encoder_fixed_kwargs, run_search, search_space, split_params
from .training import EarlyStopping, PositionCache, protocol_optimizer, train_epochs

__all__ = ["GeoPriorModel", "balanced_epoch_indices", "run_classification"]


class GeoPriorModel(nn.Module):
    """Enc followed by a linear head (bias-free for the geo-prior loss): ``(B, 2)`` degrees → ``(B, C)`` logits."""

    def __init__(self, encoder: nn.Module, embed_dim: int, num_classes: int, loss: str = "geoprior") -> None:
        super().__init__()
        self.encoder = encoder
        self.loss = loss
        self.head = nn.Linear(embed_dim, num_classes, bias=loss == "softmax")

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(lonlat))


def balanced_epoch_indices(labels: np.ndarray, cap: int | None, rng: np.random.Generator) -> np.ndarray:
    """One epoch of TorchSpatial's ``BalancedSampler``, shuffled.

    Per class ``min(n_c, cap)`` positions drawn without replacement (all when ``cap`` is None), then
    the union is shuffled. Vectorised: a random permutation stably sorted by class gives each class's
    members in random order; the first ``cap`` of each class are kept.

    Args:
        labels: ``(n,)`` int class ids of the training rows.
    Returns:
        ``(m,)`` int64 positions into ``labels``.
    """
    n = len(labels)
    perm = rng.permutation(n)
    if cap is None:
        return perm.astype(np.int64)
    order = perm[np.argsort(labels[perm], kind="stable")]
    sorted_lab = labels[order]
    starts = np.r_[0, np.flatnonzero(sorted_lab[1:] != sorted_lab[:-1]) + 1]
    run_start = np.repeat(starts, np.diff(np.r_[starts, n]))
    keep = order[(np.arange(n) - run_start) < int(cap)]
    return keep[rng.permutation(len(keep))].astype(np.int64)


def _train(model: GeoPriorModel, ll: torch.Tensor, y: torch.Tensor, y_np: np.ndarray, lr: float, cfg: dict,
           seed: int, device: torch.device, stopper=None) -> None:
    rng = np.random.default_rng(seed)
    gen = torch.Generator(device=device).manual_seed(seed)
    softmax = model.loss == "softmax"
    positions = PositionCache(model.encoder, ll)

    def epoch_order() -> torch.Tensor:
        rows = rng.permutation(len(y_np)) if softmax else balanced_epoch_indices(y_np, cfg["max_per_class"], rng)
        return torch.as_tensor(rows, device=device)

    def batch_loss(b: torch.Tensor) -> torch.Tensor:
        if softmax:
            return torch.nn.functional.cross_entropy(model.head(positions(b)), y[b])
        rand = uniform_lonlat(len(b), generator=gen, device=device, dtype=ll.dtype)
        logits = model.head(positions(b, rand))  # positives and negatives in one forward pass
        return presence_absence_loss(logits[:len(b)], y[b], logits[len(b):], pos_weight=cfg["pos_weight"])

    optimizer = protocol_optimizer(model, lr, cfg)
    train_epochs(model, optimizer, int(cfg["epochs"]), int(cfg["batch_size"]),
                 epoch_order, batch_loss, float(cfg["lr_decay"]), after_epoch=stopper)


@torch.no_grad()
def _evaluate(model: GeoPriorModel, lonlat: np.ndarray, y: np.ndarray, p_img: np.ndarray | None, cfg: dict,
              device: torch.device, image_weight: float = 1.0) -> dict[str, dict[str, np.ndarray]]:
    """Per-sample outputs of each variant: ranks, argmax prediction, true-class score.

    Returns ``{suffix: {"rank", "pred", "true_score", "binary_score"}}`` with suffix ``""`` (fused, or
    location-only when there is no image input), ``"_image_only"``, ``"_location_only"``.
    ``binary_score`` (two classes only, else NaN) is ``log score_1 − log score_0`` in float64 from the
    logits — the statistic of the argmax decision, for the AUC; σ in float32 saturates to 1.0 for both
    classes far from the boundary, which would tie most points.
    """
    n = len(lonlat)
    variants = [""] if p_img is None else ["", "_image_only", "_location_only"]
    out = {v: {"rank": np.empty(n, np.int64), "pred": np.empty(n, np.int64), "true_score": np.empty(n),
               "true_log_score": np.empty(n), "binary_score": np.full(n, np.nan)} for v in variants}
    has_loc = np.isfinite(lonlat).all(axis=1)
    bs = int(cfg["eval_batch_size"])
    for s in range(0, n, bs):
        sl = slice(s, min(s + bs, n))
        ll = lonlat[sl]
        ok = torch.as_tensor(has_loc[sl], device=device)
        c = model.head.out_features
        prior = torch.ones(len(ll), c, device=device)
        log_prior = torch.zeros(len(ll), c, device=device, dtype=torch.float64)
        if ok.any():
            logits = model(lonlat_tensor(ll[has_loc[sl]], device)).double()
            log_p = logits.log_softmax(1) if model.loss == "softmax" else torch.nn.functional.logsigmoid(logits)
            prior[ok] = log_p.exp().float()
            log_prior[ok] = log_p
        yt = torch.as_tensor(y[sl], device=device).long()
        scores, log_scores = {}, {}
        if p_img is None:
            scores[""] = prior
            log_scores[""] = log_prior
        else:
            img = torch.as_tensor(p_img[sl], device=device).float()
            log_img = torch.log(torch.as_tensor(p_img[sl], device=device).double())
            scores[""] = img ** image_weight * prior  # rows without location: prior = 1 → P(c|I)^w
            scores["_image_only"] = img
            scores["_location_only"] = prior
            log_scores.update({"": image_weight * log_img + log_prior, "_image_only": log_img,
                               "_location_only": log_prior})
        for v, sc in scores.items():
            if c == 2:
                out[v]["binary_score"][sl] = (log_scores[v][:, 1] - log_scores[v][:, 0]).cpu().numpy()
            out[v]["rank"][sl] = M.label_ranks(sc, yt)
            out[v]["pred"][sl] = sc.argmax(1).cpu().numpy()  # first max = lowest class id (tie rule)
            out[v]["true_score"][sl] = sc.gather(1, yt[:, None])[:, 0].double().cpu().numpy()
            out[v]["true_log_score"][sl] = log_scores[v].gather(1, yt[:, None])[:, 0].cpu().numpy()
    return out


def _metrics(ev_variant: dict[str, np.ndarray], y: np.ndarray, num_classes: int,
             log_loss: bool = False) -> dict[str, float]:
    """top1 (+ top3 when C > 3, mrr when C > 2), for C = 2 ``auc`` of class 1 vs class 0, and with
    ``log_loss`` the mean −log P(y|x) of normalised (softmax) probabilities."""
    out = M.classification_metrics(ev_variant["rank"], num_classes=num_classes)
    if num_classes == 2:
        out["auc"] = M.auc(y == 1, ev_variant["binary_score"])
    if log_loss:
        out["log_loss"] = float(-np.mean(ev_variant["true_log_score"]))
    return out


def resolve_loss(cfg: dict, num_classes: int) -> str:
    """``classification_loss`` with ``"auto"`` resolved: softmax (calibrated) for binary tasks, else geo-prior."""
    loss = cfg["classification_loss"]
    return ("softmax" if num_classes == 2 else "geoprior") if loss == "auto" else loss


def _stopping_score(model: GeoPriorModel, lonlat: np.ndarray, y: np.ndarray, c: int, cfg: dict, device) -> float:
    """Early-stopping score of the location model on validation: −log-loss (softmax), else mrr (top1 when C = 2)."""
    ev = _evaluate(model, lonlat, y, None, cfg, device)[""]
    if model.loss == "softmax":
        return -float(np.mean(-ev["true_log_score"]))
    m = M.classification_metrics(ev["rank"], num_classes=c)
    return m.get("mrr", m["top1"])


def _select_and_test(data, encoder, train, val, test, p_img, seed: int, cfg: dict, device, loss: str, timer):
    """Search the hyper-parameters on validation (:mod:`geosrl.tasks.search`), evaluate the best model on test.

    Each trial trains one model (early stopping on validation when ``patience`` is set) and scores it at
    every fusion weight; the trial's key is its best (top1, mrr or auc) on validation.
    """
    lonlat, y_all = data.lonlat, np.asarray(data.target, dtype=np.int64)
    ll_tr = lonlat_tensor(lonlat[train], device)
    y_tr = torch.as_tensor(y_all[train], device=device)
    c = int(data.num_classes)
    with_log_loss = loss == "softmax" and p_img is None
    weights = [1.0] if p_img is None else [float(w) for w in cfg["fusion_weight_grid"]]
    fixed = encoder_fixed_kwargs(encoder, cfg, lonlat[train], seed)
    stopping = cfg["patience"] is not None

    def objective(params, monitor):
        trial_cfg, rest = split_params(params, cfg, fixed)
        model = GeoPriorModel(build_encoder(encoder, trial_cfg, seed), int(cfg["embed_dim"]), c, loss).to(device)
        stopper = EarlyStopping(model, lambda: _stopping_score(model, lonlat[val], y_all[val], c, cfg, device),
                                cfg["patience"], monitor.report) if stopping else None
        with timer:
            _train(model, ll_tr, y_tr, y_all[train], float(rest["lr"]), trial_cfg, seed, device, stopper)
        epochs = stopper.best_epoch if stopping else int(cfg["epochs"])
        if stopping:
            stopper.restore()
        best, rows = None, []
        for w in weights:  # fused score P(c|I)^w · P(c|x); w = 0 is the location-only model
            ev = _evaluate(model, lonlat[val], y_all[val], None if p_img is None else p_img[val], cfg, device, w)
            vm = suffixed({v: _metrics(o, y_all[val], c, with_log_loss) for v, o in ev.items()})
            key = (vm["top1"], vm.get("mrr", vm.get("auc", 0.0)))
            rows.append({**({"image_weight": w} if p_img is not None else {}), "loss": loss, "epochs": epochs, **vm})
            if best is None or key > best[0]:
                best = (key, w, vm)
        return best[0], (model, best[1], best[2], epochs), rows

    outcome = run_search(search_space(encoder, cfg), objective, cfg, seed)
    model, w, val_metrics, epochs = outcome.payload
    ev = _evaluate(model, lonlat[test], y_all[test], None if p_img is None else p_img[test], cfg, device, w)
    by_variant = {v: _metrics(o, y_all[test], c, with_log_loss) for v, o in ev.items()}
    return by_variant, val_metrics, ev, (outcome, epochs, None if p_img is None else w)


def run_classification(data, encoder, split_name: str, idx: dict[str, np.ndarray], seed: int, cfg: dict,
                       device: torch.device) -> TaskResult:
    """Geo-prior protocol on a classification :class:`~geosrl.datasets.base.TaskData` (see module doc)."""
    rng = np.random.default_rng(seed)
    lonlat, y_all = data.lonlat, np.asarray(data.target, dtype=np.int64)
    has_loc = np.isfinite(lonlat).all(axis=1)
    train = subsample(idx["train"][has_loc[idx["train"]]], cfg["max_train_samples"], rng)
    val, test = idx["val"], idx["test"]
    timer = Timer()
    with timer:
        p_img, img_info = image_probs(data, {"train": train, "val": val}, seed, cfg, device)
    c = int(data.num_classes)
    loss = resolve_loss(cfg, c)
    by_variant, val_metrics, ev, (outcome, epochs, weight) = _select_and_test(data, encoder, train, val, test, p_img,
                                                                              seed, cfg, device, loss, timer)
    stopping = cfg["patience"] is not None
    lr, trials = float(outcome.params["lr"]), outcome.records
    tuned = {**outcome.params, **({"epochs": epochs} if stopping else {}),
             **({} if weight is None else {"image_weight": weight})}
    search = edge_rows(outcome, cfg, "", epochs if stopping else None, int(cfg["epochs"]))
    if cfg["softmax_alongside"] and loss == "geoprior" and p_img is None:
        extra, extra_val, _, (extra_outcome, extra_epochs, _) = _select_and_test(data, encoder, train, val, test, None,
                                                                                 seed, cfg, device, "softmax", timer)
        by_variant["_softmax"] = extra[""]
        val_metrics.update({k + "_softmax": v for k, v in extra_val.items()})
        trials += extra_outcome.records
        tuned.update({f"{k}_softmax": v for k, v in extra_outcome.params.items()})
        if stopping:
            tuned["epochs_softmax"] = extra_epochs
        search += edge_rows(extra_outcome, cfg, "_softmax", extra_epochs if stopping else None, int(cfg["epochs"]))
    ll_test = lonlat[test]
    hits = {v: o["rank"] == 1 for v, o in ev.items()}
    sp = spatial_metrics(
        ll_test,
        marks={v: np.where(h, 1.0, -1.0) for v, h in hits.items()},
        cfg=cfg, seed=seed,
        worst={v: ("top1", h.astype(np.float64), "mean", True) for v, h in hits.items()},
        residuals={v: (~h).astype(np.float64) for v, h in hits.items()},
    )
    for v in sp:
        by_variant[v].update(sp[v])
    fused = ev[""]
    preds = {
        "lon": ll_test[:, 0], "lat": ll_test[:, 1], "y_true": y_all[test], "y_pred": fused["pred"],
        "true_class_prob": fused["true_score"], "reciprocal_rank": 1.0 / fused["rank"],
        "hit@1": (fused["rank"] <= 1).astype(np.int64), "hit@3": (fused["rank"] <= 3).astype(np.int64),
    }
    for v in ("_image_only", "_location_only"):
        if v in ev:
            preds["y_pred" + v] = ev[v]["pred"]
            preds["reciprocal_rank" + v] = 1.0 / ev[v]["rank"]
    hp = {"lr": lr, "lr_grid": list(cfg["lr_grid"]), "epochs": int(cfg["epochs"]), "batch_size": int(cfg["batch_size"]),
          "embed_dim": int(cfg["embed_dim"]), "pos_weight": float(c if cfg["pos_weight"] is None else cfg["pos_weight"]),
          "max_per_class": cfg["max_per_class"], "n_train": int(len(train)), "split": split_name,
          "encoder": encoder_name(encoder), "protocol": "geoprior", "classification_loss": loss, "tuned": tuned,
          "search": search, "sampler": outcome.sampler, **img_info}
    return TaskResult(metrics=suffixed(by_variant), val_metrics=val_metrics, predictions=preds,
                      chosen_hparams=hp, train_seconds=timer.seconds, info={"val_trials": trials})
