"""Bad inputs and faults of `geosrl bench` / `bench merge`: one `geosrl: error:` line, non-zero exit, nothing lost."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import bench_fakes
from geosrl.bench import store
from geosrl.cli import build_parser, cmd_bench, main

HERE = Path(__file__).resolve().parent
SRC = HERE.parents[1] / "src"


def fake_config(tmp_path: Path, bench: str = "", protocol: str = "", extra: str = "") -> Path:
    path = tmp_path / "fake.toml"
    path.write_text('[bench]\ntasks = ["alpha"]\nencoders = ["enc_a"]\ndevice = "cpu"\n' + bench
                    + "\n[protocol]\n" + protocol + "\n" + extra)
    return path


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    code = main(argv)
    err = capsys.readouterr().err.strip()
    return code, err


def one_error_line(err: str) -> str:
    lines = err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("geosrl: error: "), err
    return lines[0]


# --- configuration values: the real protocols' schemas (tasks.resolve_config), checked before any cell runs --
@pytest.mark.parametrize("protocol, key", [
    ("epochs = 0", "epochs"), ("epochs = -3", "epochs"), ('epochs = "ten"', "epochs"), ("epochs = 4.5", "epochs"),
    ("lr_grid = []", "lr_grid"), ("lr_grid = [0.001, -1.0]", "lr_grid[1]"), ("batch_size = true", "batch_size"),
    ("dropout = 1.5", "dropout"), ("lr_decay = 0", "lr_decay"), ('po_negatives_grid = ["sphere"]', "po_negatives_grid"),
    ("split = {fractions = [0.5, 0.5]}", "split.fractions"), ("split = {fractions = [0.6, 0.3, 0.3]}", "sum to 1"),
    ('ssi = {null = "exact"}', "ssi.null"), ("max_train_samples = -5", "max_train_samples"),
    ("epochz = 3", "epochz"),
])
def test_bad_protocol_values_fail_before_any_cell(tmp_path, capsys, protocol, key):
    from geosrl.tasks import resolve_config

    out = tmp_path / "out"
    backend = bench_fakes.backend()
    backend = type(backend)(**{**backend.__dict__, "check_protocol": resolve_config})
    args = build_parser().parse_args(["bench", "--config", str(fake_config(tmp_path, protocol=protocol)),
                                      "--out", str(out)])
    from geosrl.config import ConfigError

    with pytest.raises(ConfigError, match=key.replace("[", r"\[").replace("]", r"\]")):
        cmd_bench(args, lambda _: None, backend)
    assert not list((out / "cells").glob("*.json"))  # no untrained model's score was published
    assert json.loads((out / "run.json").read_text())["status"] == "failed"  # never left at "running"


@pytest.mark.parametrize("bench, key", [
    ('seeds = [0, "a"]', "seeds"), ("seeds = 0", "seeds"), ("tasks = 5", "tasks"), ("workers = 0", "workers"),
    ('suite = "nope"', "suite"), ('shard = 3', "shard"), ('experiment = "magic"', "experiment"),
    ("fractions = [0.5]", "fractions"), ("colour = 1", "colour"),
])
def test_bad_bench_values(tmp_path, capsys, bench, key):
    path = tmp_path / "bad.toml"
    path.write_text(f"[bench]\n{bench}\n")
    code, err = run_cli(["bench", "--config", str(path), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and key in one_error_line(err)


def test_bad_loader_values(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text("[task.country]\nmax_samples = -5\n")
    code, err = run_cli(["bench", "--config", str(path), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "max_samples" in one_error_line(err)


# --- command line and files ---------------------------------------------------------------------------
def test_config_file_problems(tmp_path, capsys):
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_text("[bench\n")
    latin1 = tmp_path / "latin1.toml"
    latin1.write_bytes(b"# caf\xe9\n[bench]\n")
    for config, words in ((tmp_path / "missing.toml", "not found"), (bad_toml, "not valid TOML"),
                          (latin1, "not valid TOML"), (tmp_path, "cannot be read")):
        code, err = run_cli(["bench", "--config", str(config), "--out", str(tmp_path / "o")], capsys)
        assert code == 2 and words in one_error_line(err), (config, err)


def test_out_problems(tmp_path, capsys):
    a_file = tmp_path / "file.txt"
    a_file.write_text("mine")
    for out, words in ((a_file, "is a file"), (Path(""), "must name a geosrl result folder")):
        code, err = run_cli(["bench", "--out", str(out)], capsys)
        assert code == 2 and words in one_error_line(err)
    assert a_file.read_text() == "mine"


def test_foreign_folder_is_never_overwritten(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "leaderboard.csv").write_text("my own numbers\n")
    (mine / "summary.md").write_text("my notes\n")
    code, err = run_cli(["bench", "--config", str(fake_config(tmp_path)), "--out", str(mine)], capsys)
    assert code == 2 and "not a geosrl result folder" in one_error_line(err)
    assert (mine / "leaderboard.csv").read_text() == "my own numbers\n" and sorted(os.listdir(mine)) == [
        "leaderboard.csv", "summary.md"]
    code, err = run_cli(["bench", "merge", str(mine), str(tmp_path / "nothing")], capsys)
    assert code == 2 and (mine / "summary.md").read_text() == "my notes\n"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_cuda_without_cuda(tmp_path, capsys):
    code, err = run_cli(["bench", "--device", "cuda", "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "no such CUDA device" in one_error_line(err)
    assert not (tmp_path / "o").exists()  # refused before anything was written


def test_every_task_skipped_is_an_error(tmp_path, capsys):
    path = tmp_path / "skip.toml"
    path.write_text('[bench]\ntasks = ["missing"]\nencoders = ["enc_a"]\ndevice = "cpu"\n')
    args = build_parser().parse_args(["bench", "--config", str(path), "--out", str(tmp_path / "o")])
    from geosrl.config import ConfigError

    with pytest.raises(ConfigError, match="nothing ran.*pip install fake-data"):
        cmd_bench(args, lambda _: None, bench_fakes.backend())
    assert json.loads((tmp_path / "o" / "run.json").read_text())["status"] == "nothing_ran"


def test_second_process_on_one_out_is_refused(tmp_path, capsys):
    out = store.claim_results_dir(tmp_path / "o")
    with store.locked(out):
        code, err = run_cli(["bench", "--config", str(fake_config(tmp_path)), "--out", str(out)], capsys)
    assert code == 2 and f"pid {os.getpid()}" in one_error_line(err)


def test_files_honour_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        out = tmp_path / "o"
        args = build_parser().parse_args(["bench", "--config", str(fake_config(tmp_path)), "--out", str(out)])
        assert cmd_bench(args, lambda _: None, bench_fakes.backend()) == 0
    finally:
        os.umask(old)
    for path in [out / "run.json", out / "leaderboard.csv", out / "summary.md", *(out / "cells").glob("*.json")]:
        assert path.stat().st_mode & 0o777 == 0o644, path
    host = json.loads((out / "run.json").read_text())["host"]
    assert host["torch_threads"] >= 1 and "OMP_NUM_THREADS" in host["thread_env"]


def test_merge_refuses_different_configs(tmp_path, capsys):
    for name, protocol in (("a", "lr = 1"), ("b", "lr = 2")):
        args = build_parser().parse_args(["bench", "--config", str(fake_config(tmp_path, protocol=protocol)),
                                          "--out", str(tmp_path / name)])
        assert cmd_bench(args, lambda _: None, bench_fakes.backend()) == 0
    code, err = run_cli(["bench", "merge", str(tmp_path / "all"), str(tmp_path / "a"), str(tmp_path / "b")], capsys)
    assert code == 2 and "different configs" in one_error_line(err)
    assert not list((tmp_path / "all").glob("cells/*.json"))  # refused before copying anything


# --- processes ------------------------------------------------------------------------------------------
def _children(pid: int) -> set[int]:
    """PIDs whose parent is ``pid`` (Linux /proc)."""
    kids = set()
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines() if ":\t" in line)
        except OSError:
            continue
        if fields.get("PPid", "").strip() == str(pid):
            kids.add(int(status.parent.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in state


def _start_workers_run(tmp_path: Path) -> tuple[subprocess.Popen, Path]:
    out = tmp_path / "out"
    user = tmp_path / "slow.toml"
    user.write_text('[bench]\ntasks = ["alpha"]\nencoders = ["enc_a", "enc_b", "enc_c"]\nseeds = 4\n'
                    'device = "cpu"\nworkers = 2\n[protocol]\nsleep = 0.5\n')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(SRC), str(HERE)]))
    # Ctrl-C as at a terminal: a shell's background job (e.g. `bash .ci/run &`) inherits SIGINT ignored
    proc = subprocess.Popen([sys.executable, str(HERE / "bench_fakes.py"), "--config", str(user), "--out", str(out)],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 90
    while len(list((out / "cells").glob("*.json"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert time.monotonic() < deadline, "the run never finished a cell"
    return proc, out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux-only")
def test_kill_9_of_the_parent_takes_the_workers_down(tmp_path):
    proc, out = _start_workers_run(tmp_path)
    workers = _children(proc.pid)
    assert workers, "no worker processes found"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [w for w in workers if _alive(w)]
    written = len(list((out / "cells").glob("*.json")))
    time.sleep(1.0)  # a surviving worker would keep writing cells
    assert len(list((out / "cells").glob("*.json"))) == written


def test_sigint_to_the_parent_stops_workers_and_reports_every_cell(tmp_path):
    proc, out = _start_workers_run(tmp_path)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    cells = {p.stem for p in (out / "cells").glob("*.json")}
    time.sleep(1.5)  # workers must be gone: no cell appears after the exit
    assert {p.stem for p in (out / "cells").glob("*.json")} == cells
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "interrupted" and run["finished_cells"] == len(cells)
    board = (out / "leaderboard.csv").read_text().splitlines()[1:]
    assert {tuple(r.split(",")[:4]) for r in board} == {
        (c.split("__")[0], c.split("__")[1], c.split("__")[2], c.split("__")[3][1:]) for c in cells}


# --- cases found by benchmarks/hardening_probe.py --------------------------------------------------------
def test_folder_with_cells_but_no_geosrl_run_json_is_foreign(tmp_path, capsys):
    mine = tmp_path / "mine"
    (mine / "cells").mkdir(parents=True)
    (mine / "leaderboard.csv").write_text("my own numbers\n")
    code, err = run_cli(["bench", "--config", str(fake_config(tmp_path)), "--out", str(mine)], capsys)
    assert code == 2 and "not a geosrl result folder" in one_error_line(err)
    assert (mine / "leaderboard.csv").read_text() == "my own numbers\n"


def test_unknown_task_table_is_an_error(tmp_path):
    from geosrl.config import ConfigError

    path = fake_config(tmp_path, extra="[task.nope]\nmax_samples = 10\n")
    args = build_parser().parse_args(["bench", "--config", str(path), "--out", str(tmp_path / "o")])
    with pytest.raises(ConfigError, match=r"\[task.nope\] names no task"):
        cmd_bench(args, lambda _: None, bench_fakes.backend())


def test_bad_protocol_value_is_an_error_even_where_a_task_overrides_it(tmp_path):
    from geosrl.config import ConfigError
    from geosrl.tasks import resolve_config

    backend = bench_fakes.backend()
    backend = type(backend)(**{**backend.__dict__, "check_protocol": resolve_config})
    path = fake_config(tmp_path, protocol="epochs = 0", extra="[task.alpha.protocol]\nepochs = 5\n")
    args = build_parser().parse_args(["bench", "--config", str(path), "--out", str(tmp_path / "o")])
    with pytest.raises(ConfigError, match="epochs"):
        cmd_bench(args, lambda _: None, backend)


def test_json_config_must_be_a_table(tmp_path, capsys):
    path = tmp_path / "list.json"
    path.write_text("[1, 2]")
    code, err = run_cli(["bench", "--config", str(path), "--out", str(tmp_path / "o")], capsys)
    assert code == 2 and "JSON object" in one_error_line(err)


def test_merge_names_a_corrupt_cell_file(tmp_path, capsys):
    args = build_parser().parse_args(["bench", "--config", str(fake_config(tmp_path)), "--out", str(tmp_path / "a")])
    assert cmd_bench(args, lambda _: None, bench_fakes.backend()) == 0
    cell = next((tmp_path / "a" / "cells").glob("*.json"))
    cell.write_text(cell.read_text()[:40])
    code, err = run_cli(["bench", "merge", str(tmp_path / "all"), str(tmp_path / "a")], capsys)
    assert code == 2 and cell.name in one_error_line(err) and "delete it" in err
