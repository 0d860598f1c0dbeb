"""``run.json``: what was run, on what, with which versions, and what was skipped or failed."""

from __future__ import annotations

import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..config import git_commit, package_versions
from . import store

__all__ = ["run_info", "write_run_json"]

def task_summaries(out: Path) -> dict[str, dict[str, Any]]:
    """Per task: kind, sample count, target, the data's own metadata (source, licence, ...) and, per split and
    seed, the split's sizes, block side and exclusion buffer (km) and test→train great-circle distances (km)
    (min / median / p90), from the cells."""
    tasks: dict[str, dict[str, Any]] = {}
    for rec in store.iter_cell_records(out):
        task = tasks.setdefault(rec["task"], {
            "kind": rec["kind"],
            "n_samples": rec["n_samples"],
            "target_name": rec.get("target_name", ""),
            "data_metadata": rec.get("data_metadata", {}),
        })
        hp = rec.get("chosen_hparams", {})
        if "split_distance_km" in hp:
            split = store.split_label(rec["split"], rec.get("fraction"))
            task.setdefault("splits", {}).setdefault(split, {}).setdefault(str(rec["seed"]), {
                "sizes": hp.get("split_sizes"), "test_to_train_km": hp["split_distance_km"],
                **({"block_km": hp["split_block_km"]} if "split_block_km" in hp else {}),
                **({"buffer_km": hp["split_buffer_km"]} if "split_buffer_km" in hp else {})})
    return tasks


def host_info(config: dict[str, Any]) -> dict[str, Any]:
    """Machine and threading: the torch thread count changes results in the 7th digit, so it is recorded."""
    import torch

    from .runner import worker_threads

    workers = int(config.get("workers") or 1)
    return {"platform": platform.platform(), "cpu_count": os.cpu_count(), "python": sys.version.split()[0],
            "torch_threads": torch.get_num_threads() if workers == 1 else worker_threads(workers),
            "workers": workers, "thread_env": {k: os.environ.get(k) for k in
                                               ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}}


def run_info(out: Path, config: dict[str, Any], **extra: Any) -> dict[str, Any]:
    """The content of ``run.json``: config, seeds, versions, git commit, host, cells, skips and failures."""
    git = git_commit()
    cells = sorted(p.stem for p in (out / "cells").glob("*.json"))
    failures = store.read_failures(out)
    return {
        "format": store.RESULTS_FORMAT,
        "config": config,
        "seeds": config.get("seeds"),
        "git_commit": git["commit"],
        "git_dirty": git["dirty"],
        "packages": package_versions(),
        "host": host_info(config),
        "command": sys.argv,
        "written_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "finished_cells": len(cells),
        "skipped_tasks": store.read_skips(out),
        "failed_cells": [{"cell_id": f["cell_id"], "error": f["error"].strip().splitlines()[-1]} for f in failures],
        "tasks": task_summaries(out),
        **extra,
    }


def write_run_json(out: Path, info: dict[str, Any]) -> Path:
    """Atomically write ``run.json``."""
    path = out / "run.json"
    store.write_json(path, info)
    return path
