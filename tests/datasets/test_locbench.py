from pathlib import Path

import numpy as np
import pytest
import scipy.sparse

from geosrl.datasets import DataUnavailableError, DatasetNotFoundError
from geosrl.datasets.locbench import LOCBENCH, list_locbench_datasets, load_locbench

DATA = Path(__file__).resolve().parents[1] / "data"

ROOT = DATA / "locbench" / "root"


def test_list():
    names = list_locbench_datasets()
    assert len(names) == 17
    assert sum(LOCBENCH[n].kind == "classification" for n in names) == 7


@pytest.mark.parametrize("name", list_locbench_datasets())
def test_every_dataset_every_split_loads(name):
    for split in LOCBENCH[name].splits:
        d = load_locbench(name, ROOT, split)
        assert d.lonlat.shape == (len(d), 2) and np.isfinite(d.lonlat).all()
        assert d.metadata["split"] == split and "citation" in d.metadata
        if d.kind == "classification":
            assert d.image_features.shape == (len(d), d.num_classes) and d.image_features.dtype == np.float32
            assert len(d.class_names) == d.num_classes
        else:
            assert d.target.dtype == np.float64 and np.isfinite(d.target).all()
            assert d.image_features is not None and len(d.image_features) == len(d)


def test_birds_orig_meta_filters_and_alignment():
    tr = load_locbench("birdsnap", ROOT, "train")
    # 6 valid entries: null user, NaN date and missing location are dropped from train
    assert tr.lonlat.tolist() == [[-180.0, 10.0], [180.0, -10.0], [0.0, 90.0]]
    assert tr.target.tolist() == [0, 1, 2] and tr.class_names == ["Alpha bird", "Beta bird", "Gamma bird"]
    assert tr.metadata["n_dropped_train_filter"] == 2 and tr.metadata["n_dropped_no_location"] == 1
    assert np.allclose(tr.image_features[:, 0], [0.5, 0.01, 0.02])  # rows 0, 1, 2 of the preds file
    te = load_locbench("birdsnap", ROOT, "test")
    assert len(te) == 1 and te.metadata["n_dropped_no_location"] == 2
    full = load_locbench("birdsnap", ROOT, "test", keep_missing_location=True)
    assert len(full) == 3 and np.isnan(full.lonlat[1:]).all() and full.metadata["n_without_location"] == 2
    assert np.allclose(full.image_features[:, 0], [0.5, 0.01, 0.02])
    feats = load_locbench("birdsnap", ROOT, "test", image_input="net_feats", keep_missing_location=True)
    assert feats.image_features[:, 0].tolist() == [0.0, 1.0, 2.0]
    sp = load_locbench("birdsnap", ROOT, "test", sparse_preds=True)
    assert scipy.sparse.issparse(sp.image_features) and sp.image_features.shape == (1, 3)


def test_birds_ebird_meta():
    tr = load_locbench("birdsnap_ebird", ROOT, "train")
    assert len(tr) == 6 and [7.0, 7.0] in tr.lonlat.tolist()
    te = load_locbench("nabirds_ebird", ROOT, "test")
    assert te.lonlat.tolist() == [[-74.0, 40.7], [1.0, -90.0], [2.0, 2.0]]


def test_inat_coco_alignment_and_filters():
    tr = load_locbench("inat_2017", ROOT, "train")
    # images listed in reverse id order: 14, 13, 12, 11, 10; 13 (null user) and 12 (null lon) dropped
    assert tr.lonlat.tolist() == [[12.5, 41.9], [180.0, 90.0], [-180.0, -90.0]]
    assert tr.target.tolist() == [2, 1, 0] and tr.class_names == ["Aves sp.", "Plantae sp.", "Fungi sp."]
    assert np.allclose(tr.image_features[:, 0], [0.0, 0.03, 0.54])  # preds rows 0, 3, 4
    va = load_locbench("inat_2018", ROOT, "val", keep_missing_location=True)
    assert len(va) == 3 and np.isnan(va.lonlat[1]).all()


def test_fmow_yfcc():
    f = load_locbench("fmow", ROOT, "val")
    assert f.class_names == ["airport", "zoo", "dam", "park"] and f.target.tolist() == [2, 1]
    assert f.image_features.shape == (2, 4)
    with pytest.raises(ValueError, match="test"):
        load_locbench("fmow", ROOT, "test")
    y = load_locbench("yfcc", ROOT, "test")
    assert y.lonlat.tolist() == [[1.0, -90.0], [2.0, 2.0]] and y.target.tolist() == [1, 2]
    assert np.allclose(y.image_features[:, 0], [0.0, 0.02])  # rows 0 and 2 of the test preds
    assert len(load_locbench("yfcc", ROOT, "train")) == 2


def test_mosaiks_rows_follow_csv():
    d = load_locbench("mosaiks_population", ROOT, "train")
    assert d.target.tolist() == [1.5, 0.0, 3.25] and d.image_features[:, 0].tolist() == [0.0, 2.0, 4.0]
    t = load_locbench("mosaiks_elevation", ROOT, "test")
    assert t.lonlat.tolist() == [[180.0, -10.0], [0.0, -90.0]]
    assert load_locbench("mosaiks_forest_cover", ROOT, "test", image_input="none").image_features is None


def test_sustainbench_nan_labels_dropped():
    d = load_locbench("sustainbench_asset_index", ROOT, "train")
    assert len(d) == 2 and d.metadata["n_dropped_nan_label"] == 1
    assert d.image_features[:, 0].tolist() == [0.5, 2.5] and d.lonlat[0].tolist() == [-180.0, -90.0]
    assert len(load_locbench("sustainbench_asset_index", ROOT, "test")) == 0
    assert len(load_locbench("sustainbench_women_edu", ROOT, "test")) == 1


def test_missing_files_raise_clear_error(tmp_path):
    with pytest.raises(DatasetNotFoundError) as ei:
        load_locbench("birdsnap", tmp_path, "test")
    msg = str(ei.value)
    assert "birdsnap_with_loc_2019.json" in msg and "figshare" in msg and str(tmp_path / "birdsnap") in msg
    assert isinstance(ei.value, DataUnavailableError) and isinstance(ei.value, FileNotFoundError)
    with pytest.raises(DatasetNotFoundError, match="not found"):
        load_locbench("yfcc", tmp_path / "nowhere", "test")
    (tmp_path / "mosaiks").mkdir()
    (tmp_path / "mosaiks" / "Y_population.csv").write_text((ROOT / "mosaiks" / "Y_population.csv").read_text())
    with pytest.raises(DatasetNotFoundError, match="X_population.npy"):
        load_locbench("mosaiks_population", tmp_path, "train")


def test_bad_arguments():
    with pytest.raises(ValueError, match="unknown LocBench dataset"):
        load_locbench("imagenet", ROOT, "train")
    with pytest.raises(ValueError, match="split"):
        load_locbench("inat_2017", ROOT, "test")
    with pytest.raises(ValueError, match="image_input"):
        load_locbench("yfcc", ROOT, "test", image_input="pixels")
