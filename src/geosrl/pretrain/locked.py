"""A locked image side: the patch encoder is trained first without labels or locations, then frozen.

CSP and SatCLIP-style recipes may lock the image side: here the :class:`~geosrl.pretrain.image_encoder.PatchCNN`
is trained by SimCLR-style augmentation contrast on the context patches alone (two random views of a patch
are a positive pair, the other patches of the batch negatives), frozen, and every pair's image embedding is
computed once. The location encoder is then trained contrastively against these fixed vectors through a
trainable linear projection, so a training step costs milliseconds instead of a CNN pass.

Why augmentation contrast: the views differ by a shifted crop (up to a quarter of the patch), a flip or a
quarter turn, a per-channel gain and pixel noise, so the embedding keeps what a patch is covered by (colour
and turbidity distribution: ocean, desert, forest, ice, haze) and drops where exactly inside the patch things
sit. Neighbouring locations, whose patches overlap, then get close embeddings: the location encoder is asked
for a smooth field, not for telling apart patches a few pixels apart (what a CNN trained jointly with the
location encoder learns to do within a batch).
"""

from __future__ import annotations

import math
import time
from typing import Callable

import torch
from torch import nn

from .data import patches_to_float
from .image_encoder import PatchCNN
from .objectives import infonce_objective

__all__ = ["SSLHead", "augment_views", "embed_patches", "train_patch_encoder"]


class SSLHead(nn.Module):
    """The projection head of the augmentation-contrast stage: ``(B, D)`` → ``(B, out_dim)`` (discarded after)."""

    def __init__(self, dim: int, out_dim: int = 64) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(inplace=True), nn.Linear(dim, out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def augment_views(x: torch.Tensor, generator: torch.Generator, crop_fraction: float = 0.75,
                  gain: float = 0.2, noise: float = 0.1) -> torch.Tensor:
    """One random view per patch of standardised patches ``x`` ``(B, C, P, P)`` → ``(B, C, p, p)``.

    ``p = round(crop_fraction·P)``: a crop at a random offset per patch, then a random horizontal flip
    and quarter turn per patch, a per-patch, per-channel gain ``exp(U(−gain, gain))`` and Gaussian pixel
    noise of std ``noise`` (the inputs are standardised, so in channel standard deviations). All draws come
    from ``generator`` (CPU), so the views are reproducible.
    """
    b, c, p, _ = x.shape
    size = max(1, int(round(crop_fraction * p)))
    dev = x.device
    oy = torch.randint(p - size + 1, (b,), generator=generator).to(dev)
    ox = torch.randint(p - size + 1, (b,), generator=generator).to(dev)
    ar = torch.arange(size, device=dev)
    rows = (oy[:, None] + ar[None, :])[:, :, None]  # (B, p, 1)
    cols = (ox[:, None] + ar[None, :])[:, None, :]  # (B, 1, p)
    v = x[torch.arange(b, device=dev)[:, None, None], :, rows, cols].permute(0, 3, 1, 2)  # (B, C, p, p)
    flip = (torch.rand(b, generator=generator) < 0.5).to(dev).view(b, 1, 1, 1)
    v = torch.where(flip, v.flip(-1), v)
    turn = (torch.rand(b, generator=generator) < 0.5).to(dev).view(b, 1, 1, 1)
    v = torch.where(turn, v.transpose(-1, -2).flip(-1), v)
    scale = torch.exp((torch.rand(b, c, 1, 1, generator=generator) * 2 - 1) * gain).to(dev, x.dtype)
    return v * scale + noise * torch.randn(v.shape, generator=generator).to(dev, x.dtype)


def train_patch_encoder(patches: torch.Tensor, stats: dict, *, in_channels: int, embed_dim: int, width: int,
                        depth: int, epochs: int, batch_size: int, lr: float, tau: float, seed: int,
                        log: Callable[[str], None] = lambda *_: None) -> tuple[PatchCNN, list[dict[str, float]]]:
    """Train a :class:`PatchCNN` by augmentation contrast on uint8 patches ``(N, C, P, P)`` (no labels).

    Symmetric InfoNCE between the head outputs of two views per patch (temperature ``tau``), AdamW with a
    cosine schedule, ``epochs`` passes over the patches in batches of ``batch_size``. Seeded by ``seed``
    (initialisation, batch order, views). Returns the trained encoder (eval mode, ``requires_grad`` off) and
    one history row per epoch (``ssl_loss``, ``ssl_top1``: how often a view's nearest other view in the batch is
    its twin, ``seconds``).
    """
    torch.manual_seed(seed)
    cnn = PatchCNN(in_channels=in_channels, embed_dim=embed_dim, width=width, depth=depth).to(patches.device)
    head = SSLHead(embed_dim).to(patches.device)
    params = list(cnn.parameters()) + list(head.parameters())
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=1e-4)
    n = len(patches)
    bs = min(int(batch_size), n)
    steps = max(1, n // bs)
    total = max(1, epochs * steps)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    g = torch.Generator().manual_seed(seed * 1000 + 41)
    history = []
    for epoch in range(epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=g).to(patches.device)
        loss_sum = hit_sum = 0.0
        for step in range(steps):
            x = patches_to_float(patches[perm[step * bs:(step + 1) * bs]], stats)
            z = head(cnn(torch.cat([augment_views(x, g), augment_views(x, g)])))
            z1, z2 = nn.functional.normalize(z[:len(x)], dim=-1), nn.functional.normalize(z[len(x):], dim=-1)
            loss = infonce_objective(z1, z2, tau, symmetric=True)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += float(loss.detach())
            hit_sum += float(((z1 @ z2.T).argmax(1) == torch.arange(len(x), device=x.device)).float().mean())
        row = {"epoch": epoch, "ssl_loss": loss_sum / steps, "ssl_top1": hit_sum / steps,
               "seconds": time.perf_counter() - t0}
        history.append(row)
        log(f"image encoder (augmentation contrast) epoch {epoch + 1}/{epochs} loss {row['ssl_loss']:.4f} "
            f"view top-1 {row['ssl_top1']:.3f} ({row['seconds']:.0f} s)")
    cnn.eval().requires_grad_(False)
    return cnn, history


@torch.no_grad()
def embed_patches(cnn: nn.Module, patches: torch.Tensor, stats: dict, batch: int = 4096) -> torch.Tensor:
    """Fixed image embeddings ``(N, D)`` float32 of uint8 patches ``(N, C, P, P)`` by the locked encoder."""
    cnn.eval()
    return torch.cat([cnn(patches_to_float(patches[s:s + batch], stats)).float()
                      for s in range(0, len(patches), batch)])
