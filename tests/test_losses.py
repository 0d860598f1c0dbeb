"""Loss values against hand computations; uniform negatives cover the whole sphere."""

import math

import numpy as np
import pytest
import torch

from geosrl.losses import EPS, an_full_loss, mse_loss, presence_absence_loss


def nl(p):
    return -math.log(p + EPS)


def test_presence_absence_by_hand():
    # p = 0.5 everywhere, C = 2, λ = C = 2: positives mean (2·nl(.5) + nl(.5))/2, negatives nl(.5)
    lp, lr = torch.zeros(1, 2), torch.zeros(1, 2)
    loss = presence_absence_loss(lp, torch.tensor([0]), lr)
    assert float(loss) == pytest.approx(1.5 * nl(0.5) + nl(0.5))
    # asymmetric example: logits 0 and log 3 (p = .75), label 1, λ = 2; random logit -log 3 (p = .25)
    lp = torch.tensor([[0.0, math.log(3)]])
    lr = torch.tensor([[-math.log(3), -math.log(3)]])
    loss = presence_absence_loss(lp, torch.tensor([1]), lr)
    expect = (nl(1 - 0.5) + 2 * nl(0.75)) / 2 + nl(0.75)
    assert float(loss) == pytest.approx(expect, rel=1e-6)


def test_presence_absence_matches_loop():
    g = torch.Generator().manual_seed(0)
    lp, lr = torch.randn(5, 4, generator=g), torch.randn(5, 4, generator=g)
    y = torch.tensor([0, 3, 1, 1, 2])
    p, q = torch.sigmoid(lp), torch.sigmoid(lr)
    tot = 0.0
    for i in range(5):
        for c in range(4):
            tot += 4 * nl(float(p[i, c])) if c == int(y[i]) else nl(1 - float(p[i, c]))
    expect = tot / 20 + sum(nl(1 - float(v)) for v in q.flatten()) / 20
    assert float(presence_absence_loss(lp, y, lr)) == pytest.approx(expect, rel=1e-5)
    assert float(presence_absence_loss(lp, y, lr, pos_weight=1.0)) < expect


def test_an_full_one_species():
    loss = an_full_loss(torch.zeros(3, 1), torch.zeros(3, dtype=torch.long), torch.zeros(3, 1))
    assert float(loss) == pytest.approx(2048 * nl(0.5) + nl(0.5))


def test_mse():
    assert float(mse_loss(torch.tensor([1.0, 3.0]), torch.tensor([0.0, 1.0]))) == pytest.approx(2.5)
    with pytest.raises(ValueError):
        mse_loss(torch.zeros(2), torch.zeros(3))
