"""``CSPModel``: location encoder + image encoder + CSP objective, one ``forward`` = one batch loss."""

from __future__ import annotations

import torch
from torch import nn

from .objectives import CSPObjective, GatherFn

__all__ = ["CSPModel"]


class CSPModel(nn.Module):
    """Joint model of CSP pre-training.

    ``forward(lonlat, images, rand_lonlat=None, gather=None) -> (loss, logs)``:

    * ``e = Enc(x)`` ``(B, D)``; with the D term a second pass ``e′ = Enc(x)`` (new dropout mask, the
      two passes share one batched forward); with the L term ``e_r = Enc(r)`` for ``rand_lonlat``
      ``(B, K, 2)``;
    * ``f = ImgEnc(I)`` ``(B, D)``;
    * for ``objective.kind == "mse"``: ``pred = W·e`` ``(B, D_img)`` and the image encoder is frozen
      (its output is the regression target).

    The loss (incl. gathering across processes via ``gather``) runs inside ``forward`` so that a
    ``DistributedDataParallel`` wrapper sees every parameter, temperatures included.

    Args:
        location_encoder: any geosrl encoder, ``(..., 2)`` (lon, lat) degrees → ``(..., D)``.
        image_encoder: any module ``(B, C, H, W)`` → ``(B, D_img)`` (D_img = D unless ``mse``).
        objective: a :class:`~geosrl.pretrain.objectives.CSPObjective`.
        embed_dim: D; image_dim: D_img (needed for ``mse``).
    """

    def __init__(self, location_encoder: nn.Module, image_encoder: nn.Module, objective: CSPObjective,
                 embed_dim: int, image_dim: int | None = None) -> None:
        super().__init__()
        self.location_encoder = location_encoder
        self.image_encoder = image_encoder
        self.objective = objective
        self.loc_head = None
        if objective.kind == "mse":
            self.loc_head = nn.Linear(embed_dim, int(image_dim or embed_dim))
            for p in self.image_encoder.parameters():
                p.requires_grad_(False)

    def forward(self, lonlat: torch.Tensor, images: torch.Tensor, rand_lonlat: torch.Tensor | None = None,
                gather: GatherFn | None = None) -> tuple[torch.Tensor, dict[str, float]]:
        b = lonlat.shape[0]
        obj = self.objective
        parts = [lonlat]
        if obj.kind != "mse" and obj.needs_dropout_twin:
            parts.append(lonlat)
        if obj.kind != "mse" and obj.needs_random_locations:
            if rand_lonlat is None:
                raise ValueError("the L term needs rand_lonlat (B, K, 2)")
            if rand_lonlat.ndim == 2:
                rand_lonlat = rand_lonlat[:, None, :]
            parts.append(rand_lonlat.reshape(-1, 2))
        emb = self.location_encoder(torch.cat(parts, dim=0) if len(parts) > 1 else lonlat)
        e = emb[:b]
        pos = b
        e_prime = e_rand = None
        if obj.kind != "mse" and obj.needs_dropout_twin:
            e_prime, pos = emb[pos:pos + b], pos + b
        if obj.kind != "mse" and obj.needs_random_locations:
            e_rand = emb[pos:].reshape(b, rand_lonlat.shape[1], -1)
        if obj.kind == "mse":
            with torch.no_grad():
                f = self.image_encoder(images)
            return obj(e, f, pred=self.loc_head(e), gather=gather)
        f = self.image_encoder(images)
        return obj(e, f, e_prime=e_prime, e_rand=e_rand, gather=gather)
