"""Everything about location encoders ``(..., 2)`` (lon, lat) degrees → ``(..., D)``.

* :mod:`.positional` — the position encodings (one file each) and their base class;
* :mod:`.nets` — the networks placed after an encoding (FFN, SIREN, FCNet, GeoCLIP's MLP);
* :mod:`.registry` — names → encodings (``list_encoders``, ``create_positional_encoding``);
* :mod:`.model` — :class:`LocationEncoder` = net ∘ encoding, the ``create_encoder`` factory, chunked embedding;
* :mod:`.checkpoint` — safetensors checkpoints with model cards (``save_pretrained``, ``load_pretrained``)
  and the shipped ones in ``pretrained/``;
* :mod:`.external` — published weights (GeoCLIP, SatCLIP) mapped onto geosrl modules.
"""

from .checkpoint import CheckpointError, list_pretrained, load_pretrained, read_card, save_pretrained
from .external import load_geoclip_location_encoder, load_satclip_location_encoder
from .model import LocationEncoder, create_encoder, embed_locations
from .positional import PositionEncoding
from .registry import create_positional_encoding, get_encoder_class, list_encoders, register_encoder

__all__ = [
    "CheckpointError",
    "LocationEncoder",
    "PositionEncoding",
    "create_encoder",
    "create_positional_encoding",
    "embed_locations",
    "get_encoder_class",
    "list_encoders",
    "list_pretrained",
    "load_geoclip_location_encoder",
    "load_pretrained",
    "load_satclip_location_encoder",
    "read_card",
    "register_encoder",
    "save_pretrained",
]
