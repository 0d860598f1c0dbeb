"""The one training loop of the protocols: Adam, exponential decay per epoch, mini-batches of row indices.

Every protocol (geo-prior classification, presence-only, regression, few-shot fine-tuning and probes)
trains through :func:`train_epochs`; what differs is passed in: how an epoch orders the training rows
(``epoch_order``) and the loss of one batch of rows (``batch_loss``), where
:func:`positive_negative_logits` forms the presence-absence pairs (positives and random negatives in
one forward pass). Random draws happen in the callbacks, in the order the callers make them, so a
protocol's results stay bit-identical for a seed.
"""

from __future__ import annotations

from typing import Callable, Iterable

import torch
from torch import nn

__all__ = ["adam", "positive_negative_logits", "train_epochs"]


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
    """
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=float(lr_decay))
    model.train()
    for module in frozen:
        module.eval()
    for _ in range(int(epochs)):
        order = epoch_order()
        for start in range(0, len(order), int(batch_size)):
            loss = batch_loss(order[start:start + int(batch_size)])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        scheduler.step()
    return model.eval()


def positive_negative_logits(model: nn.Module, positives: torch.Tensor,
                             negatives: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits of ``positives`` ``(b, …)`` and ``negatives`` ``(b', …)`` from one forward pass over both."""
    logits = model(torch.cat([positives, negatives]))
    return logits[: len(positives)], logits[len(positives):]
