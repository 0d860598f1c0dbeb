"""``nuft``: exact non-uniform Fourier transform features of a geometry, followed by an MLP.

Pipeline (pure torch after batching)::

    GeometryBatch --fourier_transform (float64, complex128 (B, M))--> G = F / F(0)
        --features (B, M·c)--> BatchNorm1d --> Linear → GELU → Linear --> (B, embed_dim)

``G`` divides by the measure in the frame (area, length or point count), so features are scale-free
in the ``"absolute"`` frame too. Feature modes:

* ``"reim"``: ``Re G, Im G`` (complete; phase relative to the frame origin, i.e. the centroid in
  the shape frame);
* ``"magnitude"``: ``|G|`` (translation-invariant, loses e.g. point reflection);
* ``"magphase"``: ``|G|`` and the unit phasor ``F/|F|`` (Re, Im), never raw wrapped angles.

Invariances of the spectrum (exact up to float64 round-off, see the tests): ring start vertex,
collinear or repeated vertices, part and hole order, ring direction (orientation is normalised at
ingest), duplicate closing vertex. Equivariant (not invariant): rotation ``F_{RP}(k) = F_P(Rᵀk)``.
In the shape frame translation and uniform scale are removed at ingest.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from ..checks import check_choice, check_count, check_order, check_positive, check_reals
from .base import GeometryEncoder
from .batch import Frame, GeometryBatch
from .frequencies import fft_grid_frequencies, polar_frequencies
from .ingest import InvalidMode
from .registry import register_geometry_encoder
from .spectral import DEFAULT_TAYLOR_THRESHOLD, fourier_transform

__all__ = ["NUFTEncoder"]

Sampling = Literal["fft", "geometric", "learned"]
Features = Literal["reim", "magnitude", "magphase"]
_FEATURE_WIDTH = {"reim": 2, "magnitude": 1, "magphase": 3}


@register_geometry_encoder("nuft")
class NUFTEncoder(GeometryEncoder):
    """Spectral geometry encoder (points, lines and areas; one dimension per batch).

    Args:
        embed_dim: output size ``D``.
        sampling: ``"fft"`` grid (``fft_size``, ``period``), ``"geometric"`` polar set
            (``num_radii``, ``num_angles``, ``k_min``, ``k_max``) or ``"learned"`` (an ``nn.Parameter``
            initialised from the geometric set; unconstrained during training: a frequency that leaves
            the half-plane only yields the conjugate of its mirror, ``F(−k) = conj F(k)``).
        features: ``"reim"``, ``"magnitude"`` or ``"magphase"`` (see module docstring).
        hidden_dim: width of the MLP's hidden layer.
        taylor_threshold: small-``|k|`` switch of the area transform (see :mod:`.spectral`).
        invalid, frame: ingest settings (see :class:`GeometryEncoder`).

    Frequencies are created as float64 and the transform always runs in float64/complex128; the MLP
    runs in the module's dtype. ``.to(device)`` keeps the float64 frequencies, whereas a dtype cast
    such as ``.float()`` rounds them to float32 (a ~1e-7 relative change of ``k``, not of the method).
    """

    def __init__(
        self,
        embed_dim: int = 64,
        *,
        sampling: Sampling = "geometric",
        features: Features = "reim",
        fft_size: tuple[int, int] = (16, 16),
        period: float = 8.0,
        num_radii: int = 8,
        num_angles: int = 8,
        k_min: float = 0.5,
        k_max: float = 32.0,
        hidden_dim: int = 256,
        taylor_threshold: float = DEFAULT_TAYLOR_THRESHOLD,
        invalid: InvalidMode = "raise",
        frame: Frame = "shape",
    ) -> None:
        super().__init__(embed_dim, invalid=invalid, frame=frame)
        self.sampling = check_choice("sampling", sampling, ("fft", "geometric", "learned"))
        self.features = check_choice("features", features, tuple(sorted(_FEATURE_WIDTH)))
        self.taylor_threshold = check_positive("taylor_threshold", taylor_threshold, maximum=1.0)
        hidden_dim = check_count("hidden_dim", hidden_dim, maximum=65_536)
        if sampling == "fft":
            fft_size = tuple(check_count(f"fft_size[{i}]", s, minimum=2, maximum=1024)
                             for i, s in enumerate(check_reals("fft_size", fft_size, length=2)))
            period = check_positive("period", period)
        else:
            num_radii = check_count("num_radii", num_radii, maximum=4096)
            num_angles = check_count("num_angles", num_angles, maximum=4096)
            k_min, k_max = check_positive("k_min", k_min), check_positive("k_max", k_max)
            check_order("k_min", k_min, "k_max", k_max)
        self._init_frequencies(sampling, fft_size, period, num_radii, num_angles, k_min, k_max)
        width = _FEATURE_WIDTH[features] * self.num_frequencies
        self.norm = nn.BatchNorm1d(width)
        self.mlp = nn.Sequential(nn.Linear(width, hidden_dim), nn.GELU(), nn.Linear(hidden_dim, self.embed_dim))

    def _init_frequencies(
        self,
        sampling: str,
        fft_size: tuple[int, int],
        period: float,
        num_radii: int,
        num_angles: int,
        k_min: float,
        k_max: float,
    ) -> None:
        if sampling == "fft":
            self.register_buffer("_k", fft_grid_frequencies(fft_size, period))
        elif sampling in ("geometric", "learned"):
            k = polar_frequencies(num_radii, num_angles, k_min, k_max)
            if sampling == "learned":
                self._k = nn.Parameter(k)
            else:
                self.register_buffer("_k", k)
        else:
            raise ValueError(f"sampling must be 'fft', 'geometric' or 'learned', got {sampling!r}")

    @property
    def frequencies(self) -> torch.Tensor:
        """``(M, 2)`` angular frequencies, rad per frame unit (float64 unless the module was cast)."""
        return self._k

    @property
    def num_frequencies(self) -> int:
        return int(self._k.shape[0])

    def transform(self, batch: GeometryBatch) -> torch.Tensor:
        """Exact spectrum ``F(k)`` at :attr:`frequencies`, ``(B, M)`` complex128."""
        return fourier_transform(batch, self._k, taylor_threshold=self.taylor_threshold)

    def spectral_features(self, batch: GeometryBatch) -> torch.Tensor:
        """Real features ``(B, M·c)`` float64 (``c`` = 2, 1, 3 for reim, magnitude, magphase), before the MLP."""
        spectrum = self.transform(batch)
        normalised = spectrum / batch.measure_in_frame()[:, None]
        if self.features == "reim":
            return torch.cat([normalised.real, normalised.imag], dim=1)
        magnitude = normalised.abs()
        if self.features == "magnitude":
            return magnitude
        phasor = spectrum / torch.sqrt(spectrum.real**2 + spectrum.imag**2 + 1e-300)
        return torch.cat([magnitude, phasor.real, phasor.imag], dim=1)

    def encode(self, batch: GeometryBatch) -> torch.Tensor:
        """``(B, embed_dim)`` in the module's dtype."""
        dtype = self.mlp[0].weight.dtype
        return self.mlp(self.norm(self.spectral_features(batch).to(dtype)))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, sampling={self.sampling!r}, features={self.features!r}, M={self.num_frequencies}"
