"""What every estimator shares: parameters, the network (encoder + head), training with early stopping,
chunked scoring, prediction grids, save/load.

Training runs through :func:`geosrl.tasks.training.train_epochs` (the protocols' loop), one epoch per call so
that the validation loss can be checked after each epoch: the best epoch's weights are kept and training stops
after ``n_iter_no_change`` epochs without improvement (``validation_fraction`` = 0 trains ``max_epochs`` epochs).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_is_fitted
from torch import nn

from ..config import ConfigError, boolean, check_config, check_device, integer, list_of, mapping, number, text
from ..tasks.training import adam, train_epochs
from ._input import lonlat_from
from .network import KINDS, LocationNet

__all__ = ["LocationEstimator", "padded_extent"]

#: allowed values of the shared parameters (checked in ``fit``, as scikit-learn does)
PARAM_SCHEMA = {
    "embed_dim": integer(min=1), "encoder_kwargs": mapping(optional=True), "freeze_encoder": boolean(),
    "head_hidden": list_of(integer(min=1), min_len=0), "lr": number(gt=0), "weight_decay": number(ge=0),
    "lr_decay": number(gt=0, le=1), "max_epochs": integer(min=1), "batch_size": integer(min=1),
    "validation_fraction": number(ge=0, lt=1), "n_iter_no_change": integer(min=1), "device": text(),
    "random_state": integer(min=0, max=2**32 - 1, optional=True), "lon_col": text(), "lat_col": text(),
}
_PREDICT_CHUNK = 65536


class LocationEstimator(BaseEstimator):
    """Base of the estimators: a location encoder (+ head) trained on ``(N, 2)`` (lon, lat) degrees.

    Parameters:
        encoder: a registry name (``geosrl.list_encoders()``; built with ``geosrl.create_encoder(encoder,
            embed_dim, **encoder_kwargs)``) or a module ``(B, 2) → (B, D)`` such as
            ``geosrl.load_pretrained("csp_sphere2vec_quick")`` (deep-copied at ``fit``).
        embed_dim: encoder output width (registry encoders only).
        encoder_kwargs: further ``create_encoder`` arguments (``net``, ``net_kwargs``, encoding arguments).
        freeze_encoder: train the head only (a probe of a pretrained encoder).
        head_hidden: widths of the head's hidden layers (``()`` = a linear head).
        lr: Adam's learning rate.
        weight_decay: Adam's weight decay.
        lr_decay: the learning rate is multiplied by this after each epoch.
        max_epochs: most passes over the training rows.
        batch_size: rows per optimiser step.
        validation_fraction: share of the rows held out for early stopping (0 = none: ``max_epochs`` epochs).
        n_iter_no_change: epochs without a better validation loss before stopping.
        device: ``"cpu"`` or ``"cuda"``.
        random_state: seed of the split, the initialisation and the sampling (None: fresh each fit).
        lon_col: the longitude column of a DataFrame input.
        lat_col: the latitude column of a DataFrame input.

    Fitted attributes: ``model_`` (:class:`LocationNet`), ``n_features_in_`` (2), ``n_epochs_``,
    ``validation_loss_`` (per epoch), ``train_extent_`` (the training points' padded bounding box).
    """

    def __init__(self, encoder: str | nn.Module = "sphere2vec_spherec_plus", embed_dim: int = 64,
                 encoder_kwargs: dict | None = None, freeze_encoder: bool = False, head_hidden: tuple = (),
                 lr: float = 1e-3, weight_decay: float = 0.0, lr_decay: float = 1.0, max_epochs: int = 100,
                 batch_size: int = 256, validation_fraction: float = 0.1, n_iter_no_change: int = 5,
                 device: str = "cpu", random_state: int | None = 0, lon_col: str = "lon", lat_col: str = "lat"):
        self.encoder = encoder
        self.embed_dim = embed_dim
        self.encoder_kwargs = encoder_kwargs
        self.freeze_encoder = freeze_encoder
        self.head_hidden = head_hidden
        self.lr = lr
        self.weight_decay = weight_decay
        self.lr_decay = lr_decay
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.device = device
        self.random_state = random_state
        self.lon_col = lon_col
        self.lat_col = lat_col

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        KINDS[cls.__name__] = cls  # what load_estimator may rebuild, by the card's class name

    # ------------------------------------------------------------------------------------------- setup
    #: extra parameters of a subclass → their checks
    _extra_schema: dict = {}

    def _checked_params(self) -> dict[str, Any]:
        """The parameters, validated (ConfigError naming the parameter); encoder checked separately."""
        params = self.get_params(deep=False)
        encoder = params.pop("encoder")
        schema = {**PARAM_SCHEMA, **self._extra_schema}
        cfg = check_config({k: v for k, v in params.items()}, schema, what=f"{type(self).__name__} parameter")
        if not isinstance(encoder, (str, nn.Module)):
            raise ConfigError(f"encoder must be a registry name (geosrl.list_encoders()) or an nn.Module, "
                              f"got {type(encoder).__name__}")
        if isinstance(encoder, str):
            from ..encoders import list_encoders

            if encoder not in list_encoders():
                raise ConfigError(f"unknown encoder {encoder!r}; choose one of {list_encoders()}")
        check_device(cfg["device"])
        return cfg

    def _lonlat(self, X, name: str = "X") -> np.ndarray:
        return lonlat_from(X, self.lon_col, self.lat_col, name=name)

    def _query(self, X) -> np.ndarray:
        """Validated locations for a prediction method (NotFittedError first when not fitted)."""
        check_is_fitted(self, "model_")
        return self._lonlat(X)

    def _seed(self) -> int:
        if self.random_state is None:
            return int(np.random.SeedSequence().generate_state(1)[0])
        return int(self.random_state)

    def _build(self, out_dim: int, bias: bool, seed: int, cfg: dict) -> LocationNet:
        """A fresh network with ``out_dim`` outputs, initialised from ``seed`` (the global RNG is left alone)."""
        from ..encoders import create_encoder

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            if isinstance(self.encoder, str):
                kw = {"validate": False, **dict(cfg["encoder_kwargs"] or {})}  # inputs are validated here
                try:
                    enc = create_encoder(self.encoder, embed_dim=cfg["embed_dim"], **kw)
                except (TypeError, ValueError) as exc:
                    raise ConfigError(f"cannot build encoder {self.encoder!r} with encoder_kwargs "
                                      f"{cfg['encoder_kwargs']}: {exc}") from None
            else:
                enc = copy.deepcopy(self.encoder)
            width = _output_width(enc)
            net = LocationNet(enc, width, out_dim, tuple(cfg["head_hidden"]), bias)
        net.head.to(_param_dtype(enc))
        return net.to(cfg["device"])

    def _split(self, n: int, seed: int, stratify: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """Training and validation row indices (validation None when the fraction or the data is too small)."""
        rows = np.arange(n)
        n_val = int(np.floor(self.validation_fraction * n))
        if n_val < 1 or n - n_val < 1:
            return rows, None
        if stratify is not None:
            _, counts = np.unique(stratify, return_counts=True)
            if counts.min() < 2 or n_val < len(counts) or n - n_val < len(counts):
                stratify = None
        train, val = train_test_split(rows, test_size=n_val, random_state=seed, stratify=stratify)
        return np.sort(train), np.sort(val)

    # ---------------------------------------------------------------------------------------- training
    def _train(self, model: LocationNet, n_train: int, batch_loss: Callable[[torch.Tensor], torch.Tensor],
               val_loss: Callable[[], torch.Tensor] | None, seed: int, cfg: dict,
               epoch_order: Callable[[], torch.Tensor] | None = None) -> None:
        """Train ``model`` epoch by epoch with early stopping on ``val_loss``; keep the best epoch's weights."""
        gen = torch.Generator().manual_seed(seed)
        device = torch.device(cfg["device"])
        if epoch_order is None:
            def epoch_order() -> torch.Tensor:
                return torch.randperm(n_train, generator=gen).to(device)
        frozen = (model.encoder,) if cfg["freeze_encoder"] else ()
        model.encoder.requires_grad_(not cfg["freeze_encoder"])
        params = model.head.parameters() if cfg["freeze_encoder"] else model.parameters()
        optimizer = adam(params, cfg["lr"], cfg["weight_decay"])
        best, best_state, stale, history = np.inf, None, 0, []
        for epoch in range(cfg["max_epochs"]):
            train_epochs(model, optimizer, 1, cfg["batch_size"], epoch_order, batch_loss, cfg["lr_decay"], frozen)
            if val_loss is None:
                continue
            with torch.no_grad():
                loss = float(val_loss())
            history.append(loss)
            if loss < best - 1e-4 * abs(best) or best_state is None:
                best, best_state, stale = loss, copy.deepcopy(model.state_dict()), 0
            else:
                stale += 1
                if stale >= cfg["n_iter_no_change"]:
                    break
        if best_state is not None:
            model.load_state_dict(best_state)
        model.eval()
        self.n_epochs_ = epoch + 1
        self.validation_loss_ = history

    def _fit_common(self, X) -> tuple[np.ndarray, dict, int]:
        """Validated parameters and inputs; sets ``n_features_in_`` and ``train_extent_``."""
        cfg = self._checked_params()
        lonlat = self._lonlat(X)
        if len(lonlat) == 0:
            raise ValueError("Found array with 0 sample(s) (shape=(0, 2)) while a minimum of 1 is required: "
                             "fit needs at least one location")
        self.n_features_in_ = 2
        self.train_extent_ = padded_extent(lonlat)
        return lonlat, cfg, self._seed()

    # --------------------------------------------------------------------------------------- inference
    @torch.no_grad()
    def _scores(self, lonlat: np.ndarray) -> np.ndarray:
        """Network outputs ``(N, out_dim)`` float64 for validated ``(N, 2)`` locations, in chunks."""
        check_is_fitted(self, "model_")
        device = next(self.model_.head.parameters()).device
        chunks = [self.model_(torch.as_tensor(lonlat[s:s + _PREDICT_CHUNK], dtype=torch.float64, device=device))
                  .double().cpu().numpy() for s in range(0, len(lonlat), _PREDICT_CHUNK)]
        return np.concatenate(chunks) if chunks else np.zeros((0, self.model_.head[-1].out_features))

    def _grid_values(self, lonlat: np.ndarray) -> np.ndarray:
        """What :meth:`predict_grid` maps: ``(n,)`` or ``(n, k)`` per location (set by each estimator)."""
        raise NotImplementedError

    #: (name of the map, name of its leading dimension, attribute holding the dimension's labels)
    _grid_naming: tuple[str, str, str | None] = ("prediction", "output", None)

    def predict_grid(self, extent=None, resolution_deg: float = 1.0, chunk_size: int = 65536):
        """The fitted model evaluated on a lon/lat grid (cell centres), chunk by chunk: an ``xarray.DataArray``.

        Args:
            extent: ``(lon_min, lon_max, lat_min, lat_max)`` degrees; ``None`` = the whole sphere;
                ``"train"`` = the training points' bounding box plus a 10 % margin.
            resolution_deg: cell size in degrees (0.1° globally = 1800 × 3600 cells).
            chunk_size: cells evaluated per forward pass (bounds memory).
        Returns:
            dims ``(lat, lon)`` — ``(class, lat, lon)`` for class probabilities — see :func:`geosrl.maps.predict_grid`.
        """
        from ..maps import predict_grid

        check_is_fitted(self, "model_")
        if isinstance(extent, str):
            if extent != "train":
                raise ConfigError(f"extent must be None, 'train' or (lon_min, lon_max, lat_min, lat_max), got {extent!r}")
            extent = self.train_extent_
        name, dim, labels = self._grid_naming
        return predict_grid(self._grid_values, extent, resolution_deg, chunk_size, name=name, output_dim=dim,
                            output_labels=None if labels is None else list(getattr(self, labels)),
                            attrs={"estimator": type(self).__name__,
                                   "encoder": self.encoder if isinstance(self.encoder, str) else type(self.encoder).__name__})

    # ------------------------------------------------------------------------------------- persistence
    def save(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write the fitted estimator to the folder ``path`` (see :mod:`geosrl.estimators.io`)."""
        from .io import save_estimator

        return save_estimator(self, path, overwrite=overwrite)

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> "LocationEstimator":
        """Read an estimator written by :meth:`save`; refuses files of another estimator class."""
        from .io import load_estimator

        est = load_estimator(path, device=device)
        if not isinstance(est, cls):
            from ..encoders.checkpoint import CheckpointError

            raise CheckpointError(f"{path} holds a {type(est).__name__}, not a {cls.__name__}; "
                                  "use geosrl.estimators.load_estimator")
        return est

    #: fitted attributes (besides the weights) stored in the card: name → JSON form
    _fitted_attrs: tuple[str, ...] = ()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.non_deterministic = self.random_state is None
        return tags


def padded_extent(lonlat: np.ndarray, margin: float = 0.1, min_pad_deg: float = 0.5) -> list[float]:
    """Bounding box ``[lon_min, lon_max, lat_min, lat_max]`` of the points, padded by ``margin`` of its span
    (at least ``min_pad_deg``) and clipped to the sphere."""
    lo, hi = lonlat.min(axis=0), lonlat.max(axis=0)
    pad = np.maximum((hi - lo) * margin, min_pad_deg)
    return [float(max(-180.0, lo[0] - pad[0])), float(min(180.0, hi[0] + pad[0])),
            float(max(-90.0, lo[1] - pad[1])), float(min(90.0, hi[1] + pad[1]))]


def _param_dtype(module: nn.Module) -> torch.dtype:
    p = next(module.parameters(), None)
    return p.dtype if p is not None else torch.float32


@torch.no_grad()
def _output_width(encoder: nn.Module) -> int:
    """Width of the encoder's output, from one probe location."""
    width = getattr(encoder, "embed_dim", None)
    if isinstance(width, int):
        return width
    probe = torch.zeros(1, 2, dtype=torch.float64, device=next(encoder.parameters(), torch.zeros(())).device)
    was_training = encoder.training
    encoder.eval()
    out = encoder(probe)
    encoder.train(was_training)
    if out.ndim != 2 or out.shape[0] != 1:
        raise ConfigError(f"the encoder module must map (B, 2) to (B, D), got {tuple(out.shape)} for (1, 2)")
    return int(out.shape[1])
