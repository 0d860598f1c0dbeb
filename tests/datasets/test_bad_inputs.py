"""Bad LocBench files: every malformed input is refused with a DatasetFormatError naming file, line and fix;
rows the published format allows to lack data are dropped with a count (metadata + warning).

The files are written by the fixture generator (tests/data/locbench/data.py) in the real formats, then damaged.
"""

from __future__ import annotations

import importlib.util
import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from geosrl.datasets import DatasetFormatError
from geosrl.datasets.locbench import LocBenchDroppedRowsWarning, load_locbench

DATA = Path(__file__).resolve().parents[1] / "data"
_spec = importlib.util.spec_from_file_location("locbench_fixture_data", DATA / "locbench" / "data.py")
fixture_data = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixture_data)


# ------------------------------------------------------------------------------------------- damage
def replace_line(n: int, new: str):
    """Replace line ``n`` (1-based) of a text file, keeping its line ending."""

    def apply(path: Path) -> None:
        lines = path.read_bytes().split(b"\n")
        cr = b"\r" if lines[n - 1].endswith(b"\r") else b""
        lines[n - 1] = new.encode() + cr
        path.write_bytes(b"\n".join(lines))

    return apply


def insert_bytes(n: int, data: bytes, at: int = 2):
    """Insert raw bytes into line ``n`` after its first ``at`` bytes."""

    def apply(path: Path) -> None:
        lines = path.read_bytes().split(b"\n")
        lines[n - 1] = lines[n - 1][:at] + data + lines[n - 1][at:]
        path.write_bytes(b"\n".join(lines))

    return apply


def cut_after(marker: str):
    """Truncate the file right after the last occurrence of ``marker`` (a download cut short)."""

    def apply(path: Path) -> None:
        raw = path.read_bytes()
        path.write_bytes(raw[: raw.rindex(marker.encode()) + len(marker)])

    return apply


def cut_fraction(frac: float, indent: bool = False):
    def apply(path: Path) -> None:
        if indent:
            path.write_text(json.dumps(json.loads(path.read_text()), indent=1))
        raw = path.read_bytes()
        path.write_bytes(raw[: int(len(raw) * frac)])

    return apply


def write_bytes(data: bytes):
    def apply(path: Path) -> None:
        path.write_bytes(data)

    return apply


def save_npy(arr):
    def apply(path: Path) -> None:
        np.save(path, arr, allow_pickle=True)

    return apply


def edit_json(fn):
    """Load, change and rewrite a JSON file (indented, so entries sit on their own lines)."""

    def apply(path: Path) -> None:
        obj = json.loads(path.read_text())
        fn(obj)
        path.write_text(json.dumps(obj, indent=1))

    return apply


def _set(obj, keys, value):
    for k in keys[:-1]:
        obj = obj[k]
    obj[keys[-1]] = value


# (case id, dataset, split, file under <root>/<folder>/, damage, message regex, line | None, extra kwargs)
YFCC = "train_test_split.csv"
BIRDS = "birdsnap_with_loc_2019.json"
CASES = [
    # CSV: short, long, truncated, malformed rows
    ("yfcc-short-row", "yfcc", "train", YFCC, replace_line(3, "180.0,0.0,1"), r"3 field\(s\), the header has 4", 3, {}),
    ("yfcc-long-row", "yfcc", "train", YFCC, replace_line(2, "-180.0,0.0,0,train,x"), r"5 field", 2, {}),
    ("yfcc-truncated-file", "yfcc", "test", YFCC, cut_after("2.0,2.0,2"), r"short, truncated", 8, {}),
    ("yfcc-truncated-mid-field", "yfcc", "test", YFCC, cut_after("2.0,2.0,2,te"), r"split = 'te'", 8, {}),
    ("yfcc-fractional-class", "yfcc", "train", YFCC, replace_line(3, "180.0,0.0,1.7,train"), r"class = '1.7' is not an integer", 3, {}),
    ("yfcc-unknown-class", "yfcc", "val", YFCC, replace_line(3, "180.0,0.0,7,train"), r"class 7 is not a known class.*class_names\.csv", 3, {}),
    ("yfcc-missing-class", "yfcc", "train", YFCC, replace_line(2, "-180.0,0.0,,train"), r"class is missing", 2, {}),
    ("yfcc-text-lon", "yfcc", "test", YFCC, replace_line(6, "east,-90.0,1,test"), r"lon = 'east' is not a number", 6, {}),
    ("yfcc-infinite-lat", "yfcc", "test", YFCC, replace_line(6, "1.0,-inf,1,test"), r"lat = '-inf' is infinite", 6, {}),
    ("yfcc-out-of-range", "yfcc", "train", YFCC, replace_line(2, "-180.0,95.0,0,train"), r"outside \[-180, 180\]", 2, {}),
    ("yfcc-invalid-utf8", "yfcc", "train", YFCC, insert_bytes(4, b"\xff\xfe"), r"not valid UTF-8", 4, {}),
    ("yfcc-nul-byte", "yfcc", "train", YFCC, insert_bytes(5, b"\x00"), r"NUL byte", 5, {}),
    ("yfcc-missing-column", "yfcc", "train", YFCC, replace_line(1, "lon,lat,klass,split"), r"lacks column\(s\) \['class'\]", 1, {}),
    ("yfcc-empty-csv", "yfcc", "train", YFCC, write_bytes(b""), r"empty", 1, {}),
    ("yfcc-class-names-text-id", "yfcc", "train", "class_names.csv", replace_line(3, "one,mountain"), r"id = 'one' is not a number", 3, {}),
    ("yfcc-class-names-duplicate", "yfcc", "train", "class_names.csv", replace_line(3, "0,mountain"), r"listed twice", 3, {}),
    ("mosaiks-short-row", "mosaiks_population", "train", "Y_population.csv", replace_line(4, "0.0,90.0,train"), r"3 field", 4, {}),
    ("mosaiks-truncated-file", "mosaiks_population", "train", "Y_population.csv", cut_after("12.0,3"), r"2 field", 6, {}),
    ("mosaiks-unknown-split", "mosaiks_population", "test", "Y_population.csv", replace_line(6, "12.0,34.0,tra,3.25"), r"split = 'tra'", 6, {}),
    ("mosaiks-text-label", "mosaiks_population", "train", "Y_population.csv", replace_line(2, "-180.0,10.0,train,high"), r"population = 'high' is not a number", 2, {}),
    ("sustainbench-text-nl-mean", "sustainbench_women_bmi", "train", "dhs_trainval_labels.csv",
     replace_line(4, "AA-3,AA,2011,1.0,30.0,bright,0.3,0.3,0.3,0.3,0.3,0.3"), r"nl_mean = 'bright' is not a number", 4, {}),
    ("sustainbench-nul-byte", "sustainbench_women_bmi", "test", "dhs_test_labels.csv", insert_bytes(2, b"\x00"), r"NUL byte", 2, {}),
    # JSON: truncated, malformed values, unknown classes
    ("birds-truncated-json", "birdsnap", "train", BIRDS, cut_fraction(0.5), r"invalid JSON", 1, {}),
    ("birds-truncated-json-indented", "nabirds_ebird", "test", "nabirds_with_loc_2019.json", cut_fraction(0.6, indent=True),
     r"invalid JSON.*truncated", None, {}),
    ("birds-invalid-utf8", "birdsnap", "test", BIRDS, insert_bytes(1, b"\xc3\x28", at=30), r"not valid UTF-8", 1, {}),
    ("birds-nul-byte", "birdsnap", "test", BIRDS, insert_bytes(1, b"\x00", at=30), r"NUL byte", 1, {}),
    ("birds-fractional-class", "birdsnap", "train", BIRDS, edit_json(lambda js: _set(js, ["train", 1, "class_id"], 1.7)),
     r"entry train\[1\].*class_id = 1.7 is not an integer", None, {}),
    ("birds-unknown-class", "birdsnap", "test", BIRDS, edit_json(lambda js: _set(js, ["test", 0, "class_id"], 9)),
     r"entry test\[0\].*class_id 9 is not a known class", None, {}),
    ("birds-text-lon", "birdsnap", "train", BIRDS, edit_json(lambda js: _set(js, ["train", 2, "orig_meta", "lon"], "east")),
     r"entry train\[2\].*lon = 'east' is not a number", None, {}),
    ("birds-missing-split", "birdsnap", "valid", BIRDS, edit_json(lambda js: js.pop("valid")), r"has no list 'valid'", None, {}),
    ("inat-truncated-locations", "inat_2017", "val", "val2017_locations.json", cut_fraction(0.7), r"invalid JSON", None, {}),
    ("inat-unknown-category", "inat_2018", "train", "train2018.json",
     edit_json(lambda js: _set(js, ["annotations", 2, "category_id"], 99)),
     r"entry annotations\[2\].*category_id 99 is not a known class.*categories2018\.json", None, {}),
    ("inat-fractional-category", "inat_2018", "val", "val2018.json",
     edit_json(lambda js: _set(js, ["annotations", 0, "category_id"], 1.5)), r"category_id = 1.5 is not an integer", None, {}),
    ("inat-no-annotation", "inat_2017", "val", "val2017.json", edit_json(lambda js: js["annotations"].pop(1)),
     r"image 21 has no annotation", None, {}),
    ("inat-text-lon", "inat_2017", "train", "train2017_locations.json", edit_json(lambda js: _set(js, [0, "lon"], "east")),
     r"entry \[0\].*lon = 'east' is not a number", None, {}),
    ("fmow-category-text-id", "fmow", "val", "category.json", edit_json(lambda js: _set(js, ["dam"], "two")),
     r"key 'dam'.*id of category 'dam' = 'two' is not a number", 4, {}),
    # arrays: empty, text, truncated, pickled, wrong shape
    ("birds-preds-empty", "birdsnap", "test", "features_inception/birdsnap_test_preds_sparse.npz", write_bytes(b""),
     r"empty \(0 bytes\)", None, {}),
    ("birds-preds-text", "birdsnap", "test", "features_inception/birdsnap_test_preds_sparse.npz",
     write_bytes(b"row,col,value\n0,0,0.5\n"), r"not a SciPy sparse .npz.*b'row,", None, {}),
    ("birds-preds-truncated", "birdsnap", "train", "features_inception/birdsnap_train_preds_sparse.npz",
     cut_fraction(0.5), r"not a readable SciPy sparse", None, {}),
    ("birds-feats-empty", "birdsnap", "valid", "features_inception/birdsnap_valid_net_feats.npy", write_bytes(b""),
     r"empty \(0 bytes\)", None, {"image_input": "net_feats"}),
    ("birds-feats-text", "birdsnap", "valid", "features_inception/birdsnap_valid_net_feats.npy",
     write_bytes(b"0.0,0.0,0.0,0.0\n1.0,1.0,1.0,1.0\n"), r"not a NumPy .npy array", None, {"image_input": "net_feats"}),
    ("birds-feats-truncated", "birdsnap", "train", "features_inception/birdsnap_train_net_feats.npy", cut_fraction(0.9),
     r"not a readable NumPy .npy", None, {"image_input": "net_feats"}),
    ("birds-feats-wrong-rows", "birdsnap", "test", "features_inception/birdsnap_test_net_feats.npy",
     save_npy(np.zeros((2, 4), np.float32)), r"has 2 rows, the split has 3 entries", None, {"image_input": "net_feats"}),
    ("birds-feats-1d", "birdsnap", "test", "features_inception/birdsnap_test_net_feats.npy",
     save_npy(np.zeros(3, np.float32)), r"shape \(3,\)", None, {"image_input": "net_feats"}),
    ("birds-feats-nan", "birdsnap", "test", "features_inception/birdsnap_test_net_feats.npy",
     save_npy(np.full((3, 4), np.nan, np.float32)), r"holds 12 non-finite values", None, {"image_input": "net_feats"}),
    ("yfcc-preds-object", "yfcc", "test", "features_inception/YFCC_test_preds.npy",
     save_npy(np.array([{"a": 1}, None, 3], dtype=object)), r"not a readable NumPy .npy array", None, {}),
    ("yfcc-preds-strings", "yfcc", "test", "features_inception/YFCC_test_preds.npy",
     save_npy(np.array([["a"] * 3] * 3)), r"expected a numeric array", None, {}),
    ("fmow-preds-wrong-columns", "fmow", "val", "feature_moco/fmow_val_preds.npy", save_npy(np.zeros((2, 3), np.float32)),
     r"3 columns, expected one per class \(4\)", None, {}),
    ("mosaiks-x-extra-rows", "mosaiks_elevation", "test", "X_elevation.npy", save_npy(np.zeros((6, 4), np.float32)),
     r"6 rows.*5 entries in Y_elevation.csv", None, {}),
]


def _folder(name: str) -> str:
    from geosrl.datasets.locbench import LOCBENCH

    return LOCBENCH[name].folder


@pytest.mark.parametrize("case, name, split, rel, damage, pattern, line, kwargs", CASES, ids=[c[0] for c in CASES])
def test_bad_file_is_refused_naming_file_line_and_fix(tmp_path, case, name, split, rel, damage, pattern, line, kwargs):
    fixture_data.write_dataset(name, tmp_path)
    path = tmp_path / _folder(name) / rel
    damage(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LocBenchDroppedRowsWarning)
        with pytest.raises(DatasetFormatError, match=pattern) as ei:
            load_locbench(name, tmp_path, split, **kwargs)
    err = ei.value
    msg = str(err)
    assert isinstance(err, ValueError)
    assert err.file == str(path) and msg.startswith(str(path))
    assert "fix: download the" in msg and "figshare" in msg and str(tmp_path / _folder(name)) in msg
    if line is not None:
        assert err.line == line and f"{path}, line {line}" in msg
    elif path.suffix == ".json" and "entry" in pattern:  # JSON entries are located by line too
        text = path.read_text().split("\n")
        assert err.line is not None and f"line {err.line}" in msg and text[err.line - 1].strip() == "{"
    elif path.suffix in (".npy", ".npz"):
        assert err.where  # binary files: which part (file header, array header, zip archive)


def test_truncated_indented_json_names_the_last_line(tmp_path):
    fixture_data.write_dataset("inat_2017", tmp_path)
    path = tmp_path / "inat_2017" / "train2017.json"
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DatasetFormatError, match="invalid JSON") as ei:
        load_locbench("inat_2017", tmp_path, "train")
    assert ei.value.line == path.read_bytes().count(b"\n") + 1


class _Payload:
    """An object whose unpickling would create a marker folder."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_pickled_array_is_never_unpickled(tmp_path):
    fixture_data.write_dataset("fmow", tmp_path)
    marker = tmp_path / "unpickled"
    np.save(tmp_path / "fmow" / "feature_moco" / "fmow_val_preds.npy", np.array([_Payload(str(marker))] * 2),
            allow_pickle=True)
    with pytest.raises(DatasetFormatError, match="fmow_val_preds.npy"):
        load_locbench("fmow", tmp_path, "val")
    assert not marker.exists()


def test_csv_errors_name_the_line_in_a_long_file(tmp_path):
    fixture_data.write_dataset("mosaiks_nightlights", tmp_path)
    path = tmp_path / "mosaiks" / "Y_nightlights.csv"
    rows = [f"{i % 360 - 180}.0,{i % 180 - 90}.0,{'train' if i % 5 else 'test'},{i * 0.01}" for i in range(500)]
    rows[341] = "1.0,2.0,train,0.3.1"
    path.write_text("lon,lat,split,nightlights\n" + "\n".join(rows) + "\n")
    np.save(tmp_path / "mosaiks" / "X_nightlights.npy", np.zeros((500, 4), np.float32))
    with pytest.raises(DatasetFormatError, match=r"nightlights = '0.3.1' is not a number") as ei:
        load_locbench("mosaiks_nightlights", tmp_path, "train")
    assert ei.value.line == 343


# ----------------------------------------------------------------------------------- dropped rows
def test_integral_float_class_is_accepted(tmp_path):
    fixture_data.write_dataset("yfcc", tmp_path)
    replace_line(3, "180.0,0.0,1.0,train")(tmp_path / "yfcc" / YFCC)
    with pytest.warns(LocBenchDroppedRowsWarning, match="1 no location"):
        d = load_locbench("yfcc", tmp_path, "train")
    assert d.target.tolist() == [0, 1]


def test_csv_rows_without_location_are_counted_and_reported(tmp_path):
    fixture_data.write_dataset("yfcc", tmp_path)
    path = tmp_path / "yfcc" / YFCC
    with pytest.warns(LocBenchDroppedRowsWarning, match=rf"dropped 1 of 3 rows of {path}.*1 no location.*line 7"):
        d = load_locbench("yfcc", tmp_path, "test")
    assert len(d) == 2
    assert d.metadata["dropped_rows"] == {"count": 1, "reasons": {"no_location": 1}, "file": str(path),
                                          "first": ["line 7"], "first_lines": [7]}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kept = load_locbench("yfcc", tmp_path, "test", keep_missing_location=True)
    assert len(kept) == 3 and kept.metadata["dropped_rows"]["count"] == 0


def test_many_dropped_rows_list_the_first_ten(tmp_path):
    fixture_data.write_dataset("mosaiks_forest_cover", tmp_path)
    path = tmp_path / "mosaiks" / "Y_forest.csv"
    rows = ["1.0,1.0,train,0.5"] + [",,train,0.5"] * 12 + ["2.0,2.0,train,"] * 3 + ["3.0,3.0,test,1.0"]
    path.write_text("lon,lat,split,forest\n" + "\n".join(rows) + "\n")
    np.save(tmp_path / "mosaiks" / "X_forest.npy", np.zeros((len(rows), 4), np.float32))
    with pytest.warns(LocBenchDroppedRowsWarning, match=r"dropped 15 of 16 rows .*Y_forest\.csv"):
        d = load_locbench("mosaiks_forest_cover", tmp_path, "train")
    dr = d.metadata["dropped_rows"]
    assert len(d) == 1 and dr["count"] == 15 and dr["reasons"] == {"nan_label": 3, "no_location": 12}
    assert dr["first_lines"] == list(range(3, 13)) and d.metadata["n_dropped_nan_label"] == 3
    json.dumps(d.metadata)  # JSON-serialisable


def test_json_rows_dropped_by_the_training_filters_are_located(tmp_path):
    fixture_data.write_dataset("birdsnap", tmp_path)
    with pytest.warns(LocBenchDroppedRowsWarning, match=r"birdsnap \(train\): dropped 3 of 6 rows .*birdsnap_with_loc"):
        d = load_locbench("birdsnap", tmp_path, "train")
    dr = d.metadata["dropped_rows"]
    assert dr["reasons"] == {"no_location": 1, "train_filter": 2} and dr["first"] == ["train[3]", "train[4]", "train[5]"]
    assert "first_lines" not in dr
    fixture_data.write_dataset("inat_2017", tmp_path)
    with pytest.warns(LocBenchDroppedRowsWarning, match=r"1 no location, 1 train filter\); first: image 13, image 12"):
        i = load_locbench("inat_2017", tmp_path, "train")
    assert i.metadata["dropped_rows"]["file"] == str(tmp_path / "inat_2017" / "train2017.json")


def test_missing_nl_mean_is_dropped_only_when_used(tmp_path):
    fixture_data.write_dataset("sustainbench_women_edu", tmp_path)
    replace_line(4, "AA-3,AA,2011,1.0,30.0,,0.3,0.3,0.3,0.3,0.3,0.3")(tmp_path / "sustainbench" / "dhs_trainval_labels.csv")
    with pytest.warns(LocBenchDroppedRowsWarning, match="1 no image input"):
        d = load_locbench("sustainbench_women_edu", tmp_path, "train")
    assert len(d) == 2 and np.isfinite(d.image_features).all()
    assert d.metadata["dropped_rows"]["first_lines"] == [4]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(load_locbench("sustainbench_women_edu", tmp_path, "train", image_input="none")) == 3


def test_clean_file_drops_nothing_and_stays_quiet(tmp_path):
    fixture_data.write_dataset("mosaiks_population", tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d = load_locbench("mosaiks_population", tmp_path, "train")
    assert d.metadata["dropped_rows"] == {"count": 0, "reasons": {}, "file": str(tmp_path / "mosaiks" / "Y_population.csv"),
                                          "first": [], "first_lines": []}


def test_byte_order_mark_and_blank_lines_are_accepted(tmp_path):
    fixture_data.write_dataset("mosaiks_population", tmp_path)
    path = tmp_path / "mosaiks" / "Y_population.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes() + b"\n\n")
    assert load_locbench("mosaiks_population", tmp_path, "train").target.tolist() == [1.5, 0.0, 3.25]


def test_format_error_survives_pickling():
    import pickle

    e = DatasetFormatError("/x/y.csv", "bad", "redo", line=3, where="w")
    f = pickle.loads(pickle.dumps(e))
    assert (f.file, f.problem, f.fix, f.line, f.where, str(f)) == (e.file, e.problem, e.fix, e.line, e.where, str(e))
