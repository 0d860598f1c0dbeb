"""``.npz`` cache of derived task samples.

A cached :class:`~geosrl.datasets.base.TaskData` is one uncompressed ``.npz`` (arrays) with the
scalar fields and metadata as a JSON string; nothing is pickled. Files are written atomically
(temporary file + rename) so concurrent workers never read a half-written cache entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from .base import TaskData

__all__ = ["CACHE_FORMAT", "cache_key", "default_cache_dir", "load_cached", "save_cached"]

#: bump when the derived samples of any task change for the same inputs
CACHE_FORMAT = 1

_ARRAYS = ("lonlat", "target", "images", "image_features", "background_lonlat")


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


def save_cached(path: Path, data: TaskData) -> None:
    """Write ``data`` to ``path`` (``.npz``) atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {k: getattr(data, k) for k in _ARRAYS if getattr(data, k) is not None}
    header = {
        "name": data.name,
        "kind": data.kind,
        "num_classes": data.num_classes,
        "class_names": data.class_names,
        "target_name": data.target_name,
        "metadata": data.metadata,
    }
    arrays["header"] = np.array(json.dumps(header))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.stem, suffix=".tmp.npz")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_cached(path: Path) -> TaskData | None:
    """Read a cache entry written by :func:`save_cached`; ``None`` if absent or unreadable."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            header = json.loads(str(z["header"]))
            arrays = {k: z[k] for k in _ARRAYS if k in z.files}
    except (OSError, ValueError, KeyError, json.JSONDecodeError):
        return None
    return TaskData(
        name=header["name"],
        kind=header["kind"],
        num_classes=header["num_classes"],
        class_names=header["class_names"],
        target_name=header["target_name"],
        metadata=header["metadata"],
        **{k: arrays.get(k) for k in _ARRAYS},
    )
