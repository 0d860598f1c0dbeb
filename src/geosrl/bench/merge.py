"""``geosrl bench merge OUT DIR1 DIR2 …``: join result folders (e.g. shards run on several machines)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ..files import atomic_write
from . import store
from .config import ConfigError
from .maps import grid_path

__all__ = ["MergeOutcome", "merge_results"]


@dataclass
class MergeOutcome:
    """Counts of one merge."""

    copied: int = 0
    duplicates: int = 0
    sources: list[Path] = field(default_factory=list)


def merge_results(out: Path, sources: list[Path]) -> MergeOutcome:
    """Copy every finished cell (with its predictions where present), skip and open failure of ``sources`` into ``out``.

    Nothing is copied unless every cell of a task, in every source and in ``out``, was computed under one
    config fingerprint: runs of different configs are refused, never mixed. A cell present in several
    folders is kept once. Failures of cells finished in any source are dropped. Reports are rebuilt by the
    caller.
    """
    out = Path(out)
    outcome = MergeOutcome(sources=[Path(s) for s in sources])
    for src in outcome.sources:
        if not (store.is_results_dir(src) or (src / "cells").is_dir()):  # sources are only read
            raise ConfigError(f"{src} is not a geosrl bench result folder (no cells/ or geosrl run.json)")
    check_same_configs([out, *outcome.sources])
    for src in outcome.sources:
        for path in sorted((src / "cells").glob("*.json")):
            _merge_cell(out, src, path, outcome)
    for src in outcome.sources:
        _merge_skips(out, src)
        _merge_failures(out, src)
    return outcome


def check_same_configs(folders: list[Path]) -> None:
    """Raise :class:`ConfigError` if two cells of one task in ``folders`` carry different config fingerprints."""
    seen: dict[str, tuple[str, Path]] = {}
    for folder in folders:
        for record in store.iter_cell_records(folder):
            first = seen.setdefault(record["task"], (record.get("fingerprint"), folder))
            if first[0] != record.get("fingerprint"):
                raise ConfigError(f"cannot merge: task {record['task']!r} was run with different configs in "
                                  f"{first[1]} and {folder} (config fingerprints {first[0]} and "
                                  f"{record.get('fingerprint')}); merge only shards of one run")


def _merge_cell(out: Path, src: Path, path: Path, outcome: MergeOutcome) -> None:
    """Copy one cell (predictions first), or check it against the copy already in ``out``."""
    record = store.read_json(path)
    target = out / "cells" / path.name
    if target.is_file():
        if store.read_json(target).get("fingerprint") != record.get("fingerprint"):
            raise ConfigError(f"cell {path.stem} exists in several folders with different configs "
                              f"(fingerprints differ; {src} is one of them)")
        outcome.duplicates += 1
        return
    # per-sample predictions and the prediction surface are optional: a committed result folder leaves them out
    # (.gitignore), and a merge of it keeps the cells; the reports draw a map only where they are present
    for extra in (store.predictions_path, grid_path):
        if extra(src, path.stem).is_file():
            _atomic_copy(extra(src, path.stem), extra(out, path.stem))
    _atomic_copy(path, target)
    outcome.copied += 1


def _merge_skips(out: Path, src: Path) -> None:
    """Carry over skipped tasks, naming the folder they were skipped in."""
    for skip in store.read_skips(src):
        store.write_skip(out, skip["task"], f"{skip['reason']} (in {src})", skip.get("install_hint", ""))


def _merge_failures(out: Path, src: Path) -> None:
    """Carry over failures of cells that no source finished."""
    for path in sorted((src / "failed").glob("*.json")):
        if not (out / "cells" / path.name).is_file():
            _atomic_copy(path, out / "failed" / path.name)


def _atomic_copy(src: Path, dst: Path) -> None:
    """Copy ``src`` to ``dst`` through a temporary file and an atomic rename."""
    with open(src, "rb") as reader:
        atomic_write(dst, lambda writer: shutil.copyfileobj(reader, writer))
