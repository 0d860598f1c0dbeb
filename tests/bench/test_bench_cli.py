"""`geosrl` argument parsing and the bench / merge / encoders commands (with the fake backend)."""

import csv
import json
from pathlib import Path

import pytest

import bench_fakes
from geosrl.cli import bench_overrides, build_parser, cmd_bench, main


def parse(*argv: str):
    return build_parser().parse_args(list(argv))


def test_bench_flags_become_overrides():
    args = parse("bench", "--profile", "full", "--tasks", "a,b", "c", "--encoders", "wrap", "--seeds", "3",
                 "--splits", "spatial", "--workers", "2", "--shard", "2/4", "--device", "cuda", "--root", "/data",
                 "--cache-dir", "/c", "--suite", "locbench", "--out", "o", "--config", "x.toml")
    assert args.profile == "full" and args.out == Path("o") and args.config == Path("x.toml")
    assert bench_overrides(args) == {"suite": "locbench", "tasks": ["a", "b", "c"], "encoders": ["wrap"], "seeds": 3,
                                     "splits": ["spatial"], "device": "cuda", "workers": 2, "shard": "2/4",
                                     "root": "/data", "cache_dir": "/c", "imports": None}


def test_bench_defaults_leave_the_profile_alone():
    args = parse("bench")
    assert args.profile == "quick" and args.out is None and args.bench_command is None
    assert set(bench_overrides(args).values()) == {None}


def test_merge_and_encoders_subcommands():
    args = parse("bench", "merge", "all", "s1", "s2")
    assert args.bench_command == "merge" and args.merge_out == Path("all") and args.sources == [Path("s1"), Path("s2")]
    assert parse("encoders").command == "encoders"


@pytest.mark.parametrize("argv", [["bench", "--seeds", "0"], ["bench", "--profile", "tiny"], ["bench", "merge", "x"],
                                  ["frobnicate"], []])
def test_bad_arguments_exit_with_usage(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2


def test_config_errors_are_reported_not_raised(capsys, tmp_path: Path):
    assert main(["bench", "--shard", "5/4", "--out", str(tmp_path / "o")]) == 2
    assert "shard" in capsys.readouterr().err


def write_fake_config(tmp_path: Path, **protocol) -> Path:
    path = tmp_path / "fake.toml"
    lines = ['[bench]', 'tasks = ["alpha", "beta", "missing"]', 'encoders = ["enc_a", "enc_b"]', 'device = "cpu"',
             '[protocol]'] + [f"{k} = {json.dumps(v)}" for k, v in protocol.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_bench_command_end_to_end(tmp_path: Path):
    out, lines = tmp_path / "out", []
    args = parse("bench", "--config", str(write_fake_config(tmp_path)), "--out", str(out), "--seeds", "2")
    assert cmd_bench(args, lines.append, bench_fakes.backend()) == 0
    text = "\n".join(lines)
    assert "alpha · random" in text and "skipped missing: package fake-data is not installed" in text
    assert f"results: {out}/" in text
    header = next(csv.reader((out / "leaderboard.csv").open()))
    assert header == ["task", "encoder", "split", "seed", "metric", "value"]
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "complete" and info["config"]["seeds"] == [0, 1]
    assert info["this_invocation"] == {"grid_cells": 24, "ran": 16, "resumed": 0, "failed": 0}
    assert "**" in (out / "summary.md").read_text()


def test_bench_command_interrupt_and_failures(tmp_path: Path):
    out = tmp_path / "out"
    args = parse("bench", "--config", str(write_fake_config(tmp_path, interrupt_encoders=["enc_b"])), "--out", str(out))
    lines = []
    assert cmd_bench(args, lines.append, bench_fakes.backend()) == 130
    assert json.loads((out / "run.json").read_text())["status"] == "interrupted"
    assert any("resume with --out" in line for line in lines)
    failing = parse("bench", "--config", str(write_fake_config(tmp_path, fail_encoders=["enc_b"])),
                    "--out", str(tmp_path / "out2"))
    assert cmd_bench(failing, lambda _: None, bench_fakes.backend()) == 1
    info = json.loads((tmp_path / "out2" / "run.json").read_text())
    assert info["status"] == "incomplete" and len(info["failed_cells"]) == 4


def test_merge_command(tmp_path: Path, capsys):
    for i in (1, 2):
        args = parse("bench", "--config", str(write_fake_config(tmp_path)), "--out", str(tmp_path / f"s{i}"),
                     "--shard", f"{i}/2")
        assert cmd_bench(args, lambda _: None, bench_fakes.backend()) == 0
    assert main(["bench", "merge", str(tmp_path / "all"), str(tmp_path / "s1"), str(tmp_path / "s2")]) == 0
    assert "merged 8 cells" in capsys.readouterr().out
    info = json.loads((tmp_path / "all" / "run.json").read_text())
    assert info["status"] == "merged" and [m["shard"] for m in info["merged_from"]] == ["1/2", "2/2"]
    assert len(list(csv.reader((tmp_path / "all" / "leaderboard.csv").open()))) == 1 + 8 * 4 - 4
    # every cell records the commit of the code that made it; the summary names it (and any other)
    cells = [json.loads(p.read_text()) for p in (tmp_path / "all" / "cells").glob("*.json")]
    made = {c["git_commit"] for c in cells} | {m["git_commit"] for m in info["merged_from"]}
    assert len(made) == 1 and all("git_dirty" in c for c in cells)
    assert f"cells made at git commit `{made.pop()}`" in (tmp_path / "all" / "summary.md").read_text()


def test_encoders_command_lists_the_registry(capsys):
    import geosrl

    assert main(["encoders"]) == 0
    listed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert listed == geosrl.list_encoders()
