"""Load published location-encoder weights (GeoCLIP, SatCLIP) into geosrl modules, offline and strictly.

Both loaders map the original state-dict keys one to one and load with ``strict=True``: a missing,
unexpected or mis-shaped tensor raises instead of leaving random weights in place.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import torch

from .model import LocationEncoder, create_encoder

__all__ = ["geoclip_weights_path", "load_geoclip_location_encoder", "geoclip_to_geosrl_state_dict",
           "satclip_to_geosrl_state_dict", "load_satclip_location_encoder"]

GEOCLIP_INSTALL_HINT = "pip install --no-deps geoclip==1.3.0"


def geoclip_weights_path() -> Path:
    """Path of ``location_encoder_weights.pth`` inside the installed ``geoclip`` wheel (not imported)."""
    spec = importlib.util.find_spec("geoclip")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"the geoclip package is not installed; install it with `{GEOCLIP_INSTALL_HINT}`")
    path = Path(list(spec.submodule_search_locations)[0]) / "model" / "weights" / "location_encoder_weights.pth"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; reinstall with `{GEOCLIP_INSTALL_HINT}`")
    return path


def geoclip_to_geosrl_state_dict(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename GeoCLIP ``LocationEncoder`` keys to a geosrl ``geoclip_rff`` + native-MLP encoder's keys.

    ``LocEnc{i}.capsule.0.b`` → ``pe.b{i}``; ``LocEnc{i}.capsule.{1,3,5}.*`` and ``LocEnc{i}.head.0.*`` →
    ``net.branches.{i}.…`` (same sub-names).
    """
    out = {}
    for key, value in sd.items():
        m = re.fullmatch(r"LocEnc(\d+)\.capsule\.0\.b", key)
        if m:
            out[f"pe.b{m.group(1)}"] = value
            continue
        m = re.fullmatch(r"LocEnc(\d+)\.(capsule\.\d+|head\.0)\.(weight|bias)", key)
        if not m:
            raise KeyError(f"unexpected key {key!r} in a GeoCLIP location-encoder state dict")
        out[f"net.branches.{m.group(1)}.{m.group(2)}.{m.group(3)}"] = value
    return out


def load_geoclip_location_encoder(path: str | Path | None = None, validate: bool = True) -> LocationEncoder:
    """GeoCLIP's pretrained location encoder as a geosrl module: ``(..., 2)`` (lon, lat) → ``(..., 512)``.

    ``path`` defaults to the weights shipped in the ``geoclip`` wheel. Note the input order: geosrl
    takes (lon, lat); GeoCLIP's own ``LocationEncoder`` takes (lat, lon). GeoCLIP computes its phases
    in float32; geosrl computes them in float64, so outputs agree to float32 rounding of the phase.
    """
    sd = torch.load(path or geoclip_weights_path(), map_location="cpu", weights_only=True)
    enc = create_encoder("geoclip_rff", embed_dim=512, validate=validate)
    enc.load_state_dict(geoclip_to_geosrl_state_dict(sd), strict=True)
    return enc.eval()


def satclip_to_geosrl_state_dict(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map a SatCLIP checkpoint's SIREN keys to a geosrl ``spherical_harmonics`` + ``siren`` encoder.

    Accepts the Lightning ``state_dict`` (``model.location.nnet.*`` and/or ``model.nnet.*``, the same
    tensors) or an already stripped ``nnet.*`` dict. ``nnet.layers.{i}.weight`` → ``net.layers.{i}.linear.weight``,
    ``nnet.last_layer.*`` → ``net.last_layer.*``.
    """
    out = {}
    for key, value in sd.items():
        m = re.search(r"(?:^|\.)nnet\.(layers\.(\d+)|last_layer)\.(weight|bias)$", key)
        if not m:
            continue
        if m.group(2) is not None:
            name = f"net.layers.{m.group(2)}.linear.{m.group(3)}"
        else:
            name = f"net.last_layer.{m.group(3)}"
        if name in out and not torch.equal(out[name], value):
            raise ValueError(f"checkpoint holds two different tensors for {name}")
        out[name] = value
    if not out:
        raise KeyError("no SatCLIP SIREN weights (keys containing 'nnet.layers' / 'nnet.last_layer') found")
    return out


def load_satclip_location_encoder(
    sd: dict[str, torch.Tensor], legendre_polys: int, dtype: torch.dtype = torch.float32, validate: bool = True
) -> LocationEncoder:
    """SatCLIP location encoder (spherical harmonics in SatCLIP's convention + SIREN) from its state dict.

    Layer widths are read from the tensors, not assumed. ``legendre_polys`` is SatCLIP's hyper-parameter of
    the same name (L; input width L²). SatCLIP runs in float64; geosrl's basis is accurate in float32, so
    ``dtype=torch.float32`` is the default (pass float64 for bit-level parity checks).
    """
    mapped = satclip_to_geosrl_state_dict(sd)
    n_layers = len({k for k in mapped if k.startswith("net.layers.") and k.endswith("weight")})
    hidden = mapped["net.layers.0.linear.weight"].shape[0]
    embed_dim = mapped["net.last_layer.weight"].shape[0]
    enc = create_encoder("spherical_harmonics", embed_dim=embed_dim, net="siren", legendre_degree=legendre_polys,
                         convention="satclip", validate=validate,
                         net_kwargs={"hidden_dim": hidden, "num_layers": n_layers})
    enc.to(dtype).load_state_dict(mapped, strict=True)
    return enc.eval()
