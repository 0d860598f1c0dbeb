"""Contrastive spatial pre-training (CSP) objectives (Mai et al., ICML 2023; reference benchmark.md §7.1).

Notation (all embeddings are ``(B, D)`` float tensors, one row per (location, image) pair):

* ``e_i``  = location embedding of x_i (the location encoder's output, optionally projected);
* ``f_i``  = image embedding of the patch I_i;
* ``e'_i`` = a second forward pass of x_i with a new dropout mask (SimCSE positive);
* ``e_{r_{k,i}}`` = embedding of the k-th random location drawn for row i (``(B, K, D)``);
* ``s(a, b) = aᵀb / (‖a‖‖b‖)`` the cosine similarity; ``CE`` the softmax cross-entropy;
* τ a temperature: logits are ``s/τ`` (:class:`Temperature`, fixed or learnable).

Distributed training: every in-batch term compares the **local** rows of one process with the
**gathered** candidates of all processes (``*_all`` arguments, ``(N, D)`` with N = world·B) and the
positive of local row i sits at ``offset + i`` in the gathered tensor. With one process ``*_all`` is
the local tensor and ``offset = 0``. Averaging the per-process losses (what DDP does to gradients)
then equals the loss of the global batch — see :mod:`geosrl.pretrain.distributed`.

Objectives (each returns a 0-d tensor):

* :func:`mse_objective` — ``mean_{i,d} (W e_i − f_i)_d²`` (CSP ``l2regress``; the regression target is
  detached, so it needs a fixed or frozen image embedding).
* :func:`nce_objective` — binary NCE (CSP ``imgcontloss``), in-batch and random-location negatives.
* :func:`infonce_objective` — multi-class in-batch InfoNCE, ``symmetric`` adds image → location.
* :func:`location_negative_objective` — MC over the positive and K random locations (CSP "L").
* :func:`simcse_objective` — MC over dropout twins (CSP "D").
* :class:`CSPObjective` — the combinations CSP-MC-BLD / CSP-NCE-BLD (and any subset of B, L, D).
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "OBJECTIVES",
    "CSPObjective",
    "Temperature",
    "cosine_logits",
    "infonce_objective",
    "location_negative_objective",
    "mse_objective",
    "nce_objective",
    "simcse_objective",
]

#: objective kinds understood by :class:`CSPObjective`
OBJECTIVES = ("mse", "nce", "mc")

_EPS = 1e-5  # inside log(p + ε), as CSP's and TorchSpatial's ``neg_log``


class Temperature(nn.Module):
    """A temperature τ > 0, fixed (a buffer) or learnable (a parameter on log(1/τ), CLIP's ``logit_scale``).

    ``forward()`` returns the logit **scale** 1/τ as a 0-d tensor. A learnable scale is clamped to
    ``max_scale`` (CLIP uses 100) so that it cannot run away.

    Args:
        tau: initial / fixed temperature (> 0). CSP's released scripts use τ_B = 20 (their code
            divides the cosine by 20), τ_L = τ_D = 1; CLIP initialises τ = 0.07.
        learnable: train log(1/τ) jointly with the encoders.
        max_scale: upper bound of 1/τ when learnable.
    """

    def __init__(self, tau: float = 0.07, learnable: bool = True, max_scale: float = 100.0) -> None:
        super().__init__()
        if not tau > 0:
            raise ValueError(f"temperature must be > 0, got {tau}")
        value = torch.tensor(math.log(1.0 / float(tau)), dtype=torch.float32)
        self.learnable = bool(learnable)
        self.max_scale = float(max_scale)
        if self.learnable:
            self.log_scale = nn.Parameter(value)
        else:
            self.register_buffer("log_scale", value)

    def forward(self) -> torch.Tensor:
        scale = self.log_scale.exp()
        if self.learnable:
            scale = scale.clamp(max=self.max_scale)
        return scale

    @property
    def tau(self) -> float:
        """Current temperature τ = 1/scale as a Python float."""
        return float(1.0 / self().detach())

    def extra_repr(self) -> str:
        return f"tau={self.tau:.4g}, learnable={self.learnable}"


def _scale(temperature: Temperature | float | torch.Tensor | None) -> torch.Tensor | float:
    if temperature is None:
        return 1.0
    if isinstance(temperature, Temperature):
        return temperature()
    if isinstance(temperature, torch.Tensor):
        return 1.0 / temperature
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    return 1.0 / float(temperature)


def cosine_logits(a: torch.Tensor, b: torch.Tensor, temperature: Temperature | float | None = None) -> torch.Tensor:
    """``s(a_i, b_j)/τ`` for all pairs: ``(B, D)``, ``(N, D)`` → ``(B, N)``."""
    return (F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).transpose(-1, -2)) * _scale(temperature)


def _check_rows(name: str, x: torch.Tensor) -> None:
    if x.ndim != 2:
        raise ValueError(f"{name} must have shape (B, D), got {tuple(x.shape)}")


def _targets(q: torch.Tensor, k_all: torch.Tensor, offset: int) -> torch.Tensor:
    b = q.shape[0]
    if offset < 0 or offset + b > k_all.shape[0]:
        raise ValueError(f"offset {offset} + {b} local rows exceed the {k_all.shape[0]} gathered candidates")
    return torch.arange(offset, offset + b, device=q.device)


def mse_objective(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """CSP ``l2regress``: ``L = (1/(B·F)) Σ_i ‖ŷ_i − f_i‖²`` with ŷ = W·Enc(x) the projected,
    **unnormalised** location embedding ``(B, F)`` and f the image feature ``(B, F)``.

    The target is detached: MSE regresses a fixed image representation (a frozen image encoder
    or precomputed features); with a jointly trained image encoder it would collapse.
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred and target differ in shape: {tuple(pred.shape)} vs {tuple(target.shape)}")
    return torch.mean((pred - target.detach()) ** 2)


def infonce_objective(
    e: torch.Tensor,
    f_all: torch.Tensor,
    temperature: Temperature | float | None = 1.0,
    offset: int = 0,
    symmetric: bool = False,
    f: torch.Tensor | None = None,
    e_all: torch.Tensor | None = None,
) -> torch.Tensor:
    """In-batch multi-class InfoNCE (CSP ``contsoftmax`` "B" term).

    ``L_B = −(1/B) Σ_i log softmax_j(s(e_i, f_j)/τ)[j = i]`` over the N gathered images j.
    ``symmetric=True`` (``contsoftmaxsym``) **adds** the image → location direction
    ``−(1/B) Σ_i log softmax_j(s(f_i, e_j)/τ)[j = i]``, which needs the local images ``f`` and the
    gathered locations ``e_all``.

    Args:
        e: ``(B, D)`` local location embeddings.
        f_all: ``(N, D)`` gathered image embeddings (N ≥ B; the positive of row i is ``offset + i``).
        temperature: τ (float, tensor or :class:`Temperature`).
        offset: index of the first local row in the gathered tensors.
        symmetric: add the image → location term.
        f, e_all: local images ``(B, D)`` and gathered locations ``(N, D)`` (default: ``f_all``/``e``
            when not distributed).
    """
    _check_rows("e", e)
    _check_rows("f_all", f_all)
    tgt = _targets(e, f_all, offset)
    loss = F.cross_entropy(cosine_logits(e, f_all, temperature), tgt)
    if symmetric:
        f_loc = f if f is not None else f_all[offset:offset + e.shape[0]]
        e_glob = e_all if e_all is not None else e
        loss = loss + F.cross_entropy(cosine_logits(f_loc, e_glob, temperature), _targets(f_loc, e_glob, offset))
    return loss


def location_negative_objective(
    e: torch.Tensor, f: torch.Tensor, e_rand: torch.Tensor, temperature: Temperature | float | None = 1.0
) -> torch.Tensor:
    """CSP "L" term (multi-class): random locations as negatives of each image.

    ``L_L = −(1/B) Σ_i log softmax([s(e_i, f_i), s(e_{r_{1,i}}, f_i), …, s(e_{r_{K,i}}, f_i)]/τ)[0]``.

    Args:
        e: ``(B, D)`` location embeddings, f: ``(B, D)`` their images, e_rand: ``(B, K, D)`` (or
            ``(B, D)`` for K = 1) embeddings of random locations.
    """
    _check_rows("e", e)
    if e_rand.ndim == 2:
        e_rand = e_rand[:, None, :]
    if e_rand.ndim != 3 or e_rand.shape[0] != e.shape[0]:
        raise ValueError(f"e_rand must have shape (B, K, D) with B={e.shape[0]}, got {tuple(e_rand.shape)}")
    fn = F.normalize(f, dim=-1)
    pos = (F.normalize(e, dim=-1) * fn).sum(-1, keepdim=True)  # (B, 1)
    neg = (F.normalize(e_rand, dim=-1) * fn[:, None, :]).sum(-1)  # (B, K)
    logits = torch.cat([pos, neg], dim=1) * _scale(temperature)
    return F.cross_entropy(logits, torch.zeros(e.shape[0], dtype=torch.long, device=e.device))


def simcse_objective(
    e: torch.Tensor, e_prime_all: torch.Tensor, temperature: Temperature | float | None = 1.0, offset: int = 0
) -> torch.Tensor:
    """CSP "D" term (SimCSE): a second dropout pass of the same location is the positive.

    ``L_D = −(1/B) Σ_i log softmax_j(s(e_i, e'_j)/τ_D)[j = i]`` over the N gathered twins e'_j.
    """
    _check_rows("e", e)
    _check_rows("e_prime_all", e_prime_all)
    return F.cross_entropy(cosine_logits(e, e_prime_all, temperature), _targets(e, e_prime_all, offset))


def _binary_inbatch(q: torch.Tensor, k_all: torch.Tensor, offset: int, scale) -> torch.Tensor:
    """``mean_i[−log σ(s_ii) + (1/(N−1)) Σ_{j≠i} −log(1−σ(s_ij))]``, s = cos·scale, log(p + 10⁻⁵)."""
    p = torch.sigmoid(cosine_logits(q, k_all, None) * scale)  # (B, N)
    tgt = _targets(q, k_all, offset)
    rows = torch.arange(q.shape[0], device=q.device)
    pos = -torch.log(p[rows, tgt] + _EPS)
    n = k_all.shape[0]
    neg_all = -torch.log(1.0 - p + _EPS)
    mask = torch.ones_like(p, dtype=torch.bool)
    mask[rows, tgt] = False
    neg = (neg_all * mask).sum(1) / max(n - 1, 1)
    return (pos + neg).mean()


def nce_objective(
    e: torch.Tensor,
    f_all: torch.Tensor,
    e_rand: torch.Tensor | None = None,
    f: torch.Tensor | None = None,
    temperature: Temperature | float | None = 1.0,
    offset: int = 0,
    loc_weight: float = 1.0,
) -> torch.Tensor:
    """Binary NCE (CSP ``imgcontloss``; ``e_rand=None`` gives ``imgcontlossnolocneg``).

    ``L = mean_i[−log σ(s(e_i,f_i)/τ) + (1/(N−1)) Σ_{j≠i} −log(1 − σ(s(e_i,f_j)/τ))]
    + w_L · mean_{i,k}[−log(1 − σ(s(e_{r_{k,i}}, f_i)/τ))]`` with ``log(p + 10⁻⁵)``; CSP uses τ = 1.

    Args:
        e: ``(B, D)`` local locations; f_all: ``(N, D)`` gathered images; e_rand: ``(B, K, D)`` or
            ``(B, D)`` random-location embeddings; f: local images (default ``f_all[offset:offset+B]``).
        loc_weight: w_L.
    """
    _check_rows("e", e)
    _check_rows("f_all", f_all)
    scale = _scale(temperature)
    loss = _binary_inbatch(e, f_all, offset, scale)
    if e_rand is not None:
        f_loc = f if f is not None else f_all[offset:offset + e.shape[0]]
        if e_rand.ndim == 2:
            e_rand = e_rand[:, None, :]
        s = (F.normalize(e_rand, dim=-1) * F.normalize(f_loc, dim=-1)[:, None, :]).sum(-1) * scale  # (B, K)
        loss = loss + float(loc_weight) * (-torch.log(1.0 - torch.sigmoid(s) + _EPS)).mean()
    return loss


GatherFn = Callable[[torch.Tensor], tuple[torch.Tensor, int]]


def _no_gather(x: torch.Tensor) -> tuple[torch.Tensor, int]:
    return x, 0


class CSPObjective(nn.Module):
    """A CSP pre-training loss with its temperatures: MSE, NCE or MC, with any of the B, L, D terms.

    * ``kind="mc"``: ``L = L_B + w_L·L_L + w_D·L_D`` (:func:`infonce_objective`,
      :func:`location_negative_objective`, :func:`simcse_objective`), τ_B, τ_L, τ_D separate.
      All three terms = **CSP-MC-BLD**.
    * ``kind="nce"``: ``L = NCE_B(+w_L·NCE_L) + w_D·NCE_D`` where NCE_D is the same binary in-batch
      form on (e_i, e'_j) — with B, L and D this is **CSP-NCE-BLD** (``imgcontlosssimcse``).
    * ``kind="mse"``: :func:`mse_objective` on ``pred`` (only the B slot; L and D are ignored).

    Args:
        kind: ``"mc"``, ``"nce"`` or ``"mse"``.
        terms: subset of ``"BLD"`` (``"B"`` is required for mc/nce).
        loc_weight / dropout_weight: w_L, w_D.
        tau_b / tau_l / tau_d: initial temperatures; ``learnable_temperature`` makes those of the terms in
            use trainable (the others stay fixed buffers).
        symmetric: add the image → location direction to L_B (MC only).
    """

    def __init__(self, kind: str = "mc", terms: str = "BLD", loc_weight: float = 1.0, dropout_weight: float = 1.0,
                 tau_b: float = 0.07, tau_l: float = 1.0, tau_d: float = 1.0, learnable_temperature: bool = True,
                 symmetric: bool = True) -> None:
        super().__init__()
        if kind not in OBJECTIVES:
            raise ValueError(f"unknown objective {kind!r}; choose one of {OBJECTIVES}")
        terms = "".join(sorted(set(terms.upper()), key="BLD".index)) if terms else ""
        if set(terms) - set("BLD"):
            raise ValueError(f"terms must be a subset of 'BLD', got {terms!r}")
        if kind != "mse" and "B" not in terms:
            raise ValueError("the in-batch term 'B' is required for mc/nce objectives")
        self.kind, self.terms = kind, terms if kind != "mse" else "B"
        self.loc_weight, self.dropout_weight = float(loc_weight), float(dropout_weight)
        self.symmetric = bool(symmetric)
        # only the temperatures of terms in use are trainable (DDP needs every parameter to get a gradient)
        learn = bool(learnable_temperature) and kind != "mse"
        self.tau_b = Temperature(tau_b, learn)
        self.tau_l = Temperature(tau_l, learn and "L" in self.terms)
        self.tau_d = Temperature(tau_d, learn and "D" in self.terms)

    @property
    def needs_random_locations(self) -> bool:
        return "L" in self.terms

    @property
    def needs_dropout_twin(self) -> bool:
        return "D" in self.terms

    def forward(self, e: torch.Tensor, f: torch.Tensor, e_prime: torch.Tensor | None = None,
                e_rand: torch.Tensor | None = None, pred: torch.Tensor | None = None,
                gather: GatherFn | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        """Loss of one (local) batch.

        Args:
            e: ``(B, D)`` location embeddings; f: ``(B, D)`` image embeddings (for ``mse``: ``(B, F)``
                regression target).
            e_prime: ``(B, D)`` dropout twins (D term); e_rand: ``(B, K, D)`` random locations (L term).
            pred: ``(B, F)`` projected location embedding (``mse`` only).
            gather: ``x -> (x_all, offset)`` that gathers a local tensor across processes with
                gradient (see :func:`geosrl.pretrain.distributed.gather_with_grad`); default: none.
        Returns:
            ``(loss, logs)`` — ``logs`` holds each term's value, the temperatures and
            ``effective_negatives`` (in-batch candidates per anchor minus the positive, + K).
        """
        gather = gather or _no_gather
        logs: dict[str, float] = {}
        if self.kind == "mse":
            if pred is None:
                raise ValueError("the mse objective needs pred = projected location embedding")
            loss = mse_objective(pred, f)
            logs.update(loss_B=float(loss.detach()), effective_negatives=0.0)
            return loss, logs
        f_all, offset = gather(f)
        n_all = f_all.shape[0]
        negs = n_all - 1
        if self.kind == "mc":
            e_all = gather(e)[0] if self.symmetric else None
            loss_b = infonce_objective(e, f_all, self.tau_b, offset, self.symmetric, f=f, e_all=e_all)
        else:
            loss_b = nce_objective(e, f_all, None, f=f, temperature=self.tau_b, offset=offset)
        loss = loss_b
        logs["loss_B"] = float(loss_b.detach())
        if "L" in self.terms:
            if e_rand is None:
                raise ValueError("the L term needs e_rand (random-location embeddings)")
            if self.kind == "mc":
                loss_l = location_negative_objective(e, f, e_rand, self.tau_l)
            else:
                er = e_rand if e_rand.ndim == 3 else e_rand[:, None, :]
                s = (F.normalize(er, dim=-1) * F.normalize(f, dim=-1)[:, None, :]).sum(-1) * self.tau_l()
                loss_l = (-torch.log(1.0 - torch.sigmoid(s) + _EPS)).mean()
            loss = loss + self.loc_weight * loss_l
            logs["loss_L"] = float(loss_l.detach())
            negs += e_rand.shape[1] if e_rand.ndim == 3 else 1
        if "D" in self.terms:
            if e_prime is None:
                raise ValueError("the D term needs e_prime (a second dropout pass)")
            ep_all, off_d = gather(e_prime)
            if self.kind == "mc":
                loss_d = simcse_objective(e, ep_all, self.tau_d, off_d)
            else:
                loss_d = _binary_inbatch(e, ep_all, off_d, self.tau_d())
            loss = loss + self.dropout_weight * loss_d
            logs["loss_D"] = float(loss_d.detach())
        logs.update(tau_B=self.tau_b.tau, tau_L=self.tau_l.tau, tau_D=self.tau_d.tau,
                    effective_negatives=float(negs), gathered_batch=float(n_all))
        return loss, logs
