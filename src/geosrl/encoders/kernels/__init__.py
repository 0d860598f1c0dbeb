"""Fused GPU kernels (Triton) for the sinusoidal position encodings; optional.

Nothing here imports Triton until a kernel is used: :func:`triton_available` only looks for the
package, so ``import geosrl`` needs torch, numpy and safetensors alone. On CUDA tensors,
:class:`~geosrl.encoders.positional.base.SinusoidEncoding` runs :func:`encode_sinusoids` when Triton
is installed; on CPU the kernels run under ``TRITON_INTERPRET=1`` (the tests do that).
"""

from __future__ import annotations

import importlib.util
import os

__all__ = ["triton_available", "kernel_usable"]


def triton_available() -> bool:
    """Whether the ``triton`` package can be imported (it is not imported here)."""
    return importlib.util.find_spec("triton") is not None


def kernel_usable(device_type: str) -> bool:
    """Whether the fused kernel can run on tensors of ``device_type``: CUDA with Triton installed, or
    any device under ``TRITON_INTERPRET=1`` (Triton's NumPy interpreter, for tests)."""
    if not triton_available():
        return False
    return device_type == "cuda" or os.environ.get("TRITON_INTERPRET") == "1"
