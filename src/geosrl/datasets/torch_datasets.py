"""The offline tasks and the LocBench datasets as ``torch.utils.data.Dataset`` s, with one sample contract.

Every sample is a ``dict[str, Tensor]``::

    sample["lonlat"]   # (2,) float (``dtype``, default float32): (lon, lat) degrees
    sample["target"]   # ()   int64 class id (classification), or float (regression; presence_only 1./0.)
    sample["image"]    # only where the task has an image input:
                       #   (3, H, W) uint8 patch (``country_from_imagery``), or
                       #   (F,) float features (LocBench: image-model class probabilities or features,
                       #   MOSAIKS X rows, SustainBench nl_mean)

so a ``transforms(sample) -> sample`` callable sees the whole sample, and :func:`collate` (or
``DataLoader``'s default) stacks a batch into ``lonlat (B, 2)``, ``target (B,)``, ``image (B, …)``. A
task that had both a patch and feature vectors would give the vectors as ``sample["image_features"]``.
LocBench evaluation splits loaded with ``keep_missing_location=True`` have NaN ``lonlat`` rows.

::

    from torch.utils.data import DataLoader
    from geosrl.datasets import LocBenchTaskDataset, OfflineTaskDataset, collate, split_dataset

    train = OfflineTaskDataset("land_ocean", split="train", split_kind="spatial", seed=0)
    loader = DataLoader(train, batch_size=256, shuffle=True, collate_fn=collate)
    birds = LocBenchTaskDataset("birdsnap", root="data/locbench", split="test", download=True,
                                sha256="…")            # see geosrl.datasets.download
    parts = split_dataset(birds, "spatial", seed=0, block_km=1000)   # {"train", "val", "test", "excluded"}

Splits: offline tasks have no published split, so ``split=`` cuts one with
:func:`geosrl.splits.make_split` (seeded, ``"random"`` or ``"spatial"`` HEALPix blocks, optional
exclusion buffer); LocBench's ``split=`` is the published split, and :func:`split_dataset` cuts any
dataset further. Subsets share the parent's arrays (no copies).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.data import Dataset

from ..config import ConfigError, boolean, choice, integer, list_of, number
from ..coords import as_lonlat
from ..splits import SPLIT_KINDS, make_split
from .base import DatasetNotFoundError, TaskData
from .download import LOCBENCH_ARCHIVES, download_locbench
from .locbench import LOCBENCH, load_locbench
from .offline import load_offline_task

__all__ = [
    "SPLIT_PARTS",
    "LocBenchTaskDataset",
    "OfflineTaskDataset",
    "TaskDataset",
    "collate",
    "split_dataset",
    "split_indices",
]

SPLIT_PARTS = ("train", "val", "test")
Sample = dict[str, torch.Tensor]


def _check_dtype(dtype) -> torch.dtype:
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ConfigError(f"dtype must be a floating-point torch dtype (torch.float32, torch.float64), got {dtype!r}")
    return dtype


def _check_transforms(transforms):
    if transforms is not None and not callable(transforms):
        raise ConfigError(f"transforms must be a callable sample -> sample or None, got {transforms!r}")
    return transforms


class TaskDataset(Dataset):
    """A :class:`~geosrl.datasets.base.TaskData` (all rows, or the rows ``indices``) as a map-style Dataset.

    Args:
        data: the task (any kind); its ``lonlat`` is validated (NaN rows allowed: missing locations).
        indices: rows of ``data`` this dataset serves, in order; default all.
        transforms: ``sample -> sample`` callable applied in ``__getitem__``.
        dtype: floating dtype of ``lonlat``, float targets and image features.

    Attributes:
        data: the whole task (shared by subsets). ``indices``: ``(len,)`` int64 rows of ``data``.
        kind, num_classes, class_names, target_name: from ``data``.
        image_kind: ``"patch"``, ``"features"`` or ``None`` (what ``sample["image"]`` holds).
        background_lonlat: ``(M, 2)`` tensor of background points (presence_only), or ``None``.
        metadata: ``data.metadata`` plus ``"split"`` (how this subset was cut), when it was.
    """

    def __init__(self, data: TaskData, indices=None, transforms: Callable[[Sample], Sample] | None = None,
                 dtype: torch.dtype = torch.float32) -> None:
        if not isinstance(data, TaskData):
            raise TypeError(f"data must be a geosrl.datasets.TaskData, got {type(data).__name__}")
        self.data = data
        self.dtype = _check_dtype(dtype)
        self.transforms = _check_transforms(transforms)
        n = len(data)
        self.indices = np.arange(n, dtype=np.int64) if indices is None else self._rows(indices, n)
        self._lonlat = torch.from_numpy(as_lonlat(data.lonlat, allow_nan_rows=True)).to(dtype)
        target_dtype = torch.int64 if data.kind == "classification" else dtype
        self._target = torch.from_numpy(np.asarray(data.target)).to(target_dtype)
        has_features = data.image_features is not None
        self.image_kind = "patch" if data.images is not None else "features" if has_features else None
        bg = data.background_lonlat
        self.background_lonlat = None if bg is None else torch.from_numpy(as_lonlat(bg, "background_lonlat")).to(dtype)
        self.metadata = dict(data.metadata)

    @staticmethod
    def _rows(indices, n: int) -> np.ndarray:
        rows = np.asarray(indices)
        if rows.dtype == bool:
            if rows.shape != (n,):
                raise IndexError(f"a boolean mask must have shape ({n},), got {rows.shape}")
            return np.flatnonzero(rows).astype(np.int64)
        if rows.ndim != 1 or (rows.size and rows.dtype.kind not in "iu"):
            raise IndexError(f"indices must be a 1-D integer array or boolean mask, got {rows.dtype} {rows.shape}")
        rows = rows.astype(np.int64)
        if rows.size and (rows.min() < -n or rows.max() >= n):
            raise IndexError(f"indices out of range for {n} rows")
        return np.where(rows < 0, rows + n, rows)

    # -- task attributes
    kind = property(lambda self: self.data.kind)
    num_classes = property(lambda self: self.data.num_classes)
    class_names = property(lambda self: self.data.class_names)
    target_name = property(lambda self: self.data.target_name)

    @property
    def lonlat(self) -> torch.Tensor:
        """``(len, 2)`` (lon, lat) degrees of this dataset's rows."""
        return self._lonlat[torch.from_numpy(self.indices)]

    @property
    def target(self) -> torch.Tensor:
        """``(len,)`` targets of this dataset's rows."""
        return self._target[torch.from_numpy(self.indices)]

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Sample:
        """Sample ``index`` (negative counts from the end) as ``{"lonlat", "target"[, "image"]}``."""
        if isinstance(index, torch.Tensor) and index.numel() == 1:
            index = index.item()
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise TypeError(f"index must be an integer, got {type(index).__name__} (use subset() for many rows)")
        n = len(self.indices)
        if not -n <= index < n:
            raise IndexError(f"index {index} out of range for a dataset of {n} samples")
        row = int(self.indices[index])
        sample = {"lonlat": self._lonlat[row].clone(), "target": self._target[row].clone()}
        data = self.data
        if data.images is not None:
            sample["image"] = torch.from_numpy(np.array(data.images[row], dtype=np.uint8))
        if data.image_features is not None:
            sample["image_features" if data.images is not None else "image"] = self._features(row)
        return self.transforms(sample) if self.transforms is not None else sample

    def _features(self, row: int) -> torch.Tensor:
        feats = self.data.image_features
        vec = feats[row].toarray()[0] if hasattr(feats, "toarray") else feats[row]  # scipy sparse: densify one row
        return torch.from_numpy(np.array(vec, dtype=np.float32)).to(self.dtype)

    def subset(self, indices, split_info: dict | None = None) -> "TaskDataset":
        """The rows ``indices`` (of this dataset: ints or a boolean mask) as a dataset sharing the arrays."""
        sub = object.__new__(type(self))
        sub.__dict__.update(self.__dict__)
        sub.indices = self.indices[self._rows(indices, len(self))]
        sub.metadata = dict(self.metadata)
        if split_info is not None:
            sub.metadata["split"] = split_info
        return sub

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(name={self.data.name!r}, kind={self.kind!r}, samples={len(self)}, "
                f"image={self.image_kind!r})")


def collate(samples: list[Sample]) -> Sample:
    """Stack a list of samples (same keys, same shapes per key) into one batch dict.

    Returns:
        ``{"lonlat": (B, 2), "target": (B,), "image": (B, …)}`` (whatever keys the samples have).
    Raises:
        ValueError: an empty batch, samples with different keys, or a key whose shapes differ (a transform
            that resizes unevenly).
        TypeError: a value that is not a tensor.
    """
    if not samples:
        raise ValueError("cannot collate an empty batch")
    keys = list(samples[0])
    batch = {}
    for i, s in enumerate(samples):
        if not isinstance(s, dict) or list(s) != keys:
            got = sorted(s) if isinstance(s, dict) else type(s).__name__
            raise ValueError(f"sample {i} has keys {got}, sample 0 has {sorted(keys)}; "
                             "every sample needs the same keys")
    for k in keys:
        values = [s[k] for s in samples]
        bad = next((i for i, v in enumerate(values) if not isinstance(v, torch.Tensor)), None)
        if bad is not None:
            raise TypeError(f"sample {bad}[{k!r}] is a {type(values[bad]).__name__}, expected a tensor")
        shapes = {tuple(v.shape) for v in values}
        if len(shapes) > 1:
            raise ValueError(f"cannot stack {k!r}: shapes differ across the batch ({sorted(shapes)})")
        batch[k] = torch.stack(values)
    return batch


_SPLIT_CHECKS = {
    "kind": choice(*SPLIT_KINDS),
    "seed": integer(min=0),
    "fractions": list_of(number(ge=0, le=1), length=3),
    "block_km": number(gt=0),
    "nside": integer(min=1, optional=True),
    "buffer_km": number(ge=0),
    "stratify": boolean(),
}


def split_indices(ds: TaskDataset, kind: str = "random", seed: int = 0,
                  fractions: tuple[float, float, float] = (0.7, 0.15, 0.15), block_km: float = 500.0,
                  nside: int | None = None, buffer_km: float = 0.0, stratify: bool = False) -> dict[str, np.ndarray]:
    """:func:`geosrl.splits.make_split` of ``ds``'s rows: ``{"train", "val", "test", "excluded"}`` index arrays.

    ``stratify`` (spatial kind, classification or presence-only tasks) assigns whole blocks per class so
    every split holds each class. Arguments are checked first (``ConfigError`` names the bad one).
    """
    args = {"kind": kind, "seed": seed, "fractions": fractions, "block_km": block_km, "nside": nside,
            "buffer_km": buffer_km, "stratify": stratify}
    args = {k: _SPLIT_CHECKS[k](v, f"split argument {k!r}") for k, v in args.items()}
    if abs(sum(args["fractions"]) - 1.0) > 1e-6:
        raise ConfigError(f"split argument 'fractions' must sum to 1, got {fractions}")
    if args["stratify"] and (kind != "spatial" or ds.kind == "regression"):
        raise ConfigError("stratify=True needs kind='spatial' and a classification or presence_only task")
    lonlat = ds.lonlat.double().numpy()
    strata = ds.target.numpy() if args["stratify"] else None
    try:
        return make_split(lonlat, kind, args["seed"], fractions=tuple(args["fractions"]), nside=args["nside"],
                          block_km=args["block_km"], strata=strata, buffer_km=args["buffer_km"])
    except ValueError as e:  # e.g. too few occupied blocks, nside not a power of two
        raise ConfigError(f"cannot split {ds.data.name!r} ({len(ds)} rows): {e}") from None


def split_dataset(ds: TaskDataset, kind: str = "random", seed: int = 0,
                  fractions: tuple[float, float, float] = (0.7, 0.15, 0.15), block_km: float = 500.0,
                  nside: int | None = None, buffer_km: float = 0.0,
                  stratify: bool = False) -> dict[str, TaskDataset]:
    """Cut ``ds`` into ``{"train", "val", "test", "excluded"}`` subsets (see :func:`split_indices`).

    ``excluded`` holds the training rows within ``buffer_km`` of a test row (empty without a buffer). Each
    subset's ``metadata["split"]`` records the arguments, its part and its size.
    """
    idx = split_indices(ds, kind, seed, fractions, block_km, nside, buffer_km, stratify)
    info = {"kind": kind, "seed": int(seed), "fractions": [float(f) for f in fractions], "block_km": float(block_km),
            "nside": nside, "buffer_km": float(buffer_km), "stratify": bool(stratify)}
    return {part: ds.subset(rows, {**info, "part": part, "size": int(len(rows))}) for part, rows in idx.items()}


def _check_part(split) -> str | None:
    if split is not None and split not in SPLIT_PARTS:
        raise ConfigError(f"split must be one of {list(SPLIT_PARTS)} or None (all rows), got {split!r}")
    return split


class OfflineTaskDataset(TaskDataset):
    """An offline task (:func:`geosrl.datasets.load_offline_task`, cached) as a Dataset, optionally one split.

    Args:
        name: one of :func:`geosrl.datasets.list_offline_tasks`.
        split: ``"train"``, ``"val"``, ``"test"`` or ``None`` (every row).
        split_kind, fractions, block_km, nside, buffer_km, stratify: how the split is cut
            (:func:`split_indices`).
        seed: sampling seed of the task; also the split seed unless ``split_seed`` is given.
        max_samples, cache_dir, use_cache, **options: passed to ``load_offline_task``.
        transforms, dtype: as :class:`TaskDataset`.
    Raises:
        DataUnavailableError: the task's data package is missing (``install_hint`` says how to install it).
        ConfigError: a bad split argument.
    """

    def __init__(self, name: str, split: str | None = None, *, split_kind: str = "random", seed: int = 0,
                 split_seed: int | None = None, fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
                 block_km: float = 500.0, nside: int | None = None, buffer_km: float = 0.0, stratify: bool = False,
                 max_samples: int | None = None, cache_dir: str | Path | None = None, use_cache: bool = True,
                 transforms: Callable[[Sample], Sample] | None = None, dtype: torch.dtype = torch.float32,
                 **options) -> None:
        split = _check_part(split)
        seed = integer(min=0)(seed, "seed")
        data = load_offline_task(name, cache_dir=cache_dir, max_samples=max_samples, seed=seed,
                                 use_cache=use_cache, **options)
        super().__init__(data, transforms=transforms, dtype=dtype)
        if split is not None:
            parts = split_dataset(self, split_kind, seed if split_seed is None else split_seed, fractions, block_km,
                                  nside, buffer_km, stratify)
            self.indices, self.metadata = parts[split].indices, parts[split].metadata


class LocBenchTaskDataset(TaskDataset):
    """One published split of a LocBench dataset (:func:`geosrl.datasets.locbench.load_locbench`) as a Dataset.

    The files are read from ``root/<folder>/`` (``LOCBENCH[name].folder``). With ``download=True`` a
    missing folder is fetched and extracted by :func:`geosrl.datasets.download.download_locbench`
    (checksummed, atomic; an existing folder is never completed or replaced).

    Args:
        name: one of :func:`geosrl.datasets.locbench.list_locbench_datasets`.
        root: the LocBench root folder.
        split: a published split (``LOCBENCH[name].splits``).
        image_input, keep_missing_location: as ``load_locbench``.
        sparse_preds: keep sparse prediction files sparse and densify one row per sample (default; iNat2017
            val is 2 GB dense).
        download: fetch a missing folder; ``sha256``, ``verify``, ``url`` and ``timeout`` go to
            ``download_locbench`` (no recorded checksum → refused unless ``sha256=`` or ``verify=False``).
        transforms, dtype: as :class:`TaskDataset`.
    Raises:
        DatasetNotFoundError: files missing (the fix names the file, the archive and ``download=True``).
        DataUnavailableError: the download was refused or failed (offline).
        DatasetFormatError: a damaged file or archive; ``ChecksumError`` for a digest mismatch.
    """

    def __init__(self, name: str, root: str | Path = "data", split: str = "train", *, image_input: str = "preds",
                 keep_missing_location: bool = False, sparse_preds: bool = True, download: bool = False,
                 sha256: str | None = None, verify: bool = True, url: str | None = None, timeout: float = 60.0,
                 transforms: Callable[[Sample], Sample] | None = None, dtype: torch.dtype = torch.float32) -> None:
        if name not in LOCBENCH:
            raise ValueError(f"unknown LocBench dataset {name!r}; available: {', '.join(LOCBENCH)}")
        boolean()(download, "download")
        folder = Path(root) / LOCBENCH[name].folder
        existed = folder.exists()
        if download and not existed:
            download_locbench(LOCBENCH[name].folder, root, sha256=sha256, verify=verify, url=url, timeout=timeout)
        try:
            data = load_locbench(name, root, split, image_input=image_input,
                                 keep_missing_location=keep_missing_location, sparse_preds=sparse_preds)
        except DatasetNotFoundError as e:
            raise _not_found(e, name, folder, existed, download) from None
        super().__init__(data, transforms=transforms, dtype=dtype)


def _not_found(e: DatasetNotFoundError, name: str, folder: Path, existed: bool, download: bool) -> DatasetNotFoundError:
    """``e`` with a fix that says what ``download=True`` can (or cannot) do here."""
    if existed:
        hint = (f"{folder} exists but lacks this file, and download=True never completes or replaces an existing "
                f"folder: move {folder} away and pass download=True, or {e.install_hint}")
    elif not download:
        src = LOCBENCH_ARCHIVES[LOCBENCH[name].folder]
        hint = (f"pass download=True (archive {src.filename}; see geosrl.datasets.download.LOCBENCH_ARCHIVES), "
                f"or {e.install_hint}")
    else:
        hint = f"the downloaded archive lacks this file: {e.install_hint}"
    return DatasetNotFoundError(name, e.reason, hint, missing=e.missing)
