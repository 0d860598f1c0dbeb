import pickle

import numpy as np
import pytest

from geosrl.coords import CoordinateError
from geosrl.datasets import DataUnavailableError, DatasetNotFoundError, TaskData
from geosrl.coords import as_lonlat
from geosrl.datasets.base import north_first_index


def test_taskdata_validates_shapes_and_classes():
    ll = np.zeros((3, 2))
    TaskData("t", "classification", ll, np.array([0, 1, 1]), num_classes=2, class_names=["a", "b"])
    with pytest.raises(ValueError, match="kind"):
        TaskData("t", "clustering", ll, np.zeros(3))
    with pytest.raises(ValueError, match="target"):
        TaskData("t", "regression", ll, np.zeros(4))
    with pytest.raises(ValueError, match="class ids"):
        TaskData("t", "classification", ll, np.array([0, 1, 2]), num_classes=2)
    with pytest.raises(ValueError, match="images"):
        TaskData("t", "classification", ll, np.array([0, 1, 1]), num_classes=2, images=np.zeros((3, 1, 4, 4), np.uint8))


def test_taskdata_subset_keeps_side_arrays_aligned():
    ll = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
    d = TaskData("t", "regression", ll, np.array([0.0, 1.0, 2.0]), image_features=np.arange(6.0).reshape(3, 2))
    s = d.subset(np.array([2, 0]))
    assert np.array_equal(s.lonlat, ll[[2, 0]]) and np.array_equal(s.image_features, [[4.0, 5.0], [0.0, 1.0]])
    assert len(s) == 2


def test_errors_carry_reason_and_hint_and_pickle():
    e = DataUnavailableError("elevation", "package 'pvlib' is not installed", "pip install pvlib==0.16.1")
    assert isinstance(e, ValueError) and e.task == "elevation" and "pip install pvlib" in str(e)
    e2 = pickle.loads(pickle.dumps(e))
    assert (e2.task, e2.reason, e2.install_hint) == (e.task, e.reason, e.install_hint)
    nf = DatasetNotFoundError("yfcc", "missing /x/y.csv", "download it", missing="/x/y.csv")
    assert isinstance(nf, FileNotFoundError) and isinstance(nf, DataUnavailableError)
    assert "missing /x/y.csv" in str(nf) and nf.missing == "/x/y.csv"
    assert pickle.loads(pickle.dumps(nf)).missing == "/x/y.csv"


def test_as_lonlat_validates():
    out = as_lonlat([[180, 90], [-180, -90]])
    assert out.dtype == np.float64 and out.flags.c_contiguous
    with pytest.raises(CoordinateError):
        as_lonlat([[0.0, 91.0]])
    with pytest.raises(CoordinateError):
        as_lonlat([[np.nan, 0.0]])
    assert as_lonlat([[np.nan, np.nan], [1.0, 2.0]], allow_nan_rows=True).shape == (2, 2)
    assert as_lonlat(np.zeros((0, 2))).shape == (0, 2)


def test_north_first_index_edges():
    pts = np.array([[-180.0, 90.0], [180.0, -90.0], [0.0, 0.0], [-0.001, 0.001], [179.999, -89.999]])
    rows, cols = north_first_index(pts, 18, 36)
    assert rows.tolist() == [0, 17, 9, 8, 17]
    assert cols.tolist() == [0, 35, 18, 17, 35]
