"""LocBench loaders (TorchSpatial, Wu et al. 2024): 7 classification + 10 regression datasets.

The files are not downloadable at run time. Get them from figshare "LocBench"
(DOI 10.6084/m9.figshare.26026798, one tarball per dataset) and extract each under
``<root>/<key>/`` with key ∈ {birdsnap, nabirds, inat_2017, inat_2018, yfcc, fmow, mosaiks,
sustainbench} — the layout TorchSpatial expects. A missing file raises
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
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..coords import as_lonlat
from .base import DataUnavailableError, DatasetNotFoundError, TaskData

__all__ = ["LOCBENCH", "LocBenchDataset", "list_locbench_datasets", "load_locbench", "DatasetNotFoundError"]

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


def _num(v) -> float:
    """JSON/CSV value → float; None, '', 'nan', 'NA' → NaN."""
    if v is None:
        return math.nan
    if isinstance(v, str):
        v = v.strip()
        if v == "" or v.lower() in ("nan", "na", "null", "none"):
            return math.nan
    return float(v)


def _read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        return list(reader.fieldnames or []), rows


def _require_columns(ds: LocBenchDataset, path: Path, have: list[str], want: list[str]) -> None:
    missing = [c for c in want if c not in have]
    if missing:
        raise ValueError(f"{ds.name}: {path} lacks column(s) {missing}; has {have}")


def _load_sparse(path: Path) -> "object":
    try:
        import scipy.sparse
    except ImportError as e:  # pragma: no cover
        raise DataUnavailableError("locbench", "scipy is needed to read sparse prediction files", "pip install scipy") from e
    return scipy.sparse.load_npz(path).tocsr()


def _as_features(arr, sparse_ok: bool):
    if hasattr(arr, "toarray"):
        if sparse_ok:
            return arr.astype(np.float32)
        arr = arr.toarray()
    return np.ascontiguousarray(np.asarray(arr, dtype=np.float32))


def _check_rows(ds: LocBenchDataset, path: Path, arr, n: int) -> None:
    if arr.shape[0] != n:
        raise ValueError(f"{ds.name}: {path} has {arr.shape[0]} rows, the split has {n} entries")


def _classes_from_ids(ids: list[int]) -> tuple[dict[int, int], list[int]]:
    uniq = sorted(set(ids))
    return {c: i for i, c in enumerate(uniq)}, uniq


# -------------------------------------------------------------------------------------- families
def _birds(ds, root, split, image_input):
    path = _need(ds, root, f"{ds.prefix}_with_loc_2019.json")
    with open(path, encoding="utf-8") as f:
        js = json.load(f)
    entries = [e for e in js[split] if e.get("valid_image", True)]
    classes = list(js.get("classes", []))
    lon, lat, date, user, y = [], [], [], [], []
    for e in entries:
        m = e.get(ds.meta) or {}
        lon.append(_num(m.get("lon")))
        lat.append(_num(m.get("lat")))
        date.append(_num(m.get("date")))
        u = m.get("user_id")
        user.append(-1 if u is None or (isinstance(u, float) and math.isnan(u)) else int(u))
        y.append(int(e["class_id"]))
    num_classes = len(classes) if classes else max(y) + 1
    names = [str(c) for c in classes] if classes else [str(i) for i in range(num_classes)]
    feats = None
    if image_input == "preds":
        p = _need(ds, root, f"features_inception/{ds.prefix}_{split}_preds_sparse.npz")
        feats = _load_sparse(p)
        _check_rows(ds, p, feats, len(entries))
    elif image_input == "net_feats":
        p = _need(ds, root, f"features_inception/{ds.prefix}_{split}_net_feats.npy")
        feats = np.load(p, mmap_mode="r")
        _check_rows(ds, p, feats, len(entries))
    extra_train_filter = (np.array(user) >= 0) & ~np.isnan(np.array(date, dtype=np.float64))
    return (np.c_[lon, lat], np.array(y, dtype=np.int64), num_classes, names, feats, extra_train_filter,
            {"meta": ds.meta, "source_file": str(path), "date": np.array(date), "user": np.array(user)})


def _coco(ds, root, split, image_input, loc_name, ann_name, cat_name, preds_rel, feats_rel):
    loc_path = _need(ds, root, loc_name)
    ann_path = _need(ds, root, ann_name)
    cat_path = _need(ds, root, cat_name)
    with open(ann_path, encoding="utf-8") as f:
        ann = json.load(f)
    with open(loc_path, encoding="utf-8") as f:
        locs = {int(r["id"]): r for r in json.load(f)}
    with open(cat_path, encoding="utf-8") as f:
        cats = json.load(f)
    if isinstance(cats, dict):  # fMoW: name -> id
        id_name = {int(v): str(k) for k, v in cats.items()}
    else:
        id_name = {int(c["id"]): str(c.get("name", c["id"])) for c in cats}
    remap, ids = _classes_from_ids(list(id_name))
    label_of = {int(a["image_id"]): int(a["category_id"]) for a in ann.get("annotations", [])}
    images = ann["images"]
    lon, lat, user, y = [], [], [], []
    for im in images:
        r = locs.get(int(im["id"]), {})
        lon.append(_num(r.get("lon")))
        lat.append(_num(r.get("lat")))
        u = r.get("user_id", 0)
        user.append(-1 if u is None else int(u))
        cid = label_of.get(int(im["id"]))
        if cid is None:
            raise ValueError(f"{ds.name}: image {im['id']} of {ann_path} has no annotation (unlabelled split?)")
        y.append(remap[cid])
    feats = None
    if image_input == "preds":
        p = _need(ds, root, preds_rel)
        feats = _load_sparse(p) if p.suffix == ".npz" else np.load(p, mmap_mode="r")
        _check_rows(ds, p, feats, len(images))
    elif image_input == "net_feats":
        p = _need(ds, root, feats_rel)
        feats = np.load(p, mmap_mode="r")
        _check_rows(ds, p, feats, len(images))
    names = [id_name[i] for i in ids]
    extra = np.array(user) >= 0
    return (np.c_[lon, lat], np.array(y, dtype=np.int64), len(ids), names, feats, extra,
            {"source_file": str(ann_path), "locations_file": str(loc_path), "category_ids": ids})


def _inat(ds, root, split, image_input):
    yr = ds.year
    return _coco(
        ds, root, split, image_input, f"{split}{yr}_locations.json", f"{split}{yr}.json", f"categories{yr}.json",
        f"features_inception/{ds.prefix}_{split}_preds_sparse.npz",
        f"features_inception/{ds.prefix}_{split}_net_feats.npy",
    )


def _fmow(ds, root, split, image_input):
    out = _coco(
        ds, root, split, image_input, f"{split}_location.json", f"{split}.json", "category.json",
        f"feature_moco/fmow_{split}_preds.npy",
        f"features_inception_pretrain/fmow_{split}_pretrain_net_feats.npy",
    )
    lonlat, y, c, names, feats, _extra, meta = out
    return lonlat, y, c, names, feats, np.ones(len(y), bool), meta  # no user filter for fMoW


def _yfcc(ds, root, split, image_input):
    path = _need(ds, root, "train_test_split.csv")
    cols, rows = _read_csv(path)
    _require_columns(ds, path, cols, ["lon", "lat", "class", "split"])
    npath = _need(ds, root, "class_names.csv")
    ncols, nrows = _read_csv(npath)
    _require_columns(ds, npath, ncols, ["id", "name"])
    id_name = {int(r["id"]): r["name"] for r in nrows}
    rows = [r for r in rows if r["split"] == split]
    remap, ids = _classes_from_ids(list(id_name))
    y = np.array([remap[int(float(r["class"]))] for r in rows], dtype=np.int64)
    lonlat = np.array([[_num(r["lon"]), _num(r["lat"])] for r in rows], dtype=np.float64).reshape(-1, 2)
    feats = None
    if image_input in ("preds", "net_feats"):
        p = _need(ds, root, f"features_inception/YFCC_{split}_{image_input}.npy")
        feats = np.load(p, mmap_mode="r")
        _check_rows(ds, p, feats, len(rows))
    return lonlat, y, len(ids), [id_name[i] for i in ids], feats, np.ones(len(y), bool), {"source_file": str(path)}


def _mosaiks(ds, root, split, image_input):
    col = ds.meta
    path = _need(ds, root, f"Y_{col}.csv")
    cols, rows = _read_csv(path)
    _require_columns(ds, path, cols, ["lon", "lat", "split", col])
    idx = np.array([i for i, r in enumerate(rows) if r["split"] == split], dtype=np.int64)
    lonlat = np.array([[_num(rows[i]["lon"]), _num(rows[i]["lat"])] for i in idx], dtype=np.float64).reshape(-1, 2)
    y = np.array([_num(rows[i][col]) for i in idx], dtype=np.float64)
    feats = None
    if image_input != "none":
        p = _need(ds, root, f"X_{col}.npy")
        x = np.load(p, mmap_mode="r")
        _check_rows(ds, p, x, len(rows))
        feats = x[idx]
    return lonlat, y, None, None, feats, np.ones(len(y), bool), {"source_file": str(path), "rows": idx}


def _sustainbench(ds, root, split, image_input):
    col = ds.meta
    path = _need(ds, root, "dhs_trainval_labels.csv" if split == "train" else "dhs_test_labels.csv")
    cols, rows = _read_csv(path)
    _require_columns(ds, path, cols, ["lon", "lat", "nl_mean", col])
    lonlat = np.array([[_num(r["lon"]), _num(r["lat"])] for r in rows], dtype=np.float64).reshape(-1, 2)
    y = np.array([_num(r[col]) for r in rows], dtype=np.float64)
    nl = np.array([[_num(r["nl_mean"])] for r in rows], dtype=np.float64).reshape(-1, 1)
    feats = None if image_input == "none" else nl
    return lonlat, y, None, None, feats, np.ones(len(y), bool), {"source_file": str(path)}


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
        TaskData (``metadata``: dataset, split, role, counts of dropped rows, files, citation).
    Raises:
        DatasetNotFoundError: a required file is missing (message says what to download, where).
        ValueError: unknown split, or fMoW's unlabelled test split.
    """
    if name not in LOCBENCH:
        raise KeyError(f"unknown LocBench dataset {name!r}; available: {', '.join(LOCBENCH)}")
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
    lonlat, y, num_classes, names, feats, train_ok, info = _FAMILIES[ds.family](ds, root, split, image_input)
    lonlat = np.asarray(lonlat, dtype=np.float64).reshape(-1, 2)
    has_loc = np.isfinite(lonlat).all(axis=1)
    lonlat[~has_loc] = np.nan
    n_total = len(y)
    role = "train" if split == "train" else "eval"
    valid_label = np.isfinite(y) if ds.kind == "regression" else np.ones(n_total, dtype=bool)
    keep = valid_label.copy()
    if role == "train":
        keep &= has_loc & train_ok
    elif not keep_missing_location:
        keep &= has_loc
    n_nan_label = int((~valid_label).sum())
    n_dropped_loc = int((valid_label & ~has_loc & ~keep).sum())
    n_filtered = int((valid_label & has_loc & ~keep).sum())
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
        num_classes=num_classes,
        class_names=names,
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
            "n_dropped_no_location": n_dropped_loc,
            "n_dropped_train_filter": n_filtered,
            "n_dropped_nan_label": n_nan_label,
            "n_without_location": int((keep & ~has_loc).sum()),
            "files": {k: v for k, v in info.items() if k.endswith("_file")},
        },
    )
    if feats is not None and not isinstance(feats, np.ndarray):
        data.image_features = feats  # scipy sparse (sparse_preds=True); rows already aligned
    return data
