"""Fake task loaders and protocols injected into the benchmark runner (no real data, no training).

Everything here is module-level so it pickles into ``--workers`` processes. ``run_task`` appends one line per
call to ``config["call_log"]`` (one ``O_APPEND`` write, safe across processes) so tests can count recomputation.
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from geosrl.bench.runner import Backend

TASKS = {"alpha": "classification", "beta": "regression", "gamma": "presence_only"}
ENCODERS = ["enc_a", "enc_b", "enc_c"]


class FakeUnavailable(ValueError):
    """Stand-in for geosrl.datasets.DataUnavailableError."""

    def __init__(self, task: str, reason: str, install_hint: str) -> None:
        super().__init__(f"{task}: {reason}")
        self.task, self.reason, self.install_hint = task, reason, install_hint

    def __reduce__(self):
        return (type(self), (self.task, self.reason, self.install_hint))


@dataclass
class FakeData:
    """The attributes of TaskData the runner reads."""

    name: str
    kind: str
    lonlat: np.ndarray
    target: np.ndarray
    target_name: str = ""
    metadata: dict = field(default_factory=dict)


@dataclass
class FakeResult:
    """Same fields as geosrl.tasks.TaskResult."""

    metrics: dict
    val_metrics: dict
    predictions: dict
    chosen_hparams: dict
    train_seconds: float
    surface: object = None


def list_tasks() -> list[str]:
    return [*TASKS, "missing"]


def list_encoders() -> list[str]:
    return list(ENCODERS)


def load_task(name: str, max_samples: int | None = None) -> FakeData:
    """Small random data per task; ``missing`` is unavailable."""
    if name == "missing":
        raise FakeUnavailable(name, "package fake-data is not installed", "pip install fake-data")
    n = max_samples or 40
    rng = np.random.default_rng(len(name))
    lonlat = np.column_stack([rng.uniform(-180, 180, n), rng.uniform(-90, 90, n)])
    target = rng.integers(0, 3, n) if TASKS[name] != "regression" else rng.normal(size=n)
    return FakeData(name, TASKS[name], lonlat, target, target_name=f"{name} target", metadata={"source": "fake"})


def score(encoder: str, split: str, seed: int) -> float:
    """Deterministic pseudo-metric in [0, 1) for a cell."""
    digest = hashlib.sha256(f"{encoder}|{split}|{seed}".encode()).digest()
    return digest[0] / 256


def run_task(data: FakeData, encoder: str, split: str, seed: int, config: dict, device: str = "cpu") -> FakeResult:
    """Fake protocol: logs the call, optionally sleeps or fails, returns metrics from :func:`score`."""
    if "call_log" in config:
        fd = os.open(config["call_log"], os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.write(fd, f"{data.name}|{encoder}|{split}|{seed}\n".encode())
        os.close(fd)
    time.sleep(config.get("sleep", 0.0))
    if encoder in config.get("fail_encoders", []):
        raise RuntimeError(f"boom in {encoder}")
    if encoder in config.get("interrupt_encoders", []):
        raise KeyboardInterrupt
    s = score(encoder, split, seed)
    metrics = {"classification": {"top1": s, "top3": min(1.0, s + 0.2), "mrr": s / 2 + 0.3, "ssi_local_marks": 5 + s},
               "regression": {"r2": s, "rmse": 1 - s, "morans_i_residual": s - 0.5},
               "presence_only": {"auc": s}}[data.kind]
    y_true = data.target
    y_pred = y_true if data.kind != "regression" else y_true + (1 - s)
    preds = {"lon": data.lonlat[:, 0], "lat": data.lonlat[:, 1], "y_true": y_true, "y_pred": y_pred,
             "abs_error": np.abs(y_pred - y_true)}
    surface = (lambda ll: ll[:, 1] / 90.0 + s) if data.kind == "regression" else None  # latitude: a visible gradient
    return FakeResult(metrics, {k: v for k, v in metrics.items()}, preds, {"lr": 1e-3}, 0.01, surface)


def backend() -> Backend:
    """The fake backend."""
    return Backend(list_tasks=list_tasks, load_task=load_task, run_task=run_task, list_encoders=list_encoders,
                   skip_errors=(FakeUnavailable,))


def call_lines(path: Path) -> list[str]:
    """Lines of a call log (empty when it does not exist)."""
    return path.read_text().splitlines() if path.exists() else []


if __name__ == "__main__":  # used by the kill/resume test: python bench_fakes.py <geosrl bench args>
    from geosrl.cli import build_parser, cmd_bench

    sys.exit(cmd_bench(build_parser().parse_args(["bench", *sys.argv[1:]]), print, backend()))
