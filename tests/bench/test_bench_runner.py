"""The grid runner with fake loaders/protocols: resume, kill, shards, skips, failures, workers."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import bench_fakes
from geosrl.bench.config import BenchConfig, ConfigError
from geosrl.bench.runner import build_grid, run_bench, shard_cells
from geosrl.bench.store import Cell

HERE = Path(__file__).resolve().parent
SRC = HERE.parents[1] / "src"


def make_config(tmp_path: Path, **kwargs) -> BenchConfig:
    defaults = dict(tasks=["alpha", "beta"], encoders=["enc_a", "enc_b"], seeds=[0, 1], splits=["random", "spatial"],
                    device="cpu", protocol={"call_log": str(tmp_path / "calls.log")})
    defaults.update(kwargs)
    return BenchConfig(**defaults)


def quiet(_: str) -> None:
    pass


def test_grid_is_the_full_product_in_canonical_order():
    grid = build_grid(["b", "a"], ["y", "x"], ["spatial", "random"], [1, 0])
    assert len(grid) == 16 and len(set(grid)) == 16
    assert grid == sorted(grid) and grid[0] == Cell("a", "x", "random", 0)


@settings(max_examples=40, deadline=None)
@given(n_tasks=st.integers(1, 4), n_enc=st.integers(1, 5), n_seeds=st.integers(1, 3), count=st.integers(1, 9))
def test_shards_cover_the_grid_exactly_once(n_tasks, n_enc, n_seeds, count):
    grid = build_grid([f"t{i}" for i in range(n_tasks)], [f"e{i}" for i in range(n_enc)], ["random", "spatial"],
                      range(n_seeds))
    shards = [shard_cells(grid, i, count) for i in range(1, count + 1)]
    flat = [c for shard in shards for c in shard]
    assert sorted(flat) == sorted(grid) and len(flat) == len(set(flat))
    assert max(map(len, shards)) - min(map(len, shards)) <= 1
    assert shard_cells(list(reversed(grid)), 1, count) == shards[0]  # independent of input order


def test_run_writes_every_cell_and_a_rerun_recomputes_nothing(tmp_path: Path):
    config, out = make_config(tmp_path), tmp_path / "out"
    outcome = run_bench(config, out, bench_fakes.backend(), log=quiet)
    assert len(outcome.ran) == 16 and not outcome.failed
    assert len(list((out / "cells").glob("*.json"))) == 16
    assert len(list((out / "predictions").glob("*.csv"))) == 16
    record = json.loads((out / "cells" / "alpha__enc_a__random__s0.json").read_text())
    assert record["metrics"]["top1"] == bench_fakes.score("enc_a", "random", 0)
    assert record["kind"] == "classification" and record["chosen_hparams"] == {"lr": 1e-3}
    again = run_bench(config, out, bench_fakes.backend(), log=quiet)
    assert not again.ran and len(again.resumed) == 16
    assert len(bench_fakes.call_lines(tmp_path / "calls.log")) == 16


def test_interrupt_keeps_finished_cells_and_a_changed_config_is_refused(tmp_path: Path):
    out = tmp_path / "out"
    config = make_config(tmp_path, protocol={"call_log": str(tmp_path / "calls.log"), "interrupt_encoders": ["enc_b"]})
    with pytest.raises(KeyboardInterrupt):
        run_bench(config, out, bench_fakes.backend(), log=quiet)
    done_before = {p.name for p in (out / "cells").glob("*.json")}
    assert done_before and all("enc_a" in name for name in done_before)
    resumed_config = make_config(tmp_path, protocol=dict(config.protocol, interrupt_encoders=[]))
    with pytest.raises(ConfigError, match="different config"):  # the protocol config changed → refuse to mix
        run_bench(resumed_config, out, bench_fakes.backend(), log=quiet)


def test_killed_process_resumes_and_keeps_finished_cells(tmp_path: Path):
    """SIGKILL a real `geosrl bench` process mid-grid, restart it with the same --out."""
    out, log = tmp_path / "out", tmp_path / "calls.log"
    user = tmp_path / "fake.toml"
    user.write_text(f'[bench]\ntasks = ["alpha"]\nencoders = ["enc_a", "enc_b", "enc_c"]\nseeds = 2\ndevice = "cpu"\n'
                    # one process, as before the quick profile took workers = 2 (spawning workers is slow on a loaded machine)
                    'workers = 1\n'
                    f'[protocol]\ncall_log = "{log}"\nsleep = 0.25\n')
    cmd = [sys.executable, str(HERE / "bench_fakes.py"), "--config", str(user), "--out", str(out)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), str(HERE)]))
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(list((out / "cells").glob("*.json"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished = {p.stem for p in (out / "cells").glob("*.json")}
    assert 3 <= len(finished) < 12
    assert not list((out / "cells").glob(".*.tmp"))  # no half-written cell is ever visible as a cell
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    calls = bench_fakes.call_lines(log)
    assert len({p.stem for p in (out / "cells").glob("*.json")}) == 12
    assert len(calls) - len(set(calls)) <= 1  # only the cell running at the kill can have been started twice
    assert all(calls.count(f"alpha|{c.split('__')[1]}|{c.split('__')[2]}|{c.split('__')[3][1:]}") == 1
               for c in finished)


def test_failed_cell_is_recorded_and_retried(tmp_path: Path):
    out = tmp_path / "out"
    failing = make_config(tmp_path, protocol={"fail_encoders": ["enc_b"]})
    outcome = run_bench(failing, out, bench_fakes.backend(), log=quiet)
    assert len(outcome.failed) == 8 and len(outcome.ran) == 8
    failure = json.loads((out / "failed" / "alpha__enc_b__random__s0.json").read_text())
    assert "RuntimeError: boom in enc_b" in failure["error"]
    fixed = make_config(tmp_path, protocol={"fail_encoders": ["enc_b"]}, encoders=["enc_a"])
    assert not run_bench(fixed, out, bench_fakes.backend(), log=quiet).ran


def test_unavailable_task_is_skipped_with_reason(tmp_path: Path):
    out, lines = tmp_path / "out", []
    outcome = run_bench(make_config(tmp_path, tasks=["alpha", "missing"]), out, bench_fakes.backend(), log=lines.append)
    assert outcome.skipped == {"missing": "package fake-data is not installed"}
    skip = json.loads((out / "skipped" / "missing.json").read_text())
    assert skip["install_hint"] == "pip install fake-data"
    assert any("skipping task missing" in line for line in lines)
    assert len(outcome.ran) == 8


def test_unknown_names_are_rejected(tmp_path: Path):
    with pytest.raises(ConfigError, match="unknown encoders"):
        run_bench(make_config(tmp_path, encoders=["nope"]), tmp_path / "o", bench_fakes.backend(), log=quiet)
    with pytest.raises(ConfigError, match="unknown tasks"):
        run_bench(make_config(tmp_path, tasks=["nope"]), tmp_path / "o", bench_fakes.backend(), log=quiet)


def test_empty_lists_mean_everything(tmp_path: Path):
    outcome = run_bench(make_config(tmp_path, tasks=[], encoders=[], seeds=[0], splits=["random"]),
                        tmp_path / "o", bench_fakes.backend(), log=quiet)
    assert len(outcome.grid) == 4 * 3 and set(outcome.skipped) == {"missing"} and len(outcome.ran) == 9


def test_progress_prints_one_line_per_cell_with_eta(tmp_path: Path):
    lines = []
    run_bench(make_config(tmp_path, tasks=["beta"], seeds=[0]), tmp_path / "o", bench_fakes.backend(), log=lines.append)
    cell_lines = [line for line in lines if line.startswith("[")]
    assert len(cell_lines) == 4
    assert cell_lines[-1].startswith("[4/4] beta · ") and "ETA 0m00s" in cell_lines[-1] and "r2=" in cell_lines[-1]


def test_workers_give_the_same_cells_as_a_single_process(tmp_path: Path):
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    run_bench(make_config(tmp_path, protocol={}), serial, bench_fakes.backend(), log=quiet)
    outcome = run_bench(make_config(tmp_path, protocol={}, workers=2), parallel, bench_fakes.backend(), log=quiet)
    assert len(outcome.ran) == 16
    for path in (serial / "cells").glob("*.json"):
        a, b = json.loads(path.read_text()), json.loads((parallel / "cells" / path.name).read_text())
        assert a["metrics"] == b["metrics"]
        assert (serial / "predictions" / f"{path.stem}.csv").read_text() == \
               (parallel / "predictions" / f"{path.stem}.csv").read_text()
