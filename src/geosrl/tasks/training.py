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

__all__ = ["EarlyStopping", "adam", "positive_negative_logits", "train_epochs"]


def adam(params: Iterable, lr: float, weight_decay: float = 0.0) -> torch.optim.Adam:
    """Adam over ``params`` (parameters or parameter groups) at learning rate ``lr``."""
    return torch.optim.Adam(params, lr=float(lr), weight_decay=float(weight_decay))


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
    ``best_epoch`` is the chosen number of epochs.
    """

    def __init__(self, model: nn.Module, score: Callable[[], float], patience: int) -> None:
        self.model, self.score, self.patience = model, score, int(patience)
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
        return self._bad >= self.patience

    def restore(self) -> nn.Module:
        """Load the best epoch's weights into the model (eval mode) and return it."""
        if self._state is not None:
            self.model.load_state_dict(self._state)
        return self.model.eval()


def positive_negative_logits(model: nn.Module, positives: torch.Tensor,
                             negatives: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits of ``positives`` ``(b, …)`` and ``negatives`` ``(b', …)`` from one forward pass over both."""
    logits = model(torch.cat([positives, negatives]))
    return logits[: len(positives)], logits[len(positives):]
