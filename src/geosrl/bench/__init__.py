"""The geosrl benchmark: configuration, the resumable (task, encoder, split, seed) grid and its reports.

``geosrl bench`` (see :mod:`geosrl.cli`) is the usual way in; the pieces are usable from Python too::

    from geosrl.bench import build_config, run_bench, default_backend
    config = build_config("quick", overrides={"tasks": ["land_ocean"], "encoders": ["wrap"]})
    run_bench(config, Path("results/try"), default_backend(config))
"""

from .config import BenchConfig, ConfigError, build_config, load_profile
from .merge import merge_results
from .report import write_reports
from .runner import Backend, BenchOutcome, build_grid, run_bench, shard_cells
from .store import Cell
from .suites import default_backend

__all__ = [
    "Backend",
    "BenchConfig",
    "BenchOutcome",
    "Cell",
    "ConfigError",
    "build_config",
    "build_grid",
    "default_backend",
    "load_profile",
    "merge_results",
    "run_bench",
    "shard_cells",
    "write_reports",
]
