"""Shards run into separate folders and merged equal one unsharded run."""

import json
from pathlib import Path

import pytest

import bench_fakes
from geosrl.bench.config import BenchConfig, ConfigError
from geosrl.bench.merge import merge_results
from geosrl.bench.runner import run_bench


def config(**kwargs) -> BenchConfig:
    base = dict(tasks=["alpha", "beta", "missing"], encoders=["enc_a", "enc_b", "enc_c"], seeds=[0, 1],
                splits=["random", "spatial"], device="cpu")
    return BenchConfig(**{**base, **kwargs})


def run(out: Path, **kwargs) -> None:
    run_bench(config(**kwargs), out, bench_fakes.backend(), log=lambda _: None)


def cells(out: Path) -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text())["metrics"] for p in (out / "cells").glob("*.json")}


def test_merged_shards_equal_a_single_run(tmp_path: Path):
    run(tmp_path / "whole")
    for i in (1, 2, 3):
        run(tmp_path / f"shard{i}", shard=(i, 3))
    shard_sets = [set(cells(tmp_path / f"shard{i}")) for i in (1, 2, 3)]
    assert not (shard_sets[0] & shard_sets[1]) and not (shard_sets[1] & shard_sets[2])
    outcome = merge_results(tmp_path / "merged", [tmp_path / f"shard{i}" for i in (1, 2, 3)])
    assert outcome.copied == 24 and outcome.duplicates == 0
    assert cells(tmp_path / "merged") == cells(tmp_path / "whole")
    for name in cells(tmp_path / "whole"):
        assert (tmp_path / "merged" / "predictions" / f"{name}.csv").read_text() == \
               (tmp_path / "whole" / "predictions" / f"{name}.csv").read_text()
    skip = json.loads((tmp_path / "merged" / "skipped" / "missing.json").read_text())
    assert skip["reason"].startswith("package fake-data is not installed (in ")


def test_a_folder_without_predictions_merges_its_cells(tmp_path: Path):
    run(tmp_path / "a")  # as committed: predictions/ is git-ignored, so a clone has the cells only
    for f in (tmp_path / "a" / "predictions").glob("alpha__*"):
        f.unlink()
    outcome = merge_results(tmp_path / "m", [tmp_path / "a"])
    assert outcome.copied == 24 and cells(tmp_path / "m") == cells(tmp_path / "a")
    kept = {p.stem for p in (tmp_path / "m" / "predictions").glob("*.csv")}
    assert kept and all(name.startswith("beta__") for name in kept)


def test_merging_twice_keeps_each_cell_once(tmp_path: Path):
    run(tmp_path / "a")
    merge_results(tmp_path / "m", [tmp_path / "a"])
    again = merge_results(tmp_path / "m", [tmp_path / "a"])
    assert again.copied == 0 and again.duplicates == 24


def test_conflicting_configs_are_refused(tmp_path: Path):
    run(tmp_path / "a", protocol={"epochs": 1})
    run(tmp_path / "b", protocol={"epochs": 2})
    with pytest.raises(ConfigError, match="different configs"):
        merge_results(tmp_path / "m", [tmp_path / "a", tmp_path / "b"])


def test_failures_finished_elsewhere_are_dropped(tmp_path: Path):
    run(tmp_path / "bad", protocol={"fail_encoders": ["enc_c"]}, tasks=["alpha"])
    run(tmp_path / "good", protocol={"fail_encoders": ["enc_c"]}, tasks=["alpha"], encoders=["enc_a"])
    merge_results(tmp_path / "m", [tmp_path / "bad", tmp_path / "good"])
    assert len(list((tmp_path / "m" / "failed").glob("*.json"))) == 4


def test_not_a_result_folder(tmp_path: Path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="not a geosrl bench result folder"):
        merge_results(tmp_path / "m", [tmp_path / "empty"])
