"""Location position encodings ``(..., 2)`` (lon, lat) degrees → ``(..., output_dim)``, one file each.

Importing this package registers all of them in :data:`geosrl.encoders.registry.ENCODERS`.
"""

from . import direct, geoclip, rbf, rff, space2vec, sphere2vec, spherical_harmonics, tile, wrap, xyz  # noqa: F401
from .base import (PositionEncoding, SinusoidEncoding, geometric_frequencies, legacy_single_scale_frequencies, sin_of,
                   sin_turns)

__all__ = ["PositionEncoding", "SinusoidEncoding", "geometric_frequencies", "legacy_single_scale_frequencies", "sin_of",
           "sin_turns"]
