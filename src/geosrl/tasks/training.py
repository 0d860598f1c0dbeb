"""The one training loop of the protocols: Adam, exponential decay per epoch, mini-batches of row indices.

Every protocol (geo-prior classification, presence-only, regression, few-shot fine-tuning and probes)
trains through :func:`train_epochs`; what differs is passed in: how an epoch orders the training rows
(``epoch_order``) and the loss of one batch of rows (``batch_loss``), where
:func:`positive_negative_logits` forms the presence-absence pairs (positives and random negatives in
one forward pass). Random draws happen in the callbacks, in the order the callers make them, so a
protocol's results stay bit-identical for a seed.
"""

from __future__ import annotations

import copy
import math
from typing import Callable, Iterable

import torch
from torch import nn

from ..encoders.nets import use_bit_dropout

__all__ = ["EarlyStopping", "PositionCache", "adam", "positive_negative_logits", "protocol_optimizer", "train_epochs"]

#: largest feature table :class:`PositionCache` keeps (bytes); larger ones are encoded batch by batch
CACHE_BYTES = 256 * 2**20


def adam(params: Iterable, lr: float, weight_decay: float = 0.0, fused: bool = False) -> torch.optim.Adam:
    """Adam over ``params`` (parameters or parameter groups) at learning rate ``lr``.

    ``fused``: PyTorch's fused kernel, one pass over each parameter instead of a dozen (the same update up to
    float rounding, so not bit-identical to the default; its optimiser step is ≈ 6× faster on tile's 16.6M-
    parameter table).
    """
    extra = {"fused": True} if fused else {}
    return torch.optim.Adam(params, lr=float(lr), weight_decay=float(weight_decay), **extra)


def protocol_optimizer(model: nn.Module, lr: float, cfg: dict) -> torch.optim.Adam:
    """The protocols' training set-up of ``model``: Adam at ``lr`` with ``cfg``'s ``weight_decay`` and
    ``fused_adam``; with ``cfg["fast_dropout"]`` its ``nn.Dropout`` layers first become
    :class:`~geosrl.encoders.nets.BitDropout` (in place; same ``p``, a faster mask sampler)."""
    if cfg["fast_dropout"]:
        use_bit_dropout(model)
    return adam(model.parameters(), lr, cfg["weight_decay"], cfg["fused_adam"])


def train_epochs(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    epochs: int,
    batch_size: int,
    epoch_order: Callable[[], torch.Tensor],
    batch_loss: Callable[[torch.Tensor], torch.Tensor],
    lr_decay: float = 1.0,
    frozen: Iterable[nn.Module] = (),
    after_epoch: Callable[[int], bool] | None = None,
) -> nn.Module:
    """Train ``model`` for ``epochs`` passes and return it in eval mode.

    Args:
        model: the module holding the optimised parameters (put in train mode, except ``frozen``).
        optimizer: its optimiser.
        epochs: number of passes.
        batch_size: rows per optimiser step.
        epoch_order: called once per epoch; returns the ``(m,)`` row indices of that epoch, in order.
        batch_loss: ``(b,)`` row indices → scalar loss.
        lr_decay: ``ExponentialLR`` γ, applied after every epoch (1 = constant).
        frozen: sub-modules kept in eval mode (no dropout) while training, e.g. a frozen encoder.
        after_epoch: called with the number of finished epochs (model in eval mode); ``True`` stops training
            (e.g. :class:`EarlyStopping`).
    """
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=float(lr_decay))
    frozen = list(frozen)
    _train_mode(model, frozen)
    for epoch in range(int(epochs)):
        order = epoch_order()
        for start in range(0, len(order), int(batch_size)):
            loss = batch_loss(order[start:start + int(batch_size)])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        scheduler.step()
        if after_epoch is not None:
            model.eval()
            if after_epoch(epoch + 1):
                break
            _train_mode(model, frozen)
    return model.eval()


def _train_mode(model: nn.Module, frozen: list[nn.Module]) -> None:
    model.train()
    for module in frozen:
        module.eval()


class EarlyStopping:
    """Epochs chosen on validation: after each epoch ``score()`` (higher is better, validation rows only) is
    computed; the best state is kept, and training stops after ``patience`` epochs without improvement.

    Use as ``train_epochs(..., after_epoch=stopper)``, then :meth:`restore` loads the best epoch's weights.
    ``best_epoch`` is the chosen number of epochs. ``report(epoch, best_score) -> bool`` (e.g. a search's
    :meth:`~geosrl.tasks.search.TrialMonitor.report`) is told the best score so far after every epoch; ``True``
    stops training (a pruned trial).
    """

    def __init__(self, model: nn.Module, score: Callable[[], float], patience: int,
                 report: Callable[[int, float], bool] | None = None) -> None:
        self.model, self.score, self.patience, self.report = model, score, int(patience), report
        self.best, self.best_epoch, self._state, self._bad = -math.inf, 0, None, 0

    def __call__(self, epoch: int) -> bool:
        with torch.no_grad():
            value = float(self.score())
        if not math.isfinite(value):
            value = -math.inf
        if self._state is None or value > self.best:
            self.best, self.best_epoch, self._bad = value, epoch, 0
            self._state = copy.deepcopy(self.model.state_dict())
        else:
            self._bad += 1
        if self.report is not None and self.report(epoch, self.best):
            return True
        return self._bad >= self.patience

    def restore(self) -> nn.Module:
        """Load the best epoch's weights into the model (eval mode) and return it."""
        if self._state is not None:
            self.model.load_state_dict(self._state)
        return self.model.eval()


class PositionCache:
    """Embeddings of rows of fixed coordinates, the position encoding computed once per model.

    ``cache(rows, extra=None)`` is ``encoder(torch.cat([lonlat[rows], extra]))``, ``(len(rows) [+ len(extra)], D)``.
    When ``encoder`` is a :class:`~geosrl.encoders.LocationEncoder` whose position encoding has no trainable
    parameter (every registered encoding but ``tile``), the features of all of ``lonlat`` ``(N, 2)`` are
    computed once, without gradient (none flows into a fixed encoding), and a call encodes ``extra`` only
    and runs the network on the indexed rows: row for row the same numbers as encoding every batch (an
    encoding is computed row by row), without re-encoding the training rows every epoch. Other encoders,
    and feature tables over ``CACHE_BYTES``, are run on the coordinates every call. Build one per model
    (a trial's searched scale changes the features), after moving the model to its device and dtype.
    """

    def __init__(self, encoder: nn.Module, lonlat: torch.Tensor) -> None:
        from ..encoders import LocationEncoder

        self.encoder, self.lonlat, self.features = encoder, lonlat, None
        if not isinstance(encoder, LocationEncoder) or any(p.requires_grad for p in encoder.pe.parameters()):
            return
        dtype = encoder.feature_dtype or lonlat.dtype
        if len(lonlat) * encoder.pe.output_dim * dtype.itemsize <= CACHE_BYTES:
            with torch.no_grad():
                self.features = encoder.pe(lonlat, dtype=dtype)

    def __call__(self, rows: torch.Tensor, extra: torch.Tensor | None = None) -> torch.Tensor:
        if self.features is None:
            x = self.lonlat[rows] if extra is None else torch.cat([self.lonlat[rows], extra])
            return self.encoder(x)
        f = self.features[rows]
        if extra is not None:
            f = torch.cat([f, self.encoder.pe(extra, dtype=f.dtype)])
        return self.encoder.net(f)


def positive_negative_logits(model: nn.Module, positives: torch.Tensor,
                             negatives: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits of ``positives`` ``(b, …)`` and ``negatives`` ``(b', …)`` from one forward pass over both."""
    logits = model(torch.cat([positives, negatives]))
    return logits[: len(positives)], logits[len(positives):]
