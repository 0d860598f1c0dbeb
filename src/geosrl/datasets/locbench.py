"""LocBench loaders (TorchSpatial, Wu et al. 2024): 7 classification + 10 regression datasets.

Get the files from figshare "LocBench" (DOI 10.6084/m9.figshare.26026798, one tarball per dataset)
and extract each under ``<root>/<key>/`` (or let ``LocBenchTaskDataset(..., download=True)`` do it:
:mod:`geosrl.datasets.download`, checksummed) with key ∈ {birdsnap, nabirds, inat_2017, inat_2018,
yfcc, fmow, mosaiks, sustainbench} — the layout TorchSpatial expects. A missing file raises
:class:`~geosrl.datasets.base.DatasetNotFoundError` naming the file, the archive and the folder.

Returned :class:`TaskData`:

- classification: ``target`` = class index (class ids sorted and re-indexed from 0 where the source
  ids are not already 0…C−1), ``image_features`` = the frozen image model's class probabilities
  P(c|I) ``(N, C)`` float32 (``image_input="preds"``, needed by the geo-prior fusion), or its
  ``(N, 2048)`` penultimate features (``"net_feats"``), or ``None`` (``"none"``).
- regression: ``target`` = the label column as stored, ``image_features`` = MOSAIKS ``X`` rows
  ``(N, 2048)`` or SustainBench ``nl_mean`` ``(N, 1)``.

Row filters follow TorchSpatial: training rows without a location (birds: also user < 0 or NaN
date; iNat: null user) are dropped. Evaluation rows without a location are dropped by default
(``keep_missing_location=False``, count in ``metadata["n_dropped_no_location"]``); with
``keep_missing_location=True`` they are kept with NaN ``lonlat`` rows so that metrics can count every
evaluation image (scored by the image model alone), as the published numbers do.

**Dropped vs refused.** A row is *dropped with a count* only where the published format allows the
value to be absent: a missing location (``lon``/``lat`` empty, ``nan``/``NA``/``null``, JSON
``null``/``NaN``, or no location record), the training filters above, a missing regression label
(SustainBench publishes NaN labels; MOSAIKS is treated alike) and, when the image input is used, a
missing SustainBench ``nl_mean``. Every load that drops rows reports them in
``metadata["dropped_rows"] = {"count", "reasons", "file", "first"}`` (plus ``"first_lines"``, the
line numbers, for CSV files) and with a :class:`LocBenchDroppedRowsWarning` naming the file and the
count. Anything an intact published file cannot contain is *refused* with a
:class:`~geosrl.datasets.base.DatasetFormatError` (a ``ValueError``) naming the file, the line (text
files; JSON entries by line and ``split[index]``) and the fix: a CSV row with more or fewer fields
than the header (short or truncated rows), an unknown ``split`` value, a non-numeric or infinite
number, a location outside [−180, 180] × [−90, 90], a missing, non-integer (``1.7``) or unknown
class, invalid UTF-8, a NUL byte, invalid or truncated JSON, a missing key, an empty, text,
truncated or wrongly shaped ``.npy``/``.npz``, and array files whose row count differs from the
split. Nothing is unpickled (``allow_pickle=False``).
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import math
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..coords import as_lonlat
from .base import DataUnavailableError, DatasetFormatError, DatasetNotFoundError, TaskData

__all__ = [
    "LOCBENCH",
    "DatasetFormatError",
    "DatasetNotFoundError",
    "LocBenchDataset",
    "LocBenchDroppedRowsWarning",
    "list_locbench_datasets",
    "load_locbench",
]

FIGSHARE = "figshare 'LocBench' (DOI 10.6084/m9.figshare.26026798, https://doi.org/10.6084/m9.figshare.26026798)"
CITATION = (
    "Wu et al., TorchSpatial: A Location Encoding Framework and Benchmark for Spatial Representation "
    "Learning, NeurIPS 2024 Datasets and Benchmarks"
)


@dataclass(frozen=True)
class LocBenchDataset:
    """One LocBench dataset: ``folder`` under root, ``family`` (file format), published splits."""

    name: str
    kind: str
    folder: str
    family: str
    splits: tuple[str, ...]
    eval_split: str
    meta: str = ""  # birds: "orig_meta" | "ebird_meta"; regression: label column
    prefix: str = ""  # file-name stem of the arrays
    year: str = ""  # iNat


_CLS = [
    LocBenchDataset("birdsnap", "classification", "birdsnap", "birds", ("train", "valid", "test"), "test",
                    "orig_meta", "birdsnap"),
    LocBenchDataset("birdsnap_ebird", "classification", "birdsnap", "birds", ("train", "valid", "test"), "test",
                    "ebird_meta", "birdsnap"),
    LocBenchDataset("nabirds_ebird", "classification", "nabirds", "birds", ("train", "valid", "test"), "test",
                    "ebird_meta", "nabirds"),
    LocBenchDataset("inat_2017", "classification", "inat_2017", "inat", ("train", "val"), "val", "", "inat2017", "2017"),
    LocBenchDataset("inat_2018", "classification", "inat_2018", "inat", ("train", "val"), "val", "", "inat2018", "2018"),
    LocBenchDataset("yfcc", "classification", "yfcc", "yfcc", ("train", "val", "test"), "test", "", "YFCC"),
    LocBenchDataset("fmow", "classification", "fmow", "fmow", ("train", "val"), "val", "", "fmow"),
]
_REG = [
    LocBenchDataset(f"mosaiks_{k}", "regression", "mosaiks", "mosaiks", ("train", "test"), "test", col)
    for k, col in (("population", "population"), ("forest_cover", "forest"), ("nightlights", "nightlights"),
                   ("elevation", "elevation"))
] + [
    LocBenchDataset(f"sustainbench_{t}", "regression", "sustainbench", "sustainbench", ("train", "test"), "test",
                    f"{t}_normalized")
    for t in ("asset_index", "women_bmi", "water_index", "under5_mort", "sanitation_index", "women_edu")
]

LOCBENCH: dict[str, LocBenchDataset] = {d.name: d for d in _CLS + _REG}


def list_locbench_datasets() -> list[str]:
    """The 17 LocBench dataset names (7 classification, then 10 regression)."""
    return list(LOCBENCH)


class LocBenchDroppedRowsWarning(UserWarning):
    """Rows of a LocBench split were dropped (no location, training filter, missing label); see ``dropped_rows``."""


#: how many dropped rows ``metadata["dropped_rows"]`` locates
FIRST_DROPPED = 10
_MISSING = ("", "nan", "na", "null", "none")
_KNOWN_SPLITS = ("train", "val", "valid", "test")
_FLOAT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_INT = re.compile(r"[+-]?\d+")
_WS = re.compile(r"[ \t\n\r]*")


# ----------------------------------------------------------------------------------------- helpers
def _need(ds: LocBenchDataset, root: Path, rel: str) -> Path:
    path = root / ds.folder / rel
    if not path.exists():
        raise DatasetNotFoundError(
            ds.name,
            f"LocBench file not found: {path}",
            f"download the '{ds.folder}' archive from {FIGSHARE} and extract it into {root / ds.folder}/ "
            f"so that {path} exists (pass the parent folder as root)",
            missing=str(path),
        )
    return path


class _Bad(Exception):
    """Internal: one value is malformed; the caller adds the file and line."""

    @property
    def problem(self) -> str:
        return str(self.args[0])


def _number(value, what: str) -> float:
    """CSV text or JSON value → float. Missing (None, '', nan, NA, null, JSON NaN) → NaN; other text is refused."""
    if value is None:
        return math.nan
    if isinstance(value, bool):
        raise _Bad(f"{what} = {value!r} is not a number")
    if isinstance(value, str):
        s = value.strip()
        if s.lower() in _MISSING:
            return math.nan
        if s.lower().lstrip("+-") in ("inf", "infinity"):
            raise _Bad(f"{what} = {value!r} is infinite")
        if not _FLOAT.fullmatch(s):
            raise _Bad(f"{what} = {value!r} is not a number")
        value = s
    elif not isinstance(value, (int, float)):
        raise _Bad(f"{what} = {value!r} is not a number")
    try:
        v = float(value)
    except (OverflowError, ValueError):
        raise _Bad(f"{what} = {value!r} is not a representable number") from None
    if math.isinf(v):
        raise _Bad(f"{what} = {value!r} is infinite")
    return v


def _integer(value, what: str, missing_ok: bool = False) -> int | None:
    """CSV text or JSON value → int; ``1`` and ``1.0`` pass, ``1.7`` is refused; missing → None if allowed."""
    if isinstance(value, bool):
        raise _Bad(f"{what} = {value!r} is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _INT.fullmatch(value.strip()):
        return int(value.strip())
    v = _number(value, what)
    if math.isnan(v):
        if missing_ok:
            return None
        raise _Bad(f"{what} is missing")
    if not v.is_integer():
        raise _Bad(f"{what} = {value!r} is not an integer (refusing to truncate it)")
    return int(v)


def _location(lon, lat) -> tuple[float, float]:
    """(lon, lat) degrees; NaN pair when either is missing; out-of-range values are refused."""
    x, y = _number(lon, "lon"), _number(lat, "lat")
    if math.isnan(x) or math.isnan(y):
        return math.nan, math.nan
    if not (-180.0 <= x <= 180.0 and -90.0 <= y <= 90.0):
        raise _Bad(f"location lon={lon!r}, lat={lat!r} lies outside [-180, 180] x [-90, 90] (swapped columns?)")
    return x, y


def _split_value(value) -> str:
    s = (value or "").strip()
    if s not in _KNOWN_SPLITS:
        raise _Bad(f"split = {value!r} is not one of {', '.join(_KNOWN_SPLITS)}")
    return s


def _json_entry_line(path: Path, key: str | None, index: int | None) -> int | None:
    """1-based line where element ``index`` of the list at top-level ``key`` (or the top-level list) starts;
    with ``index=None``, the line of the top-level ``key`` itself.

    Only called to build an error message; ``None`` when it cannot be found.
    """
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
        dec = json.JSONDecoder()

        def skip(p: int) -> int:
            return _WS.match(text, p).end()

        pos = skip(1 if text.startswith("\ufeff") else 0)
        if key is not None:
            if text[pos] != "{":
                return None
            pos = skip(pos + 1)
            while text[pos] != "}":
                key_line = text.count("\n", 0, pos) + 1
                k, pos = dec.raw_decode(text, pos)
                pos = skip(pos)
                if text[pos] != ":":
                    return None
                pos = skip(pos + 1)
                if k == key:
                    if index is None:
                        return key_line
                    break
                _, pos = dec.raw_decode(text, pos)
                pos = skip(pos)
                if text[pos] == ",":
                    pos = skip(pos + 1)
            else:
                return None
        if text[pos] != "[":
            return None
        pos = skip(pos + 1)
        i = 0
        while text[pos] != "]":
            if i == index:
                return text.count("\n", 0, pos) + 1
            _, pos = dec.raw_decode(text, pos)
            pos = skip(pos)
            if text[pos] == ",":
                pos = skip(pos + 1)
            i += 1
        return None
    except (ValueError, IndexError, OSError):
        return None


class _File:
    """One LocBench file: readers that refuse malformed content with a :class:`DatasetFormatError`."""

    def __init__(self, ds: LocBenchDataset, root: Path, rel: str) -> None:
        self.ds = ds
        self.path = _need(ds, root, rel)
        self.refetch = (
            f"download the '{ds.folder}' archive again from {FIGSHARE} and extract it into {root / ds.folder}/, "
            f"replacing {self.path.name} (the file is damaged, truncated or was edited)"
        )

    def error(self, problem: str, line: int | None = None, where: str = "", fix: str | None = None) -> DatasetFormatError:
        return DatasetFormatError(str(self.path), f"{self.ds.name}: {problem}", self.refetch if fix is None else fix,
                                  line=line, where=where)

    def entry_error(self, key: str | None, index: int | None, problem: str) -> DatasetFormatError:
        """Error at element ``index`` of the list at top-level ``key`` (``index=None``: at the key itself)."""
        if index is None:
            where = f"key {key!r}"
        else:
            where = f"entry {key}[{index}]" if key is not None else f"entry [{index}]"
        return self.error(problem, line=_json_entry_line(self.path, key, index), where=where)

    # -- text
    def text(self) -> str:
        raw = self.path.read_bytes()
        if raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8):]
        nul = raw.find(b"\x00")
        if nul >= 0:
            raise self.error("contains a NUL byte (a binary or damaged file, not the published text file)",
                             line=raw.count(b"\n", 0, nul) + 1)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise self.error(f"is not valid UTF-8 (byte {raw[e.start:e.start + 1]!r})",
                             line=raw.count(b"\n", 0, e.start) + 1) from None

    def csv_rows(self, want: list[str]) -> list[tuple[int, dict[str, str]]]:
        """``(line, {column: text})`` per data row; rows with another field count than the header are refused."""
        reader = csv.reader(io.StringIO(self.text(), newline=""))
        rows = []
        try:
            header = next(reader, None)
            if header is None:
                raise self.error("is empty (no header row)", line=1)
            header = [h.strip() for h in header]
            missing = [c for c in want if c not in header]
            if missing:
                raise self.error(f"header lacks column(s) {missing}; has {header}", line=1)
            for rec in reader:
                if not rec:  # blank line
                    continue
                if len(rec) != len(header):
                    raise self.error(f"row has {len(rec)} field(s), the header has {len(header)} "
                                     "(a short, truncated or malformed row)", line=reader.line_num)
                rows.append((reader.line_num, dict(zip(header, rec))))
        except csv.Error as e:
            raise self.error(f"CSV syntax error: {e}", line=reader.line_num) from None
        return rows

    def json(self):
        try:
            return json.loads(self.text())
        except json.JSONDecodeError as e:
            raise self.error(f"invalid JSON at column {e.colno}: {e.msg} (a truncated or damaged file)",
                             line=e.lineno) from None
        except RecursionError:
            raise self.error("JSON nested too deeply (damaged file)") from None

    # -- arrays
    def _binary_start(self, magic: bytes, kind: str) -> None:
        size = self.path.stat().st_size
        if size == 0:
            raise self.error(f"is empty (0 bytes), not a {kind}", where="binary file")
        with open(self.path, "rb") as f:
            head = f.read(len(magic))
        if head != magic:
            raise self.error(f"is not a {kind} (it starts with {head!r}: a text export or another format?)",
                             where="file header")

    def _check_shape(self, shape: tuple, rows: int, cols: int | None, rows_of: str) -> None:
        if len(shape) != 2:
            raise self.error(f"holds an array of shape {tuple(shape)}, expected (rows, columns)", where="array header")
        if shape[0] != rows:
            raise self.error(f"has {shape[0]} rows, the split has {rows} entries in {rows_of}", where="array header")
        if cols is not None and shape[1] != cols:
            raise self.error(f"has {shape[1]} columns, expected one per class ({cols})", where="array header")

    def npy(self, rows: int, rows_of: str, cols: int | None = None) -> np.ndarray:
        """A 2-D numeric ``.npy`` (memory-mapped), never unpickled."""
        self._binary_start(b"\x93NUMPY", "NumPy .npy array")
        try:
            try:
                arr = np.load(self.path, mmap_mode="r", allow_pickle=False)
            except ValueError:
                arr = np.load(self.path, allow_pickle=False)  # e.g. zero-size arrays cannot be mapped
        except (ValueError, OSError, EOFError) as e:
            raise self.error(f"is not a readable NumPy .npy array ({e})", where="array header") from None
        if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "biuf":
            raise self.error(f"holds {getattr(arr, 'dtype', type(arr).__name__)}, expected a numeric array",
                             where="array header")
        self._check_shape(arr.shape, rows, cols, rows_of)
        if arr.dtype.kind == "f":
            bad = int(np.count_nonzero(~np.isfinite(arr)))
            if bad:
                raise self.error(f"holds {bad} non-finite values (NaN/inf) of {arr.size}", where="array data")
        return arr

    def sparse_npz(self, rows: int, rows_of: str, cols: int | None = None):
        """A SciPy sparse ``.npz`` as CSR, never unpickled."""
        try:
            import scipy.sparse
        except ImportError as e:  # pragma: no cover
            raise DataUnavailableError("locbench", "scipy is needed to read sparse prediction files",
                                       "pip install scipy") from e
        self._binary_start(b"PK\x03\x04", "SciPy sparse .npz (zip) file")
        try:
            mat = scipy.sparse.load_npz(self.path).tocsr()  # load_npz uses allow_pickle=False
        except Exception as e:  # noqa: BLE001 - BadZipFile, KeyError, ValueError, zlib.error, EOFError, OSError
            raise self.error(f"is not a readable SciPy sparse .npz ({type(e).__name__}: {e})", where="zip archive") from None
        self._check_shape(mat.shape, rows, cols, rows_of)
        return mat


def _as_features(arr, sparse_ok: bool):
    if hasattr(arr, "toarray"):
        if sparse_ok:
            return arr.astype(np.float32)
        arr = arr.toarray()
    return np.ascontiguousarray(np.asarray(arr, dtype=np.float32))


def _classes_from_ids(ids: list[int]) -> tuple[dict[int, int], list[int]]:
    uniq = sorted(set(ids))
    return {c: i for i, c in enumerate(uniq)}, uniq


@dataclass
class _Parsed:
    """What a family reader returns: rows of one split, in file order."""

    lonlat: list
    y: np.ndarray
    num_classes: int | None
    names: list[str] | None
    feats: object
    train_ok: np.ndarray  # rows passing the training-only filter (user / date)
    where: list[str]  # a locator per row, for the dropped-row report
    info: dict
    lines: list[int] | None = None  # CSV line per row
    input_ok: np.ndarray | None = None  # rows whose image input is present (SustainBench nl_mean)


# -------------------------------------------------------------------------------------- families
def _birds(ds, root, split, image_input):
    src = _File(ds, root, f"{ds.prefix}_with_loc_2019.json")
    js = src.json()
    if not isinstance(js, dict):
        raise src.error(f"top level is a JSON {type(js).__name__}, expected an object with 'train', 'valid', "
                        "'test' and 'classes'", line=1)
    if not isinstance(js.get(split), list):
        raise src.error(f"has no list {split!r} (keys: {sorted(js)})")
    classes = js.get("classes", [])
    if not isinstance(classes, list):
        raise src.error("'classes' is not a list of class names")
    lon, lat, date, user, y, where = [], [], [], [], [], []
    for i, e in enumerate(js[split]):
        try:
            if not isinstance(e, dict):
                raise _Bad(f"is a JSON {type(e).__name__}, expected an object")
            valid = e.get("valid_image", True)
            if not isinstance(valid, bool):
                raise _Bad(f"valid_image = {valid!r} is not true/false")
            if not valid:
                continue
            m = e.get(ds.meta)
            m = {} if m is None else m
            if not isinstance(m, dict):
                raise _Bad(f"{ds.meta} is a JSON {type(m).__name__}, expected an object")
            x, yy = _location(m.get("lon"), m.get("lat"))
            d = _number(m.get("date"), f"{ds.meta}.date")
            u = _integer(m.get("user_id"), f"{ds.meta}.user_id", missing_ok=True)
            c = _integer(e.get("class_id"), "class_id")
            if c < 0 or (classes and c >= len(classes)):
                raise _Bad(f"class_id {c} is not a known class (the file lists {len(classes)} classes, ids 0…"
                           f"{len(classes) - 1})")
        except _Bad as b:
            raise src.entry_error(split, i, b.problem) from None
        lon.append(x)
        lat.append(yy)
        date.append(d)
        user.append(-1 if u is None else u)
        y.append(c)
        where.append(f"{split}[{i}]")
    num_classes = len(classes) if classes else max(y, default=-1) + 1
    names = [str(c) for c in classes] if classes else [str(i) for i in range(num_classes)]
    feats = None
    if image_input == "preds":
        feats = _File(ds, root, f"features_inception/{ds.prefix}_{split}_preds_sparse.npz").sparse_npz(
            len(y), f"{src.path.name} ({split}, valid images)", num_classes)
    elif image_input == "net_feats":
        feats = _File(ds, root, f"features_inception/{ds.prefix}_{split}_net_feats.npy").npy(
            len(y), f"{src.path.name} ({split}, valid images)")
    extra_train_filter = (np.array(user, dtype=np.int64) >= 0) & ~np.isnan(np.array(date, dtype=np.float64))
    return _Parsed(np.c_[lon, lat], np.array(y, dtype=np.int64), num_classes, names, feats, extra_train_filter, where,
                   {"meta": ds.meta, "source_file": str(src.path)})


def _coco(ds, root, split, image_input, loc_name, ann_name, cat_name, preds_rel, feats_rel, user_filter=True):
    loc_f, ann_f, cat_f = _File(ds, root, loc_name), _File(ds, root, ann_name), _File(ds, root, cat_name)
    ann = ann_f.json()
    if not isinstance(ann, dict) or not isinstance(ann.get("images"), list):
        raise ann_f.error("expected a JSON object with an 'images' list (COCO format)", line=1)
    annotations = ann.get("annotations", [])
    if not isinstance(annotations, list):
        raise ann_f.error("'annotations' is not a list")
    loc_list = loc_f.json()
    if not isinstance(loc_list, list):
        raise loc_f.error("expected a JSON list of {id, lon, lat, ...} records", line=1)
    locs: dict[int, tuple[int, dict]] = {}
    for j, r in enumerate(loc_list):
        try:
            if not isinstance(r, dict):
                raise _Bad(f"is a JSON {type(r).__name__}, expected an object")
            locs[_integer(r.get("id"), "id")] = (j, r)
        except _Bad as b:
            raise loc_f.entry_error(None, j, b.problem) from None
    cats = cat_f.json()
    id_name: dict[int, str] = {}
    if isinstance(cats, dict):  # fMoW: name -> id
        for k, v in cats.items():
            try:
                id_name[_integer(v, f"id of category {k!r}")] = str(k)
            except _Bad as b:
                raise cat_f.entry_error(k, None, b.problem) from None
    elif isinstance(cats, list):
        for j, c in enumerate(cats):
            try:
                if not isinstance(c, dict):
                    raise _Bad(f"is a JSON {type(c).__name__}, expected an object")
                cid = _integer(c.get("id"), "id")
            except _Bad as b:
                raise cat_f.entry_error(None, j, b.problem) from None
            id_name[cid] = str(c.get("name", cid))
    else:
        raise cat_f.error("expected a JSON list of categories or an object name -> id", line=1)
    remap, ids = _classes_from_ids(list(id_name))
    label_of: dict[int, int] = {}
    for j, a in enumerate(annotations):
        try:
            if not isinstance(a, dict):
                raise _Bad(f"is a JSON {type(a).__name__}, expected an object")
            iid, cid = _integer(a.get("image_id"), "image_id"), _integer(a.get("category_id"), "category_id")
            if cid not in remap:
                raise _Bad(f"category_id {cid} is not a known class (not listed in {cat_f.path.name})")
        except _Bad as b:
            raise ann_f.entry_error("annotations", j, b.problem) from None
        label_of[iid] = cid
    lon, lat, user, y, where = [], [], [], [], []
    for k, im in enumerate(ann["images"]):
        try:
            if not isinstance(im, dict):
                raise _Bad(f"is a JSON {type(im).__name__}, expected an object")
            iid = _integer(im.get("id"), "id")
            cid = label_of.get(iid)
            if cid is None:
                raise _Bad(f"image {iid} has no annotation (an unlabelled split?)")
        except _Bad as b:
            raise ann_f.entry_error("images", k, b.problem) from None
        j, r = locs.get(iid, (None, {}))
        try:
            x, yy = _location(r.get("lon"), r.get("lat"))
            u = _integer(r.get("user_id", 0), "user_id", missing_ok=True)
        except _Bad as b:
            raise loc_f.entry_error(None, j, b.problem) from None
        lon.append(x)
        lat.append(yy)
        user.append(-1 if u is None else u)
        y.append(remap[cid])
        where.append(f"image {iid}")
    feats = None
    rows_of = f"{ann_f.path.name} (images)"
    if image_input == "preds":
        f = _File(ds, root, preds_rel)
        feats = (f.sparse_npz if f.path.suffix == ".npz" else f.npy)(len(y), rows_of, len(ids))
    elif image_input == "net_feats":
        feats = _File(ds, root, feats_rel).npy(len(y), rows_of)
    names = [id_name[i] for i in ids]
    train_ok = np.array(user, dtype=np.int64) >= 0 if user_filter else np.ones(len(y), dtype=bool)
    return _Parsed(np.c_[lon, lat], np.array(y, dtype=np.int64), len(ids), names, feats, train_ok, where,
                   {"source_file": str(ann_f.path), "locations_file": str(loc_f.path), "category_ids": ids})


def _inat(ds, root, split, image_input):
    yr = ds.year
    return _coco(
        ds, root, split, image_input, f"{split}{yr}_locations.json", f"{split}{yr}.json", f"categories{yr}.json",
        f"features_inception/{ds.prefix}_{split}_preds_sparse.npz",
        f"features_inception/{ds.prefix}_{split}_net_feats.npy",
    )


def _fmow(ds, root, split, image_input):
    return _coco(
        ds, root, split, image_input, f"{split}_location.json", f"{split}.json", "category.json",
        f"feature_moco/fmow_{split}_preds.npy",
        f"features_inception_pretrain/fmow_{split}_pretrain_net_feats.npy",
        user_filter=False,  # no user filter for fMoW
    )


def _yfcc(ds, root, split, image_input):
    names_f = _File(ds, root, "class_names.csv")
    id_name: dict[int, str] = {}
    for line, r in names_f.csv_rows(["id", "name"]):
        try:
            cid = _integer(r["id"], "id")
        except _Bad as b:
            raise names_f.error(b.problem, line=line) from None
        if cid in id_name:
            raise names_f.error(f"class id {cid} is listed twice", line=line)
        id_name[cid] = r["name"]
    remap, ids = _classes_from_ids(list(id_name))
    src = _File(ds, root, "train_test_split.csv")
    lonlat, y, lines = [], [], []
    for line, r in src.csv_rows(["lon", "lat", "class", "split"]):
        try:
            s = _split_value(r["split"])
            c = _integer(r["class"], "class")
            if c not in remap:
                raise _Bad(f"class {c} is not a known class (not listed in {names_f.path.name})")
            loc = _location(r["lon"], r["lat"])
        except _Bad as b:
            raise src.error(b.problem, line=line) from None
        if s == split:
            lonlat.append(loc)
            y.append(remap[c])
            lines.append(line)
    feats = None
    if image_input in ("preds", "net_feats"):
        feats = _File(ds, root, f"features_inception/YFCC_{split}_{image_input}.npy").npy(
            len(y), f"{src.path.name} (split {split!r})", len(ids) if image_input == "preds" else None)
    return _Parsed(np.array(lonlat, dtype=np.float64).reshape(-1, 2), np.array(y, dtype=np.int64), len(ids),
                   [id_name[i] for i in ids], feats, np.ones(len(y), bool), [f"line {n}" for n in lines],
                   {"source_file": str(src.path)}, lines=lines)


def _mosaiks(ds, root, split, image_input):
    col = ds.meta
    src = _File(ds, root, f"Y_{col}.csv")
    rows = src.csv_rows(["lon", "lat", "split", col])
    idx, lonlat, y, lines = [], [], [], []
    for i, (line, r) in enumerate(rows):
        try:
            s = _split_value(r["split"])
            loc = _location(r["lon"], r["lat"])
            v = _number(r[col], col)
        except _Bad as b:
            raise src.error(b.problem, line=line) from None
        if s == split:
            idx.append(i)
            lonlat.append(loc)
            y.append(v)
            lines.append(line)
    idx = np.array(idx, dtype=np.int64)
    feats = None
    if image_input != "none":
        x = _File(ds, root, f"X_{col}.npy").npy(len(rows), f"{src.path.name} (all splits)")
        feats = x[idx]
    return _Parsed(np.array(lonlat, dtype=np.float64).reshape(-1, 2), np.array(y, dtype=np.float64), None, None,
                   feats, np.ones(len(y), bool), [f"line {n}" for n in lines], {"source_file": str(src.path),
                                                                                 "rows": idx}, lines=lines)


def _sustainbench(ds, root, split, image_input):
    col = ds.meta
    src = _File(ds, root, "dhs_trainval_labels.csv" if split == "train" else "dhs_test_labels.csv")
    lonlat, y, nl, lines = [], [], [], []
    for line, r in src.csv_rows(["lon", "lat", "nl_mean", col]):
        try:
            lonlat.append(_location(r["lon"], r["lat"]))
            y.append(_number(r[col], col))
            nl.append(_number(r["nl_mean"], "nl_mean"))
        except _Bad as b:
            raise src.error(b.problem, line=line) from None
        lines.append(line)
    nl_arr = np.array(nl, dtype=np.float64).reshape(-1, 1)
    use_input = image_input != "none"
    return _Parsed(np.array(lonlat, dtype=np.float64).reshape(-1, 2), np.array(y, dtype=np.float64), None, None,
                   nl_arr if use_input else None, np.ones(len(y), bool), [f"line {n}" for n in lines],
                   {"source_file": str(src.path)}, lines=lines,
                   input_ok=np.isfinite(nl_arr[:, 0]) if use_input else None)


_FAMILIES = {
    "birds": _birds,
    "inat": _inat,
    "fmow": _fmow,
    "yfcc": _yfcc,
    "mosaiks": _mosaiks,
    "sustainbench": _sustainbench,
}


def load_locbench(
    name: str,
    root: str | Path,
    split: str,
    *,
    image_input: str = "preds",
    keep_missing_location: bool = False,
    sparse_preds: bool = False,
) -> TaskData:
    """Load one split of a LocBench dataset from its published files under ``root``.

    Args:
        name: one of :func:`list_locbench_datasets`.
        root: folder holding ``<key>/`` sub-folders (e.g. ``root/birdsnap/birdsnap_with_loc_2019.json``).
        split: a published split of the dataset (``LOCBENCH[name].splits``; birds: train/valid/test,
            iNat and fMoW: train/val, YFCC: train/val/test, MOSAIKS and SustainBench: train/test).
        image_input: classification: ``"preds"`` (P(c|I), default), ``"net_feats"`` or ``"none"``;
            regression: anything but ``"none"`` loads the image input (MOSAIKS X / nl_mean).
        keep_missing_location: keep evaluation rows without a location as NaN rows (never for
            ``train``).
        sparse_preds: keep sparse prediction files as ``scipy.sparse.csr_matrix`` instead of dense
            float32 (iNat2017 val is 95,986 × 5,089: 2 GB dense).
    Returns:
        TaskData (``metadata``: dataset, split, role, counts of dropped rows, ``dropped_rows`` (count,
        reasons, file, first dropped rows), files, citation). Dropped rows are also reported with a
        :class:`LocBenchDroppedRowsWarning`.
    Raises:
        DatasetNotFoundError: a required file is missing (message says what to download, where).
        DatasetFormatError: a file is malformed (message names the file, the line and the fix; see the
            module docstring for what is refused rather than dropped).
        ValueError: unknown split, or fMoW's unlabelled test split.
    """
    if name not in LOCBENCH:
        raise ValueError(f"unknown LocBench dataset {name!r}; available: {', '.join(LOCBENCH)}")
    ds = LOCBENCH[name]
    if ds.family == "fmow" and split == "test":
        raise ValueError("fMoW's test split has no public labels (TorchSpatial raises too); use 'val'")
    if split not in ds.splits:
        raise ValueError(f"{name}: split must be one of {ds.splits}, got {split!r}")
    if image_input not in ("preds", "net_feats", "none"):
        raise ValueError(f"image_input must be 'preds', 'net_feats' or 'none', got {image_input!r}")
    root = Path(root)
    if not root.is_dir():
        raise DatasetNotFoundError(
            name, f"LocBench root folder not found: {root}",
            f"create it and extract the '{ds.folder}' archive from {FIGSHARE} into {root / ds.folder}/",
            missing=str(root),
        )
    p = _FAMILIES[ds.family](ds, root, split, image_input)
    lonlat = np.asarray(p.lonlat, dtype=np.float64).reshape(-1, 2)
    y, feats, info = p.y, p.feats, p.info
    has_loc = np.isfinite(lonlat).all(axis=1)
    lonlat[~has_loc] = np.nan
    n_total = len(y)
    role = "train" if split == "train" else "eval"
    label_ok = np.isfinite(y) if ds.kind == "regression" else np.ones(n_total, dtype=bool)
    input_ok = np.ones(n_total, dtype=bool) if p.input_ok is None else p.input_ok
    row_ok = label_ok & input_ok
    keep = row_ok.copy()
    if role == "train":
        keep &= has_loc & p.train_ok
    elif not keep_missing_location:
        keep &= has_loc
    reasons = {  # each dropped row counted once, under the first reason that applies
        "nan_label": int((~label_ok).sum()),
        "no_image_input": int((label_ok & ~input_ok).sum()),
        "no_location": int((row_ok & ~has_loc & ~keep).sum()),
        "train_filter": int((row_ok & has_loc & ~keep).sum()),
    }
    dropped = np.flatnonzero(~keep)
    first = dropped[:FIRST_DROPPED]
    dropped_rows = {
        "count": int(len(dropped)),
        "reasons": {k: v for k, v in reasons.items() if v},
        "file": info["source_file"],
        "first": [p.where[i] for i in first],
    }
    if p.lines is not None:
        dropped_rows["first_lines"] = [int(p.lines[i]) for i in first]
    if len(dropped):
        why = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in dropped_rows["reasons"].items())
        warnings.warn(
            f"LocBench {name} ({split}): dropped {len(dropped)} of {n_total} rows of {info['source_file']} ({why}); "
            f"first: {', '.join(dropped_rows['first'][:5])}; details in TaskData.metadata['dropped_rows']",
            LocBenchDroppedRowsWarning, stacklevel=2,
        )
    if feats is not None:
        feats = feats[np.flatnonzero(keep)] if not hasattr(feats, "toarray") else feats[keep]
        feats = _as_features(feats, sparse_preds)
    target = y[keep]
    if ds.kind == "regression":
        target = target.astype(np.float64)
    data = TaskData(
        name=name,
        kind=ds.kind,
        lonlat=as_lonlat(lonlat[keep], allow_nan_rows=keep_missing_location and role == "eval"),
        target=target,
        num_classes=p.num_classes,
        class_names=p.names,
        target_name=ds.meta if ds.kind == "regression" else "class",
        image_features=feats if isinstance(feats, np.ndarray) else None,
        metadata={
            "dataset": name,
            "split": split,
            "role": role,
            "source": f"LocBench {ds.folder} ({FIGSHARE})",
            "licence": "see the LocBench figshare record and the original dataset's terms",
            "citation": CITATION,
            "units": "lonlat degrees; " + ("class index" if ds.kind == "classification" else f"label '{ds.meta}' as stored"),
            "image_input": image_input if feats is not None else "none",
            "n_rows_in_split": n_total,
            "n_dropped_no_location": reasons["no_location"],
            "n_dropped_train_filter": reasons["train_filter"],
            "n_dropped_nan_label": reasons["nan_label"],
            "n_without_location": int((keep & ~has_loc).sum()),
            "dropped_rows": dropped_rows,
            "files": {k: v for k, v in info.items() if k.endswith("_file")},
        },
    )
    if feats is not None and not isinstance(feats, np.ndarray):
        data.image_features = feats  # scipy sparse (sparse_preds=True); rows already aligned
    return data
