"""Benchmark configuration: shipped TOML profiles, a user TOML on top, command-line flags last.

A profile (``src/geosrl/bench/profiles/<name>.toml``) has four tables::

    [bench]              # the grid and how to run it
    suite = "offline"    # "offline" | "locbench"
    tasks = [...]        # empty = every task of the suite
    encoders = [...]     # empty = every registered encoder
    seeds = 3            # a count (seeds 0..N-1) or an explicit list
    splits = ["random", "spatial"]

    experiment = "encoders"   # "encoders": rank location encoders | "fewshot": CSP few-shot transfer
    fractions = [0.05, 1.0]   # fewshot only: labelled shares of the training split (a grid axis)
    reference = "knn"         # optional: the report adds each row's paired gain over this encoder
    baselines = ["majority", "knn"]   # rows added to every table (default: every baseline of the suite)
    imports = ["my_encoders.py"]      # your own modules registering encoders (geosrl.bench.plugins)

    [protocol]           # config dict passed to the protocol (geosrl.tasks.run_task or run_fewshot_cell)
    profile = "quick"    # the protocol's own defaults (geosrl.tasks.common / .fewshot); other keys override
    embed_dim = 64

    [pretrain]           # fewshot only, when [protocol] pretrained is unset: geosrl.pretrain.train config

    [task.<name>]        # per task: loader arguments, and [task.<name>.protocol] overriding [protocol]
    max_samples = 5000

A user file given with ``--config`` is merged key by key over the profile (tables merge, other values
replace), then the command-line flags replace single values.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from dataclasses import asdict, dataclass, field
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from ..config import ConfigError, integer, list_of, load_config_file, merge_config, number, text

__all__ = [
    "BenchConfig",
    "ConfigError",
    "PROFILES",
    "SPLITS",
    "SUITES",
    "build_config",
    "default_out_dir",
    "load_profile",
    "parse_shard",
]

PROFILES = ("quick", "full", "fewshot_quick", "fewshot_full")
EXPERIMENTS = ("encoders", "fewshot")
SUITES = ("offline", "locbench")
SPLITS = ("random", "spatial", "published")  # "published": LocBench's own train/val/test files
_BENCH_KEYS = {"suite", "tasks", "encoders", "seeds", "splits", "device", "workers", "shard", "root", "cache_dir",
               "experiment", "fractions", "reference", "baselines", "imports"}
_TOP_KEYS = {"bench", "protocol", "task", "pretrain"}
_LOADER_KEYS = {"max_samples"}


@dataclass
class BenchConfig:
    """Resolved settings of one ``geosrl bench`` run (everything that ends up in ``run.json``)."""

    profile: str = "quick"
    suite: str = "offline"
    tasks: list[str] = field(default_factory=list)
    encoders: list[str] = field(default_factory=list)
    seeds: list[int] = field(default_factory=lambda: [0])
    splits: list[str] = field(default_factory=lambda: ["random", "spatial"])
    device: str = "auto"
    workers: int = 1
    shard: tuple[int, int] = (1, 1)
    root: str | None = None
    cache_dir: str | None = None
    protocol: dict[str, Any] = field(default_factory=dict)
    task: dict[str, dict[str, Any]] = field(default_factory=dict)
    experiment: str = "encoders"
    fractions: list[float] | None = None
    reference: str | None = None
    pretrain: dict[str, Any] = field(default_factory=dict)
    #: baseline rows added to every table; ``None`` = every baseline the suite offers
    baselines: list[str] | None = None
    #: ``[task.<name>]`` tables of the user's config file (checked against the suite's tasks by the runner)
    user_task_tables: list[str] = field(default_factory=list)
    #: modules or ``.py`` files imported first (in every process): your own registered encoders
    imports: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ConfigError` on values no run can use."""
        if self.suite not in SUITES:
            raise ConfigError(f"unknown suite {self.suite!r}; choose one of {list(SUITES)}")
        bad = [s for s in self.splits if s not in SPLITS]
        if bad or not self.splits:
            raise ConfigError(f"splits must be a non-empty subset of {list(SPLITS)}, got {self.splits}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds must be distinct and non-empty, got {self.seeds}")
        if self.workers < 1:
            raise ConfigError(f"workers must be >= 1, got {self.workers}")
        index, count = self.shard
        if not 1 <= index <= count:
            raise ConfigError(f"shard {index}/{count}: need 1 <= i <= n")
        if "published" in self.splits and self.suite != "locbench":
            raise ConfigError("the 'published' split exists only in the locbench suite")
        if self.experiment not in EXPERIMENTS:
            raise ConfigError(f"unknown experiment {self.experiment!r}; choose one of {list(EXPERIMENTS)}")
        if self.experiment == "fewshot":
            if not self.fractions or any(not 0 < f <= 1 for f in self.fractions):
                raise ConfigError(f"fractions must be a non-empty list of labelled shares in (0, 1], got {self.fractions}")
        elif self.fractions is not None:
            raise ConfigError("fractions is an axis of the fewshot experiment only; remove it or set "
                              "experiment = \"fewshot\"")
        if self.suite == "locbench" and not self.root:
            raise ConfigError("the locbench suite needs --root DIR (the folder holding the LocBench files)")

    def load_kwargs(self, task: str) -> dict[str, Any]:
        """Loader arguments of ``task`` (e.g. ``max_samples``) from its ``[task.<name>]`` table."""
        table = self.task.get(task, {})
        return {k: v for k, v in table.items() if k in _LOADER_KEYS}

    def protocol_for(self, task: str) -> dict[str, Any]:
        """The config dict handed to ``run_task`` for ``task``: ``[protocol]`` updated by the task's own table."""
        return merge_config(self.protocol, self.task.get(task, {}).get("protocol", {}), strict=False)

    def fingerprint(self, task: str) -> str:
        """Hash of everything that changes a cell's numbers apart from its (encoder, split, seed).

        Stored in every cell so that a resumed or merged run refuses to mix results of different configs.
        """
        payload = {
            "suite": self.suite,
            "load": self.load_kwargs(task),
            "protocol": self.protocol_for(task),
        }
        if self.experiment != "encoders":  # few-shot: the checkpoint's hash identifies it, not its path
            payload = {**payload, "experiment": self.experiment,
                       "protocol": {k: v for k, v in payload["protocol"].items() if k != "pretrained"}}
        text = json.dumps(payload, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (for ``run.json``)."""
        data = asdict(self)
        data["shard"] = f"{self.shard[0]}/{self.shard[1]}"
        return data


def load_profile(name: str) -> dict[str, Any]:
    """Parse the shipped profile ``name`` (``quick`` or ``full``) into a raw dict."""
    if name not in PROFILES:
        raise ConfigError(f"unknown profile {name!r}; choose one of {list(PROFILES)}")
    text = resources.files("geosrl.bench").joinpath("profiles", f"{name}.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def build_config(
    profile: str = "quick", config_file: str | Path | None = None, overrides: dict[str, Any] | None = None
) -> BenchConfig:
    """Resolve profile ← user TOML ← ``overrides`` (``[bench]`` keys; ``None`` values are ignored)."""
    raw = load_profile(profile)
    user: dict[str, Any] = {}
    if config_file is not None:
        user = load_config_file(config_file)
        raw = merge_config(raw, user, strict=False)
    _check_keys(raw)
    bench = dict(raw.get("bench", {}))
    bench.update({k: v for k, v in (overrides or {}).items() if v is not None})
    unknown = set(bench) - _BENCH_KEYS
    if unknown:
        raise ConfigError(f"unknown [bench] keys {sorted(unknown)}; allowed: {sorted(_BENCH_KEYS)}")
    for key in ("device", "root", "cache_dir", "reference", "workers", "fractions"):  # types; validate() does the rest
        if key in bench:
            bench[key] = _BENCH_CHECKS[key](bench[key], f"[bench] {key}")
    return BenchConfig(
        profile=profile,
        suite=bench.get("suite", "offline"),
        tasks=_as_list(bench.get("tasks", []), "tasks"),
        encoders=_as_list(bench.get("encoders", []), "encoders"),
        seeds=_as_seeds(bench.get("seeds", 1)),
        splits=_as_list(bench.get("splits", ["random", "spatial"]), "splits"),
        device=bench.get("device", "auto"),
        workers=bench.get("workers", 1),
        shard=parse_shard(bench.get("shard", "1/1")),
        root=bench.get("root"),
        cache_dir=bench.get("cache_dir"),
        protocol=dict(raw.get("protocol", {})),
        task={k: dict(v) for k, v in raw.get("task", {}).items()},
        experiment=bench.get("experiment", "encoders"),
        fractions=bench.get("fractions"),
        reference=bench.get("reference"),
        pretrain=dict(raw.get("pretrain", {})),
        baselines=None if bench.get("baselines") is None else _as_list(bench["baselines"], "baselines"),
        user_task_tables=sorted(user.get("task", {})) if isinstance(user.get("task", {}), dict) else [],
        imports=_as_list(bench.get("imports", []), "imports"),
    )


def parse_shard(text: str | tuple[int, int]) -> tuple[int, int]:
    """``"2/4"`` → ``(2, 4)``: shard ``i`` of ``n``, counted from 1."""
    if isinstance(text, tuple):
        return text
    try:
        if not isinstance(text, str):
            raise ValueError
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ConfigError(f"shard must look like i/n (e.g. 1/4), got {text!r}") from None
    if not 1 <= index <= count:
        raise ConfigError(f"shard {text!r}: need 1 <= i <= n")
    return index, count


def default_out_dir(now: datetime | None = None) -> Path:
    """``results/<YYYYmmdd-HHMMSS>/`` relative to the working directory."""
    return Path("results") / (now or datetime.now()).strftime("%Y%m%d-%H%M%S")


_BENCH_CHECKS = {
    "device": text(), "root": text(optional=True),
    "cache_dir": text(optional=True), "reference": text(optional=True), "workers": integer(min=1),
    "fractions": list_of(number(gt=0, le=1), optional=True),
}
_NAMES = list_of(text(), min_len=0)
_SEED_LIST = list_of(integer(min=0))
_MAX_SAMPLES = integer(min=1, optional=True)


def _as_list(value: Any, key: str = "names") -> list[str]:
    """A list of names from a list of strings, or a comma-separated string."""
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    return _NAMES(value, f"[bench] {key}")


def _as_seeds(value: Any) -> list[int]:
    """An int N means seeds ``0..N-1``; a list of non-negative ints is taken as is."""
    if isinstance(value, (list, tuple)):
        return _SEED_LIST(value, "[bench] seeds")
    return list(range(integer(min=1)(value, "[bench] seeds (a count, or a list of seeds)")))


def _check_keys(raw: dict[str, Any]) -> None:
    """Reject unknown top-level tables so a typo in a config file is not silently ignored."""
    unknown = set(raw) - _TOP_KEYS
    if unknown:
        raise ConfigError(f"unknown config tables {sorted(unknown)}; allowed: {sorted(_TOP_KEYS)}")
    for table_name in ("bench", "protocol", "pretrain", "task"):
        if not isinstance(raw.get(table_name, {}), dict):
            raise ConfigError(f"[{table_name}] must be a table, got {raw[table_name]!r}")
    for name, table in raw.get("task", {}).items():
        if not isinstance(table, dict) or not isinstance(table.get("protocol", {}), dict):
            raise ConfigError(f"[task.{name}] must be a table (with an optional [task.{name}.protocol] table)")
        extra = set(table) - _LOADER_KEYS - {"protocol"}
        if extra:
            raise ConfigError(f"[task.{name}] has unknown keys {sorted(extra)}; put protocol settings "
                              f"under [task.{name}.protocol]")
        if "max_samples" in table:
            _MAX_SAMPLES(table["max_samples"], f"[task.{name}] max_samples")
