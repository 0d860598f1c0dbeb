"""Bad checkpoint files and cards: every one is a CheckpointError naming the file and the problem.

Cards are crafted on top of a real, small checkpoint; the allocation bombs (cards asking for hundreds of GB)
must be refused from the header alone, quickly, without building the module for real.
"""

from __future__ import annotations

import inspect
import json
import os
import resource
import stat
import time

import pytest
import torch

import geosrl
from geosrl.encoders import checkpoint as ckpt
from geosrl.encoders.checkpoint import CheckpointError, load_pretrained, read_card, save_pretrained

PTS = torch.tensor([[2.35, 48.85], [-122.4, 37.8], [151.2, -33.9]])

# small checkpoints whose cards get mutated: (encoder, pe_kwargs, net, net_kwargs)
BASES = {
    "sphere": ("sphere2vec_spherem", {"frequency_num": 4}, "ffn", {"hidden_dim": 16}),
    "tile": ("tile", {"cell_size_deg": 30.0}, "linear", {}),
    "rbf": ("rbf", {"num_anchors": 8}, "linear", {}),
    "rff": ("rff", {"frequency_num": 4}, "linear", {}),
    "sh": ("spherical_harmonics", {"legendre_degree": 3}, "linear", {}),
    "geoclip": ("geoclip_rff", {"num_frequencies": 4, "sigmas": [1.0, 16.0]}, None, {"hidden_dim": 8}),
}


def _save(tmp_path, base="sphere"):
    name, pe, net, nk = BASES[base]
    torch.manual_seed(0)
    enc = geosrl.create_encoder(name, embed_dim=8, net=net, net_kwargs=nk, **pe).eval()
    return save_pretrained(enc, tmp_path / base, {"licence": "test"})


def _rewrite_card(path, card_json: str):
    """Replace the card in the header (tensors unchanged), drop the sidecar."""
    from safetensors.torch import load_file, save_file

    save_file(load_file(str(path)), str(path), metadata={"geosrl_card": card_json})
    path.with_suffix(".json").unlink(missing_ok=True)


def _arch(**changes):
    def edit(card):
        card["architecture"].update(changes)
        return card
    return edit


def _pe(**changes):
    def edit(card):
        card["architecture"]["pe_kwargs"].update(changes)
        return card
    return edit


def _net(**changes):
    def edit(card):
        card["architecture"]["net_kwargs"].update(changes)
        return card
    return edit


def _set(key, value):
    def edit(card):
        card[key] = value
        return card
    return edit


def _drop(*keys):
    def edit(card):
        d = card
        for k in keys[:-1]:
            d = d[k]
        del d[keys[-1]]
        return card
    return edit


# (id, base checkpoint, card edit (dict → JSON-able) or raw JSON string, regex the message must match)
BAD_CARDS = [
    ("card-is-list", "sphere", lambda c: [c], "must be a JSON object"),
    ("card-is-string", "sphere", lambda c: "abc", "must be a JSON object"),
    ("card-not-json", "sphere", "{not json", "not valid JSON"),
    ("card-int-too-long", "sphere", '{"format": ' + "9" * 5000 + "}", "not valid JSON"),
    ("card-nested-deeply", "sphere", "[" * 100000 + "]" * 100000, "not valid JSON|JSON object"),
    ("format-wrong", "sphere", _set("format", "pickle"), "card format"),
    ("format-version-missing", "sphere", _drop("format_version"), "format_version"),
    ("format-version-abc", "sphere", _set("format_version", "abc"), "format_version must be a positive integer"),
    ("format-version-bool", "sphere", _set("format_version", True), "format_version must be a positive integer"),
    ("format-version-zero", "sphere", _set("format_version", 0), "format_version must be a positive integer"),
    ("format-version-newer", "sphere", _set("format_version", 99), "newer than this geosrl"),
    ("architecture-missing", "sphere", _drop("architecture"), "lacks the architecture"),
    ("architecture-list", "sphere", _set("architecture", [1, 2]), "architecture must be a dict"),
    ("architecture-unknown-key", "sphere", _arch(extra=1), "unknown keys"),
    ("builder-foreign", "sphere", _arch(builder="os.system"), "unknown architecture builder"),
    ("name-missing", "sphere", _drop("architecture", "name"), "lacks the key"),
    ("name-empty", "sphere", _arch(name=""), "name must be a non-empty string"),
    ("name-int", "sphere", _arch(name=5), "name must be a non-empty string"),
    ("name-unknown", "sphere", _arch(name="nope"), "unknown encoder name 'nope'"),
    ("embed-dim-missing", "sphere", _drop("architecture", "embed_dim"), "lacks the key"),
    ("embed-dim-negative", "sphere", _arch(embed_dim=-4), "embed_dim must be an integer"),
    ("embed-dim-zero", "sphere", _arch(embed_dim=0), "embed_dim must be an integer"),
    ("embed-dim-string", "sphere", _arch(embed_dim="8"), "embed_dim must be an integer"),
    ("embed-dim-float", "sphere", _arch(embed_dim=8.5), "embed_dim must be an integer"),
    ("embed-dim-bool", "sphere", _arch(embed_dim=True), "embed_dim must be an integer"),
    ("net-unknown", "sphere", _arch(net="transformer"), "net must be null or one of"),
    ("net-int", "sphere", _arch(net=3), "net must be null or one of"),
    ("pe-kwargs-list", "sphere", _arch(pe_kwargs=[1, 2]), "pe_kwargs must be a dict"),
    ("net-kwargs-string", "sphere", _arch(net_kwargs="x"), "net_kwargs must be a dict"),
    ("pe-kwargs-bad-key", "sphere", _pe(**{"1bad": 2}), "keys must be identifiers"),
    ("pe-kwargs-unknown-arg", "sphere", _pe(bogus=1), "cannot build architecture"),
    ("pe-kwargs-nan", "sphere", _pe(min_radius=float("nan")), "must be finite"),
    ("pe-kwargs-negative", "sphere", _pe(frequency_num=-3), "frequency_num=-3 is out of range"),
    ("pe-kwargs-wrong-type", "sphere", _pe(frequency_num="many"), "cannot build architecture"),
    ("net-kwargs-bad-activation", "sphere", _net(activation="nope"), "cannot build architecture"),
    ("card-embed-dim-string", "sphere", _set("embed_dim", "x"), "card embed_dim must be an integer"),
    ("card-num-parameters-negative", "sphere", _set("num_parameters", -1), "num_parameters must be an integer"),
    ("card-sha-not-hex", "sphere", _set("tensors_sha256", 123), "tensors_sha256 must be null or 64"),
    ("card-coord-order-latlon", "sphere", _set("coord_order", "latlon"), "coord_order"),
    ("wrong-width", "sphere", _arch(embed_dim=9), "shape mismatches"),
    ("wrong-encoder", "sphere", _arch(name="xyz", pe_kwargs={}), "missing tensors|unexpected tensors|shape mismatches"),
]

# cards that would allocate (tens to hundreds of) GB if built before any check
BOMBS = [
    ("tile-tiny-cells", "tile", _pe(cell_size_deg=0.01, max_cells=10**12), "shape mismatches|max_cells must be"),
    ("tile-astronomic-grid", "tile", _pe(cell_size_deg=1e-300, max_cells=10**700), "cannot build|shape mismatches"),
    ("tile-huge-embedding", "tile", _pe(cell_dim=10**9), "cell_dim=1000000000 is out of range"),
    ("rbf-1e9-anchors", "rbf", _pe(num_anchors=10**9), "num_anchors=1000000000 is out of range"),
    ("rff-1e9-frequencies", "rff", _pe(frequency_num=10**9), "frequency_num=1000000000 is out of range"),
    ("sh-degree-1e5", "sh", _pe(legendre_degree=10**5), "legendre_degree=100000 is out of range"),
    ("sh-degree-just-too-big", "sh", _pe(legendre_degree=40), "legendre_degree=40 is out of range"),
    ("ffn-1e7-layers", "sphere", _net(num_hidden_layers=10**7), "num_hidden_layers=10000000 is out of range"),
    ("ffn-1e9-hidden", "sphere", _net(hidden_dim=10**9), "hidden_dim=1000000000 is out of range"),
    ("embed-dim-2e9", "sphere", _arch(embed_dim=2**31 - 1), "embed_dim=2147483647 is out of range"),
    ("geoclip-1e5-branches", "geoclip", _pe(sigmas=[1.0] * 10**5), "'sigmas' lists 100000 values"),
    ("geoclip-1e9-frequencies", "geoclip", _pe(num_frequencies=10**9), "num_frequencies=1000000000 is out of"),
]


def _apply(path, edit):
    if isinstance(edit, str):
        _rewrite_card(path, edit)
        return
    card = json.loads(json.dumps(read_card(path)))
    _rewrite_card(path, json.dumps(edit(card)))


@pytest.mark.parametrize("base, edit, match", [c[1:] for c in BAD_CARDS], ids=[c[0] for c in BAD_CARDS])
def test_bad_card(tmp_path, base, edit, match):
    path = _save(tmp_path, base)
    _apply(path, edit)
    with pytest.raises(CheckpointError, match=match) as ei:
        load_pretrained(path)
    assert str(path) in str(ei.value)
    if not any(w in match for w in ("not valid JSON", "shape", "tensors", "cannot build", "out of range")):
        # a fault of the card itself is found by read_card too (bench reads cards without loading)
        with pytest.raises(CheckpointError, match=match):
            read_card(path)


@pytest.fixture
def no_real_build(monkeypatch):
    """Fail the test if an encoder is built anywhere but on the meta device."""
    from geosrl.encoders import model

    real = model.create_encoder

    def guarded(*args, **kwargs):
        if torch.empty(0).device.type != "meta":
            raise AssertionError("the encoder was built for real before the card was checked")
        return real(*args, **kwargs)

    monkeypatch.setattr(model, "create_encoder", guarded)


@pytest.mark.parametrize("base, edit, match", [c[1:] for c in BOMBS], ids=[c[0] for c in BOMBS])
def test_allocation_bomb_refused_from_header(tmp_path, base, edit, match, no_real_build):
    path = _save(tmp_path, base)
    _apply(path, edit)
    torch.nn.init.normal_(torch.empty(2, device="meta"))  # torch loads its meta kernels once (~2 s): not timed
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    t0 = time.perf_counter()
    with pytest.raises(CheckpointError, match=match) as ei:
        load_pretrained(path)
    secs = time.perf_counter() - t0
    grown_mib = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024
    assert str(path) in str(ei.value)
    assert secs < 2.0, f"refusing took {secs:.2f} s"
    assert grown_mib < 100, f"peak RSS grew by {grown_mib:.0f} MiB"


@pytest.mark.parametrize("content, match", [
    (b"", "not a readable safetensors file"),
    (b"\x00" * 7, "not a readable safetensors file"),
    (b"PK\x03\x04 not a safetensors file at all", "not a readable safetensors file"),
    ((8).to_bytes(8, "little") + b'{"a":1}', "not a readable safetensors file"),
    # header declaring a 1e12-element tensor the file does not hold
    (lambda: _header_only({"w": {"dtype": "F32", "shape": [10**6, 10**6], "data_offsets": [0, 4 * 10**12]}}),
     "not a readable safetensors file|truncated"),
], ids=["empty", "zeros", "zip", "header-not-safetensors", "header-claims-4TB"])
def test_bad_file(tmp_path, content, match):
    p = tmp_path / "bad.safetensors"
    p.write_bytes(content() if callable(content) else content)
    t0 = time.perf_counter()
    with pytest.raises(CheckpointError, match=match) as ei:
        load_pretrained(p)
    assert str(p) in str(ei.value) and time.perf_counter() - t0 < 2.0
    with pytest.raises(CheckpointError, match=match):
        read_card(p)


def _header_only(tensors):
    card = {"format": "geosrl-pretrained", "format_version": 1,
            "architecture": {"name": "xyz", "embed_dim": 8, "net": "linear", "net_kwargs": {}, "pe_kwargs": {}}}
    header = json.dumps({"__metadata__": {"geosrl_card": json.dumps(card)}, **tensors}).encode()
    header += b" " * (-len(header) % 8)
    return len(header).to_bytes(8, "little") + header + b"\x00" * 64


@pytest.mark.parametrize("side, match", [
    ("[1, 2]", "sidecar card must be a JSON object"),
    ('{"file_sha256": 5}', "sidecar card must be a JSON object"),
    ("{oops", "sidecar card is not readable JSON"),
])
def test_bad_sidecar(tmp_path, side, match):
    path = _save(tmp_path)
    path.with_suffix(".json").write_text(side)
    with pytest.raises(CheckpointError, match=match) as ei:
        load_pretrained(path)
    assert str(path.with_suffix(".json")) in str(ei.value)
    assert load_pretrained(path, check_sidecar=False) is not None


@pytest.mark.parametrize("arg", [None, 5, b"\x00"], ids=["none", "int", "bytes"])
def test_bad_path_argument(arg):
    with pytest.raises(CheckpointError):
        load_pretrained(arg)


def test_bad_path_string(tmp_path):
    with pytest.raises(CheckpointError, match="invalid checkpoint path|no checkpoint file"):
        load_pretrained(str(tmp_path / "a\x00b"))


# ---------------------------------------------------------------------------------------------------
# every registered encoder: skeleton on meta, round trip through the checked loader, size table coverage
# ---------------------------------------------------------------------------------------------------
SMALL = {"tile": {"cell_size_deg": 30.0}, "rbf": {"num_anchors": 8},
         "spherical_harmonics": {"legendre_degree": 4}, "geoclip_rff": {"num_frequencies": 8}}


@pytest.mark.parametrize("net", [None, "ffn", "siren", "linear"])
@pytest.mark.parametrize("name", geosrl.list_encoders())
def test_every_encoder_builds_on_meta_and_round_trips(tmp_path, name, net):
    kwargs = SMALL.get(name, {})
    torch.manual_seed(0)
    enc = geosrl.create_encoder(name, embed_dim=8, net=net, **kwargs).eval()
    shapes = {k: v.shape for k, v in enc.state_dict().items()}
    with torch.device("meta"):  # the whole module on meta
        full_meta = geosrl.create_encoder(name, embed_dim=8, net=net, **kwargs)
    assert {k: v.shape for k, v in full_meta.state_dict().items()} == shapes
    assert all(t.device.type == "meta" for t in list(full_meta.parameters()) + list(full_meta.buffers()))
    # what load_pretrained builds first: every parameter on meta (no memory), without falling back to the CPU
    arch = dict(enc.geosrl_architecture)
    with ckpt._ParametersOnMeta():
        skeleton = ckpt.build_from_architecture(arch)
    assert {k: v.shape for k, v in skeleton.state_dict().items()} == shapes
    assert all(p.device.type == "meta" for p in skeleton.parameters())
    path = save_pretrained(enc, tmp_path / name)
    loaded = load_pretrained(path)
    assert all(p.device.type == "cpu" for p in loaded.parameters())
    torch.testing.assert_close(loaded(PTS), enc(PTS))


def test_every_int_argument_is_bounded_or_free():
    """A new ``int`` constructor argument must be classified in checkpoint.py's size tables."""
    from geosrl.encoders import get_encoder_class
    from geosrl.encoders.nets import FCNet, FFN, GeoCLIPMLP, Siren

    known = ckpt.SIZE_ARGS | ckpt.COUNT_ARGS | ckpt.SQUARED_ARGS | ckpt.FREE_INT_ARGS
    classes = [get_encoder_class(n) for n in geosrl.list_encoders()] + [FFN, Siren, FCNet, GeoCLIPMLP]
    unclassified = []
    for cls in classes:
        for p in inspect.signature(cls.__init__).parameters.values():
            ann = str(p.annotation)
            if p.name != "self" and "int" in ann.replace("tuple[int", "") and p.name not in known:
                unclassified.append(f"{cls.__name__}.{p.name}: {ann}")
    assert not unclassified


# ---------------------------------------------------------------------------------------------------
# writing: unwritable targets, permissions
# ---------------------------------------------------------------------------------------------------
@pytest.fixture
def enc():
    torch.manual_seed(0)
    return geosrl.create_encoder("xyz", embed_dim=4, net="linear")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores directory permissions")
def test_save_to_read_only_directory(tmp_path, enc):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(CheckpointError, match="Permission denied") as ei:
            save_pretrained(enc, ro / "enc")
    finally:
        ro.chmod(0o700)
    msg = str(ei.value)
    assert str(ro / "enc.safetensors") in msg and ".tmp" not in msg
    assert list(ro.iterdir()) == []


def test_save_permission_denied_names_the_target(tmp_path, enc, monkeypatch):
    """Also as root (which ignores directory modes): the temporary file cannot be created."""
    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(tmp_path / ".enc.safetensors.abc.tmp"))

    import geosrl.files

    monkeypatch.setattr(geosrl.files.tempfile, "mkstemp", denied)
    with pytest.raises(CheckpointError, match="Permission denied") as ei:
        save_pretrained(enc, tmp_path / "enc")
    assert str(tmp_path / "enc.safetensors") in str(ei.value) and ".tmp" not in str(ei.value)


def test_save_below_a_file(tmp_path, enc):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(CheckpointError) as ei:
        save_pretrained(enc, blocker / "sub" / "enc")
    assert str(blocker / "sub" / "enc.safetensors") in str(ei.value) and ".tmp" not in str(ei.value)


def test_save_onto_a_directory(tmp_path, enc):
    (tmp_path / "enc.safetensors").mkdir()
    with pytest.raises(CheckpointError) as ei:
        save_pretrained(enc, tmp_path / "enc")
    assert str(tmp_path / "enc.safetensors") in str(ei.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["enc.safetensors"]  # no temporary file left


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_saved_files_honour_umask(tmp_path, enc, mask, mode):
    old = os.umask(mask)
    try:
        path = save_pretrained(enc, tmp_path / "enc")
    finally:
        os.umask(old)
    for p in (path, path.with_suffix(".json")):
        assert stat.S_IMODE(p.stat().st_mode) == mode, p
    assert sorted(p.name for p in tmp_path.iterdir()) == ["enc.json", "enc.safetensors"]


def test_nan_in_meta_is_refused(tmp_path, enc):
    with pytest.raises(CheckpointError, match=r"without NaN.*metrics\.acc"):
        save_pretrained(enc, tmp_path / "enc", meta={"metrics": {"acc": float("nan")}})
    assert not list(tmp_path.iterdir())


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_loading_onto_a_missing_device(tmp_path, enc):
    path = save_pretrained(enc, tmp_path / "enc")
    with pytest.raises(CheckpointError, match="no such CUDA device"):
        load_pretrained(path, device="cuda")
