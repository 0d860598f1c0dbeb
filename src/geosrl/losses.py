"""Training losses of the benchmark protocols (reference §4.2, §5, §6).

* :func:`presence_absence_loss` — Mac Aodha et al. (2019) "full_loss" (eq. 7 without the user term)
  as run by TorchSpatial: ``pos_weight`` λ defaults to the number of classes C.
* :func:`an_full_loss` — SINR's "assume negative, full" loss (Cole et al. 2023): the same form with
  λ = 2048.

The random negatives r_i come from :func:`geosrl.sphere.uniform_lonlat`, **uniform on the sphere**
(``lon = 360u₁ − 180``, ``lat = asin(2u₂ − 1)·180/π``). This fixes TorchSpatial's defect B1, whose
"spherical" sampler discards these values and scales raw ``u ∈ [0, 1)`` by 180/90, putting every
negative in the north-east quadrant (lon ∈ [0°, 180°), lat ∈ [0°, 90°)).
* :func:`mse_loss` — mean squared error for regression.

All losses take **logits** ``s`` and use ``p = σ(s)`` with ``log(p + 10⁻⁵)`` exactly as the reference
implementations do (so values match them, including the ε), and return a 0-d tensor.
"""

from __future__ import annotations

import torch

__all__ = ["EPS", "an_full_loss", "mse_loss", "presence_absence_loss"]

#: the ε inside ``log(p + ε)`` of TorchSpatial's and SINR's ``neg_log``
EPS = 1e-5


def _neg_log(p: torch.Tensor) -> torch.Tensor:
    return -torch.log(p + EPS)


def presence_absence_loss(
    logits_pos: torch.Tensor,
    labels: torch.Tensor,
    logits_rand: torch.Tensor,
    pos_weight: float | None = None,
    rand_sample_weight: float = 1.0,
) -> torch.Tensor:
    """Mac Aodha "full" presence–absence loss.

    ``L = mean_{i,c}[𝟙[c≠yᵢ](−log(1−p_c(xᵢ))) + 𝟙[c=yᵢ] λ (−log p_{yᵢ}(xᵢ))]
    + ρ · mean_{i,c}[−log(1−p_c(rᵢ))]``, ``p = σ(s)``, ``log(· + 10⁻⁵)``.

    Args:
        logits_pos: ``(B, C)`` logits at the true locations xᵢ.
        labels: ``(B,)`` int64 class ids yᵢ.
        logits_rand: ``(B', C)`` logits at the random locations rᵢ (B' = B in the protocol).
        pos_weight: λ; default ``C`` (Mac Aodha/TorchSpatial).
        rand_sample_weight: ρ (1).

    Returns:
        0-d tensor.
    """
    if logits_pos.ndim != 2 or labels.shape != (logits_pos.shape[0],):
        raise ValueError(f"logits_pos must be (B, C) and labels (B,), got {tuple(logits_pos.shape)}, "
                         f"{tuple(labels.shape)}")
    if logits_rand.ndim != 2 or logits_rand.shape[1] != logits_pos.shape[1]:
        raise ValueError(f"logits_rand must be (B', {logits_pos.shape[1]}), got {tuple(logits_rand.shape)}")
    n_classes = logits_pos.shape[1]
    lam = float(n_classes if pos_weight is None else pos_weight)
    p = torch.sigmoid(logits_pos)
    loss_pos = _neg_log(1.0 - p)
    idx = torch.arange(p.shape[0], device=p.device)
    loss_pos = loss_pos.index_put((idx, labels.long()), lam * _neg_log(p[idx, labels.long()]))
    loss_bg = _neg_log(1.0 - torch.sigmoid(logits_rand))
    return loss_pos.mean() + rand_sample_weight * loss_bg.mean()


def an_full_loss(
    logits_pos: torch.Tensor,
    labels: torch.Tensor,
    logits_rand: torch.Tensor,
    pos_weight: float = 2048.0,
) -> torch.Tensor:
    """SINR "assume negative, full" loss (``an_full``): :func:`presence_absence_loss` with λ = 2048, ρ = 1.

    ``L = mean_{i,s}[λ𝟙[s=yᵢ](−log p_s(xᵢ)) + 𝟙[s≠yᵢ](−log(1−p_s(xᵢ)))] + mean_{i,s}[−log(1−p_s(rᵢ))]``.
    For one species (S = 1) pass ``(B, 1)`` logits and zero labels.
    """
    return presence_absence_loss(logits_pos, labels, logits_rand, pos_weight=pos_weight, rand_sample_weight=1.0)


def mse_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared error ``mean((ŷ − y)²)`` over all elements (shapes must match)."""
    if pred.shape != target.shape:
        raise ValueError(f"pred and target differ in shape: {tuple(pred.shape)} vs {tuple(target.shape)}")
    return torch.mean((pred - target) ** 2)
