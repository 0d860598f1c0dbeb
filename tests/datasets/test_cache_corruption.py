"""Corrupt ``.npz`` cache entries are detected, reported with a warning naming the file, discarded and rebuilt
(identical to a fresh build); writes are atomic, honour the umask and never pickle."""

from __future__ import annotations

import io
import os
import re
import struct
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest

from geosrl.datasets import TaskData, load_offline_task
from geosrl.datasets import cache as cache_mod
from geosrl.datasets import offline as offline_mod
from geosrl.datasets.cache import CacheCorruptWarning, load_cached, read_cached, save_cached

_VOLATILE = {"cache_hit", "cache_discarded", "cache_path", "load_seconds", "build_seconds"}


# ------------------------------------------------------------------------------------------- damage
def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


def _write_members(path: Path, members: dict[str, bytes]) -> None:
    """A well-formed zip (valid CRCs) with the given members: only our own checks can tell."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, data in members.items():
            z.writestr(name, data)


def _npy(arr, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def _load_npy(data: bytes) -> np.ndarray:
    return np.load(io.BytesIO(data), allow_pickle=False)


def truncate(frac):
    def apply(path):
        raw = path.read_bytes()
        path.write_bytes(raw[: int(len(raw) * frac)])
    return apply


def flip_bit_in_middle(path):
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x10
    path.write_bytes(bytes(raw))


def flip_bit_in_member(member):
    """Flip one bit in the middle of a member's stored bytes (located from its local zip header)."""

    def apply(path):
        raw = bytearray(path.read_bytes())
        with zipfile.ZipFile(path) as z:
            info = z.getinfo(member)
        off = info.header_offset
        name_len, extra_len = struct.unpack("<HH", raw[off + 26: off + 30])
        start = off + 30 + name_len + extra_len
        raw[start + info.compress_size // 2] ^= 0x01
        path.write_bytes(bytes(raw))
    return apply


def rename_member(old, new):
    def apply(path):
        m = _members(path)
        m[new] = m.pop(old)
        _write_members(path, m)
    return apply


def drop_member(name):
    def apply(path):
        m = _members(path)
        del m[name]
        _write_members(path, m)
    return apply


def add_member(name, arr):
    def apply(path):
        m = _members(path)
        m[name] = _npy(arr)
        _write_members(path, m)
    return apply


def change_array(name, fn):
    """Replace a member's array by ``fn(array)``, keeping the stored header and checksum."""

    def apply(path):
        m = _members(path)
        m[name] = _npy(fn(_load_npy(m[name])))
        _write_members(path, m)
    return apply


def write_bytes(data):
    def apply(path):
        path.write_bytes(data)
    return apply


CORRUPTIONS = {
    "truncated-half": truncate(0.5),
    "truncated-tail": truncate(0.98),
    "truncated-empty": truncate(0.0),
    "bit-flip-middle": flip_bit_in_middle,
    "bit-flip-lonlat": flip_bit_in_member("lonlat.npy"),
    "bit-flip-target": flip_bit_in_member("target.npy"),
    "bit-flip-header": flip_bit_in_member("header.npy"),
    "bit-flip-checksum": flip_bit_in_member("checksum.npy"),
    "wrong-array-names": rename_member("lonlat.npy", "lon_lat.npy"),
    "missing-array": drop_member("target.npy"),
    "missing-checksum": drop_member("checksum.npy"),
    "extra-array": add_member("weights.npy", np.ones(3)),
    "wrong-dtype": change_array("target.npy", lambda a: a.astype(np.int32)),
    "wrong-shape": change_array("lonlat.npy", lambda a: a.T.copy()),
    "content-changed-valid-zip": change_array("lonlat.npy", lambda a: np.where(a == a.max(), a - 1, a)),
    "header-not-json": change_array("header.npy", lambda a: np.array("{not json")),
    "header-wrong-fields": change_array("header.npy", lambda a: np.array('{"arrays": {}}')),
    "not-a-zip": write_bytes(b"garbage, not a zip"),
}


# ------------------------------------------------------------------------------------------ offline
@pytest.fixture
def land(fake_packages, cache_dir):
    def load(**kw):
        return load_offline_task("land_ocean", cache_dir=cache_dir, max_samples=200, seed=3, **kw)
    return load


def assert_same(a: TaskData, b: TaskData) -> None:
    assert (a.name, a.kind, a.num_classes, a.class_names, a.target_name) == (
        b.name, b.kind, b.num_classes, b.class_names, b.target_name)
    for k in ("lonlat", "target", "images", "image_features", "background_lonlat"):
        x, y = getattr(a, k), getattr(b, k)
        assert (x is None) == (y is None), k
        if x is not None:
            assert x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y), k
    strip = lambda m: {k: v for k, v in m.items() if k not in _VOLATILE}  # noqa: E731
    assert strip(a.metadata) == strip(b.metadata)


@pytest.mark.parametrize("corrupt", list(CORRUPTIONS.values()), ids=list(CORRUPTIONS))
def test_corrupt_entry_is_discarded_with_a_warning_and_rebuilt(land, corrupt):
    fresh = land(use_cache=False)
    first = land()
    path = Path(first.metadata["cache_path"])
    assert not first.metadata["cache_hit"] and path.exists()
    corrupt(path)
    with pytest.warns(CacheCorruptWarning, match=re.escape(str(path))):
        again = land()
    assert not again.metadata["cache_hit"] and again.metadata["cache_discarded"]
    assert_same(again, fresh)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the rebuilt entry is clean: no second warning
        third = land()
    assert third.metadata["cache_hit"] and third.metadata["cache_discarded"] is None
    assert_same(third, fresh)
    assert sorted(path.parent.iterdir()) == [path]  # no temporary files left


def test_entry_of_another_task_is_rebuilt(land):
    first = land()
    path = Path(first.metadata["cache_path"])
    save_cached(path, TaskData("country", "classification", np.zeros((1, 2)), np.zeros(1, np.int64), num_classes=1))
    with pytest.warns(CacheCorruptWarning, match=re.escape(str(path))):
        again = land()
    assert again.name == "land_ocean" and not again.metadata["cache_hit"]
    assert land().metadata["cache_hit"]


def test_unwritable_cache_does_not_stop_the_load(land, monkeypatch):
    def fail(path, data):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(offline_mod, "save_cached", fail)
    with pytest.warns(RuntimeWarning, match="could not write cache entry"):
        d = land()
    assert len(d) == 200


# ------------------------------------------------------------------------------------ cache module
def _small() -> TaskData:
    return TaskData("x", "regression", np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([0.5, 1.5]),
                    image_features=np.arange(6, dtype=np.float32).reshape(2, 3), metadata={"k": [1, 2]})


class _Payload:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_pickled_member_is_never_unpickled(tmp_path):
    path = tmp_path / "e.npz"
    save_cached(path, _small())
    marker = tmp_path / "unpickled"
    m = _members(path)
    m["header.npy"] = _npy(np.array([_Payload(str(marker))], dtype=object), allow_pickle=True)
    _write_members(path, m)
    with pytest.warns(CacheCorruptWarning, match="e.npz"):
        assert load_cached(path) is None
    assert not marker.exists() and not path.exists()


def test_absent_entry_is_a_quiet_miss(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_cached(tmp_path / "absent.npz") == (None, None)


def test_roundtrip_keeps_dtypes_and_values(tmp_path):
    path = tmp_path / "e.npz"
    d = _small()
    save_cached(path, d)
    e = load_cached(path)
    assert e.image_features.dtype == np.float32 and np.array_equal(e.image_features, d.image_features)
    assert np.array_equal(e.target, d.target) and e.metadata == d.metadata


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002, 0o027])
def test_written_file_honours_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        save_cached(tmp_path / "e.npz", _small())
    finally:
        os.umask(old)
    assert (tmp_path / "e.npz").stat().st_mode & 0o777 == 0o666 & ~umask


def test_failed_write_keeps_the_previous_entry(tmp_path, monkeypatch):
    path = tmp_path / "e.npz"
    save_cached(path, _small())
    before = path.read_bytes()

    def boom(f, **arrays):
        f.write(b"PK\x03\x04 partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(cache_mod.np, "savez", boom)
    with pytest.raises(OSError, match="No space"):
        save_cached(path, _small())
    assert path.read_bytes() == before and sorted(tmp_path.iterdir()) == [path]


def test_discard_spares_an_entry_replaced_meanwhile(tmp_path):
    path = tmp_path / "e.npz"
    path.write_bytes(b"corrupt")
    stale = os.stat(path)
    save_cached(path, _small())  # another worker rewrites the entry after our failed read
    cache_mod._discard(path, stale)
    assert load_cached(path) is not None
