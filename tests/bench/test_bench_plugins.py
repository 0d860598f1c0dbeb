"""Your own encoder in `geosrl bench`: [bench] imports registers it in the main process and in every worker."""

import json
import subprocess
import sys
import uuid

import pytest

from geosrl.cli import main

PLUGIN = '''
import torch
from geosrl.encoders import PositionEncoding, register_encoder


@register_encoder("{name}")
class Harmonics(PositionEncoding):
    """sin/cos of lon and lat (a user's encoder, registered on import)."""

    output_dim = 4

    def encode(self, lonlat, dtype):
        rad = torch.deg2rad(lonlat.to(torch.float64))
        return torch.cat([rad.sin(), rad.cos()], dim=-1).to(dtype)
'''


def write(tmp_path, name: str, workers: int) -> tuple:
    plugin = tmp_path / "my_encoders.py"
    plugin.write_text(PLUGIN.format(name=name))
    config = tmp_path / "bench.toml"
    config.write_text(f'[bench]\nimports = ["{plugin}"]\nencoders = ["{name}"]\ntasks = ["land_ocean"]\n'
                      f'splits = ["random"]\nbaselines = []\nworkers = {workers}\ndevice = "cpu"\n'
                      '[protocol]\nepochs = 2\nlr_grid = [0.01]\nembed_dim = 8\ngeo_bias = false\n'
                      '[task.land_ocean]\nmax_samples = 300\n[task.land_ocean.protocol]\nepochs = 2\n')
    return plugin, config


@pytest.mark.parametrize("workers", [1, 2])
def test_own_encoder_runs_in_the_benchmark(tmp_path, workers):
    """In a subprocess, so that the plugin's encoder does not stay registered in the test process."""
    name = f"user_harmonics_{uuid.uuid4().hex[:8]}"
    _, config = write(tmp_path, name, workers)
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "geosrl.cli", "bench", "--config", str(config), "--out", str(out),
                           "--cache-dir", str(tmp_path / "cache")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    cells = list((out / "cells").glob("*.json"))
    assert len(cells) == 1 and name in cells[0].name
    record = json.loads(cells[0].read_text())
    assert record["metrics"]["top1"] > 0.5 and "failed" not in (out / "run.json").read_text().split('"status"')[1][:20]


def test_broken_or_missing_plugin_is_one_error_line(tmp_path, capsys):
    plugin, config = write(tmp_path, "never_registered", 1)
    plugin.write_text("raise RuntimeError('boom in the plugin')\n")
    assert main(["bench", "--config", str(config), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot import" in err[0] and "boom in the plugin" in err[0]
    plugin.unlink()
    assert main(["bench", "--config", str(config), "--out", str(tmp_path / "o2")]) == 2
    assert "no file" in capsys.readouterr().err


def _run_bench(args, tmp_path, env=None):
    import os

    return subprocess.run([sys.executable, "-m", "geosrl.cli", "bench", *args, "--cache-dir", str(tmp_path / "cache")],
                          capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})})


def test_installed_package_with_an_entry_point_is_benchmarked_without_config(tmp_path):
    """A tiny installed plug-in package (its .dist-info declares a geosrl.encoders entry point) is imported by
    every geosrl bench: its encoder is available by name."""
    name = f"pkg_harmonics_{uuid.uuid4().hex[:8]}"
    site = tmp_path / "site"
    (site / "my_geo_plugin").mkdir(parents=True)
    (site / "my_geo_plugin" / "__init__.py").write_text(PLUGIN.format(name=name))
    info = site / "my_geo_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: my-geo-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[geosrl.encoders]\n{name} = my_geo_plugin\n")
    _, config = write(tmp_path, name, 1)
    config.write_text(config.read_text().replace(f'imports = ["{tmp_path / "my_encoders.py"}"]\n', ""))
    assert "imports" not in config.read_text()
    out = tmp_path / "out"
    done = _run_bench(["--config", str(config), "--out", str(out)], tmp_path, {"PYTHONPATH": str(site)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert name in (out / "leaderboard.csv").read_text()
    # without the package installed the name is unknown: one error line
    done = _run_bench(["--config", str(config), "--out", str(tmp_path / "o2")], tmp_path)
    assert done.returncode == 2 and name in done.stderr and "Traceback" not in done.stderr


def test_imports_on_the_command_line(tmp_path):
    name = f"cli_harmonics_{uuid.uuid4().hex[:8]}"
    plugin, config = write(tmp_path, name, 1)
    config.write_text(config.read_text().replace(f'imports = ["{plugin}"]\n', ""))
    out = tmp_path / "out"
    done = _run_bench(["--config", str(config), "--imports", str(plugin), "--out", str(out)], tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert name in (out / "leaderboard.csv").read_text()


UNREGISTERED = '''
import torch
from geosrl.encoders import PositionEncoding


class Harmonics(PositionEncoding):
    """A user's encoder with no decorator: named on the command line as module:ClassName."""

    output_dim = 4

    def encode(self, lonlat, dtype):
        rad = torch.deg2rad(lonlat.to(torch.float64))
        return torch.cat([rad.sin(), rad.cos()], dim=-1).to(dtype)
'''


@pytest.mark.parametrize("workers", [1, 2])
def test_encoder_named_module_colon_class_on_the_command_line(tmp_path, workers):
    site = tmp_path / "site"
    site.mkdir()
    module = f"user_mod_{uuid.uuid4().hex[:8]}"
    (site / f"{module}.py").write_text(UNREGISTERED)
    _, config = write(tmp_path, "unused", workers)
    config.write_text(config.read_text().replace(f'imports = ["{tmp_path / "my_encoders.py"}"]\n', "")
                      .replace('encoders = ["unused"]\n', ""))
    out = tmp_path / "out"
    spec = f"{module}:Harmonics"
    done = _run_bench(["--config", str(config), "--encoders", spec, "--out", str(out)], tmp_path,
                      {"PYTHONPATH": str(site)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert spec in (out / "leaderboard.csv").read_text()
    bad = _run_bench(["--config", str(config), "--encoders", f"{module}:Nope", "--out", str(tmp_path / "o2")],
                     tmp_path, {"PYTHONPATH": str(site)})
    assert bad.returncode == 2 and "no PositionEncoding subclass named 'Nope'" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
