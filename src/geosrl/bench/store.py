"""On-disk layout of a benchmark result folder, written so that a killed run loses nothing finished.

::

    OUT/cells/<cell>.json         one finished (task, encoder, split, seed) cell: metrics, hparams, timing
    OUT/predictions/<cell>.csv    its per-sample test predictions (lon, lat, y_true, y_pred, ...)
    OUT/failed/<cell>.json        a cell whose run raised, with the traceback (retried on resume)
    OUT/skipped/<task>.json       a task whose data is unavailable, with the reason
    OUT/run.json, leaderboard.csv, summary.md, maps/   reports, rebuilt from the files above
    OUT/.lock                     held (flock) by the one geosrl process writing to OUT

A folder is only ever written by geosrl when it is empty, missing, or already a geosrl result folder
(:func:`claim_results_dir`), so a user's files are never overwritten; files get the mode the umask allows.

Every file is written to a temporary name and moved into place with :func:`os.replace` (atomic on POSIX),
and a cell's JSON is written after its predictions, so an existing cell file always means a complete cell.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

from ..config import ConfigError, claim_output_dir
from ..files import atomic_write_text, file_mode

__all__ = [
    "Cell",
    "safe_name",
    "split_label",
    "RESULTS_FORMAT",
    "atomic_write_text",
    "claim_results_dir",
    "file_mode",
    "is_results_dir",
    "locked",
    "cell_done",
    "cell_path",
    "clear_failure",
    "clear_skip",
    "iter_cell_records",
    "read_json",
    "predictions_path",
    "read_failures",
    "read_predictions",
    "read_skips",
    "write_cell",
    "write_failure",
    "write_json",
    "write_predictions",
    "write_skip",
]

_UNSAFE = re.compile(r"[^A-Za-z0-9_.+=-]")
#: ``run.json["format"]`` of a geosrl result folder
RESULTS_FORMAT = "geosrl-bench-results"


@dataclass(frozen=True, order=True)
class Cell:
    """One point of the benchmark grid."""

    task: str
    encoder: str
    split: str
    seed: int
    #: labelled share of the training split (few-shot experiments); ``None`` = all labels, no axis
    fraction: float | None = None

    @property
    def cell_id(self) -> str:
        """File-name-safe identifier, e.g. ``land_ocean__wrap__spatial__s0`` (few-shot: ``…__s0__f0.05``)."""
        parts = (self.task, self.encoder, self.split, f"s{self.seed}")
        if self.fraction is not None:
            parts += (f"f{self.fraction:g}",)
        return "__".join(safe_name(p) for p in parts)

    @property
    def split_label(self) -> str:
        """The split, with the label fraction when there is one: ``random`` or ``random · 5% labels``."""
        return split_label(self.split, self.fraction)

    def label(self) -> str:
        """Human-readable form for progress lines."""
        return f"{self.task} · {self.encoder} · {self.split_label} · seed {self.seed}"


def safe_name(text: str) -> str:
    """``text`` with every character outside ``[A-Za-z0-9_.+=-]`` replaced by ``-`` (for file names)."""
    return _UNSAFE.sub("-", text)


def split_label(split: str, fraction: float | None) -> str:
    """``random`` or, with a label fraction, ``random · 5% labels`` (the report's grouping key)."""
    return split if fraction is None else f"{split} · {fraction:.0%} labels"


def is_results_dir(out: Path) -> bool:
    """Whether ``out`` is a geosrl result folder: its ``run.json`` says so (or, written before that marker,
    has geosrl's ``config`` and ``git_commit`` entries beside a ``cells/`` folder)."""
    try:
        run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(run, dict):
        return False
    return run.get("format") == RESULTS_FORMAT or ({"config", "git_commit"} <= set(run) and (out / "cells").is_dir())


def claim_results_dir(out: Path) -> Path:
    """Create ``out``, or accept it when empty or already a geosrl result folder; refuse anything else.

    Raises:
        ConfigError: ``out`` is a file, an empty path, a folder with other files, or cannot be created.
    """
    return claim_output_dir(out, is_results_dir, "geosrl result folder")


@contextlib.contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold ``OUT/.lock`` (an exclusive ``flock``) while writing to ``out``; a second process is refused.

    Raises:
        ConfigError: another process holds the lock.
    """
    path = out / ".lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, file_mode())
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            raise ConfigError(f"another geosrl process (pid {holder}) is writing to {out}; wait for it to finish "
                              "or choose another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def write_json(path: Path, data: Mapping[str, Any]) -> None:
    """Atomically write ``data`` as indented JSON (numpy scalars converted)."""
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=False, default=_json_default) + "\n")


def read_json(path: Path) -> dict[str, Any]:
    """Read a JSON file of a result folder; a corrupt one is a :class:`ConfigError` naming it and the fix."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid JSON ({exc}); delete it (a deleted cell is recomputed on resume)") \
            from None


def cell_path(out: Path, cell: Cell) -> Path:
    """Path of the finished-cell record."""
    return out / "cells" / f"{cell.cell_id}.json"


def predictions_path(out: Path, cell_id: str) -> Path:
    """Path of a cell's per-sample predictions CSV."""
    return out / "predictions" / f"{cell_id}.csv"


def cell_done(out: Path, cell: Cell) -> bool:
    """Whether ``cell`` has a complete record in ``out``."""
    return cell_path(out, cell).is_file()


def write_cell(out: Path, cell: Cell, record: dict[str, Any], predictions: Mapping[str, np.ndarray]) -> None:
    """Store a finished cell: predictions first, then the record that marks the cell complete."""
    write_predictions(predictions_path(out, cell.cell_id), predictions)
    write_json(cell_path(out, cell), {"cell_id": cell.cell_id, **record})
    clear_failure(out, cell)


def write_failure(out: Path, cell: Cell, error: str) -> None:
    """Record that ``cell`` raised (the traceback text); a later run retries it."""
    write_json(out / "failed" / f"{cell.cell_id}.json", {"cell_id": cell.cell_id, **_cell_keys(cell), "error": error})


def clear_failure(out: Path, cell: Cell) -> None:
    """Drop an earlier failure record of ``cell`` once it has succeeded."""
    (out / "failed" / f"{cell.cell_id}.json").unlink(missing_ok=True)


def write_skip(out: Path, task: str, reason: str, install_hint: str = "") -> None:
    """Record that ``task`` was skipped because its data is unavailable."""
    name = safe_name(task)
    write_json(out / "skipped" / f"{name}.json", {"task": task, "reason": reason, "install_hint": install_hint})


def clear_skip(out: Path, task: str) -> None:
    """Drop an earlier skip record of ``task`` once its data has loaded."""
    (out / "skipped" / f"{safe_name(task)}.json").unlink(missing_ok=True)


def read_skips(out: Path) -> list[dict[str, str]]:
    """All skip records of ``out``, sorted by task."""
    return [read_json(p) for p in sorted((out / "skipped").glob("*.json"))]


def read_failures(out: Path) -> list[dict[str, Any]]:
    """All failure records of ``out``, sorted by cell id."""
    return [read_json(p) for p in sorted((out / "failed").glob("*.json"))]


def iter_cell_records(out: Path) -> Iterator[dict[str, Any]]:
    """Every finished-cell record of ``out``, sorted by cell id."""
    for path in sorted((out / "cells").glob("*.json")):
        yield read_json(path)


def write_predictions(path: Path, columns: Mapping[str, np.ndarray]) -> None:
    """Write equal-length 1-D columns as CSV; ``lon, lat, y_true, y_pred`` come first when present."""
    arrays = {name: np.asarray(values) for name, values in columns.items()}
    lengths = {name: a.shape for name, a in arrays.items()}
    if any(a.ndim != 1 for a in arrays.values()) or len({a.shape[0] for a in arrays.values()}) > 1:
        raise ValueError(f"prediction columns must be 1-D and of equal length, got shapes {lengths}")
    first = [c for c in ("lon", "lat", "y_true", "y_pred") if c in arrays]
    names = first + [c for c in arrays if c not in first]
    lists = [arrays[name].tolist() for name in names]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    writer.writerows(zip(*lists))
    atomic_write_text(path, buffer.getvalue())


def read_predictions(path: Path) -> dict[str, np.ndarray]:
    """Read a predictions CSV back into float columns (non-numeric columns stay strings)."""
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    columns = {}
    for i, name in enumerate(header):
        values = [row[i] for row in body]
        try:
            columns[name] = np.asarray(values, dtype=float)
        except ValueError:
            columns[name] = np.asarray(values, dtype=str)
    return columns


def _cell_keys(cell: Cell) -> dict[str, Any]:
    """The grid coordinates of ``cell`` as a dict."""
    keys = {"task": cell.task, "encoder": cell.encoder, "split": cell.split, "seed": cell.seed}
    return keys if cell.fraction is None else {**keys, "fraction": cell.fraction}


def _json_default(value: Any) -> Any:
    """JSON encoding of numpy scalars/arrays and paths."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")
