"""Regression protocol (TorchSpatial ``MosaiksRegressNet``/``SustainBenchRegressNet``; reference §5).

Location branch: Enc → bias-free linear layer with E = ``regress_dim`` outputs → sigmoid → e_x ∈ (0,1)^E.
Image branch (when ``image_features`` exist): standardised features → MLP (``image_hidden``, LeakyReLU)
→ e_I ∈ R^E. Head: MLP (``head_hidden``, LeakyReLU, ``dropout``) on concat[e_I, e_x] (or the one branch)
→ 1. With image features three models are trained and reported: fused (plain metric names),
``_location_only`` and ``_image_only`` (the "No Prior" model: the same nets without e_x).

Loss: MSE on the standardised label ``(y − ȳ_train)/s_train`` — the stored label's MSE up to the
constant factor ``s_train²`` — so one learning-rate grid serves labels of any scale; predictions are
mapped back and every metric is on the stored label scale. Adam, ×``lr_decay`` per epoch; the learning
rate (and, with ``tune.trials``, weight decay and the encoder's scale: :mod:`geosrl.tasks.search`) chosen
on the validation R², each variant searched separately; epochs fixed, or chosen by early stopping on the
validation MSE (``patience``).

Spatial metrics: marks are +1 where ``|y − ŷ| ≤ median |y − ŷ|`` of the evaluation set, else −1
(better / worse than the typical error); ``worst_region_rmse`` = the highest per-cell RMSE;
``morans_i_residual`` = Moran's I of ``y − ŷ``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .. import metrics as M
from ..losses import mse_loss
from ..metrics.spatial import spatial_metrics
from .common import TaskResult, Timer, build_encoder, encoder_name, lonlat_tensor, subsample, suffixed
from .search import edge_rows, encoder_fixed_kwargs, run_search, search_space, split_params
from .training import EarlyStopping, PositionCache, protocol_optimizer, train_epochs

__all__ = ["RegressionModel", "run_regression"]


def _mlp(widths: list[int], dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1]))
        if i < len(widths) - 2:
            layers.append(nn.LeakyReLU())
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class RegressionModel(nn.Module):
    """Location and/or image branch and an MLP head: ``(B, 2)`` degrees, ``(B, F)`` → ``(B,)``.

    Args:
        encoder: location encoder (``None`` = image-only model).
        embed_dim: encoder output width.
        image_dim: image feature width F (``None`` = location-only model).
        regress_dim: E, width of each branch's output.
        head_hidden / image_hidden: hidden widths of the head and the image MLP.
        dropout: dropout in both MLPs.
    """

    def __init__(self, encoder: nn.Module | None, embed_dim: int, image_dim: int | None, regress_dim: int,
                 head_hidden: list[int], image_hidden: list[int], dropout: float) -> None:
        super().__init__()
        if encoder is None and image_dim is None:
            raise ValueError("need a location encoder, image features, or both")
        self.encoder = encoder
        self.loc_proj = None if encoder is None else nn.Linear(embed_dim, regress_dim, bias=False)
        self.image_net = None if image_dim is None else _mlp([image_dim, *image_hidden, regress_dim], dropout)
        n_branch = (encoder is not None) + (image_dim is not None)
        self.head = _mlp([n_branch * regress_dim, *head_hidden, 1], dropout)

    def forward(self, lonlat: torch.Tensor | None, feats: torch.Tensor | None = None,
                embedding: torch.Tensor | None = None) -> torch.Tensor:
        """``embedding``: ``Enc(lonlat)`` ``(B, embed_dim)`` when already computed (``lonlat`` is then unused)."""
        parts = []
        if self.image_net is not None:
            parts.append(self.image_net(feats))
        if self.encoder is not None:
            parts.append(torch.sigmoid(self.loc_proj(self.encoder(lonlat) if embedding is None else embedding)))
        return self.head(torch.cat(parts, dim=1))[:, 0]


def _fit(variant: str, encoder, cfg: dict, seed: int, lr: float, train_set, y_tr, val_set, y_val, device,
         report=None):
    """Train one model (early stopping on the validation MSE when ``cfg["patience"]`` is set; ``report``: the
    search's per-epoch :meth:`~geosrl.tasks.search.TrialMonitor.report`).

    Returns the model (eval mode, best epoch's weights) and the number of epochs kept.
    """
    ll_tr, f_tr = train_set
    enc = None if variant == "_image_only" else build_encoder(encoder, cfg, seed)
    torch.manual_seed(seed)
    img_dim = None if (variant == "_location_only" or f_tr is None) else f_tr.shape[1]
    model = RegressionModel(enc, int(cfg["embed_dim"]), img_dim, int(cfg["regress_dim"]), list(cfg["head_hidden"]),
                            list(cfg["image_hidden"]), float(cfg["dropout"])).to(device)
    use_img = img_dim is not None
    use_loc = enc is not None
    positions = PositionCache(model.encoder, ll_tr) if use_loc else None
    gen = torch.Generator().manual_seed(seed)

    def epoch_order() -> torch.Tensor:
        return torch.randperm(len(y_tr), generator=gen).to(device)

    def batch_loss(b: torch.Tensor) -> torch.Tensor:
        return mse_loss(model(None, f_tr[b] if use_img else None, positions(b) if use_loc else None), y_tr[b])

    stopper = None
    if cfg["patience"] is not None:
        stopper = EarlyStopping(model, lambda: -float(((_predict(model, val_set, use_loc, use_img, cfg) - y_val) ** 2)
                                                       .mean()), cfg["patience"], report)
    optimizer = protocol_optimizer(model, lr, cfg)
    train_epochs(model, optimizer, int(cfg["epochs"]), int(cfg["batch_size"]),
                 epoch_order, batch_loss, float(cfg["lr_decay"]), after_epoch=stopper)
    if stopper is None:
        return model, int(cfg["epochs"])
    return stopper.restore(), stopper.best_epoch


@torch.no_grad()
def _predict(model: RegressionModel, rows, use_loc: bool, use_img: bool, cfg: dict) -> np.ndarray:
    """Predictions (standardised scale, float64) of ``rows = (lonlat, features)``."""
    ll, f = rows
    m = len(ll) if ll is not None else len(f)
    eb = int(cfg["eval_batch_size"])
    return torch.cat([model(ll[s:s + eb] if use_loc else None, f[s:s + eb] if use_img else None)
                      for s in range(0, m, eb)]).double().cpu().numpy()


def run_regression(data, encoder, split_name: str, idx: dict[str, np.ndarray], seed: int, cfg: dict,
                   device: torch.device) -> TaskResult:
    """Regression protocol on a regression :class:`~geosrl.datasets.base.TaskData` (see module doc)."""
    rng = np.random.default_rng(seed)
    lonlat = data.lonlat
    y = np.asarray(data.target, dtype=np.float64)
    ok = np.isfinite(lonlat).all(axis=1) & np.isfinite(y)
    train = subsample(idx["train"][ok[idx["train"]]], cfg["max_train_samples"], rng)
    val, test = idx["val"][ok[idx["val"]]], idx["test"][ok[idx["test"]]]
    if len(val) == 0 or len(test) == 0:
        raise ValueError("validation and test splits need rows with a location and a finite target")
    y_mean, y_std = float(y[train].mean()), float(y[train].std()) or 1.0

    feats = None
    if data.image_features is not None:
        f = np.asarray(data.image_features, dtype=np.float64)
        mu, sd = f[train].mean(0), f[train].std(0)
        sd[sd == 0] = 1.0
        feats = torch.as_tensor(((f - mu) / sd).astype(np.float32), device=device)
    ll_all = lonlat_tensor(np.where(np.isfinite(lonlat), lonlat, 0.0), device)
    y_t = torch.as_tensor(((y - y_mean) / y_std).astype(np.float32), device=device)
    variants = [""] if feats is None else ["", "_location_only", "_image_only"]

    def sets(rows):
        return (ll_all[rows], None if feats is None else feats[rows])

    timer = Timer()
    chosen, val_metrics, test_pred, trials, search_rows, models = {}, {}, {}, [], [], {}
    y_val_std = (y[val] - y_mean) / y_std
    for v in variants:
        loc_encoder = None if v == "_image_only" else encoder
        fixed = {} if loc_encoder is None else encoder_fixed_kwargs(encoder, cfg, lonlat[train], seed)
        use_img = feats is not None and v != "_location_only"

        def objective(params, monitor, v=v, fixed=fixed, use_img=use_img):
            trial_cfg, rest = split_params(params, cfg, fixed)
            with timer:
                model, epochs = _fit(v, encoder, trial_cfg, seed, float(rest["lr"]), sets(train), y_t[train],
                                     sets(val), y_val_std, device, monitor.report)
            vm = M.regression_metrics(y[val], _predict(model, sets(val), v != "_image_only", use_img, cfg) * y_std
                                      + y_mean)
            score = vm["r2"] if np.isfinite(vm["r2"]) else -vm["rmse"]
            return (score,), (model, epochs, vm, use_img), [{"variant": v or "fused", "epochs": epochs, **vm}]

        outcome = run_search(search_space(loc_encoder, cfg), objective, cfg, seed)
        model, epochs, vm, use_img = outcome.payload
        trials += outcome.records
        chosen[v] = {**outcome.params, "epochs": epochs}
        search_rows += edge_rows(outcome, cfg, v, epochs if cfg["patience"] is not None else None, int(cfg["epochs"]))
        val_metrics.update({k + v: val for k, val in vm.items()})
        test_pred[v] = _predict(model, sets(test), v != "_image_only", use_img, cfg) * y_std + y_mean
        models[v] = model

    y_test, ll_test = y[test], lonlat[test]
    by_variant = {v: M.regression_metrics(y_test, p) for v, p in test_pred.items()}
    abs_err = {v: np.abs(y_test - p) for v, p in test_pred.items()}
    sp = spatial_metrics(
        ll_test,
        marks={v: np.where(e <= np.median(e), 1.0, -1.0) for v, e in abs_err.items()},
        cfg=cfg, seed=seed,
        worst={v: ("rmse", e ** 2, "rmse", False) for v, e in abs_err.items()},
        residuals={v: y_test - p for v, p in test_pred.items()},
    )
    for v in by_variant:
        by_variant[v].update(sp[v])
    preds = {"lon": ll_test[:, 0], "lat": ll_test[:, 1], "y_true": y_test, "y_pred": test_pred[""],
             "abs_error": abs_err[""], "relative_error": (test_pred[""] - y_test) / (y_test + 1e-8)}
    for v in variants[1:]:
        preds["y_pred" + v] = test_pred[v]
    hp = {"lr": chosen[""]["lr"], **{f"lr{v}": chosen[v]["lr"] for v in variants[1:]}, "lr_grid": list(cfg["lr_grid"]),
          "epochs": int(cfg["epochs"]), "batch_size": int(cfg["batch_size"]), "embed_dim": int(cfg["embed_dim"]),
          "regress_dim": int(cfg["regress_dim"]), "head_hidden": list(cfg["head_hidden"]),
          "n_train": int(len(train)), "split": split_name, "encoder": encoder_name(encoder), "protocol": "regression",
          "target_mean": y_mean, "target_std": y_std,
          "tuned": {f"{k}{v}": val for v in variants for k, val in chosen[v].items()}, "search": search_rows,
          "sampler": outcome.sampler}
    location_only = models.get("_location_only" if feats is not None else "")

    def surface(ll: np.ndarray) -> np.ndarray:
        return _predict(location_only, (lonlat_tensor(ll, device), None), True, False, cfg) * y_std + y_mean

    return TaskResult(metrics=suffixed(by_variant), val_metrics=val_metrics, predictions=preds, chosen_hparams=hp,
                      surface=surface,
                      train_seconds=timer.seconds, info={"val_trials": trials})
