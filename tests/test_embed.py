"""geosrl embed: a CSV of (lon, lat) → embeddings, from a registry encoding or a checkpoint; bad inputs refused."""

import numpy as np
import pytest
import torch

import geosrl
from geosrl.cli import main


@pytest.fixture()
def table(tmp_path):
    path = tmp_path / "points.csv"
    path.write_text("name,longitude,latitude\nparis,2.35,48.85\nsf,-122.4,37.8\nsydney,151.2,-33.9\n")
    return path


def run(argv, capsys):
    code = main(argv)
    return code, capsys.readouterr()


def test_registry_encoding_to_npy_matches_the_library(table, tmp_path, capsys):
    out = tmp_path / "emb.npy"
    code, _ = run(["embed", str(table), str(out), "--encoder", "sphere2vec_spherec", "--lon-col", "longitude",
                   "--lat-col", "latitude"], capsys)
    assert code == 0
    emb = np.load(out)
    ll = torch.tensor([[2.35, 48.85], [-122.4, 37.8], [151.2, -33.9]], dtype=torch.float64)
    want = geosrl.create_positional_encoding("sphere2vec_spherec")(ll).float().numpy()
    assert emb.dtype == np.float32 and np.array_equal(emb, want)


def test_compiled_blocks_give_the_same_embeddings(table, tmp_path, capsys, monkeypatch):
    """``--compile`` runs the position encoding through compiled blocks (eager backend here: the trace is the
    same, without a C++ compile); the numbers match the eager path."""
    compile_ = torch.compile
    monkeypatch.setattr(torch, "compile", lambda fn, **kw: compile_(fn, **{**kw, "backend": "eager"}))
    outs = []
    for flags in ([], ["--compile"]):
        outs.append(tmp_path / f"emb{len(flags)}.npy")
        code, _ = run(["embed", str(table), str(outs[-1]), "--encoder", "nerf", "--lon-col", "longitude",
                       "--lat-col", "latitude", *flags], capsys)
        assert code == 0
    np.testing.assert_allclose(np.load(outs[1]), np.load(outs[0]), rtol=0, atol=1e-6)


def test_compile_needs_a_position_encoding():
    from geosrl.config import ConfigError
    from geosrl.embed import _position_encoding

    with pytest.raises(ConfigError, match="drop --compile"):
        _position_encoding(torch.nn.Linear(2, 2))


def test_shipped_checkpoint_to_csv(table, tmp_path, capsys):
    out = tmp_path / "emb.csv"
    code, printed = run(["embed", str(table), str(out), "--checkpoint", "csp_sphere2vec_quick", "--lon-col",
                         "longitude", "--lat-col", "latitude"], capsys)
    assert code == 0 and "wrote 3 embeddings of 64 dimensions" in printed.out
    lines = out.read_text().splitlines()
    assert lines[0].split(",")[:2] == ["e0", "e1"] and len(lines) == 4


@pytest.mark.parametrize("content, args, words", [
    ("lon,lat\n2.0,95.0\n", [], "latitude"),
    ("lon,lat\n48.85,2.35\n37.8,-122.4\n", [], "swapped"),
    ("lon,lat\n2.0,abc\n", [], "line 2"),
    ("x,y\n2.0,3.0\n", [], "no column 'lon'"),
    ("lon,lat\n2.0,3.0\n", ["--encoder", "nope"], "unknown encoder"),
])
def test_bad_inputs_are_one_error_line(tmp_path, capsys, content, args, words):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    code, printed = run(["embed", str(path), str(tmp_path / "out.npy"), *(args or ["--encoder", "xyz"])], capsys)
    err = printed.err.strip().splitlines()
    assert code == 2 and len(err) == 1 and words in err[0], err
    assert not (tmp_path / "out.npy").exists()


def test_existing_output_is_never_overwritten(table, tmp_path, capsys):
    out = tmp_path / "mine.npy"
    out.write_bytes(b"my data")
    code, printed = run(["embed", str(table), str(out), "--encoder", "xyz"], capsys)
    assert code == 2 and "does not overwrite" in printed.err and out.read_bytes() == b"my data"


@pytest.mark.parametrize("suffix", [".npy", ".csv", ".parquet"])
def test_batches_are_streamed_into_the_output(tmp_path, suffix):
    """Written batch by batch (memory: one batch), the file equals the embedding of all rows at once."""
    from geosrl.embed import embed_file

    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    rng = np.random.default_rng(0)
    ll = np.c_[rng.uniform(-180, 180, 23), rng.uniform(-80, 80, 23)]
    src = tmp_path / "p.csv"
    src.write_text("lon,lat\n" + "".join(f"{float(a)!r},{float(b)!r}\n" for a, b in ll))
    calls = []
    out = tmp_path / f"e{suffix}"
    assert embed_file(src, out, encoder="space2vec_grid", batch_size=5,
                      progress=lambda done, total: calls.append((done, total))) == (23, 128)
    assert calls == [(5, 23), (10, 23), (15, 23), (20, 23), (23, 23)]
    want = geosrl.create_positional_encoding("space2vec_grid")(torch.as_tensor(ll)).float().numpy()
    if suffix == ".npy":
        got = np.load(out)
    elif suffix == ".csv":
        got = np.loadtxt(out, delimiter=",", skiprows=1, dtype=np.float32)
    else:
        import pyarrow.parquet as pq

        got = np.column_stack([c.to_numpy() for c in pq.read_table(out).columns])
    assert got.shape == (23, 128) and np.allclose(got, want, atol=1e-6)


def test_a_table_without_rows_is_refused(tmp_path, capsys):
    src = tmp_path / "p.csv"
    src.write_text("lon,lat\n")
    code, captured = run(["embed", str(src), str(tmp_path / "e.npy"), "--encoder", "wrap"], capsys)
    assert code == 2 and "no data rows" in captured.err and not (tmp_path / "e.npy").exists()
