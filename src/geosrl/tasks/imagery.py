"""Image-side models that give P(y|I) for the geo-prior fusion.

* :class:`SmallCNN` + :func:`cnn_image_probs` — a small convolutional classifier trained on the
  training split's image patches (``TaskData.images``, ``(N, 3, H, W)`` uint8), used by
  ``country_from_imagery``. The epoch kept is the one with the best **validation** top-1; its softmax
  over all rows is P(y|I).
* :func:`probe_image_probs` — a softmax probe (multinomial logistic regression, full-batch Adam) on
  precomputed ``image_features`` that are not already class probabilities.
* :func:`image_probs` — picks between them and precomputed probabilities, with a per-process cache
  (the image model does not depend on the location encoder, so several encoders share one fit).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .common import array_key

__all__ = ["SmallCNN", "cnn_image_probs", "image_probs", "image_features_are_probs", "probe_image_probs"]

_CACHE: dict[str, tuple[np.ndarray, dict]] = {}


class SmallCNN(nn.Module):
    """Three 3×3 conv blocks (w, 2w, 4w channels, ReLU, 2×2 max-pool after the first two), global
    average pooling and a linear classifier: ``(B, 3, H, W)`` float → ``(B, C)`` logits."""

    def __init__(self, num_classes: int, width: int = 16) -> None:
        super().__init__()
        w = int(width)
        self.features = nn.Sequential(
            nn.Conv2d(3, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 4 * w, 3, padding=1), nn.BatchNorm2d(4 * w), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.classifier = nn.Linear(4 * w, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def image_features_are_probs(data) -> bool:
    """True when ``image_features`` hold class probabilities: ``metadata["image_features_kind"] ==
    "probs"``, or (no such key) shape ``(N, C)`` with non-negative rows summing to 1 ± 1e-3."""
    feats = data.image_features
    if feats is None:
        return False
    kind = (data.metadata or {}).get("image_features_kind")
    if kind is not None:
        return kind == "probs"
    if data.num_classes is None or feats.ndim != 2 or feats.shape[1] != data.num_classes or len(feats) == 0:
        return False
    sums = feats.sum(1)
    return bool(np.all(feats >= 0) and np.allclose(sums, 1.0, atol=1e-3))


def _to_float_images(imgs: np.ndarray, mean: torch.Tensor, std: torch.Tensor, device) -> torch.Tensor:
    x = torch.as_tensor(imgs, device=device).float().div_(255.0)
    return (x - mean) / std


@torch.no_grad()
def _cnn_logits(model: nn.Module, images: np.ndarray, mean, std, device, batch: int) -> torch.Tensor:
    model.eval()
    out = [model(_to_float_images(images[s:s + batch], mean, std, device)) for s in range(0, len(images), batch)]
    return torch.cat(out)


def cnn_image_probs(images: np.ndarray, target: np.ndarray, num_classes: int, train: np.ndarray,
                    val: np.ndarray, seed: int, cfg: dict, device="cpu") -> tuple[np.ndarray, dict]:
    """Train :class:`SmallCNN` on ``images[train]``; return P(y|I) ``(N, C)`` float32 and info.

    Adam (``cfg["lr"]``), cross-entropy, horizontal/vertical flips, ``cfg["epochs"]`` epochs of
    mini-batches of ``cfg["batch_size"]``; the epoch with the best validation top-1 is kept.
    """
    device = torch.device(device)
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    model = SmallCNN(num_classes, width=int(cfg["width"])).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=float(cfg["lr"]))
    sample = torch.as_tensor(images[train[: min(len(train), 2048)]]).float().div(255.0)
    mean = sample.mean(dim=(0, 2, 3), keepdim=True).to(device)
    std = sample.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-3).to(device)
    y_tr = torch.as_tensor(target[train], device=device).long()
    y_val = torch.as_tensor(target[val], device=device).long()
    bs = int(cfg["batch_size"])
    best = (-1.0, None, -1)
    for epoch in range(int(cfg["epochs"])):
        model.train()
        perm = torch.randperm(len(train), generator=gen).numpy()
        for s in range(0, len(perm), bs):
            b = perm[s:s + bs]
            x = _to_float_images(images[train[b]], mean, std, device)
            flips = torch.rand(2, generator=gen)
            if flips[0] < 0.5:
                x = x.flip(3)
            if flips[1] < 0.5:
                x = x.flip(2)
            loss = F.cross_entropy(model(x), y_tr[b])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        acc = float((_cnn_logits(model, images[val], mean, std, device, 1024).argmax(1) == y_val).float().mean())
        if acc > best[0]:
            best = (acc, {k: v.detach().clone() for k, v in model.state_dict().items()}, epoch + 1)
    model.load_state_dict(best[1])
    probs = torch.softmax(_cnn_logits(model, images, mean, std, device, 1024), dim=1)
    return probs.cpu().numpy().astype(np.float32), {"image_model": "SmallCNN", "image_epoch": best[2],
                                                   "image_val_top1": best[0]}


def probe_image_probs(features: np.ndarray, target: np.ndarray, num_classes: int, train: np.ndarray,
                      seed: int, cfg: dict, device="cpu") -> tuple[np.ndarray, dict]:
    """Softmax probe on standardised ``features[train]`` (full-batch Adam, ``cfg["epochs"]`` steps)."""
    device = torch.device(device)
    torch.manual_seed(seed)
    x = torch.as_tensor(np.asarray(features, dtype=np.float32), device=device)
    mu, sd = x[train].mean(0), x[train].std(0).clamp_min(1e-6)
    x = (x - mu) / sd
    lin = nn.Linear(x.shape[1], num_classes).to(device)
    opt = torch.optim.Adam(lin.parameters(), lr=float(cfg["lr"]))
    y = torch.as_tensor(target[train], device=device).long()
    xt = x[train]
    for _ in range(int(cfg["epochs"])):
        loss = F.cross_entropy(lin(xt), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    with torch.no_grad():
        probs = torch.softmax(lin(x), 1)
    return probs.cpu().numpy().astype(np.float32), {"image_model": "softmax_probe"}


def image_probs(data, idx: dict[str, np.ndarray], seed: int, cfg: dict, device="cpu") -> tuple[np.ndarray | None, dict]:
    """P(y|I) ``(N, C)`` for a classification task, or ``(None, {})`` when it has no image input.

    Order of preference: ``image_features`` that are probabilities (LocBench predictions, used as
    given); ``images`` (SmallCNN); other ``image_features`` (softmax probe). Cached per process by
    (inputs, split, seed, settings).
    """
    if image_features_are_probs(data):
        return np.asarray(data.image_features, dtype=np.float32), {"image_model": "given_probs"}
    if data.images is None and data.image_features is None:
        return None, {}
    src = data.images if data.images is not None else data.image_features
    sub = cfg["image_cnn"] if data.images is not None else cfg["image_clf"]
    key = array_key(src[:: max(1, len(src) // 512)], data.target, idx["train"], idx["val"],
                    extra=(len(src), src.shape, seed, sorted(sub.items()), str(device)))
    if key not in _CACHE:
        if data.images is not None:
            _CACHE[key] = cnn_image_probs(data.images, data.target, data.num_classes, idx["train"], idx["val"],
                                          seed, sub, device)
        else:
            _CACHE[key] = probe_image_probs(data.image_features, data.target, data.num_classes, idx["train"],
                                            seed, sub, device)
    probs, info = _CACHE[key]
    return probs, dict(info)
