"""``LocationEncoder`` = network ∘ position encoding, and the ``create_encoder`` factory."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from .nets import FCNet, FFN, GeoCLIPMLP, Siren
from ..checks import check_count
from .registry import create_positional_encoding

__all__ = ["LocationEncoder", "NETS", "create_encoder", "embed_locations"]

NETS = ("ffn", "siren", "linear", "native")


class LocationEncoder(nn.Module):
    """Enc(x) = net(PE(x)): ``(..., 2)`` (lon, lat) degrees → ``(..., embed_dim)``.

    The position encoding forms its phases in float64 and writes its features directly in the network's
    parameter dtype, so float64 coordinates feed a float32 network at float64 phase accuracy.
    """

    def __init__(self, pe: nn.Module, net: nn.Module, embed_dim: int) -> None:
        super().__init__()
        self.pe = pe
        self.net = net
        self.embed_dim = check_count("embed_dim", embed_dim)

    @property
    def feature_dtype(self) -> torch.dtype | None:
        """The dtype the position features are written in: the network's parameters' (None: the input's)."""
        param = next(self.net.parameters(), None)
        return None if param is None else param.dtype

    def forward(self, lonlat: torch.Tensor) -> torch.Tensor:
        return self.net(self.pe(lonlat, dtype=self.feature_dtype))


#: network kind → (class, arguments that ``create_encoder`` sets itself and ``net_kwargs`` may not)
_NET_CLASSES: dict[str, tuple[type, tuple[str, ...]]] = {
    "ffn": (FFN, ("in_dim", "out_dim")),
    "siren": (Siren, ("in_dim", "out_dim")),
    "linear": (nn.Linear, ("in_features", "out_features")),
    "fcnet": (FCNet, ("in_dim", "out_dim")),
    "geoclip": (GeoCLIPMLP, ("in_dim", "out_dim", "n_branches")),
}


def _build_net(kind: str, in_dim: int, embed_dim: int, pe: nn.Module, net_kwargs: dict[str, Any]) -> nn.Module:
    cls, fixed = _NET_CLASSES[kind]
    allowed = [p for p in inspect.signature(cls).parameters if p not in fixed]
    unknown = sorted(set(net_kwargs) - set(allowed))
    if unknown:
        raise TypeError(f"net_kwargs {unknown} cannot be given to the {kind!r} network ({cls.__name__}; "
                        f"create_encoder sets {', '.join(fixed)} itself); allowed: {allowed}")
    if kind == "geoclip":
        net_kwargs = {**net_kwargs, "n_branches": len(pe.sigmas)}
    return cls(in_dim, embed_dim, **net_kwargs)


def create_encoder(
    name: str,
    embed_dim: int = 256,
    net: str | None = None,
    net_kwargs: dict[str, Any] | None = None,
    **kwargs: Any,
) -> LocationEncoder:
    """Position encoding ``name`` followed by a network, ``(..., 2)`` degrees → ``(..., embed_dim)``.

    Args:
        name: a registry name (see :func:`geosrl.list_encoders`).
        embed_dim: output width.
        net: ``"ffn"`` (TorchSpatial's residual MLP), ``"siren"``, ``"linear"`` or ``"native"``;
            ``None`` = native: Mac Aodha's FCNet for ``wrap``, GeoCLIP's summed-branch MLP for
            ``geoclip_rff``, the FFN otherwise.
        net_kwargs: keyword arguments of the network (e.g. ``num_hidden_layers``, ``hidden_dim``,
            ``dropout`` for the FFN; ``hidden_dim``, ``num_layers``, ``w0_initial`` for SIREN).
        **kwargs: keyword arguments of the position encoding (``frequency_num``, ``validate``, ...).

    >>> import torch, geosrl
    >>> enc = geosrl.create_encoder("sphere2vec_spherec_plus", embed_dim=64)
    >>> enc(torch.tensor([[-122.4, 37.8], [151.2, -33.9]])).shape
    torch.Size([2, 64])
    """
    if net is not None and (not isinstance(net, str) or net not in NETS):
        raise ValueError(f"unknown net {net!r}; choose one of {NETS}")
    embed_dim = check_count("embed_dim", embed_dim)
    if net_kwargs is not None and not (isinstance(net_kwargs, Mapping) and all(isinstance(k, str) for k in net_kwargs)):
        raise TypeError(f"net_kwargs must be None or a dict of keyword arguments, got {type(net_kwargs).__name__}")
    pe = create_positional_encoding(name, **kwargs)
    kind = pe.native_net if net in (None, "native") else net
    network = _build_net(kind, pe.output_dim, embed_dim, pe, dict(net_kwargs or {}))
    encoder = LocationEncoder(pe, network, embed_dim)
    arguments = {"builder": "geosrl.create_encoder", "name": name, "embed_dim": embed_dim, "net": net,
                 "net_kwargs": dict(net_kwargs or {}), "pe_kwargs": dict(kwargs)}
    if _is_json_like(arguments):  # e.g. rbf anchors given as a tensor are not: save_pretrained infers them
        encoder.geosrl_architecture = arguments  # read by save_pretrained
    return encoder


def _is_json_like(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_json_like(v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return all(_is_json_like(v) for v in value)
    return value is None or isinstance(value, (str, int, float, bool))


@torch.no_grad()
def embed_locations(encoder: nn.Module, lonlat: torch.Tensor, batch_size: int = 8192) -> torch.Tensor:
    """``encoder(lonlat)`` computed ``batch_size`` rows at a time without gradients: ``(N, 2)`` → ``(N, D)``.

    The encoder's train/eval mode is left as it is (call ``.eval()`` first for deterministic outputs).
    An empty input gives an empty ``(0, 0)`` tensor on ``lonlat``'s device.
    """
    batch_size = check_count("batch_size", batch_size)
    chunks = [encoder(lonlat[s:s + batch_size]) for s in range(0, len(lonlat), batch_size)]
    return torch.cat(chunks) if chunks else torch.zeros(0, 0, device=lonlat.device)
