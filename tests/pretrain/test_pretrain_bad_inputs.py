"""`geosrl pretrain` bad inputs: one `geosrl: error:` line naming the key, exit 2, nothing trained."""

import pytest

from geosrl.cli import main
from geosrl.config import ConfigError
from geosrl.pretrain.train import resolve_pretrain_config


@pytest.mark.parametrize("config, key", [
    ({"optim": {"epochs": 0}}, "optim.epochs"), ({"optim": {"epochs": "ten"}}, "optim.epochs"),
    ({"optim": {"lr": -1e-3}}, "optim.lr"), ({"data": {"patch_size": 4.5}}, "data.patch_size"),
    ({"data": {"flickr": 0, "cities": 0, "land": 0, "sea": 0}}, "at least 1"), ({"data": {"sea": -1}}, "data.sea"),
    ({"data": {"contexts": ["bmng_rgb", "landsat"]}}, "data.contexts"), ({"data": {"contexts": []}}, "data.contexts"),
    ({"data": {"contexts": ["bmng_rgb", "bmng_rgb"]}}, "data.contexts"),
    ({"data": {"contexts": "bmng_rgb"}}, "data.contexts"), ({"objective": {"kind": "magic"}}, "objective.kind"),
    ({"objective": {"terms": "BX"}}, "objective.terms"), ({"seed": -1}, "seed"), ({"optim": {"epochz": 3}}, "epochz"),
    ({"profile": "huge"}, "profile"), ({"encoder": {"net_kwargs": 3}}, "encoder.net_kwargs"),
])
def test_bad_pretrain_values(config, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        resolve_pretrain_config(config)


def test_pretrain_cli_errors_are_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("[pretrain.optim]\nepochs = 0\n")
    for config, words in ((tmp_path / "missing.toml", "not found"), (bad, "optim.epochs")):
        assert main(["pretrain", "--config", str(config), "--out", str(tmp_path / "run")]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("geosrl: error: ") and words in err[0]
    assert not (tmp_path / "run").exists()


def test_pretrain_out_must_be_its_own_folder(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    for name in ("log.csv", "run.json", "config.json"):
        (mine / name).write_text("my file\n")
    for out, words in ((mine, "not a geosrl pre-training folder"), ("", "must name a folder")):
        assert main(["pretrain", "--out", str(out)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and words in err[0], err
    assert all((mine / n).read_text() == "my file\n" for n in ("log.csv", "run.json", "config.json"))


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_pretrain_on_a_missing_device(tmp_path, capsys):
    assert main(["pretrain", "--device", "cuda", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such CUDA device" in err[0]
