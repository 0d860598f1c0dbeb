"""Tiny synthetic tasks and a fast stand-in location encoder for the protocol tests."""


import numpy as np
import pytest
import torch
from torch import nn

from geosrl.datasets.base import TaskData
from geosrl.sphere import uniform_lonlat_numpy


class TinyEncoder(nn.Module):
    """sin/cos of lon and lat at 4 frequencies → 64 → embed_dim (a fast stand-in for the registry)."""

    def __init__(self, embed_dim: int = 32) -> None:
        super().__init__()
        self.register_buffer("freq", torch.arange(1, 5, dtype=torch.float32))
        self.net = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, embed_dim), nn.ReLU())

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        a = torch.deg2rad(lonlat.float())[..., None] * self.freq
        return self.net(torch.cat([a.sin(), a.cos()], -1).flatten(-2))


def tiny_encoder(embed_dim: int = 32) -> nn.Module:
    return TinyEncoder(embed_dim)


FAST = {
    "epochs": 6,
    "batch_size": 256,
    "lr_grid": [1e-2, 1e-3],
    "embed_dim": 32,
    "max_train_samples": None,
    "head_hidden": [32],
    "image_hidden": [32],
    "ssi": {"max_centres": 40},
    "image_cnn": {"epochs": 3, "width": 8, "batch_size": 128},
}


def quadrant(ll):
    return (2 * (ll[:, 0] > 0) + (ll[:, 1] > 0)).astype(np.int64)


@pytest.fixture(scope="session")
def cls_data():
    ll = uniform_lonlat_numpy(1500, np.random.default_rng(0))
    return TaskData("synth_quadrants", "classification", ll, quadrant(ll), num_classes=4)


@pytest.fixture(scope="session")
def reg_data():
    rng = np.random.default_rng(1)
    ll = uniform_lonlat_numpy(1500, rng)
    y = 100 * np.sin(np.radians(ll[:, 1]) * 2) + 50 * np.cos(np.radians(ll[:, 0])) + rng.normal(0, 5, 1500)
    return TaskData("synth_regression", "regression", ll, y, target_name="synthetic (m)")


@pytest.fixture(scope="session")
def po_data():
    rng = np.random.default_rng(2)
    pres = np.concatenate([np.stack([rng.normal(lo, 4, 300), np.clip(rng.normal(la, 4, 300), -89, 89)], 1)
                           for lo, la in [(-100, 40), (20, 10)]])
    bg = uniform_lonlat_numpy(900, rng)
    ll = np.concatenate([pres, bg])
    y = np.r_[np.ones(len(pres)), np.zeros(len(bg))].astype(np.int64)
    return TaskData("synth_presence", "presence_only", ll, y, background_lonlat=uniform_lonlat_numpy(300, rng))


@pytest.fixture(scope="session")
def img_data():
    rng = np.random.default_rng(3)
    ll = uniform_lonlat_numpy(1500, rng)
    y = quadrant(ll)
    imgs = rng.integers(0, 120, size=(1500, 3, 8, 8)).astype(np.uint8)
    # the red channel carries the class with noise: class c brightens by 30c ± noise
    imgs[:, 0] += (30 * y[:, None, None] + rng.integers(0, 60, size=(1500, 1, 1))).astype(np.uint8)
    return TaskData("synth_imagery", "classification", ll, y, num_classes=4, images=imgs)
