"""Benchmark protocols: one implementation each, shared by the offline and LocBench suites.

``run_task(data, encoder, split, seed, config, device="cpu") -> TaskResult`` dispatches on
``data.kind``:

* ``"classification"`` → :mod:`geosrl.tasks.geoprior` (Mac Aodha geo-prior; with an image input —
  ``images`` such as ``country_from_imagery``'s patches via a small CNN, or ``image_features`` — the
  fused, ``_image_only`` and ``_location_only`` numbers are reported);
* ``"regression"`` → :mod:`geosrl.tasks.regression` (location embedding ± image features, MSE);
* ``"presence_only"`` → :mod:`geosrl.tasks.presence_only` (SINR an_full, AUC).

The encoder names ``"majority"`` and ``"knn"`` run the baselines of :mod:`geosrl.tasks.baselines`
instead, on the same split and with the same metrics.

Hyper-parameters are chosen on the validation split only; the test split is scored once, with the
chosen model. Configuration keys and the ``quick``/``full`` defaults: :mod:`geosrl.tasks.common`.
Training runs on ``device`` (``"cuda"`` uses the GPU); on CPU it is seeded and deterministic.
"""

from __future__ import annotations

import torch

from .baselines import BASELINES, run_baseline
from ..splits import healpix_cell_side_km
from .common import (FULL, PROFILES, QUICK, TaskResult, buffer_km, resolve_config, resolve_split, split_blocks,
                     split_record)
from .geoprior import run_classification
from .presence_only import run_presence_only
from .regression import run_regression

__all__ = ["BASELINES", "FULL", "PROFILES", "QUICK", "TaskResult", "resolve_config", "run_task"]

_RUNNERS = {
    "classification": run_classification,
    "regression": run_regression,
    "presence_only": run_presence_only,
}


def run_task(data, encoder, split, seed: int, config: dict | None = None, device: str | torch.device = "cpu") -> TaskResult:
    """Train and evaluate one (task, encoder, split, seed) cell.

    Args:
        data: a :class:`geosrl.datasets.base.TaskData` (duck-typed: ``name, kind, lonlat, target,
            num_classes, images, image_features, background_lonlat, metadata``).
        encoder: a ``geosrl.list_encoders()`` name (built with ``create_encoder(name,
            embed_dim=config["embed_dim"], **config["encoder_kwargs"])``), a factory
            ``f(embed_dim=...) -> nn.Module``, or a module (deep-copied for every trial).
        split: ``"random"`` or ``"spatial"`` (``geosrl.splits.make_split`` with ``seed`` and
            ``config["split"]``), or a dict with ``train``/``val``/``test`` index arrays.
        seed: seeds the split, the subsample, initialisation, sampling and negatives.
        config: overrides of the profile defaults (``config["profile"]``: ``"quick"`` or ``"full"``).
        device: torch device for training and evaluation.

    Returns:
        :class:`TaskResult`; ``metrics`` are test-split numbers.
    """
    cfg = resolve_config(config)
    kind = getattr(data, "kind", None)
    if kind not in _RUNNERS:
        raise ValueError(f"unknown task kind {kind!r} for task {getattr(data, 'name', '?')!r}; "
                         f"expected one of {sorted(_RUNNERS)}")
    device = torch.device(device)
    split_name, idx = resolve_split(data, split, seed, cfg)
    if split_name == "spatial":
        nside, strata = split_blocks(data, cfg)
        block = {"split_nside": nside, "split_block_km": healpix_cell_side_km(nside),
                 "split_buffer_km": buffer_km(cfg, nside), "split_stratified": strata is not None}
    else:
        block = {"split_buffer_km": buffer_km(cfg, None)} if split_name == "random" else {}
    if isinstance(encoder, str) and encoder in BASELINES:
        result = run_baseline(data, encoder, split_name, idx, seed, cfg)
    else:
        result = _RUNNERS[kind](data, encoder, split_name, idx, seed, cfg, device)
    for k, v in {**block, **split_record(data, idx)}.items():
        result.chosen_hparams.setdefault(k, v)
    result.chosen_hparams.setdefault("profile", cfg["profile"])
    result.chosen_hparams.setdefault("task", getattr(data, "name", ""))
    result.chosen_hparams.setdefault("seed", int(seed))
    result.chosen_hparams.setdefault("device", str(device))
    result.chosen_hparams.setdefault("ssi", dict(cfg["ssi"]))
    return result
