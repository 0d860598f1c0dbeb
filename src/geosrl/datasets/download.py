"""Download and extract LocBench archives: checksummed, atomic, never over a user's files.

``download_locbench(folder, root)`` puts one LocBench archive under ``root`` and extracts it into
``root/<folder>/``, the layout :func:`geosrl.datasets.locbench.load_locbench` reads:

1. ``root/<folder>/`` already exists → nothing is downloaded or changed (a partial folder is never
   completed or replaced; the error names it).
2. ``root/<archive file>`` exists (downloaded earlier, or copied there by hand from a connected
   machine) → it is verified and extracted, without the network.
3. Otherwise the archive is streamed from its URL into a temporary file in ``root``, hashed while it is
   written, and published under its final name only when the SHA-256 matches (``os.link``, which fails
   rather than replace a file that appeared meanwhile).

Checksums. :data:`LOCBENCH_ARCHIVES` is the documented table of sources (URL + SHA-256, each with
where it came from). An entry without a recorded SHA-256 is **refused before anything is
downloaded**, unless the caller passes ``sha256=`` (the expected hex digest) or ``verify=False``; the
latter downloads, warns with an :class:`UnverifiedDownloadWarning` that names the computed digest (so it
can be pinned) and proceeds. A mismatch raises :class:`ChecksumError`, and the downloaded bytes are
removed (a file that was already there is left untouched).

Extraction. tar (plain, gz, bz2, xz) and zip archives are recognised by their content. Every member is
checked before anything is written: absolute paths, ``..`` components, links that leave the folder,
device files (tar's ``data`` filter) and zip symlinks are refused with a :class:`DatasetFormatError`
naming the member. The archive is extracted into a temporary folder inside ``root`` and renamed to
``root/<folder>`` in one step; an archive that holds ``<folder>/`` at its top is unwrapped. A failure
leaves ``root`` as it was (apart from a verified archive file, kept so a rerun needs no network).

Offline, a failed connection or an HTTP error raises :class:`DataUnavailableError` whose fix names the
URL, the file name to save it as and the folder (download it elsewhere and copy it there).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import secrets
import shutil
import stat
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from ..config import boolean, number
from ..files import file_mode
from ..version import __version__
from .base import DataUnavailableError, DatasetFormatError

__all__ = [
    "LOCBENCH_ARCHIVES",
    "ArchiveSource",
    "ChecksumError",
    "UnverifiedDownloadWarning",
    "download_locbench",
    "extract_archive",
    "fetch_file",
    "sha256_file",
]

FIGSHARE_RECORD = "https://doi.org/10.6084/m9.figshare.26026798"
_CHUNK = 1 << 20
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ArchiveSource:
    """Where one LocBench folder's archive comes from.

    Attributes:
        folder: LocBench folder key (``birdsnap``, ``nabirds``, …), the folder it extracts to.
        url: published download URL, or ``None`` when none is recorded here.
        sha256: expected SHA-256 (lower-case hex) of the archive, or ``None`` when none is recorded.
        filename: name the archive is stored under in ``root`` (its format is read from its content).
        provenance: where ``url`` and ``sha256`` come from, and whether they were checked.
    """

    folder: str
    url: str | None
    sha256: str | None
    filename: str
    provenance: str


def _unrecorded(folder: str) -> ArchiveSource:
    return ArchiveSource(folder, None, None, f"{folder}.archive",
                         f"no per-file URL recorded; find the '{folder}' file on {FIGSHARE_RECORD}")


#: The documented source table (one archive per LocBench folder). Only BirdSnap's file URL is recorded
#: (TorchSpatial's figshare record, see shared/reference/benchmark.md §1); no SHA-256 has been verified
#: for any entry yet, so every entry needs ``sha256=`` or ``verify=False`` until one is pinned here.
LOCBENCH_ARCHIVES: dict[str, ArchiveSource] = {
    "birdsnap": ArchiveSource("birdsnap", "https://figshare.com/ndownloader/files/47020978", None, "birdsnap.archive",
                              "URL from the LocBench figshare record (benchmark.md §1), not fetched from here; "
                              "sha256 unverified (not recorded)"),
    **{k: _unrecorded(k) for k in ("nabirds", "inat_2017", "inat_2018", "yfcc", "fmow", "mosaiks", "sustainbench")},
}


class ChecksumError(DatasetFormatError):
    """A downloaded or supplied archive's SHA-256 differs from the expected one."""


class UnverifiedDownloadWarning(UserWarning):
    """An archive was used without a checksum (``verify=False``); the message names its SHA-256."""


def sha256_file(path: str | Path) -> str:
    """Lower-case hex SHA-256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def _check_sha256(value: str | None) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not _HEX64.fullmatch(value.strip().lower()):
        raise ValueError(f"sha256 must be 64 hexadecimal digits, got {value!r}")
    return value.strip().lower()


def _check_url(url: str) -> str:
    scheme = urllib.parse.urlsplit(url).scheme if isinstance(url, str) else ""
    if scheme not in ("http", "https"):
        raise ValueError(f"url must be an http:// or https:// address, got {url!r}")
    return url


# ---------------------------------------------------------------------------------------------- fetch
def _manual_fix(url: str, target: Path) -> str:
    return (f"on a machine with internet access download {url}, copy it to {target} and rerun "
            "(it is then verified and extracted without the network)")


def fetch_file(url: str, target: str | Path, sha256: str | None, *, timeout: float = 60.0, task: str = "") -> str:
    """Stream ``url`` into ``target`` atomically and return the file's SHA-256.

    The bytes go to a temporary file beside ``target``, hashed as they arrive; a short body (fewer bytes
    than ``Content-Length``) or, when ``sha256`` is given, a different digest removes the temporary file
    and raises. The file is published with ``os.link`` (never replacing an existing ``target``) and gets
    the umask's mode.

    Raises:
        DataUnavailableError: no connection, a timeout or an HTTP error (the fix says how to get the file by
            hand).
        ChecksumError: the digest differs from ``sha256``.
        FileExistsError: ``target`` exists (this function never replaces a file).
    """
    target = Path(target)
    url = _check_url(url)
    if target.exists():
        raise FileExistsError(f"{target} exists; refusing to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            digest = _stream(url, out, timeout, task or target.name, target)
            out.flush()
            os.fsync(out.fileno())
        if sha256 is not None and digest != sha256:
            raise ChecksumError(str(target), f"downloaded from {url}: sha256 {digest}, expected {sha256}",
                                "retry the download; if it keeps differing, the published file changed: "
                                "check the source and pass its sha256")
        os.chmod(tmp, file_mode())
        os.link(tmp, target)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return digest


def _stream(url: str, out, timeout: float, task: str, target: Path) -> str:
    """Copy the body of ``url`` to ``out``; return its SHA-256. Network failures become DataUnavailableError."""
    request = urllib.request.Request(url, headers={"User-Agent": f"geosrl/{__version__} (python urllib)"})

    def unavailable(e: BaseException) -> DataUnavailableError:
        if isinstance(e, urllib.error.HTTPError):
            reason = f"HTTP {e.code} {e.reason} from {url}"
        else:
            reason = f"cannot download {url} ({getattr(e, 'reason', None) or e}; offline?)"
        return DataUnavailableError(task, reason, _manual_fix(url, target))

    try:
        response = urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 - http(s) checked by the caller
    except (OSError, http.client.HTTPException) as e:
        raise unavailable(e) from None
    h = hashlib.sha256()
    received = 0
    with response:
        expected = response.headers.get("Content-Length")
        while True:
            try:
                block = response.read(_CHUNK)
            except (OSError, http.client.HTTPException) as e:
                raise unavailable(e) from None
            if not block:
                break
            h.update(block)
            out.write(block)
            received += len(block)
    if expected is not None and expected.isdigit() and received != int(expected):
        raise DataUnavailableError(task, f"download of {url} stopped after {received} of {expected} bytes",
                                   "retry; " + _manual_fix(url, target))
    return h.hexdigest()


# -------------------------------------------------------------------------------------------- extract
def _unsafe_zip_member(info: zipfile.ZipInfo) -> str | None:
    """Why a zip member may not be extracted, or ``None``."""
    name = info.filename
    path = PurePosixPath(name.replace("\\", "/"))
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name):
        return "is an absolute path"
    if ".." in path.parts:
        return "contains '..' (it would be written outside the folder)"
    if stat.S_ISLNK(info.external_attr >> 16):
        return "is a symbolic link"
    return None


def _open_archive(archive: Path):
    if zipfile.is_zipfile(archive):
        return zipfile.ZipFile(archive)
    try:
        return tarfile.open(archive, "r:*")
    except (tarfile.TarError, OSError, EOFError) as e:
        raise DatasetFormatError(str(archive), f"is neither a zip nor a (compressed) tar archive ({e})",
                                 "delete it and download it again") from None


def _extract_checked(archive: Path, dest: Path) -> None:
    """Extract every member of ``archive`` into ``dest`` after checking all of them; refuse unsafe members."""
    with _open_archive(archive) as arc:
        try:
            if isinstance(arc, zipfile.ZipFile):
                for info in arc.infolist():
                    why = _unsafe_zip_member(info)
                    if why:
                        raise _Unsafe(info.filename, why)
                arc.extractall(dest)
            else:
                for member in arc.getmembers():
                    if member.name.startswith("/"):
                        raise _Unsafe(member.name, "is an absolute path")
                    try:
                        tarfile.data_filter(member, str(dest))
                    except tarfile.FilterError as e:
                        why = f"is refused by tar's data filter ({type(e).__name__}: {e})"
                        raise _Unsafe(member.name, why) from None
                arc.extractall(dest, filter="data")
        except _Unsafe as u:
            raise DatasetFormatError(str(archive), f"member {u.args[0]!r} {u.args[1]}; nothing was extracted",
                                     "this is not the published archive: delete it and download it again",
                                     where=f"member {u.args[0]!r}") from None
        except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as e:
            raise DatasetFormatError(str(archive), f"cannot be extracted ({type(e).__name__}: {e})",
                                     "the archive is damaged or truncated: delete it and download it again") from None


class _Unsafe(Exception):
    """Internal: (member name, reason)."""


def _new_dir(stem: Path) -> Path:
    """Create a fresh folder ``stem-<random>`` with the umask's mode (``mkdtemp`` would make it 0700)."""
    while True:
        path = stem.with_name(f"{stem.name}-{secrets.token_hex(4)}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue


def extract_archive(archive: str | Path, target: str | Path) -> Path:
    """Extract ``archive`` into the new folder ``target`` in one step (temporary folder + rename).

    An archive whose only top-level entry is a folder named ``target.name`` is unwrapped, so both
    ``birdsnap/…`` archives and flat ones give ``target/…``.

    Raises:
        FileExistsError: ``target`` exists (nothing is replaced or merged).
        DatasetFormatError: not an archive, damaged, or an unsafe member (nothing is written).
    """
    archive, target = Path(archive), Path(target)
    if target.exists():
        raise FileExistsError(f"{target} exists; refusing to extract over it")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _new_dir(target.parent / f".{target.name}.extract")
    try:
        _extract_checked(archive, tmp)
        entries = list(tmp.iterdir())
        inner = tmp / target.name
        source = inner if len(entries) == 1 and inner.is_dir() and not inner.is_symlink() else tmp
        if target.exists():
            raise FileExistsError(f"{target} appeared during extraction; refusing to replace it")
        os.rename(source, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


# ------------------------------------------------------------------------------------------ locbench
def download_locbench(
    folder: str,
    root: str | Path,
    *,
    sha256: str | None = None,
    verify: bool = True,
    url: str | None = None,
    timeout: float = 60.0,
) -> Path:
    """Make ``root/<folder>/`` hold LocBench folder ``folder``, downloading and extracting its archive if needed.

    Args:
        folder: a key of :data:`LOCBENCH_ARCHIVES` (``LOCBENCH[name].folder`` of a dataset).
        root: the LocBench root (``load_locbench``'s ``root``); created if missing.
        sha256: expected SHA-256 of the archive; overrides the table's (required when the table has none,
            unless ``verify=False``).
        verify: ``False`` accepts an archive without a known checksum (an :class:`UnverifiedDownloadWarning`
            names its digest). A known checksum is always checked.
        url: another address of the same archive (a mirror); default the table's URL.
        timeout: seconds to wait for the server.
    Returns:
        ``root/<folder>``; an existing folder is returned as it is (never completed, replaced or checked).
    Raises:
        ValueError: unknown folder, bad ``sha256`` or ``url``.
        DataUnavailableError: no URL is recorded, no checksum is known and ``verify`` is true, or the
            download failed (offline).
        ChecksumError: the archive's digest differs.
        DatasetFormatError: the archive is damaged or holds unsafe members.
    """
    if folder not in LOCBENCH_ARCHIVES:
        raise ValueError(f"unknown LocBench folder {folder!r}; available: {', '.join(LOCBENCH_ARCHIVES)}")
    src = LOCBENCH_ARCHIVES[folder]
    boolean()(verify, "verify")
    number(gt=0)(timeout, "timeout")
    expected = _check_sha256(sha256) or src.sha256
    address = _check_url(url) if url is not None else src.url
    root = Path(root)
    target, archive = root / folder, root / src.filename
    if target.exists():
        return target
    if expected is None and verify:
        raise DataUnavailableError(
            folder, f"no SHA-256 is recorded for the LocBench '{folder}' archive ({src.provenance}); "
            "refusing to use unverified data",
            "pass sha256='<64 hex digits>' of the published archive, or verify=False to accept it unchecked "
            "(the computed digest is then reported so it can be pinned)")
    if not archive.exists():
        if address is None:
            raise DataUnavailableError(
                folder, f"no download URL is recorded for the LocBench '{folder}' archive",
                f"download the '{folder}' file from {FIGSHARE_RECORD} and save it as {archive}, or pass url=")
        digest = fetch_file(address, archive, expected, timeout=timeout, task=folder)
    else:
        digest = sha256_file(archive)
        if expected is not None and digest != expected:
            raise ChecksumError(str(archive), f"sha256 {digest}, expected {expected} (the file was left as it is)",
                                "delete or move it and download it again (or pass the right sha256)")
    if expected is None:
        warnings.warn(f"LocBench '{folder}' archive {archive} used without verification; its sha256 is {digest} "
                      "(pass sha256=... to pin it)", UnverifiedDownloadWarning, stacklevel=2)
    return extract_archive(archive, target)
