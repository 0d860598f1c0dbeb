"""``rbf``: Gaussian radial basis functions around anchor locations."""

from __future__ import annotations

import torch

from ...coords import DEG2RAD, validate_lonlat
from ...sphere import lonlat_to_xyz, uniform_lonlat
from ..registry import register_encoder
from ...checks import check_choice, check_count, check_real, check_seed, describe
from .base import PositionEncoding

_DISTANCES = ("great_circle", "euclidean_deg")


@register_encoder("rbf")
class RBFEncoding(PositionEncoding):
    """PE_m(x) = exp(−d(x, a_m)² / (2σ²)), m = 1…M; output M.

    Args:
        num_anchors: M (used when ``anchors`` is None: M seeded points uniform on the sphere).
        kernel_size_deg: σ in degrees (default 2° ≈ 222 km of great-circle distance), above 10⁻¹⁵⁰ so
            that 1/σ² is finite.
        anchors: optional ``(M, 2)`` (lon, lat) degrees, used as given (e.g. training locations).
        distance: ``"great_circle"`` (angle in degrees, periodic and pole-consistent) or
            ``"euclidean_deg"`` (TorchSpatial: Euclidean distance on raw degrees, no dateline wrap).
        seed: seed for the default anchors.
    """

    def __init__(
        self,
        num_anchors: int = 200,
        kernel_size_deg: float = 2.0,
        anchors: torch.Tensor | None = None,
        distance: str = "great_circle",
        seed: int = 0,
        validate: bool = True,
    ) -> None:
        super().__init__(validate)
        self.distance = check_choice("distance", distance, _DISTANCES)
        self.kernel_size_deg = check_real("kernel_size_deg", kernel_size_deg, minimum=1e-150, min_open=True)
        num_anchors, seed = check_count("num_anchors", num_anchors), check_seed("seed", seed)
        if anchors is None:
            anchors = uniform_lonlat(num_anchors, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        else:
            anchors = _as_anchor_tensor("anchors", anchors)
            if anchors.ndim != 2 or anchors.shape[1] != 2 or anchors.shape[0] < 1:
                raise ValueError(f"anchors must have shape (M, 2) with M >= 1, got {tuple(anchors.shape)}")
            validate_lonlat(anchors)
        self.output_dim = int(anchors.shape[0])
        self.register_float64("anchors", anchors, persistent=True)

    @classmethod
    def from_locations(cls, lonlat: torch.Tensor, num_anchors: int = 200, seed: int = 0, **kwargs) -> "RBFEncoding":
        """Anchors = ``num_anchors`` of the given ``(N, 2)`` locations, drawn with a seeded generator
        (without replacement, or with replacement when N < num_anchors), as TorchSpatial does."""
        num_anchors = check_count("num_anchors", num_anchors)
        lonlat = _as_anchor_tensor("lonlat", lonlat).reshape(-1, 2)
        validate_lonlat(lonlat)
        gen = torch.Generator().manual_seed(check_seed("seed", seed))
        n = lonlat.shape[0]
        if n == 0:
            raise ValueError("from_locations needs at least one location")
        if n >= num_anchors:
            idx = torch.randperm(n, generator=gen)[:num_anchors]
        else:
            idx = torch.randint(n, (num_anchors,), generator=gen)
        return cls(anchors=lonlat[idx], **kwargs)

    def squared_distance_deg(self, lonlat: torch.Tensor, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """Squared distance ``(..., M)`` in degrees² between each location and each anchor, in ``dtype``.

        Great circle: hav = (1 − p·a)/2 = sin²(d/2) from unit vectors (one float64 matmul, accurate for
        the distances that matter at σ ≳ 10⁻³°), then d = 2·asin(√hav) in ``dtype``.
        """
        if self.distance == "euclidean_deg":
            x = lonlat.to(torch.float64).unsqueeze(-2)  # (..., 1, 2)
            return ((x - self.anchors) ** 2).sum(-1).to(dtype)
        p = lonlat_to_xyz(lonlat.to(torch.float64))  # (..., 3)
        hav = (0.5 - 0.5 * (p @ lonlat_to_xyz(self.anchors).T)).to(dtype)
        # clamp keeps sqrt differentiable at an anchor (the true gradient there is 0)
        angle_deg = torch.asin(torch.sqrt(hav.clamp(1e-30, 1.0))) * (2.0 / DEG2RAD)
        return angle_deg * angle_deg

    def encode(self, lonlat: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        d2 = self.squared_distance_deg(lonlat, dtype)
        # exp of large negative arguments takes libm's slow underflow path (~20x slower per element);
        # below −80 the feature is < 2e-35 either way, so the floor changes no meaningful value
        return torch.exp((d2 * (-0.5 / self.kernel_size_deg**2)).clamp_min_(-80.0))


def _as_anchor_tensor(name: str, values) -> torch.Tensor:
    """``values`` (tensor or array-like of (lon, lat) degrees) as a float64 tensor; ``TypeError`` naming ``name``."""
    try:
        return torch.as_tensor(values, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise TypeError(f"{name} must be (M, 2) (lon, lat) degrees as a tensor or array, got {describe(values)}: "
                        f"{exc}") from None
