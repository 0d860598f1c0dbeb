"""Writing files safely: atomically (temporary file + rename), fsynced, with the mode the umask allows.

Every file geosrl writes (benchmark results, caches, checkpoints, pre-training state) goes through
:func:`atomic_write`, so a killed process never leaves a half-written file under a final name, and files
get ``0o666 & ~umask`` like any other program's (``tempfile.mkstemp`` alone would make them 0600).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import IO, Any, Callable

__all__ = ["atomic_write", "atomic_write_text", "file_mode"]


def _umask() -> int:
    """The process umask, read without changing it where the OS allows (Linux), else set and restored."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """Mode of a new regular file under the process umask."""
    return 0o666 & ~_umask()


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], Any]) -> Path:
    """Write ``path`` atomically: ``write(f)`` fills a temporary file in the same folder, which is flushed,
    fsynced, given the mode :func:`file_mode` and renamed over ``path``.

    Creates missing parent folders. A failure leaves ``path`` as it was and no temporary file behind.

    Raises:
        OSError: the folder or file cannot be written; its ``filename`` (and so its message) is ``path``
            itself, not the temporary file.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise OSError(e.errno, e.strerror or str(e), str(path)) from e
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, file_mode())
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise OSError(e.errno, e.strerror or str(e), str(path)) from e
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """:func:`atomic_write` of UTF-8 ``text``."""
    return atomic_write(path, lambda f: f.write(text.encode("utf-8")))
