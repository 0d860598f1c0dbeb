"""The LocBench suite for the runner: one TaskData per dataset, its published splits kept as a ``published`` split.

Each dataset's published splits are loaded with :func:`geosrl.datasets.locbench.load_locbench` and stacked in
the order train, validation, evaluation; ``metadata["published_counts"]`` keeps their sizes. The grid's
``random`` and ``spatial`` splits re-split the stacked rows; ``published`` uses the files' own split, with a
seeded validation part carved from train where the dataset publishes none (hyper-parameters are never chosen
on the reported split).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["VAL_FRACTION", "list_tasks", "load_task", "published_split", "run_task"]

VAL_FRACTION = 0.15  # share of the published train split held out for validation when none is published


def list_tasks() -> list[str]:
    """The LocBench dataset names."""
    from geosrl.datasets.locbench import list_locbench_datasets

    return list_locbench_datasets()


def load_task(name: str, root: str | Path) -> Any:
    """All published splits of ``name`` stacked as train, val, eval rows (``metadata["published_counts"]``)."""
    from geosrl.datasets.locbench import LOCBENCH, load_locbench

    ds = LOCBENCH[name]
    roles = {split: _role(split, ds.eval_split) for split in ds.splits if not (ds.family == "fmow" and split == "test")}
    order = sorted(roles, key=lambda split: ("train", "val", "test").index(roles[split]))
    parts = [load_locbench(name, root, split) for split in order]
    counts = {"train": 0, "val": 0, "test": 0}
    for split, part in zip(order, parts):
        counts[roles[split]] += len(part.lonlat)
    return _stack(parts, {"published_counts": counts, "published_splits": {s: roles[s] for s in order}})


def _role(split: str, eval_split: str) -> str:
    """``train`` / ``val`` / ``test`` role of a published split name."""
    if split == eval_split:
        return "test"
    return "train" if split == "train" else "val"


def _stack(parts: list[Any], extra_metadata: dict[str, Any]) -> Any:
    """One TaskData holding the rows of ``parts`` in order (class lists must agree)."""
    from geosrl.datasets.base import TaskData

    first = parts[0]
    if any(p.num_classes != first.num_classes for p in parts):
        raise ValueError(f"{first.name}: published splits disagree on the number of classes")
    features = [p.image_features for p in parts]
    return TaskData(
        name=first.name,
        kind=first.kind,
        lonlat=np.concatenate([p.lonlat for p in parts]),
        target=np.concatenate([p.target for p in parts]),
        num_classes=first.num_classes,
        class_names=first.class_names,
        target_name=first.target_name,
        image_features=np.concatenate(features) if all(f is not None for f in features) else None,
        metadata={**{k: v for k, v in first.metadata.items() if k not in ("split", "role")},
                  "splits_metadata": [p.metadata for p in parts], **extra_metadata},
    )


def published_split(counts: dict[str, int], seed: int) -> dict[str, np.ndarray]:
    """Index arrays of the stacked rows; without a published validation split, a seeded share of train."""
    n_train, n_val, n_test = counts["train"], counts["val"], counts["test"]
    train = np.arange(n_train)
    val = np.arange(n_train, n_train + n_val)
    test = np.arange(n_train + n_val, n_train + n_val + n_test)
    if n_val == 0:
        perm = np.random.default_rng(seed).permutation(train)
        cut = max(1, int(round(VAL_FRACTION * n_train)))
        val, train = np.sort(perm[:cut]), np.sort(perm[cut:])
    return {"train": train, "val": val, "test": test}


def run_task(data: Any, encoder: str, split: str, seed: int, config: dict, device: str = "cpu") -> Any:
    """``geosrl.tasks.run_task``, with ``split="published"`` turned into the dataset's own index arrays."""
    from geosrl.tasks import run_task as protocol

    if split == "published":
        return protocol(data, encoder, published_split(data.metadata["published_counts"], seed), seed, config,
                        device=device)
    return protocol(data, encoder, split, seed, config, device=device)
