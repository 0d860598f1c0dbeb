"""Heads: closed forms, warm starts, score factors."""

from __future__ import annotations

import numpy as np
import torch

from geosrl.hetero import LogisticHead, MLPHead, RidgeHead


def test_ridge_matches_lstsq_and_shrinks_to_prior():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 5))
    y = X @ np.arange(1.0, 6.0) + 2.0 + 0.1 * rng.standard_normal(200)
    h = RidgeHead(l2=1e-10).fit(X, y)
    A = np.hstack([X, np.ones((200, 1))])
    ref = np.linalg.lstsq(A, y, rcond=None)[0]
    np.testing.assert_allclose(np.r_[h.coef_, h.intercept_], ref, atol=1e-6)
    prior = RidgeHead(1.0).fit(X, -y)
    child = RidgeHead(l2=1e12).fit(X, y, prior=prior)
    np.testing.assert_allclose(child.coef_, prior.coef_, atol=1e-6)


def test_score_factors_are_loss_gradients():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((50, 3))
    y = rng.integers(0, 4, 50)
    h = LogisticHead(4, l2=1.0).fit(X, y)
    A, R = h.score_factors(X, y)
    g = np.einsum("ip,ik->pk", A, R)
    W = torch.tensor(h.coef_, requires_grad=True)
    b = torch.tensor(h.intercept_, requires_grad=True)
    loss = torch.nn.functional.cross_entropy(torch.tensor(X) @ W + b, torch.tensor(y), reduction="sum")
    loss.backward()
    np.testing.assert_allclose(g[:-1], W.grad.numpy(), atol=1e-8)
    np.testing.assert_allclose(g[-1], b.grad.numpy(), atol=1e-8)
    np.testing.assert_allclose(h.loss(X, y).sum(), loss.item(), rtol=1e-10)
    # at the optimum the data gradient balances the penalty: Σ gᵢ = −l2·W
    np.testing.assert_allclose(g[:-1], -1.0 * h.coef_, atol=1e-4)


def test_mlp_warm_start_copies_parent():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((100, 4))
    y = X[:, 0] * 2
    parent = MLPHead(epochs=30, hidden=8).fit(X, y)
    child = MLPHead(epochs=0, hidden=8).fit(X[:50], y[:50], prior=parent)
    np.testing.assert_allclose(child.predict(X), parent.predict(X))
    assert child.net_ is not parent.net_
