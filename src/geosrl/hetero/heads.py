"""Region heads: the per-region models fitted on ``[location embedding, features]``.

Every head maps a design matrix ``X`` of shape ``(N, D)`` (standardised embedding columns followed
by standardised feature columns; the intercept is added inside) to predictions, and supports the
three things the split-and-test loop needs:

* ``fit(X, y, prior=None)`` — fit on a region's data. ``prior`` is the parent region's fitted head:
  the child is **warm-started from the parent** (iterative heads start from the parent's weights;
  penalised heads shrink toward them, ``λ‖W − W_parent‖²`` instead of ``λ‖W‖²``, the closed-form
  analogue of fine-tuning from the parent with weight decay toward it).
* ``loss(X, y)`` — per-sample loss ``(N,)`` (squared error; negative log-likelihood for classes).
* ``score_factors(X, y)`` — the per-sample gradient of the loss w.r.t. the output-layer weights in
  factored form ``(A (N, P), R (N, K))`` with gradient ``a_i ⊗ r_i``; the split search sums these per
  cell and looks for the direction along which cells disagree.

Targets: regression heads take ``y`` ``(N,)`` float (already standardised by the estimator);
classification heads take ``y`` ``(N,)`` int64 in ``[0, n_classes)``.
"""

from __future__ import annotations

import contextlib
import copy

import numpy as np
import scipy.linalg
import torch

__all__ = ["Head", "RidgeHead", "LogisticHead", "MLPHead", "make_head", "single_thread"]


@contextlib.contextmanager
def single_thread():
    """Run torch on one intra-op thread inside the block, then restore the previous setting.

    Region heads are small (thousands of rows, hundreds of columns); on a loaded machine torch's
    intra-op thread pool made one L-BFGS evaluation ~60× slower (31 ms vs 0.5 ms measured on 2 shared
    cores), so the iterative heads train single-threaded.
    """
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(prev)


class Head:
    """Base class; subclasses implement ``fit``, ``predict``, ``loss``, ``score_factors``."""

    task: str = "regression"

    def clone(self) -> "Head":
        """Unfitted copy with the same hyper-parameters."""
        h = copy.copy(self)
        h._reset()
        return h

    def _reset(self) -> None:  # pragma: no cover - overridden
        pass

    def search_clone(self) -> "Head":
        """Unfitted, possibly cheaper copy used while searching a split (coordinate ascent); the
        children that are tested are refitted with the full head. Default: same as :meth:`clone`."""
        return self.clone()


def _with_intercept(X: np.ndarray) -> np.ndarray:
    return np.concatenate([X, np.ones((len(X), 1))], axis=1)


class RidgeHead(Head):
    """Linear regression with a ridge penalty, solved in closed form.

    Minimises ``Σᵢ (yᵢ − xᵢ·w − b)² + l2·‖w − w₀‖²`` where ``w₀`` is the prior's (parent's) weight
    vector, or 0 without a prior; the intercept ``b`` is not penalised. ``l2`` is in units of
    samples (with standardised columns, ``l2 = 10`` weighs like ten pseudo-observations).

    Attributes after ``fit``: ``coef_`` ``(D,)``, ``intercept_`` float.
    """

    task = "regression"

    def __init__(self, l2: float = 1.0):
        if l2 < 0:
            raise ValueError(f"l2 must be >= 0, got {l2}")
        self.l2 = float(l2)
        self._reset()

    def _reset(self) -> None:
        self.coef_ = None
        self.intercept_ = None

    def fit(self, X: np.ndarray, y: np.ndarray, prior: "RidgeHead | None" = None) -> "RidgeHead":
        X = np.asarray(X, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        w0 = np.zeros(X.shape[1]) if prior is None or prior.coef_ is None else prior.coef_
        r = y - X @ w0
        xm, rm = X.mean(axis=0), r.mean()
        Xc = X - xm
        A = Xc.T @ Xc
        A[np.diag_indices_from(A)] += max(self.l2, 1e-8)
        dw = scipy.linalg.solve(A, Xc.T @ (r - rm), assume_a="pos")
        self.coef_ = w0 + dw
        self.intercept_ = float(rm - xm @ dw)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """``(N,)`` predicted (standardised) targets."""
        return np.asarray(X, dtype=np.float64) @ self.coef_ + self.intercept_

    def loss(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``(N,)`` squared errors."""
        return (np.asarray(y, dtype=np.float64) - self.predict(X)) ** 2

    def score_factors(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Gradient of ½(y − ŷ)² w.r.t. (w, b): ``[x, 1] ⊗ (ŷ − y)`` → ``((N, D+1), (N, 1))``."""
        return _with_intercept(np.asarray(X, dtype=np.float64)), (self.predict(X) - y)[:, None]


class LogisticHead(Head):
    """Multinomial logistic regression (softmax), L-BFGS in float64 (torch).

    Minimises ``Σᵢ −log softmax(xᵢW + b)[yᵢ] + (l2/2)·‖W − W₀‖²`` (``W₀`` = prior's weights, or 0);
    the iteration starts from the prior (warm start). ``n_classes`` is fixed for the whole model so
    children of a region without some class keep a valid (low) score for it.

    Attributes after ``fit``: ``coef_`` ``(D, K)``, ``intercept_`` ``(K,)``.
    """

    task = "classification"

    def __init__(self, n_classes: int, l2: float = 1.0, max_iter: int = 100, tol: float = 1e-6):
        if n_classes < 2:
            raise ValueError(f"classification needs at least 2 classes, got {n_classes}")
        self.n_classes = int(n_classes)
        self.l2 = float(l2)
        self.max_iter = int(max_iter)
        self.tol = float(tol)
        self._reset()

    def _reset(self) -> None:
        self.coef_ = None
        self.intercept_ = None

    def search_clone(self) -> "LogisticHead":
        """Copy limited to ``max(10, max_iter // 5)`` L-BFGS iterations (warm-started, so close)."""
        h = self.clone()
        h.max_iter = max(10, self.max_iter // 5)
        return h

    def fit(self, X: np.ndarray, y: np.ndarray, prior: "LogisticHead | None" = None) -> "LogisticHead":
        Xt = torch.as_tensor(np.asarray(X, dtype=np.float64))
        yt = torch.as_tensor(np.asarray(y, dtype=np.int64))
        d, k = Xt.shape[1], self.n_classes
        if prior is not None and prior.coef_ is not None:
            W0 = torch.as_tensor(prior.coef_.copy())
            b0 = torch.as_tensor(prior.intercept_.copy())
        else:
            W0 = torch.zeros(d, k, dtype=torch.float64)
            b0 = torch.zeros(k, dtype=torch.float64)
        W = W0.clone().requires_grad_(True)
        b = b0.clone().requires_grad_(True)
        opt = torch.optim.LBFGS([W, b], lr=1.0, max_iter=self.max_iter, tolerance_grad=self.tol,
                                tolerance_change=1e-10, history_size=20, line_search_fn="strong_wolfe")
        n = max(len(yt), 1)

        def closure():
            opt.zero_grad()
            logits = Xt @ W + b
            obj = torch.nn.functional.cross_entropy(logits, yt, reduction="sum")
            obj = (obj + 0.5 * self.l2 * ((W - W0) ** 2).sum()) / n
            obj.backward()
            return obj

        with single_thread():
            opt.step(closure)
        self.coef_ = W.detach().numpy().copy()
        self.intercept_ = b.detach().numpy().copy()
        return self

    def logits(self, X: np.ndarray) -> np.ndarray:
        return np.asarray(X, dtype=np.float64) @ self.coef_ + self.intercept_

    def predict(self, X: np.ndarray) -> np.ndarray:
        """``(N, K)`` class probabilities."""
        z = self.logits(X)
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(axis=1, keepdims=True)

    def loss(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """``(N,)`` negative log-likelihood (nats)."""
        z = self.logits(X)
        zmax = z.max(axis=1, keepdims=True)
        lse = np.log(np.exp(z - zmax).sum(axis=1)) + zmax[:, 0]
        return lse - z[np.arange(len(z)), np.asarray(y, dtype=np.int64)]

    def score_factors(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``[x, 1] ⊗ (p − onehot(y))`` → ``((N, D+1), (N, K))``."""
        p = self.predict(X)
        p[np.arange(len(p)), np.asarray(y, dtype=np.int64)] -= 1.0
        return _with_intercept(np.asarray(X, dtype=np.float64)), p


class MLPHead(Head):
    """One-hidden-layer MLP head (``D → hidden → 1`` or ``K``), Adam, full batch or mini-batches.

    Warm start: a child copies the prior's (parent's) weights and continues training for ``epochs``;
    the split test compares it with the parent trained for the same extra epochs (as STAR does, so
    extra training alone cannot win the test). Loss: MSE (regression) or cross-entropy.
    ``score_factors`` use the output layer only (hidden activations ⊗ output residual).
    """

    def __init__(self, task: str = "regression", n_classes: int | None = None, hidden: int = 64,
                 epochs: int = 100, lr: float = 1e-2, weight_decay: float = 1e-4, batch_size: int = 4096,
                 seed: int = 0):
        if task not in ("regression", "classification"):
            raise ValueError(f"task must be regression or classification, got {task!r}")
        if task == "classification" and (n_classes is None or n_classes < 2):
            raise ValueError("classification MLPHead needs n_classes >= 2")
        self.task = task
        self.n_classes = n_classes
        self.hidden, self.epochs, self.lr = int(hidden), int(epochs), float(lr)
        self.weight_decay, self.batch_size, self.seed = float(weight_decay), int(batch_size), int(seed)
        self._reset()

    def _reset(self) -> None:
        self.net_ = None

    def search_clone(self) -> "MLPHead":
        """Copy trained for ``max(5, epochs // 4)`` epochs."""
        h = self.clone()
        h.epochs = max(5, self.epochs // 4)
        return h

    def _out(self) -> int:
        return 1 if self.task == "regression" else int(self.n_classes)

    def fit(self, X: np.ndarray, y: np.ndarray, prior: "MLPHead | None" = None) -> "MLPHead":
        Xt = torch.as_tensor(np.asarray(X, dtype=np.float32))
        g = torch.Generator().manual_seed(self.seed)
        if prior is not None and prior.net_ is not None:
            net = copy.deepcopy(prior.net_)
        else:
            torch.manual_seed(self.seed)  # nn.Linear init uses the global generator
            net = torch.nn.Sequential(torch.nn.Linear(Xt.shape[1], self.hidden), torch.nn.ReLU(),
                                      torch.nn.Linear(self.hidden, self._out()))
        if self.task == "regression":
            yt = torch.as_tensor(np.asarray(y, dtype=np.float32))
            lossf = lambda out, t: torch.nn.functional.mse_loss(out[:, 0], t)  # noqa: E731
        else:
            yt = torch.as_tensor(np.asarray(y, dtype=np.int64))
            lossf = torch.nn.functional.cross_entropy
        opt = torch.optim.Adam(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        n = len(Xt)
        with single_thread():
            for _ in range(self.epochs):
                perm = torch.randperm(n, generator=g)
                for s in range(0, n, self.batch_size):
                    idx = perm[s:s + self.batch_size]
                    opt.zero_grad()
                    lossf(net(Xt[idx]), yt[idx]).backward()
                    opt.step()
        self.net_ = net.eval()
        return self

    def _forward(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        with torch.no_grad():
            Xt = torch.as_tensor(np.asarray(X, dtype=np.float32))
            h = self.net_[1](self.net_[0](Xt))
            return h.double().numpy(), self.net_[2](h).double().numpy()

    def predict(self, X: np.ndarray) -> np.ndarray:
        """``(N,)`` values (regression) or ``(N, K)`` probabilities (classification)."""
        out = self._forward(X)[1]
        if self.task == "regression":
            return out[:, 0]
        out -= out.max(axis=1, keepdims=True)
        p = np.exp(out)
        return p / p.sum(axis=1, keepdims=True)

    def loss(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        p = self.predict(X)
        if self.task == "regression":
            return (np.asarray(y, dtype=np.float64) - p) ** 2
        return -np.log(np.clip(p[np.arange(len(p)), np.asarray(y, dtype=np.int64)], 1e-300, None))

    def score_factors(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        h, out = self._forward(X)
        if self.task == "regression":
            r = (out[:, 0] - y)[:, None]
        else:
            r = self.predict(X)
            r[np.arange(len(r)), np.asarray(y, dtype=np.int64)] -= 1.0
        return _with_intercept(h), r


class RandomFeatureHead(Head):
    """A head on ``[X, relu(X·W + b)]``: ``n_extra`` seeded random ReLU features added to the design.

    Used as the **equal-capacity global comparator** of a partitioned model
    (:func:`geosrl.hetero.model.equal_capacity_global`): as many free parameters as all regions' heads
    together, but no partition, so a split that wins only through extra capacity does not beat it.
    ``W ~ N(0, 1/D)``, ``b ~ N(0, 1)``; features are drawn once per input width and seed.

    Args:
        base: unfitted head fitted on the augmented design; n_extra: added columns; seed: their seed.
    """

    def __init__(self, base: Head, n_extra: int, seed: int = 0):
        if int(n_extra) < 0:
            raise ValueError(f"n_extra must be >= 0, got {n_extra}")
        self.base, self.n_extra, self.seed = base.clone(), int(n_extra), int(seed)
        self.task = base.task
        self._reset()

    def _reset(self) -> None:
        self.base = self.base.clone()
        self.W_, self.b_ = None, None

    def _augment(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if self.W_ is None or self.W_.shape[0] != X.shape[1]:
            rng = np.random.default_rng([self.seed, X.shape[1], self.n_extra])
            self.W_ = rng.standard_normal((X.shape[1], self.n_extra)) / np.sqrt(max(X.shape[1], 1))
            self.b_ = rng.standard_normal(self.n_extra)
        return np.concatenate([X, np.maximum(X @ self.W_ + self.b_, 0.0)], axis=1)

    def fit(self, X: np.ndarray, y: np.ndarray, prior: "RandomFeatureHead | None" = None) -> "RandomFeatureHead":
        self.base.fit(self._augment(X), y, prior=None if prior is None else prior.base)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.base.predict(self._augment(X))

    def loss(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        return self.base.loss(self._augment(X), y)

    def score_factors(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.base.score_factors(self._augment(X), y)


def n_parameters(head: Head) -> int:
    """Free parameters of a fitted head (weights and intercepts)."""
    if isinstance(head, RandomFeatureHead):
        return n_parameters(head.base)
    if isinstance(head, MLPHead):
        return int(sum(p.numel() for p in head.net_.parameters()))
    return int(np.size(head.coef_) + np.size(head.intercept_))


def make_head(head, task: str, n_classes: int | None, head_kwargs: dict | None, seed: int) -> Head:
    """Build a head from a name (``"linear"``, ``"mlp"``) or clone a :class:`Head` instance.

    ``"linear"`` is :class:`RidgeHead` for regression and :class:`LogisticHead` for classification.
    """
    kw = dict(head_kwargs or {})
    if isinstance(head, Head):
        if head.task != task:
            raise ValueError(f"head is for {head.task} but the target is {task}")
        return head.clone()
    if head == "linear":
        return RidgeHead(**kw) if task == "regression" else LogisticHead(n_classes, **kw)
    if head == "mlp":
        kw.setdefault("seed", seed)
        return MLPHead(task=task, n_classes=n_classes, **kw)
    raise ValueError(f"head must be 'linear', 'mlp' or a geosrl.hetero.heads.Head instance, got {head!r}")
