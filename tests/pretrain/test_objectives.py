"""CSP objectives against hand-computed values and an independent float64 NumPy implementation."""

import math

import numpy as np
import pytest
import torch

from geosrl.pretrain.objectives import (
    CSPObjective,
    Temperature,
    infonce_objective,
    location_negative_objective,
    mse_objective,
    nce_objective,
    simcse_objective,
)

EPS = 1e-5
I2 = torch.eye(2, dtype=torch.float64)


def _cos(a, b):
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    return a @ b.T


def _ce(logits, target):
    m = logits.max(1, keepdims=True)
    lse = np.log(np.exp(logits - m).sum(1)) + m[:, 0]
    return float(np.mean(lse - logits[np.arange(len(target)), target]))


def _sig(x):
    return 1 / (1 + np.exp(-x))


@pytest.fixture
def batch():
    g = torch.Generator().manual_seed(0)
    e = torch.randn(5, 3, generator=g, dtype=torch.float64)
    f = torch.randn(5, 3, generator=g, dtype=torch.float64)
    ep = torch.randn(5, 3, generator=g, dtype=torch.float64)
    er = torch.randn(5, 2, 3, generator=g, dtype=torch.float64)
    return e, f, ep, er


def test_infonce_hand_value():
    # orthonormal pairs, tau = 1: logits = I, each row CE = log(1 + e^-1)
    want = math.log(1 + math.exp(-1))
    assert infonce_objective(I2, I2, 1.0).item() == pytest.approx(want, abs=1e-12)
    assert infonce_objective(I2, I2, 1.0, symmetric=True).item() == pytest.approx(2 * want, abs=1e-12)
    # tau = 0.5 doubles the logits: log(1 + e^-2)
    assert infonce_objective(I2, I2, 0.5).item() == pytest.approx(math.log(1 + math.exp(-2)), abs=1e-12)


def test_nce_hand_value():
    # pos: -log(sigmoid(1) + eps); neg (one, cos 0): -log(1 - 0.5 + eps)
    want = -math.log(1 / (1 + math.exp(-1)) + EPS) - math.log(0.5 + EPS)
    assert nce_objective(I2, I2, temperature=1.0).item() == pytest.approx(want, abs=1e-12)
    # one random location identical to the image: + w_L * -log(1 - sigmoid(1) + eps)
    er = I2.clone()
    extra = -math.log(1 - 1 / (1 + math.exp(-1)) + EPS)
    assert nce_objective(I2, I2, er, temperature=1.0, loc_weight=2.0).item() == pytest.approx(want + 2 * extra,
                                                                                             abs=1e-12)


def test_mse_hand_value():
    pred = torch.tensor([[1.0, 2.0], [0.0, 0.0]])
    tgt = torch.tensor([[0.0, 0.0], [0.0, 2.0]])
    assert mse_objective(pred, tgt).item() == pytest.approx((1 + 4 + 0 + 4) / 4)
    with pytest.raises(ValueError):
        mse_objective(pred, tgt[:1])


def test_location_negative_hand_value():
    # positive cos 1, one random location with cos 0: CE over [1, 0] at target 0
    e = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    er = torch.tensor([[[0.0, 1.0]]], dtype=torch.float64)
    assert location_negative_objective(e, e, er, 1.0).item() == pytest.approx(math.log(1 + math.exp(-1)))


def test_against_numpy(batch):
    e, f, ep, er = batch
    en, fn, epn, ern = (t.numpy() for t in (e, f, ep, er))
    tau = 0.3
    s = _cos(en, fn) / tau
    t = np.arange(5)
    assert infonce_objective(e, f, tau).item() == pytest.approx(_ce(s, t), rel=1e-10)
    assert infonce_objective(e, f, tau, symmetric=True).item() == pytest.approx(_ce(s, t) + _ce(s.T, t), rel=1e-10)
    assert simcse_objective(e, ep, tau).item() == pytest.approx(_ce(_cos(en, epn) / tau, t), rel=1e-10)
    pos = np.sum(fn / np.linalg.norm(fn, axis=1, keepdims=True) * en / np.linalg.norm(en, axis=1, keepdims=True), 1)
    neg = np.stack([np.diag(_cos(ern[:, k], fn)) for k in range(2)], 1)
    ll = np.concatenate([pos[:, None], neg], 1) / tau
    assert location_negative_objective(e, f, er, tau).item() == pytest.approx(_ce(ll, np.zeros(5, int)), rel=1e-10)
    p = _sig(_cos(en, fn))
    off = ~np.eye(5, dtype=bool)
    nce = np.mean(-np.log(np.diag(p) + EPS) + (-np.log(1 - p + EPS) * off).sum(1) / 4)
    nce_l = np.mean(-np.log(1 - _sig(neg) + EPS))
    assert nce_objective(e, f, er, temperature=1.0).item() == pytest.approx(nce + nce_l, rel=1e-10)


def test_csp_mc_bld_is_sum_of_terms(batch):
    e, f, ep, er = batch
    obj = CSPObjective("mc", "BLD", loc_weight=0.5, dropout_weight=2.0, tau_b=0.1, tau_l=1.0, tau_d=0.5,
                       learnable_temperature=False, symmetric=True).double()
    loss, logs = obj(e, f, e_prime=ep, e_rand=er)
    want = (infonce_objective(e, f, 0.1, symmetric=True) + 0.5 * location_negative_objective(e, f, er, 1.0)
            + 2.0 * simcse_objective(e, ep, 0.5))
    assert loss.item() == pytest.approx(want.item(), rel=1e-6)
    assert logs["effective_negatives"] == 4 + 2  # B - 1 in-batch + K random locations
    assert set(logs) >= {"loss_B", "loss_L", "loss_D", "tau_B"}


def test_csp_nce_bld(batch):
    e, f, ep, er = batch
    obj = CSPObjective("nce", "BLD", tau_b=1.0, tau_l=1.0, tau_d=1.0, learnable_temperature=False).double()
    loss, _ = obj(e, f, e_prime=ep, e_rand=er)
    en, fn, epn = e.numpy(), f.numpy(), ep.numpy()
    off = ~np.eye(5, dtype=bool)

    def binary(a, b):
        p = _sig(_cos(a, b))
        return np.mean(-np.log(np.diag(p) + EPS) + (-np.log(1 - p + EPS) * off).sum(1) / 4)

    neg = np.stack([np.diag(_cos(er.numpy()[:, k], fn)) for k in range(2)], 1)
    want = binary(en, fn) + np.mean(-np.log(1 - _sig(neg) + EPS)) + binary(en, epn)
    assert loss.item() == pytest.approx(want, rel=1e-8)


def test_mse_objective_kind():
    obj = CSPObjective("mse")
    pred, tgt = torch.ones(3, 4), torch.zeros(3, 4)
    loss, logs = obj(torch.zeros(3, 2), tgt, pred=pred)
    assert loss.item() == pytest.approx(1.0) and logs["effective_negatives"] == 0
    with pytest.raises(ValueError, match="pred"):
        obj(torch.zeros(3, 2), tgt)


def test_temperature_fixed_and_learnable():
    t = Temperature(0.5, learnable=False)
    assert t().item() == pytest.approx(2.0) and not list(t.parameters())
    t = Temperature(0.07, learnable=True)
    assert t.tau == pytest.approx(0.07, rel=1e-5) and len(list(t.parameters())) == 1
    # gradient reaches the learnable scale
    loss = infonce_objective(torch.randn(4, 3), torch.randn(4, 3), t)
    loss.backward()
    assert t.log_scale.grad is not None and torch.isfinite(t.log_scale.grad)
    with torch.no_grad():
        t.log_scale.fill_(10.0)
    assert t().item() == pytest.approx(100.0)  # clamped
    with pytest.raises(ValueError):
        Temperature(0.0)


def test_offsets_and_validation(batch):
    e, f, _, _ = batch
    # local rows 2..3 against all 5 candidates equal the corresponding rows of the full loss
    full = torch.nn.functional.cross_entropy(
        torch.nn.functional.normalize(e, dim=1) @ torch.nn.functional.normalize(f, dim=1).T / 0.2,
        torch.arange(5), reduction="none")
    part = infonce_objective(e[2:4], f, 0.2, offset=2)
    assert part.item() == pytest.approx(full[2:4].mean().item(), rel=1e-10)
    with pytest.raises(ValueError, match="offset"):
        infonce_objective(e[2:4], f, 0.2, offset=4)
    with pytest.raises(ValueError):
        CSPObjective("mc", "LD")
    with pytest.raises(ValueError):
        CSPObjective("triplet")
    with pytest.raises(ValueError, match="e_rand"):
        CSPObjective("mc", "BL")(e, f)
