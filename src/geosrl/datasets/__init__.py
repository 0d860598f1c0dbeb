"""Benchmark datasets: offline tasks from installed data packages, and LocBench loaders.

Offline tasks read real data shipped inside pip packages by file path (no download at run time)::

    from geosrl.datasets import list_offline_tasks, load_offline_task
    data = load_offline_task("land_ocean", max_samples=5000, seed=0)   # TaskData
    data.lonlat   # (N, 2) float64 (lon, lat) degrees
    data.target   # (N,) int64 class ids / float64 values

A task whose package is missing raises :class:`DataUnavailableError` (``.reason``,
``.install_hint``). LocBench loaders live in :mod:`geosrl.datasets.locbench`.

For ``torch.utils.data.DataLoader``: :class:`OfflineTaskDataset`, :class:`LocBenchTaskDataset` (with
``download=True``, :mod:`geosrl.datasets.download`) and :class:`TaskDataset` (any ``TaskData``) give
samples ``{"lonlat": (2,), "target": (), "image": …}``; :func:`split_dataset` cuts seeded random or
spatial splits; :func:`collate` stacks a batch (:mod:`geosrl.datasets.torch_datasets`).
"""

from . import download, locbench, sources
from .base import DataUnavailableError, DatasetFormatError, DatasetNotFoundError, TaskData, north_first_index
from .cache import default_cache_dir
from .offline import OFFLINE_TASKS, check_offline_task, list_offline_tasks, load_offline_task
from .torch_datasets import (
    LocBenchTaskDataset,
    OfflineTaskDataset,
    TaskDataset,
    collate,
    split_dataset,
    split_indices,
)

__all__ = [
    "OFFLINE_TASKS",
    "DataUnavailableError",
    "DatasetFormatError",
    "DatasetNotFoundError",
    "LocBenchTaskDataset",
    "OfflineTaskDataset",
    "TaskData",
    "TaskDataset",
    "check_offline_task",
    "collate",
    "default_cache_dir",
    "download",
    "list_offline_tasks",
    "load_offline_task",
    "locbench",
    "north_first_index",
    "sources",
    "split_dataset",
    "split_indices",
]
