"""``spherical_harmonics``: real spherical harmonics by a stable normalised recurrence."""

from __future__ import annotations

import math

import torch

from ...coords import DEG2RAD
from ..registry import register_encoder
from ...checks import check_choice, check_count
from .base import HALF_PI, PositionEncoding, sin_of

_CONVENTIONS = ("geosrl", "satclip")


def _recurrence_tables(num_degrees: int) -> tuple[list[torch.Tensor], list[torch.Tensor], list[float]]:
    """Coefficients of N̄_l^m = a_lm(x·N̄_{l−1}^m − b_lm·N̄_{l−2}^m) for m < l, and the diagonal factors.

    Returns per-degree float64 tensors ``a[l]``, ``b[l]`` of length l (m = 0…l−1), and
    ``diag[m] = √((2m+1)/(2m))`` for m ≥ 1.
    """
    a_tab, b_tab = [torch.zeros(0, dtype=torch.float64)], [torch.zeros(0, dtype=torch.float64)]
    for l in range(1, num_degrees):
        m = torch.arange(l, dtype=torch.float64)
        a_tab.append(torch.sqrt((4.0 * l * l - 1.0) / (l * l - m * m)))
        b = ((l - 1.0) ** 2 - m * m) / (4.0 * (l - 1.0) ** 2 - 1.0)
        b_tab.append(torch.sqrt(b.clamp_min(0.0)))
    diag = [0.0] + [math.sqrt((2.0 * m + 1.0) / (2.0 * m)) for m in range(1, num_degrees)]
    return a_tab, b_tab, diag


@register_encoder("spherical_harmonics")
class SphericalHarmonicsEncoding(PositionEncoding):
    """Real spherical harmonics Y_{l,m}, l = 0…L−1, m = −l…l, column l² + l + m; output L².

    Canonical basis (no Condon–Shortley phase), x = sin φ (= cos colatitude), y = cos φ:
    Y_{l,m} = √2·N̄_l^m cos(mθ) (m > 0), √2·N̄_l^{|m|} sin(|m|θ) (m < 0), N̄_l^0 (m = 0), with the
    fully normalised associated Legendre functions N̄ evaluated by the three-term recurrence, which is
    stable in float32 up to L = 40 and beyond.

    Args:
        legendre_degree: L, the number of degrees (output L²; 100 at L = 10, 1600 at L = 40).
        convention: ``"geosrl"`` (canonical) or ``"satclip"`` (= (−1)^l · (π if m = 0) · Y_{l,m},
            SatCLIP's basis including its m = 0 factor, to load its weights).
    """

    def __init__(self, legendre_degree: int = 10, convention: str = "geosrl", validate: bool = True) -> None:
        super().__init__(validate)
        self.legendre_degree = check_count("legendre_degree", legendre_degree, maximum=1000)
        self.convention = check_choice("convention", convention, _CONVENTIONS)
        self.output_dim = self.legendre_degree**2
        a_tab, b_tab, self._diag = _recurrence_tables(self.legendre_degree)
        for l in range(1, self.legendre_degree):
            self.register_float64(f"_a{l}", a_tab[l])
            self.register_float64(f"_b{l}", b_tab[l])
        self.register_float64("column_scale", self._column_scale())
        self.register_float64("m_deg", torch.arange(1, self.legendre_degree, dtype=torch.float64) * DEG2RAD)
        self.register_float64("cos_sin_offset", [[HALF_PI], [0.0]])  # (2, 1)

    @property
    def sines_per_point(self) -> int:
        """Transcendental values per point: sin φ, cos φ and cos mθ, sin mθ for m = 1…L−1 (2L)."""
        return 2 * self.legendre_degree

    def _column_scale(self) -> torch.Tensor:
        """Per-column factor ``(L²,)``: √2 for m ≠ 0, times the convention's sign and m = 0 factor."""
        scale = []
        for l in range(self.legendre_degree):
            for m in range(-l, l + 1):
                s = 1.0 if m == 0 else math.sqrt(2.0)
                if self.convention == "satclip":
                    s *= (-1.0) ** l * (math.pi if m == 0 else 1.0)
                scale.append(s)
        return torch.tensor(scale, dtype=torch.float64)

    def legendre(self, sin_lat: torch.Tensor, cos_lat: torch.Tensor) -> list[torch.Tensor]:
        """Normalised Legendre functions: list over l of tensors ``(..., l + 1)`` holding N̄_l^0…N̄_l^l."""
        dtype = sin_lat.dtype
        diag = [torch.full_like(sin_lat, 1.0 / math.sqrt(4.0 * math.pi))]
        for m in range(1, self.legendre_degree):
            diag.append(self._diag[m] * cos_lat * diag[-1])
        x = sin_lat.unsqueeze(-1)
        rows = [diag[0].unsqueeze(-1)]
        prev2 = torch.zeros_like(rows[0])
        for l in range(1, self.legendre_degree):
            prev = rows[-1]  # (..., l)
            a = getattr(self, f"_a{l}").to(dtype)
            b = getattr(self, f"_b{l}").to(dtype)
            lower = a * (x * prev - b * _pad_last(prev2, l))
            rows.append(torch.cat([lower, diag[l].unsqueeze(-1)], dim=-1))
            prev2 = prev
        return rows

    def encode(self, lonlat: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        lat = (lonlat[..., 1] * DEG2RAD).to(dtype)
        sin_lat, cos_lat = torch.sin(lat), torch.cos(lat).clamp_min(0.0)
        rows = self.legendre(sin_lat, cos_lat)
        mphase = lonlat[..., 0].to(torch.float64)[..., None, None] * self.m_deg + self.cos_sin_offset
        cos_m, sin_m = sin_of(mphase, dtype).unbind(-2)  # (..., L−1) each, for m = 1…L−1
        blocks = []
        for l, p in enumerate(rows):
            if l == 0:
                blocks.append(p)
                continue
            neg = (p[..., 1:] * sin_m[..., :l]).flip(-1)  # m = −l…−1
            pos = p[..., 1:] * cos_m[..., :l]  # m = 1…l
            blocks.append(torch.cat([neg, p[..., :1], pos], dim=-1))
        return torch.cat(blocks, dim=-1) * self.column_scale.to(dtype)


    def _encode_into(self, flat: torch.Tensor, out: torch.Tensor, rows: int) -> None:
        """Eager, without autograd: each degree's 2l + 1 columns are multiplied straight into their slice of
        ``out`` (no per-degree and no final concatenation, no separate scaling pass, no copy of the block);
        the same values as :meth:`encode` up to rounding order."""
        for start in range(0, flat.shape[0], rows):
            self._write_block(flat[start:start + rows], out[start:start + rows])

    def _write_block(self, lonlat: torch.Tensor, block: torch.Tensor) -> None:
        """Encode ``lonlat`` ``(R, 2)`` into ``block`` ``(R, L²)``."""
        dtype = block.dtype
        lat = (lonlat[:, 1] * DEG2RAD).to(dtype)
        legendre = self.legendre(torch.sin(lat), torch.cos(lat).clamp_min(0.0))
        mphase = lonlat[:, 0].to(torch.float64)[:, None, None] * self.m_deg + self.cos_sin_offset
        cos_m, sin_m = (sin_of(mphase, dtype) * math.sqrt(2.0)).unbind(-2)  # √2·cos mθ, √2·sin mθ (R, L−1)
        sin_m_reversed = sin_m.flip(-1)  # m = L−1 … 1
        big_l = self.legendre_degree
        for l, p in enumerate(legendre):
            first = l * l
            if self.convention == "satclip" and l % 2 == 1:
                p = -p  # (−1)^l
            zero = block[:, first + l:first + l + 1]
            torch.mul(p[:, :1], math.pi if self.convention == "satclip" else 1.0, out=zero)
            if l == 0:
                continue
            torch.mul(p[:, 1:], cos_m[:, :l], out=block[:, first + l + 1:first + 2 * l + 1])  # m = 1…l
            torch.mul(p[:, 1:].flip(-1), sin_m_reversed[:, big_l - 1 - l:], out=block[:, first:first + l])  # m = −l…−1


def _pad_last(t: torch.Tensor, length: int) -> torch.Tensor:
    """Zero-pad the last dimension of ``t`` on the right up to ``length``."""
    missing = length - t.shape[-1]
    if missing <= 0:
        return t[..., :length]
    return torch.nn.functional.pad(t, (0, missing))
