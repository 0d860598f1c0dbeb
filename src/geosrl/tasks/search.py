"""Hyper-parameter search on the validation split: a seeded Optuna study per cell, or the fixed grid.

``tune.trials`` > 0 runs a study of exactly that many trials (the same budget for every encoder) with
Optuna's TPE sampler seeded by the cell's seed, so a cell is reproducible. The space (:func:`search_space`):

* ``lr`` — Adam learning rate, log-uniform on ``tune.lr`` (default 1e-4 … 0.3);
* ``weight_decay`` — log-uniform on ``tune.weight_decay`` (default 1e-7 … 1e-2; the lower bound is
  effectively no decay, so only the upper bound counts as an edge);
* the location encoder's own scale (:data:`ENCODER_SCALES`, with ``tune.encoder_scales``): Space2Vec
  λ_min (degrees), Sphere2Vec λ_min (radians), the RBF kernel σ (degrees; its anchors are training
  locations, :func:`encoder_fixed_kwargs`), the spherical-harmonic degree L, the RFF ω variance, the tile
  cell size and the NeRF octaves; a key the user fixed in ``encoder_kwargs`` is not searched;
* protocol choices such as the presence-only pseudo-negatives (categorical).

The first trial is enqueued at the defaults (``tune.lr_start``, the encoder's constructor defaults), so the
study never does worse on validation than the untuned model; the next ``⌈trials/3⌉ − 1`` are random, the rest
TPE. Epochs are chosen by early stopping on validation (``patience``, :class:`~geosrl.tasks.training.EarlyStopping`).
``tune.trials`` = 0 keeps the published protocol: the ``lr_grid`` (× any categorical grid) in order.

``tune.pruner = "median"`` stops unpromising trials early (Optuna's ``MedianPruner``; the same rule for every
encoder, deterministic): after ``tune.prune_startup`` finished trials and ``tune.prune_warmup`` epochs, a trial
whose best validation score so far is below the median of the finished trials' best scores at the same epoch
is stopped, and never chosen. A trial that stopped early keeps its best score at the later epochs (it is
reported up to ``epochs``), so late epochs are judged against every finished trial, not only the slow ones.
The score is the early-stopping score (:class:`~geosrl.tasks.training.EarlyStopping`, so pruning needs
``patience``): where it is the one the search ranks by (regression: −MSE ~ R²; presence-only: AUC), a pruned
trial's best was already below a finished trial's; for classification it is mrr or −log-loss while trials are
ranked by top-1, so there the pruner is a heuristic. Pruned trials are kept in ``val_trials`` with
``pruned_at_epoch``; ``sampler`` names the pruner.

Every trial sees the training and validation rows only; the test split is scored once, after the search,
with the chosen model. :func:`edge_rows` reports each chosen value against its range; a value within
``tune.edge_fraction`` of the (log) range from a bound, or on the bound of an integer range, is at an edge.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

__all__ = ["ENCODER_SCALES", "Param", "SearchOutcome", "TrialMonitor", "edge_rows", "encoder_fixed_kwargs",
           "run_search", "search_space"]


@dataclass(frozen=True)
class Param:
    """One searched hyper-parameter: a float range (``log`` or linear), an integer range, or ``choices``.

    ``edges`` names the bounds that count as a search edge (``"low"``, ``"high"``).
    """

    name: str
    low: float = 0.0
    high: float = 0.0
    log: bool = True
    integer: bool = False
    choices: tuple = ()
    default: Any = None
    edges: tuple[str, ...] = ("low", "high")

    def distribution(self):
        """The Optuna distribution of this parameter."""
        import optuna

        if self.choices:
            return optuna.distributions.CategoricalDistribution(list(self.choices))
        if self.integer:
            return optuna.distributions.IntDistribution(int(self.low), int(self.high), log=self.log)
        return optuna.distributions.FloatDistribution(float(self.low), float(self.high), log=self.log)

    def scale(self) -> str:
        return "choice" if self.choices else "int" if self.integer else "log" if self.log else "linear"

    def edge(self, value: Any, fraction: float) -> str:
        """``"low"``/``"high"`` when ``value`` sits at that (counted) edge of the range, else ``""``."""
        if self.choices:
            return ""
        if self.integer:
            side = "low" if value <= self.low else "high" if value >= self.high else ""
        else:
            f = (lambda v: math.log(v)) if self.log else (lambda v: v)
            pos = (f(value) - f(self.low)) / (f(self.high) - f(self.low))
            side = "low" if pos <= fraction else "high" if pos >= 1.0 - fraction else ""
        return side if side in self.edges else ""


#: encoder name → its searched scale parameters (constructor keyword, range, default). Encoders without a
#: scale (wrap, wrap_ffn, xyz, direct) search the optimiser only; geoclip_rff's σ set is left at GeoCLIP's.
_SPACE2VEC = (Param("min_radius", 0.01, 30.0, default=0.1),)  # λ_min in degrees (λ_max = 360°)
_SPHERE2VEC = (Param("min_radius", 1e-4, 0.3, default=1e-3),)  # λ_min in radians (λ_max = 1)
ENCODER_SCALES: dict[str, tuple[Param, ...]] = {
    "space2vec_grid": _SPACE2VEC,
    "space2vec_theory": _SPACE2VEC,
    **{f"sphere2vec_{v}": _SPHERE2VEC for v in ("spherec", "spherec_plus", "spherem", "spherem_plus", "dfs")},
    "spherical_harmonics": (Param("legendre_degree", 3, 30, log=False, integer=True, default=10),),
    "rff": (Param("omega_var", 0.1, 1e4, default=16.0),),
    "rbf": (Param("kernel_size_deg", 0.1, 90.0, default=2.0),),
    "tile": (Param("cell_size_deg", 0.5, 45.0, default=1.0),),
    "nerf": (Param("frequency_num", 2, 20, log=False, integer=True, default=16),),
}

_ENCODER_KEYS = {p.name for params in ENCODER_SCALES.values() for p in params}


def search_space(encoder: Any, cfg: dict, extra: tuple[Param, ...] = ()) -> list[Param]:
    """The searched parameters of a cell: optimiser, the encoder's scale (when named and not fixed), ``extra``."""
    tune = cfg["tune"]
    space = [Param("lr", *tune["lr"], default=float(tune["lr_start"])),
             Param("weight_decay", *tune["weight_decay"], default=float(tune["weight_decay"][0]), edges=("high",))]
    if tune["encoder_scales"] and isinstance(encoder, str):
        space += [p for p in ENCODER_SCALES.get(encoder, ()) if p.name not in cfg["encoder_kwargs"]]
    return space + list(extra)


def encoder_fixed_kwargs(encoder: Any, cfg: dict, train_lonlat: np.ndarray, seed: int) -> dict[str, Any]:
    """Encoder keywords taken from the training data when the study tunes scales: RBF anchors are a seeded
    sample of ``num_anchors`` (default 200) training locations instead of points uniform on the sphere."""
    if not (cfg["tune"]["trials"] and cfg["tune"]["encoder_scales"] and encoder == "rbf"):
        return {}
    if "anchors" in cfg["encoder_kwargs"]:
        return {}
    import torch

    m = min(int(cfg["encoder_kwargs"].get("num_anchors", 200)), len(train_lonlat))
    rows = np.random.default_rng(seed).choice(len(train_lonlat), size=m, replace=False)
    return {"anchors": torch.as_tensor(np.asarray(train_lonlat, dtype=np.float64)[np.sort(rows)])}


@dataclass
class SearchOutcome:
    """What a search chose: ``params`` of the best trial, its ``payload`` (what the objective returned beside
    its score, e.g. the trained model), every trial's ``records`` and the ``space`` searched."""

    params: dict[str, Any]
    payload: Any
    records: list[dict[str, Any]]
    space: list[Param]
    sampler: str


class TrialMonitor:
    """What a trial tells the search while it trains: :meth:`report` after each epoch, ``True`` = stop (pruned).

    Pass ``monitor.report`` as ``EarlyStopping(..., report=...)``; without a pruner it never stops a trial.
    """

    def __init__(self, trial: Any = None) -> None:
        self._trial = trial
        self.pruned_at: int | None = None
        self._last: tuple[int, float] | None = None

    def report(self, epoch: int, best_score: float) -> bool:
        """Record the best validation score after ``epoch`` epochs; ``True`` when the pruner stops the trial."""
        if self._trial is None:
            return False
        value = float(best_score) if math.isfinite(best_score) else -1e300
        self._trial.report(value, int(epoch))
        self._last = (int(epoch), value)
        if self._trial.should_prune():
            self.pruned_at = int(epoch)
            return True
        return False

    def hold_best(self, until_epoch: int) -> None:
        """A finished trial's best score, reported again for every epoch after its last one up to ``until_epoch``."""
        if self._trial is None or self._last is None:
            return
        epoch, value = self._last
        for step in range(epoch + 1, int(until_epoch) + 1):
            self._trial.report(value, step)


def _pruner(tune: dict):
    """The Optuna pruner of ``tune.pruner`` (None = no pruning)."""
    import optuna

    if tune["pruner"] == "none":
        return None
    return optuna.pruners.MedianPruner(n_startup_trials=int(tune["prune_startup"]),
                                       n_warmup_steps=int(tune["prune_warmup"]))


def _grid(space: list[Param], cfg: dict) -> list[dict[str, Any]]:
    """The published protocol's trials: ``lr_grid`` × every categorical parameter, nothing else searched."""
    axes = [[(p.name, c) for c in p.choices] for p in space if p.choices]
    axes += [[("lr", float(lr)) for lr in cfg["lr_grid"]]]
    return [dict(combo) for combo in itertools.product(*axes)]


Objective = Callable[[dict[str, Any], TrialMonitor], tuple[tuple, Any, list[dict]]]


def run_search(space: list[Param], objective: Objective, cfg: dict, seed: int) -> SearchOutcome:
    """Run the trials of a cell and keep the best.

    Args:
        space: the searched parameters (:func:`search_space`).
        objective: ``(params, monitor) → (key, payload, records)``; ``key`` is a tuple compared on validation
            (higher is better, the first trial wins ties), ``records`` the trial's rows for ``val_trials``;
            ``monitor`` (:class:`TrialMonitor`) receives the per-epoch validation score when a pruner is set.
        cfg: the protocol config (``tune``, ``lr_grid``).
        seed: seeds the sampler.
    """
    trials = int(cfg["tune"]["trials"])
    pruning = trials > 0 and cfg["tune"]["pruner"] != "none"
    best, records = None, []

    def evaluate(params: dict[str, Any], monitor: TrialMonitor) -> float:
        nonlocal best
        key, payload, rows = objective(params, monitor)
        extra = {"pruned_at_epoch": monitor.pruned_at} if pruning else {}
        records.extend({**{k: _plain(v) for k, v in params.items()}, **row, **extra} for row in rows)
        if monitor.pruned_at is None and (best is None or key > best[0]):
            best = (key, params, payload)
        return float(key[0]) if math.isfinite(key[0]) else -1e300

    if trials == 0:
        for params in _grid(space, cfg):
            evaluate(params, TrialMonitor())
        sampler = "grid"
    else:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        startup = max(1, math.ceil(trials / 3))
        study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(
            seed=int(seed), n_startup_trials=startup), pruner=_pruner(cfg["tune"]))
        study.enqueue_trial({p.name: p.default for p in space if p.default is not None})
        dists = {p.name: p.distribution() for p in space}
        for _ in range(trials):
            trial = study.ask(dists)
            monitor = TrialMonitor(trial if pruning else None)
            value = evaluate(dict(trial.params), monitor)
            if monitor.pruned_at is None:
                monitor.hold_best(int(cfg["epochs"]))
                study.tell(trial, value)
            else:
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        sampler = f"optuna TPE (seed {int(seed)}, {trials} trials, {startup} start-up incl. the defaults)"
        if pruning:
            sampler += (f", median pruner (after {cfg['tune']['prune_startup']} trials and "
                        f"{cfg['tune']['prune_warmup']} epochs)")
    return SearchOutcome(params=dict(best[1]), payload=best[2], records=records, space=space, sampler=sampler)


def split_params(params: dict[str, Any], cfg: dict, encoder_kwargs: dict[str, Any]) -> tuple[dict, dict]:
    """A trial's config (``weight_decay``; ``encoder_kwargs`` with the trial's encoder scales and
    ``encoder_kwargs`` from :func:`encoder_fixed_kwargs`) and the remaining, protocol-specific parameters
    (``lr``, categorical choices)."""
    scales = {k: v for k, v in params.items() if k in _ENCODER_KEYS}
    trial_cfg = dict(cfg, encoder_kwargs={**cfg["encoder_kwargs"], **encoder_kwargs, **scales})
    if "weight_decay" in params:
        trial_cfg["weight_decay"] = float(params["weight_decay"])
    rest = {k: v for k, v in params.items() if k not in scales and k != "weight_decay"}
    return trial_cfg, rest


def edge_rows(outcome: SearchOutcome, cfg: dict, label: str = "", best_epoch: int | None = None,
              max_epochs: int | None = None) -> list[dict[str, Any]]:
    """One row per searched parameter: chosen value, range, scale and the edge it sits at (``""`` = inside).

    In grid mode (``tune.trials`` = 0) the range is the grid's, and a choice at its smallest or largest value is
    at an edge. ``best_epoch`` (early stopping) is reported against ``[1, max_epochs]``: at the cap it is
    flagged ``"high"`` (validation was still improving when training stopped).
    """
    frac = float(cfg["tune"]["edge_fraction"])
    rows = []
    for p in outcome.space:
        if p.name not in outcome.params:
            continue
        value = outcome.params[p.name]
        if outcome.sampler == "grid" and p.name == "lr":
            grid = sorted(float(v) for v in cfg["lr_grid"])
            edge = "" if len(grid) < 2 else "low" if value <= grid[0] else "high" if value >= grid[-1] else ""
            rows.append(_row(label, p.name, value, grid[0], grid[-1], "grid", edge))
        elif not p.choices:
            rows.append(_row(label, p.name, value, p.low, p.high, p.scale(), p.edge(value, frac)))
    if best_epoch is not None and max_epochs is not None:
        rows.append(_row(label, "epochs", int(best_epoch), 1, int(max_epochs), "early_stopping",
                         "high" if best_epoch >= max_epochs else ""))
    return rows


def _row(label: str, name: str, value: Any, low: Any, high: Any, scale: str, edge: str) -> dict[str, Any]:
    return {"search": label or "main", "param": name, "value": _plain(value), "low": _plain(low),
            "high": _plain(high), "scale": scale, "edge": edge}


def _plain(v: Any) -> Any:
    """NumPy scalars → Python numbers (JSON)."""
    return v.item() if hasattr(v, "item") else v
