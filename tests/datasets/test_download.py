"""LocBench ``download=True`` against a local HTTP server on 127.0.0.1 serving archives of the format fixtures.

Archives are built at test time from ``tests/data/locbench/root/<folder>`` (the fixtures written by
``tests/data/locbench/data.py``); the source table entry is pointed at the local server. No test needs the
internet.
"""

import hashlib
import io
import os
import socket
import tarfile
import threading
import zipfile
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from geosrl.datasets import DataUnavailableError, DatasetFormatError, DatasetNotFoundError, LocBenchTaskDataset
from geosrl.datasets import download as dl
from geosrl.datasets.download import (
    LOCBENCH_ARCHIVES,
    ArchiveSource,
    ChecksumError,
    UnverifiedDownloadWarning,
    download_locbench,
    extract_archive,
    sha256_file,
)
from geosrl.files import file_mode

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "locbench" / "root"
pytestmark = pytest.mark.filterwarnings("ignore::geosrl.datasets.locbench.LocBenchDroppedRowsWarning")


class _Handler(SimpleHTTPRequestHandler):
    """Serves ``directory``; ``/short`` announces more bytes than it sends; records every path asked for."""

    def __init__(self, *args, requests, **kwargs):
        self.requests = requests
        super().__init__(*args, **kwargs)

    def do_GET(self):  # noqa: N802 - http.server's name
        self.requests.append(self.path)
        if self.path == "/short":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"x" * 10)
            return
        super().do_GET()

    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture
def server(tmp_path):
    """``(base_url, served_folder, requests)`` of an HTTP server on 127.0.0.1 running in a thread."""
    served = tmp_path / "served"
    served.mkdir()
    requests: list[str] = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Handler, directory=str(served), requests=requests))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", served, requests
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/birdsnap.tar.gz"  # nothing listens there any more


def _tar_of(folder: str, path: Path, wrap: bool = True, mode: str = "w:gz") -> str:
    """Tar the fixture folder (with ``folder/`` at the top when ``wrap``); return its sha256."""
    with tarfile.open(path, mode) as tar:
        for f in sorted((FIXTURES / folder).rglob("*")):
            rel = f.relative_to(FIXTURES / folder)
            tar.add(f, arcname=str(Path(folder) / rel) if wrap else str(rel), recursive=False)
    return sha256_file(path)


def _zip_of(folder: str, path: Path) -> str:
    with zipfile.ZipFile(path, "w") as z:
        for f in sorted((FIXTURES / folder).rglob("*")):
            if f.is_file():
                z.write(f, str(f.relative_to(FIXTURES / folder)))  # flat: files at the top
    return sha256_file(path)


def _publish(monkeypatch, folder: str, url: str | None, sha256: str | None) -> ArchiveSource:
    src = ArchiveSource(folder, url, sha256, f"{folder}.archive", "test server")
    monkeypatch.setitem(LOCBENCH_ARCHIVES, folder, src)
    return src


def _leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith("."))


def _same_as_fixture(ds: LocBenchTaskDataset, name: str, split: str) -> None:
    ref = LocBenchTaskDataset(name, FIXTURES, split)
    assert len(ds) == len(ref) > 0
    for i in range(len(ds)):
        a, b = ds[i], ref[i]
        assert set(a) == set(b) and all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)


@pytest.mark.parametrize("name, folder, split", [("birdsnap", "birdsnap", "test"), ("yfcc", "yfcc", "train"),
                                                 ("mosaiks_population", "mosaiks", "train")])
def test_download_verify_extract_then_load(name, folder, split, server, tmp_path, monkeypatch):
    base, served, requests = server
    digest = _tar_of(folder, served / f"{folder}.tar.gz")
    _publish(monkeypatch, folder, f"{base}/{folder}.tar.gz", digest)
    root = tmp_path / "root"
    ds = LocBenchTaskDataset(name, root, split, download=True)
    _same_as_fixture(ds, name, split)
    assert requests == [f"/{folder}.tar.gz"] and _leftovers(root) == []
    assert sha256_file(root / f"{folder}.archive") == digest  # kept: a rerun needs no network
    assert (os.stat(root / f"{folder}.archive").st_mode & 0o777) == file_mode()
    LocBenchTaskDataset(name, root, split, download=True)  # folder present: nothing fetched
    assert len(requests) == 1


def test_flat_zip_archive_and_explicit_sha256(server, tmp_path, monkeypatch):
    base, served, requests = server
    digest = _zip_of("fmow", served / "fmow.zip")
    _publish(monkeypatch, "fmow", f"{base}/fmow.zip", None)
    ds = LocBenchTaskDataset("fmow", tmp_path / "root", "val", download=True, sha256=digest.upper())
    _same_as_fixture(ds, "fmow", "val")


def test_unknown_checksum_is_refused_before_downloading(server, tmp_path, monkeypatch):
    base, served, requests = server
    _tar_of("birdsnap", served / "b.tar.gz")
    _publish(monkeypatch, "birdsnap", f"{base}/b.tar.gz", None)
    root = tmp_path / "root"
    with pytest.raises(DataUnavailableError, match="no SHA-256") as ei:
        LocBenchTaskDataset("birdsnap", root, "test", download=True)
    assert "sha256=" in ei.value.install_hint and "verify=False" in ei.value.install_hint
    assert requests == [] and not (root / "birdsnap").exists()


def test_verify_false_downloads_and_reports_the_digest(server, tmp_path, monkeypatch):
    base, served, requests = server
    digest = _tar_of("birdsnap", served / "b.tar.gz", wrap=False, mode="w:xz")
    _publish(monkeypatch, "birdsnap", f"{base}/b.tar.gz", None)
    with pytest.warns(UnverifiedDownloadWarning, match=digest):
        ds = LocBenchTaskDataset("birdsnap", tmp_path / "root", "test", download=True, verify=False)
    _same_as_fixture(ds, "birdsnap", "test")


def test_known_checksum_is_checked_even_with_verify_false(server, tmp_path, monkeypatch):
    base, served, requests = server
    _tar_of("birdsnap", served / "b.tar.gz")
    _publish(monkeypatch, "birdsnap", f"{base}/b.tar.gz", "0" * 64)
    root = tmp_path / "root"
    with pytest.raises(ChecksumError, match="expected 0000"):
        LocBenchTaskDataset("birdsnap", root, "test", download=True, verify=False)
    assert sorted(p.name for p in root.iterdir()) == []  # no folder, no archive, no temporary file


def test_existing_archive_is_verified_and_extracted_offline(tmp_path, monkeypatch):
    root = tmp_path / "root"
    root.mkdir()
    digest = _tar_of("nabirds", root / "nabirds.archive")  # copied there by hand
    _publish(monkeypatch, "nabirds", _closed_port_url(), digest)
    ds = LocBenchTaskDataset("nabirds_ebird", root, "test", download=True)
    _same_as_fixture(ds, "nabirds_ebird", "test")


def test_existing_wrong_archive_is_left_untouched(tmp_path, monkeypatch):
    root = tmp_path / "root"
    root.mkdir()
    (root / "nabirds.archive").write_bytes(b"my own file")
    _publish(monkeypatch, "nabirds", _closed_port_url(), "1" * 64)
    with pytest.raises(ChecksumError, match="left as it is"):
        LocBenchTaskDataset("nabirds_ebird", root, "test", download=True)
    assert (root / "nabirds.archive").read_bytes() == b"my own file" and not (root / "nabirds").exists()


def test_existing_partial_folder_is_never_completed_or_replaced(server, tmp_path, monkeypatch):
    base, served, requests = server
    digest = _tar_of("birdsnap", served / "b.tar.gz")
    _publish(monkeypatch, "birdsnap", f"{base}/b.tar.gz", digest)
    mine = tmp_path / "root" / "birdsnap" / "notes.txt"
    mine.parent.mkdir(parents=True)
    mine.write_text("mine")
    with pytest.raises(DatasetNotFoundError, match="never completes or replaces"):
        LocBenchTaskDataset("birdsnap", tmp_path / "root", "test", download=True)
    assert requests == [] and [p.name for p in mine.parent.iterdir()] == ["notes.txt"]


def test_offline_error_names_the_fix(tmp_path, monkeypatch):
    url = _closed_port_url()
    _publish(monkeypatch, "yfcc", url, "2" * 64)
    root = tmp_path / "root"
    with pytest.raises(DataUnavailableError, match="offline") as ei:
        LocBenchTaskDataset("yfcc", root, "test", download=True, timeout=5)
    assert url in str(ei.value) and str(root / "yfcc.archive") in ei.value.install_hint
    assert list(root.iterdir()) == []


def test_http_error_and_short_body(server, tmp_path, monkeypatch):
    base, served, requests = server
    _publish(monkeypatch, "yfcc", f"{base}/missing.tar.gz", "2" * 64)
    with pytest.raises(DataUnavailableError, match="HTTP 404"):
        download_locbench("yfcc", tmp_path / "a")
    with pytest.raises(DataUnavailableError, match="stopped after|IncompleteRead|offline"):
        download_locbench("yfcc", tmp_path / "b", url=f"{base}/short")
    assert list((tmp_path / "b").iterdir()) == []


def test_no_recorded_url(tmp_path):
    with pytest.raises(DataUnavailableError, match="no download URL") as ei:
        download_locbench("sustainbench", tmp_path, sha256="3" * 64)
    assert "figshare" in ei.value.install_hint and "sustainbench.archive" in ei.value.install_hint


def test_table_records_no_invented_checksums():
    assert set(LOCBENCH_ARCHIVES) == {"birdsnap", "nabirds", "inat_2017", "inat_2018", "yfcc", "fmow", "mosaiks",
                                      "sustainbench"}
    for src in LOCBENCH_ARCHIVES.values():
        assert src.sha256 is None or "unverified" not in src.provenance
        assert src.url is None or src.url.startswith("https://")


def test_archive_without_the_files_is_reported(server, tmp_path, monkeypatch):
    base, served, requests = server
    digest = _tar_of("yfcc", served / "wrong.tar.gz", wrap=False)  # another dataset's files
    _publish(monkeypatch, "birdsnap", f"{base}/wrong.tar.gz", digest)
    with pytest.raises(DatasetNotFoundError, match="downloaded archive lacks"):
        LocBenchTaskDataset("birdsnap", tmp_path / "root", "test", download=True)


@pytest.mark.parametrize("kwargs, match", [
    ({"verify": "no", "sha256": "4" * 64}, "verify"),
    ({"timeout": 0, "sha256": "4" * 64}, "timeout"),
    ({"sha256": "abc"}, "64 hexadecimal"),
    ({"sha256": "g" * 64}, "64 hexadecimal"),
    ({"url": "file:///etc/passwd", "sha256": "4" * 64}, "http"),
    ({"url": "ftp://example.org/x", "sha256": "4" * 64}, "http"),
])
def test_bad_download_arguments(kwargs, match, tmp_path):
    with pytest.raises(ValueError, match=match):
        download_locbench("birdsnap", tmp_path, **kwargs)
    with pytest.raises(ValueError, match="unknown LocBench folder"):
        download_locbench("birds", tmp_path)


# ------------------------------------------------------------------------------------- unsafe archives
def _tar_with(path: Path, member: tarfile.TarInfo, data: bytes = b"") -> None:
    with tarfile.open(path, "w") as tar:
        ok = tarfile.TarInfo("yfcc/class_names.csv")
        ok.size = 3
        tar.addfile(ok, io.BytesIO(b"a,b"))
        tar.addfile(member, io.BytesIO(data) if data else None)


def _member(name: str, kind=tarfile.REGTYPE, linkname: str = "", data: bytes = b"") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.size = kind, linkname, len(data)
    return info


@pytest.mark.parametrize("member", [
    _member("../evil.txt", data=b"x"),
    _member("yfcc/../../evil.txt", data=b"x"),
    _member("/tmp/geosrl-evil.txt", data=b"x"),
    _member("yfcc/link", tarfile.SYMTYPE, "../../evil.txt"),
    _member("yfcc/abs", tarfile.SYMTYPE, "/etc/passwd"),
    _member("yfcc/hard", tarfile.LNKTYPE, "../evil.txt"),
    _member("yfcc/dev", tarfile.CHRTYPE),
], ids=["dotdot", "nested-dotdot", "absolute", "symlink-out", "symlink-abs", "hardlink-out", "device"])
def test_tar_path_traversal_is_refused(member, tmp_path):
    archive = tmp_path / "evil.tar"
    _tar_with(archive, member, b"x" if member.size else b"")
    root = tmp_path / "root"
    with pytest.raises(DatasetFormatError, match="nothing was extracted"):
        extract_archive(archive, root / "yfcc")
    assert not (tmp_path / "evil.txt").exists() and not Path("/tmp/geosrl-evil.txt").exists()
    assert list(root.iterdir()) == []


@pytest.mark.parametrize("name", ["../evil.txt", "/evil.txt", "yfcc/../../evil.txt", "C:/evil.txt", "..\\evil.txt"])
def test_zip_slip_is_refused(name, tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("yfcc/class_names.csv", "a,b")
        z.writestr(name, "x")
    with pytest.raises(DatasetFormatError, match="nothing was extracted"):
        extract_archive(archive, tmp_path / "root" / "yfcc")
    assert not (tmp_path / "evil.txt").exists() and list((tmp_path / "root").iterdir()) == []


def test_zip_symlink_is_refused(tmp_path):
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as z:
        info = zipfile.ZipInfo("yfcc/link")
        info.external_attr = (0o120777 << 16)
        z.writestr(info, "/etc/passwd")
    with pytest.raises(DatasetFormatError, match="symbolic link"):
        extract_archive(archive, tmp_path / "root" / "yfcc")


def test_unsafe_archive_through_download_leaves_no_folder(server, tmp_path, monkeypatch):
    base, served, requests = server
    _tar_with(served / "evil.tar", _member("../evil.txt", data=b"x"), b"x")
    _publish(monkeypatch, "yfcc", f"{base}/evil.tar", hashlib.sha256((served / "evil.tar").read_bytes()).hexdigest())
    root = tmp_path / "root"
    with pytest.raises(DatasetFormatError, match="'../evil.txt'"):
        LocBenchTaskDataset("yfcc", root, "test", download=True)
    assert not (root / "yfcc").exists() and _leftovers(root) == [] and not (tmp_path / "evil.txt").exists()


def test_not_an_archive_and_existing_target(tmp_path):
    junk = tmp_path / "junk.archive"
    junk.write_bytes(b"<html>a login page</html>")
    with pytest.raises(DatasetFormatError, match="neither a zip nor"):
        extract_archive(junk, tmp_path / "root" / "yfcc")
    assert list((tmp_path / "root").iterdir()) == []
    good = tmp_path / "good.tar.gz"
    _tar_of("yfcc", good)
    (tmp_path / "root" / "yfcc").mkdir()
    with pytest.raises(FileExistsError, match="refusing"):
        extract_archive(good, tmp_path / "root" / "yfcc")
    with pytest.raises(FileExistsError, match="refusing"):
        dl.fetch_file("http://127.0.0.1:9/x", good, None)
