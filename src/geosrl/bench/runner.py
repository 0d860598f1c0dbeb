"""The benchmark grid: (task, encoder, split, seed) cells, run resumably, in parallel and in shards.

The runner never imports the datasets or protocols itself: it is handed a :class:`Backend` (the real one
comes from :func:`geosrl.bench.suites.default_backend`), so tests drive it with fake loaders and protocols.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import time
import traceback
from functools import lru_cache
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable

from . import store
from .config import BenchConfig, ConfigError
from .plugins import load_plugins, register_encoder_specs
from .store import Cell

__all__ = ["Backend", "BenchOutcome", "Progress", "build_grid", "run_bench", "shard_cells"]

Log = Callable[[str], None]


@dataclass(frozen=True)
class Backend:
    """What the runner needs from the rest of geosrl; every member must be picklable (``--workers``).

    Attributes:
        list_tasks: names of the suite's tasks.
        load_task: ``load_task(name, **load_kwargs) -> TaskData``.
        run_task: ``run_task(data, encoder, split, seed, config, device=...[, fraction=...]) -> TaskResult``
            (``fraction`` only in grids with a label-fraction axis).
        list_encoders: names of the available encoders.
        skip_errors: exceptions of ``load_task`` that mean "data unavailable, skip this task"; they may carry
            ``reason`` and ``install_hint`` attributes.
        check_protocol: ``check_protocol(config)`` raises :class:`ConfigError` for a protocol config no cell
            could use; called for every task before any cell runs (``None``: no check).
        baselines: names ``run_task`` also accepts as encoders: rows every table gets (``[bench] baselines``).
    """

    list_tasks: Callable[[], list[str]]
    load_task: Callable[..., Any]
    run_task: Callable[..., Any]
    list_encoders: Callable[[], list[str]]
    skip_errors: tuple[type[BaseException], ...] = ()
    check_protocol: Callable[[dict], Any] | None = None
    baselines: tuple[str, ...] = ()


@dataclass
class BenchOutcome:
    """What one call of :func:`run_bench` did."""

    out: Path
    grid: list[Cell]
    ran: list[Cell] = field(default_factory=list)
    resumed: list[Cell] = field(default_factory=list)
    failed: list[Cell] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)


def build_grid(tasks: Iterable[str], encoders: Iterable[str], splits: Iterable[str], seeds: Iterable[int],
               fractions: Iterable[float] | None = None) -> list[Cell]:
    """Every (task, encoder, split, seed[, label fraction]) combination, in sorted (canonical) order."""
    shares = [None] if fractions is None else [float(f) for f in fractions]
    return sorted(Cell(t, e, sp, s, f) for t in tasks for e in encoders for sp in splits for s in seeds for f in shares)


def shard_cells(cells: list[Cell], index: int, count: int) -> list[Cell]:
    """Shard ``index`` of ``count`` (counted from 1): every ``count``-th cell of the canonical grid.

    The shards of one grid are disjoint and together cover it exactly once; round-robin keeps them balanced
    across tasks.
    """
    if not 1 <= index <= count:
        raise ConfigError(f"shard {index}/{count}: need 1 <= i <= n")
    return sorted(cells)[index - 1 :: count]


def resolve_names(requested: list[str], available: list[str], what: str) -> list[str]:
    """``requested`` (or everything when empty), checked against ``available``."""
    unknown = [name for name in requested if name not in available]
    if unknown:
        raise ConfigError(f"unknown {what} {unknown}; choose from {available}")
    return list(requested) if requested else list(available)


def run_bench(config: BenchConfig, out: Path, backend: Backend, log: Log = print) -> BenchOutcome:
    """Run this shard's unfinished cells of the grid into ``out`` and return what happened.

    Finished cells already in ``out`` (from a killed or earlier run) are kept and never recomputed; a cell
    stored with a different config fingerprint is an error rather than a silent mix.
    """
    out = Path(out)
    load_plugins(config.imports)
    register_encoder_specs(config.encoders)
    tasks = resolve_names(config.tasks, backend.list_tasks(), "tasks")
    encoders = resolve_names(config.encoders, backend.list_encoders() + list(backend.baselines), "encoders")
    baselines = list(backend.baselines) if config.baselines is None else resolve_names(
        config.baselines, list(backend.baselines), "baselines") if config.baselines else []
    encoders += [b for b in baselines if b not in encoders]
    grid = shard_cells(build_grid(tasks, encoders, config.splits, config.seeds, config.fractions), *config.shard)
    unknown_tables = sorted(set(config.user_task_tables) - set(backend.list_tasks()))
    if unknown_tables:
        raise ConfigError(f"[task.{unknown_tables[0]}] names no task of the {config.suite} suite; "
                          f"tasks: {backend.list_tasks()}")
    if backend.check_protocol is not None:
        backend.check_protocol(config.protocol)  # a bad [protocol] value is an error even where a task overrides it
        for task in tasks:
            backend.check_protocol(config.protocol_for(task))
    check_fingerprints(out, config, grid)
    outcome = BenchOutcome(out=out, grid=grid)
    outcome.resumed = [c for c in grid if store.cell_done(out, c)]
    pending = [c for c in grid if not store.cell_done(out, c)]
    log(f"geosrl bench: {len(grid)} cells in shard {config.shard[0]}/{config.shard[1]}, "
        f"{len(outcome.resumed)} already done, {len(pending)} to run → {out}")
    progress = Progress(total=len(pending), workers=config.workers, log=log)
    if config.workers == 1:
        _run_sequential(config, out, backend, pending, outcome, progress)
    else:
        _run_parallel(config, out, backend, pending, outcome, progress)
    return outcome


def check_fingerprints(out: Path, config: BenchConfig, grid: list[Cell]) -> None:
    """Raise if a finished cell of ``grid`` in ``out`` was computed under a different config."""
    expected = {task: config.fingerprint(task) for task in {c.task for c in grid}}
    stale = [c.cell_id for c in grid if store.cell_done(out, c)
             and store.read_json(store.cell_path(out, c)).get("fingerprint") != expected[c.task]]
    if stale:
        raise ConfigError(f"{out} holds {len(stale)} finished cells made with a different config "
                          f"(e.g. {stale[0]}); resume with the same profile/config or choose a new --out")


def device_for(config: BenchConfig) -> str:
    """``auto`` → ``cuda`` when a GPU is visible, else ``cpu``; anything else is passed through."""
    if config.device != "auto":
        return config.device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _run_sequential(config: BenchConfig, out: Path, backend: Backend, pending: list[Cell],
                    outcome: BenchOutcome, progress: Progress) -> None:
    """Task by task: load the data once, then run its cells in this process."""
    for task in _tasks_in_order(pending):
        data = _load_or_skip(config, out, backend, task, outcome, progress)
        if data is None:
            continue
        for cell in (c for c in pending if c.task == task):
            report = execute_cell(cell, data, config, out, backend)
            _record(report, cell, outcome, progress)


def _run_parallel(config: BenchConfig, out: Path, backend: Backend, pending: list[Cell],
                  outcome: BenchOutcome, progress: Progress) -> None:
    """Check each task's data here (skips, warm caches), then run cells in a spawn-based process pool."""
    runnable = []
    for task in _tasks_in_order(pending):
        if _load_or_skip(config, out, backend, task, outcome, progress) is not None:
            runnable += [c for c in pending if c.task == task]
    threads = worker_threads(config.workers)
    context = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(config.workers, mp_context=context, initializer=_init_worker,
                               initargs=(threads, os.getpid(), list(config.imports), list(config.encoders)))
    try:
        futures: dict[Future, Cell] = {pool.submit(_worker_cell, c, config, out, backend): c for c in runnable}
        remaining = set(futures)
        while remaining:
            finished, remaining = wait(remaining, return_when=FIRST_COMPLETED)
            for future in finished:
                _record(future.result(), futures[future], outcome, progress)
    except BaseException:  # Ctrl-C or a dead worker: stop every worker before returning, so no cell is
        _stop_workers(pool)  # written after the reports (a cell being written is atomic: there or not)
        raise
    pool.shutdown()


def _stop_workers(pool: ProcessPoolExecutor) -> None:
    """Cancel queued cells and terminate the running workers, waiting until they are gone."""
    processes = list(getattr(pool, "_processes", {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    for process in processes:
        process.join(timeout=10)


def _load_or_skip(config: BenchConfig, out: Path, backend: Backend, task: str,
                  outcome: BenchOutcome, progress: Progress) -> Any | None:
    """Load ``task``'s data, or record why it is unavailable (and drop its cells) and return ``None``."""
    try:
        data = backend.load_task(task, **config.load_kwargs(task))
    except backend.skip_errors as exc:
        reason = getattr(exc, "reason", None) or str(exc)
        store.write_skip(out, task, reason, getattr(exc, "install_hint", ""))
        outcome.skipped[task] = reason
        progress.skip(task, reason, sum(c.task == task for c in outcome.grid if not store.cell_done(out, c)),
                      getattr(exc, "install_hint", ""))
        return None
    store.clear_skip(out, task)
    return data


def execute_cell(cell: Cell, data: Any, config: BenchConfig, out: Path, backend: Backend) -> dict[str, Any]:
    """Run one cell and store it; a raising protocol is recorded as a failure, not propagated."""
    start = time.perf_counter()
    try:
        extra = {} if cell.fraction is None else {"fraction": cell.fraction}
        result = backend.run_task(data, cell.encoder, cell.split, cell.seed, config.protocol_for(cell.task),
                                  device=device_for(config), **extra)
        record = _cell_record(cell, data, config, result, time.perf_counter() - start)
        store.write_cell(out, cell, record, result.predictions)
        if getattr(result, "surface", None) is not None and cell.seed == min(config.seeds):
            write_surface(out, cell, data, result.surface)
    except Exception:
        error = traceback.format_exc()
        store.write_failure(out, cell, error)
        return {"status": "failed", "seconds": time.perf_counter() - start, "error": error.strip().splitlines()[-1]}
    return {"status": "ok", "seconds": record["wall_seconds"], "metrics": record["metrics"]}


def write_surface(out: Path, cell: Cell, data: Any, surface: Callable) -> None:
    """The cell's prediction surface on the map grid (:func:`geosrl.bench.maps.grid_extent`: the data's box
    when regional, else the globe; 360 cells on the long side), drawn under the test points by the maps.
    Without xarray (the ``bench`` extra has it) there is no grid and the maps show the test points alone."""
    import importlib.util

    import numpy as np

    if importlib.util.find_spec("xarray") is None:
        return
    from ..maps import predict_grid
    from .maps import grid_extent, write_grid

    lonlat = np.asarray(data.lonlat, dtype=np.float64)
    extent, resolution = grid_extent(lonlat[np.isfinite(lonlat).all(axis=1)])
    write_grid(out, cell.cell_id, predict_grid(surface, extent, resolution))


@lru_cache(maxsize=1)
def _code_commit() -> dict[str, Any]:
    """The git commit of the code this (worker) process imported, read once per process."""
    from ..config import git_commit

    return git_commit()


def _cell_record(cell: Cell, data: Any, config: BenchConfig, result: Any, seconds: float) -> dict[str, Any]:
    """The JSON record of a finished cell (with the git commit of the code that made it: a resumed or merged
    folder may hold cells of several commits)."""
    return {
        "task": cell.task,
        "encoder": cell.encoder,
        "split": cell.split,
        "seed": cell.seed,
        **({} if cell.fraction is None else {"fraction": cell.fraction}),
        "kind": data.kind,
        "target_name": getattr(data, "target_name", ""),
        "n_samples": len(data.lonlat),
        "data_metadata": getattr(data, "metadata", {}),
        "metrics": {k: float(v) for k, v in result.metrics.items()},
        "val_metrics": {k: float(v) for k, v in result.val_metrics.items()},
        "chosen_hparams": result.chosen_hparams,
        "val_trials": getattr(result, "info", {}).get("val_trials", []),
        "train_seconds": float(result.train_seconds),
        "wall_seconds": seconds,
        "device": device_for(config),
        "fingerprint": config.fingerprint(cell.task),
        "git_commit": _code_commit()["commit"],
        "git_dirty": _code_commit()["dirty"],
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _record(report: dict[str, Any], cell: Cell, outcome: BenchOutcome, progress: Progress) -> None:
    """Book a cell's report into the outcome and the progress display."""
    (outcome.ran if report["status"] == "ok" else outcome.failed).append(cell)
    progress.cell(cell, report)


def _tasks_in_order(cells: list[Cell]) -> list[str]:
    """Distinct tasks of ``cells`` in first-seen order."""
    return list(dict.fromkeys(c.task for c in cells))


def _cpu_count() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


_WORKER_DATA: dict[str, Any] = {}


def worker_threads(workers: int) -> int:
    """torch threads of each worker process: the usable cores shared out (at least 1)."""
    return max(1, _cpu_count() // workers)


def _init_worker(threads: int, parent_pid: int, imports: list[str] = (), encoders: list[str] = ()) -> None:
    """Worker set-up: die with the parent, leave Ctrl-C to the parent, use ``threads`` torch threads, import
    the user's plugins (their encoders must be registered here too).

    On Linux the kernel sends SIGKILL to the worker when the parent dies (``PR_SET_PDEATHSIG``), so a
    ``kill -9`` of ``geosrl bench`` leaves no orphaned workers computing cells nobody will report.
    """
    _die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import torch

    torch.set_num_threads(threads)
    load_plugins(list(imports))
    register_encoder_specs(list(encoders))


def _die_with_parent(parent_pid: int) -> None:
    """Ask the kernel to SIGKILL this process when its parent exits (Linux; a no-op elsewhere)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent_pid:  # the parent died before the request took effect
        os._exit(1)


def _worker_cell(cell: Cell, config: BenchConfig, out: Path, backend: Backend) -> dict[str, Any]:
    """Run one cell in a worker process, keeping the most recently loaded task's data in memory."""
    if cell.task not in _WORKER_DATA:
        _WORKER_DATA.clear()
        _WORKER_DATA[cell.task] = backend.load_task(cell.task, **config.load_kwargs(cell.task))
    return execute_cell(cell, _WORKER_DATA[cell.task], config, out, backend)


class Progress:
    """One plain line per finished cell with counts, elapsed time and an ETA (works in logs and CI too)."""

    def __init__(self, total: int, workers: int, log: Log) -> None:
        self.total = total
        self.workers = workers
        self.log = log
        self.finished = 0
        self.busy_seconds = 0.0
        self.start = time.perf_counter()

    def cell(self, cell: Cell, report: dict[str, Any]) -> None:
        """Print the line of a finished (or failed) cell."""
        self.finished += 1
        self.busy_seconds += report["seconds"]
        width = len(str(self.total))
        status = _short_metrics(report.get("metrics", {})) if report["status"] == "ok" else f"FAILED: {report['error']}"
        self.log(f"[{self.finished:>{width}}/{self.total}] {cell.label()}: {status} ({report['seconds']:.1f} s) "
                 f"· elapsed {_hms(time.perf_counter() - self.start)} · ETA {_hms(self.eta())}")

    def skip(self, task: str, reason: str, cells: int, install_hint: str = "") -> None:
        """Announce a skipped task (with the command that would enable it) and take its ``cells`` out of the count."""
        self.total -= cells
        fix = f"; to run it: {install_hint}" if install_hint else ""
        self.log(f"skipping task {task} ({cells} cells): {reason}{fix}")

    def eta(self) -> float:
        """Seconds left: mean cell time so far × cells left ÷ workers."""
        if not self.finished:
            return float("nan")
        return self.busy_seconds / self.finished * (self.total - self.finished) / self.workers


def _short_metrics(metrics: dict[str, float], limit: int = 3) -> str:
    """The first few metrics, compactly."""
    return " ".join(f"{k}={v:.3g}" for k, v in list(metrics.items())[:limit])


def _hms(seconds: float) -> str:
    """``75`` → ``1m15s``; NaN → ``?``."""
    if seconds != seconds:
        return "?"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
