"""``.npz`` cache of derived task samples.

A cached :class:`~geosrl.datasets.base.TaskData` is one uncompressed ``.npz``: the arrays, a JSON
``header`` (scalar fields, metadata, and the name, dtype and shape of every array) and a ``checksum``
(SHA-256 of the header and of every array's bytes). Nothing is pickled (``allow_pickle=False``).

Reading is defensive: an entry that cannot be read (truncated or not a zip, a damaged member, a
missing or unexpected array, a dtype or shape that differs from the header, a checksum mismatch, a
header that does not make a valid TaskData) is reported with a :class:`CacheCorruptWarning` naming
the file, removed, and treated as a miss, so the caller rebuilds it. Corrupt data is never returned.

Writing is atomic (temporary file in the same folder, flushed and fsynced, then ``os.replace``), so
concurrent workers never read a half-written entry; the file gets the usual ``0o666 & ~umask``
permissions (not ``mkstemp``'s 0600).
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

import numpy as np

from ..files import atomic_write
from .base import TaskData

__all__ = [
    "CACHE_FORMAT",
    "CacheCorruptWarning",
    "cache_key",
    "default_cache_dir",
    "load_cached",
    "read_cached",
    "save_cached",
]

#: bump when the derived samples of any task change for the same inputs, or the file layout changes
CACHE_FORMAT = 2

_ARRAYS = ("lonlat", "target", "images", "image_features", "background_lonlat")
_MEMBERS = frozenset(_ARRAYS) | {"header", "checksum"}


class CacheCorruptWarning(UserWarning):
    """A cache entry was unreadable or failed its checks; it was discarded and will be rebuilt."""


class _Corrupt(Exception):
    """Internal: a cache entry failed a consistency check."""


def default_cache_dir() -> Path:
    """``$GEOSRL_CACHE_DIR``, else ``$XDG_CACHE_HOME/geosrl``, else ``~/.cache/geosrl``."""
    if os.environ.get("GEOSRL_CACHE_DIR"):
        return Path(os.environ["GEOSRL_CACHE_DIR"])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "geosrl"
    return Path.home() / ".cache" / "geosrl"


def cache_key(parts: dict) -> str:
    """Stable 16-hex-digit key of a JSON-serialisable dict (task, size, seed, options, versions)."""
    blob = json.dumps({"format": CACHE_FORMAT, **parts}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _checksum(header_json: str, arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 over the header text and, per array in name order, its name, dtype, shape and bytes."""
    h = hashlib.sha256()
    h.update(header_json.encode("utf-8"))
    for name in sorted(arrays):
        arr = np.ascontiguousarray(arrays[name])
        h.update(f"\0{name}\0{arr.dtype.str}\0{arr.shape}\0".encode())
        h.update(arr.reshape(-1).view(np.uint8))
    return h.hexdigest()


def save_cached(path: Path, data: TaskData) -> None:
    """Write ``data`` to ``path`` (``.npz``) atomically, with a checksum, honouring the umask."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {k: np.ascontiguousarray(getattr(data, k)) for k in _ARRAYS if getattr(data, k) is not None}
    for k, arr in arrays.items():
        if arr.dtype.hasobject:
            raise TypeError(f"cannot cache {k!r}: object arrays would need pickling")
    header = {
        "name": data.name,
        "kind": data.kind,
        "num_classes": data.num_classes,
        "class_names": data.class_names,
        "target_name": data.target_name,
        "metadata": data.metadata,
        "arrays": {k: {"dtype": a.dtype.str, "shape": list(a.shape)} for k, a in arrays.items()},
    }
    header_json = json.dumps(header)
    checksum = _checksum(header_json, arrays)
    atomic_write(path, lambda f: np.savez(f, header=np.array(header_json), checksum=np.array(checksum), **arrays))


def _read(f) -> TaskData:
    """Read and check one entry from an open binary file; raise on any inconsistency."""
    with np.load(f, allow_pickle=False) as z:
        names = set(z.files)
        if not {"header", "checksum"} <= names:
            raise _Corrupt(f"missing header or checksum (members: {sorted(names)})")
        if not names <= _MEMBERS:
            raise _Corrupt(f"unexpected members {sorted(names - _MEMBERS)}")
        header_arr, checksum_arr = z["header"], z["checksum"]
        if header_arr.shape != () or header_arr.dtype.kind != "U" or checksum_arr.shape != () or checksum_arr.dtype.kind != "U":
            raise _Corrupt("header or checksum is not a string")
        header_json, checksum = str(header_arr), str(checksum_arr)
        header = json.loads(header_json)
        if not isinstance(header, dict) or not isinstance(header.get("arrays"), dict):
            raise _Corrupt("header is not a JSON object with an 'arrays' table")
        expected = header["arrays"]
        if set(expected) != names - {"header", "checksum"} or not set(expected) <= set(_ARRAYS):
            raise _Corrupt(f"arrays {sorted(names - {'header', 'checksum'})} differ from the header's {sorted(expected)}")
        arrays = {}
        for k, spec in expected.items():
            arr = z[k]
            if arr.dtype.str != spec["dtype"] or list(arr.shape) != list(spec["shape"]):
                raise _Corrupt(f"array {k!r} is {arr.dtype.str} {list(arr.shape)}, header says "
                               f"{spec['dtype']} {spec['shape']}")
            arrays[k] = arr
    if _checksum(header_json, arrays) != checksum:
        raise _Corrupt("checksum mismatch (content changed after writing)")
    if "lonlat" not in arrays or "target" not in arrays:
        raise _Corrupt("lonlat or target missing")
    return TaskData(
        name=header["name"],
        kind=header["kind"],
        num_classes=header["num_classes"],
        class_names=header["class_names"],
        target_name=header["target_name"],
        metadata=header["metadata"],
        **{k: arrays.get(k) for k in _ARRAYS},
    )


def read_cached(path: Path) -> tuple[TaskData | None, str | None]:
    """Read a cache entry: ``(data, None)``, ``(None, None)`` if absent, ``(None, problem)`` if corrupt.

    A corrupt entry is removed (unless it was replaced meanwhile) and reported with a
    :class:`CacheCorruptWarning` naming the file.
    """
    path = Path(path)
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return None, None
    except OSError as e:
        problem = f"cannot open: {e}"
        stat = None
    else:
        with f:
            stat = os.fstat(f.fileno())
            try:
                return _read(f), None
            except Exception as e:  # noqa: BLE001 - any failure to read a cache entry means "rebuild it"
                problem = f"{type(e).__name__}: {e}"
    _discard(path, stat)
    warnings.warn(f"geosrl cache entry {path} is corrupt ({problem}); discarded, rebuilding it",
                  CacheCorruptWarning, stacklevel=3)
    return None, problem


def _discard(path: Path, stat) -> None:
    """Remove ``path`` if it is still the file that was read (another worker may have replaced it)."""
    try:
        now = os.stat(path)
        if stat is None or (now.st_ino, now.st_dev, now.st_mtime_ns) == (stat.st_ino, stat.st_dev, stat.st_mtime_ns):
            path.unlink()
    except OSError:
        pass


def load_cached(path: Path) -> TaskData | None:
    """Read a cache entry written by :func:`save_cached`; ``None`` if absent or corrupt (then warned and removed)."""
    return read_cached(path)[0]
