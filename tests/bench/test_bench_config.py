"""Profiles, user TOML overrides, flag overrides and config fingerprints."""

from pathlib import Path

import pytest

from geosrl.bench.config import BenchConfig, ConfigError, build_config, default_out_dir, load_profile, parse_shard


def test_quick_profile_is_small_and_covers_five_tasks():
    config = build_config("quick")
    assert config.suite == "offline"
    assert len(config.tasks) >= 5
    assert config.seeds == [0]
    assert config.splits == ["random", "spatial"]
    assert config.protocol["profile"] == "quick"
    assert all("max_samples" in config.load_kwargs(t) for t in config.tasks if t in config.task)


def test_full_profile_runs_everything_with_three_seeds():
    config = build_config("full")
    assert config.tasks == [] and config.encoders == []  # empty = all of the suite / registry
    assert len(config.seeds) >= 3
    assert set(config.splits) == {"random", "spatial"}
    assert config.protocol["profile"] == "full"


def test_unknown_profile_is_rejected():
    with pytest.raises(ConfigError, match="unknown profile"):
        load_profile("huge")


def test_user_toml_merges_tables_and_flags_win(tmp_path: Path):
    user = tmp_path / "my.toml"
    user.write_text(
        '[bench]\nencoders = ["wrap"]\nseeds = [3, 7]\n'
        '[protocol]\nepochs = 2\n'
        '[task.elevation]\nmax_samples = 100\n[task.elevation.protocol]\nepochs = 5\nlr = 0.1\n'
    )
    config = build_config("quick", user, overrides={"seeds": 2, "tasks": ["elevation", "country"], "device": None})
    assert config.encoders == ["wrap"]
    assert config.seeds == [0, 1]                      # the flag replaces the file's list
    assert config.tasks == ["elevation", "country"]
    assert config.device == "auto"                     # None = flag not given
    assert config.load_kwargs("elevation") == {"max_samples": 100}
    assert config.protocol_for("elevation")["epochs"] == 5 and config.protocol_for("elevation")["lr"] == 0.1
    assert config.protocol_for("country")["epochs"] == 2
    assert "max_samples" in config.load_kwargs("country")  # the profile's own task table survives


@pytest.mark.parametrize(
    "text, match",
    [
        ("[bench]\nsplit = ['random']\n", "unknown \\[bench\\] keys"),
        ("[tasks]\nx = 1\n", "unknown config tables"),
        ("[task.elevation]\nepochs = 3\n", "task.elevation.protocol"),
        ("[bench\n", "not valid TOML"),
    ],
)
def test_bad_config_files_are_explained(tmp_path: Path, text: str, match: str):
    user = tmp_path / "bad.toml"
    user.write_text(text)
    with pytest.raises(ConfigError, match=match):
        build_config("quick", user)


def test_missing_config_file(tmp_path: Path):
    with pytest.raises(ConfigError, match="not found"):
        build_config("quick", tmp_path / "nope.toml")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"splits": ["random", "temporal"]}, "splits"),
        ({"seeds": [1, 1]}, "distinct"),
        ({"workers": 0}, "workers"),
        ({"shard": (3, 2)}, "shard"),
        ({"suite": "locbench"}, "--root"),
        ({"suite": "online"}, "unknown suite"),
        ({"splits": ["published"]}, "only in the locbench suite"),
    ],
)
def test_invalid_values(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        BenchConfig(**kwargs)


def test_parse_shard():
    assert parse_shard("2/4") == (2, 4)
    for bad in ("0/4", "5/4", "2", "a/b"):
        with pytest.raises(ConfigError):
            parse_shard(bad)


def test_fingerprint_tracks_results_not_grid_selection():
    base = BenchConfig(protocol={"epochs": 3, "embed_dim": 64})
    same = BenchConfig(protocol={"epochs": 3, "embed_dim": 64}, seeds=[0, 1, 2], encoders=["wrap"], workers=4)
    assert base.fingerprint("t") == same.fingerprint("t")
    assert base.fingerprint("t") != BenchConfig(protocol={"epochs": 4, "embed_dim": 64}).fingerprint("t")
    assert base.fingerprint("t") != BenchConfig(protocol={"epochs": 3, "embed_dim": 32}).fingerprint("t")
    assert base.fingerprint("t") != BenchConfig(protocol={"epochs": 3, "embed_dim": 64},
                                                task={"t": {"max_samples": 9}}).fingerprint("t")


def test_to_dict_is_json_ready():
    data = BenchConfig(shard=(2, 3)).to_dict()
    assert data["shard"] == "2/3" and data["profile"] == "quick"


def test_default_out_dir_is_timestamped():
    from datetime import datetime

    assert default_out_dir(datetime(2026, 1, 2, 3, 4, 5)) == Path("results/20260102-030405")
