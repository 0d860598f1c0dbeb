"""What every benchmark script writes beside its numbers: the conditions of the run and a CSV of its rows."""

from __future__ import annotations

import csv
import io
import os
import platform
from pathlib import Path
from typing import Any

from geosrl.config import git_commit
from geosrl.files import atomic_write_text


def conditions(command: str, started: float, **extra: Any) -> dict[str, Any]:
    """``extra`` then threads, machine, Python, git commit (``(dirty)`` with local changes), wall time, command.

    ``started`` is the ``time.perf_counter()`` value at the start of the run."""
    import time

    git = git_commit()
    return {**extra, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
            "machine": f"{platform.machine()} {os.cpu_count()} CPUs", "python": platform.python_version(),
            "git commit": git["commit"][:7] + (" (dirty)" if git["dirty"] else ""),
            "wall time": f"{time.perf_counter() - started:.0f} s", "command": command}


def write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str] | None = None,
              digits: int | None = None) -> None:
    """``rows`` as a CSV, written atomically (columns: ``columns``, default every key in order of appearance;
    floats to ``digits`` significant digits when given; missing values empty)."""
    keys = columns or list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=keys, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.{digits}g}" if digits and isinstance(v, float) else v) for k, v in row.items()})
    atomic_write_text(path, buf.getvalue())
