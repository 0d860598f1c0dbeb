"""Offline tasks and LocBench datasets as torch Datasets: the sample contract, DataLoader, splits, refusals."""

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from geosrl.config import ConfigError
from geosrl.coords import CoordinateError
from geosrl.datasets import (
    DatasetNotFoundError,
    LocBenchTaskDataset,
    OfflineTaskDataset,
    TaskData,
    TaskDataset,
    collate,
    list_offline_tasks,
    load_offline_task,
    split_dataset,
)
from geosrl.datasets.locbench import LOCBENCH, list_locbench_datasets, load_locbench
from geosrl.splits import healpix_index, make_split, nside_for_block_km, split_distances

ROOT = Path(__file__).resolve().parents[1] / "data" / "locbench" / "root"
SMALL = {"land_ocean": 300, "country": 300, "elevation": 50, "country_from_imagery": 100}
pytestmark = pytest.mark.filterwarnings("ignore::geosrl.datasets.locbench.LocBenchDroppedRowsWarning")


def _offline_kwargs(name):
    if name == "elevation":
        pytest.importorskip("h5py")
    if name == "country_from_imagery":
        pytest.importorskip("PIL")
    kw = {"min_per_class": 1} if name in ("country", "country_from_imagery") else {}
    return {"max_samples": SMALL.get(name), **kw}


def _check_sample(ds, sample, data: TaskData, row: int, dtype=torch.float32):
    assert sample["lonlat"].shape == (2,) and sample["lonlat"].dtype == dtype
    assert torch.equal(sample["lonlat"], torch.from_numpy(data.lonlat[row]).to(dtype))
    if data.kind == "classification":
        assert sample["target"].dtype == torch.int64 and sample["target"].item() == data.target[row]
    else:
        assert sample["target"].dtype == dtype and sample["target"].item() == pytest.approx(float(data.target[row]))
    assert sample["target"].shape == ()
    if data.images is not None:
        assert ds.image_kind == "patch" and sample["image"].dtype == torch.uint8
        assert np.array_equal(sample["image"].numpy(), data.images[row])
    elif data.image_features is not None:
        feats = data.image_features
        want = feats[row].toarray()[0] if hasattr(feats, "toarray") else feats[row]
        assert ds.image_kind == "features" and sample["image"].dtype == dtype and sample["image"].shape == want.shape
        assert np.allclose(sample["image"].numpy(), want)
    else:
        assert ds.image_kind is None and set(sample) == {"lonlat", "target"}


@pytest.mark.parametrize("name", list_offline_tasks())
def test_every_offline_task_sample_contract(name, fake_packages, cache_dir):
    kw = _offline_kwargs(name)
    ds = OfflineTaskDataset(name, cache_dir=cache_dir, **kw)
    data = load_offline_task(name, cache_dir=cache_dir, **kw)
    assert len(ds) == len(data) > 0 and ds.kind == data.kind and ds.num_classes == data.num_classes
    for row in (0, len(ds) - 1):
        _check_sample(ds, ds[row], data, row)
    assert torch.equal(ds[-1]["lonlat"], ds[len(ds) - 1]["lonlat"])
    batch = next(iter(DataLoader(ds, batch_size=8, collate_fn=collate)))
    assert batch["lonlat"].shape == (min(8, len(ds)), 2) and batch["target"].shape == (min(8, len(ds)),)
    if data.kind == "presence_only":
        assert set(ds.target.unique().tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("name", list_locbench_datasets())
def test_every_locbench_dataset_split_sample_contract(name):
    total = 0
    for split in LOCBENCH[name].splits:
        ds = LocBenchTaskDataset(name, ROOT, split)
        data = load_locbench(name, ROOT, split)
        assert len(ds) == len(data) and ds.metadata["split"] == split
        for row in range(len(ds)):
            _check_sample(ds, ds[row], data, row)
        total += len(ds)
    assert total > 0


def test_dataloader_default_and_geosrl_collate_cover_every_sample_once(fake_packages, cache_dir):
    ds = OfflineTaskDataset("land_ocean", cache_dir=cache_dir, max_samples=300)
    for fn in (collate, None):
        loader = DataLoader(ds, batch_size=64, shuffle=True, collate_fn=fn, generator=torch.Generator().manual_seed(0))
        batches = list(loader)
        assert [len(b["target"]) for b in batches] == [64] * 4 + [300 - 256]
        seen = torch.cat([b["lonlat"] for b in batches])
        assert torch.equal(seen[seen[:, 0].argsort()], ds.lonlat[ds.lonlat[:, 0].argsort()])


def test_locbench_dataloader_with_image_features():
    ds = LocBenchTaskDataset("yfcc", ROOT, "test")
    batch = next(iter(DataLoader(ds, batch_size=len(ds), collate_fn=collate)))
    assert batch["image"].shape == (len(ds), ds.num_classes) and batch["target"].dtype == torch.int64
    assert torch.equal(batch["lonlat"], ds.lonlat)


def test_float64_dtype_and_sparse_rows_match_dense():
    sparse = LocBenchTaskDataset("inat_2017", ROOT, "train", sparse_preds=True, dtype=torch.float64)
    dense = LocBenchTaskDataset("inat_2017", ROOT, "train", sparse_preds=False)
    assert hasattr(sparse.data.image_features, "toarray") and isinstance(dense.data.image_features, np.ndarray)
    for i in range(len(dense)):
        s, d = sparse[i], dense[i]
        assert s["lonlat"].dtype == s["image"].dtype == torch.float64
        assert torch.allclose(s["image"].float(), d["image"]) and torch.equal(s["target"], d["target"])


def test_missing_locations_are_nan_rows():
    ds = LocBenchTaskDataset("birdsnap", ROOT, "test", keep_missing_location=True)
    assert len(ds) == 3 and torch.isnan(ds[1]["lonlat"]).all() and not torch.isnan(ds[0]["lonlat"]).any()


def test_transforms_see_the_sample_and_cannot_change_the_dataset():
    def shift(sample):
        sample["lonlat"] += 1.0  # in place: must not reach the dataset's storage
        sample["target"] = sample["target"] * 0
        return sample

    plain = LocBenchTaskDataset("mosaiks_elevation", ROOT, "train")
    ds = LocBenchTaskDataset("mosaiks_elevation", ROOT, "train", transforms=shift)
    assert torch.equal(ds[0]["lonlat"], plain[0]["lonlat"] + 1.0) and ds[0]["target"].item() == 0
    assert torch.equal(ds[0]["lonlat"], ds[0]["lonlat"]) and torch.equal(plain.lonlat, ds.lonlat)


def test_presence_only_targets_are_float_and_background_is_kept(fake_packages, cache_dir):
    ds = OfflineTaskDataset("sdm_presence_only", cache_dir=cache_dir)
    assert ds.kind == "presence_only" and ds[0]["target"].dtype == torch.float32
    background = ds.target == 0  # the task's background rows are its background points
    assert 0 < int(background.sum()) < len(ds)
    assert torch.equal(ds.background_lonlat, ds.lonlat[background])


@pytest.mark.parametrize("kind", ["random", "spatial"])
def test_offline_split_matches_make_split(kind, fake_packages, cache_dir):
    kw = dict(cache_dir=cache_dir, max_samples=300, split_kind=kind, seed=3, block_km=2000)
    parts = {p: OfflineTaskDataset("land_ocean", split=p, **kw) for p in ("train", "val", "test")}
    full = load_offline_task("land_ocean", cache_dir=cache_dir, max_samples=300, seed=3)
    want = make_split(full.lonlat, kind, 3, block_km=2000)
    for p, ds in parts.items():
        assert np.array_equal(ds.indices, want[p]) and ds.metadata["split"]["part"] == p
        assert torch.equal(ds.lonlat, torch.from_numpy(full.lonlat[want[p]]).float())
        assert torch.equal(ds[0]["lonlat"], torch.from_numpy(full.lonlat[want[p][0]]).float())
    assert sum(len(d) for d in parts.values()) == 300
    if kind == "spatial":
        nside = nside_for_block_km(2000)
        cells = {p: set(healpix_index(d.lonlat.double().numpy(), nside).tolist()) for p, d in parts.items()}
        assert not cells["train"] & cells["test"] and not cells["val"] & cells["test"]


def test_split_seed_changes_only_the_split(fake_packages, cache_dir):
    a = OfflineTaskDataset("land_ocean", "train", cache_dir=cache_dir, max_samples=300, seed=0, split_seed=1)
    b = OfflineTaskDataset("land_ocean", "train", cache_dir=cache_dir, max_samples=300, seed=0, split_seed=2)
    c = OfflineTaskDataset("land_ocean", "train", cache_dir=cache_dir, max_samples=300, seed=0, split_seed=1)
    assert torch.equal(a._lonlat, b._lonlat) and not np.array_equal(a.indices, b.indices)
    assert np.array_equal(a.indices, c.indices)


def test_split_dataset_buffer_and_subsets_of_subsets(fake_packages, cache_dir):
    ds = OfflineTaskDataset("land_ocean", cache_dir=cache_dir, max_samples=300)
    parts = split_dataset(ds, "random", seed=0, buffer_km=500.0)
    idx = {p: d.indices for p, d in parts.items()}
    assert sorted(np.concatenate(list(idx.values())).tolist()) == list(range(300)) and len(idx["excluded"]) > 0
    assert split_distances(ds.data.lonlat, idx)["min_km"] >= 500.0
    inner = split_dataset(parts["train"], "random", seed=1, fractions=(0.5, 0.5, 0.0))
    assert np.isin(inner["train"].indices, parts["train"].indices).all() and len(inner["test"]) == 0
    row = inner["val"].indices[0]
    assert torch.equal(inner["val"][0]["lonlat"], torch.from_numpy(ds.data.lonlat[row]).float())


def test_stratified_spatial_split_gives_every_part_every_class():
    ds = TaskDataset(_toy_classes())
    parts = split_dataset(ds, "spatial", seed=0, nside=8, stratify=True)
    for p in ("train", "val", "test"):
        assert set(parts[p].target.tolist()) == {0, 1}, p


def _toy_classes(n=400, seed=0) -> TaskData:
    rng = np.random.default_rng(seed)
    lonlat = np.c_[rng.uniform(-180, 180, n), rng.uniform(-60, 60, n)]
    target = (lonlat[:, 0] > 120).astype(np.int64)  # class 1 confined to a band of longitudes
    return TaskData("toy", "classification", lonlat, target, num_classes=2)


def test_subsets_share_arrays_and_pickle():
    ds = TaskDataset(_toy_classes())
    sub = ds.subset(np.arange(10, 20))
    assert sub._lonlat is ds._lonlat and len(sub) == 10 and torch.equal(sub[0]["lonlat"], ds[10]["lonlat"])
    mask = np.zeros(len(ds), bool)
    mask[[3, 5]] = True
    assert ds.subset(mask).indices.tolist() == [3, 5]
    back = pickle.loads(pickle.dumps(sub))
    assert torch.equal(back[3]["lonlat"], sub[3]["lonlat"]) and back.indices.tolist() == sub.indices.tolist()


# ------------------------------------------------------------------------------------------ refusals
@pytest.mark.parametrize("kwargs, match", [
    ({"split": "training"}, "split must be one of"),
    ({"split": "train", "split_kind": "blocks"}, "kind"),
    ({"split": "train", "fractions": (0.5, 0.5, 0.5)}, "sum to 1"),
    ({"split": "train", "fractions": (1.0, 0.0)}, "fractions"),
    ({"split": "train", "block_km": 0}, "block_km"),
    ({"split": "train", "buffer_km": -1.0}, "buffer_km"),
    ({"split": "train", "seed": 1.5}, "seed"),
    ({"seed": -1}, "seed"),
    ({"split": "train", "stratify": True}, "stratify"),
    ({"split": "train", "split_kind": "spatial", "nside": 3}, "power of two"),
    ({"dtype": torch.int64}, "dtype"),
    ({"transforms": "flip"}, "transforms"),
])
def test_bad_dataset_arguments_are_refused(kwargs, match, fake_packages, cache_dir):
    with pytest.raises(ConfigError, match=match):
        OfflineTaskDataset("land_ocean", cache_dir=cache_dir, max_samples=300, **kwargs)


def test_too_few_blocks_for_a_spatial_split_is_refused():
    data = _toy_classes(n=20)
    data.lonlat[:] = [10.0, 45.0]  # every point in one block
    with pytest.raises(ConfigError, match="occupied cells"):
        split_dataset(TaskDataset(data), "spatial", seed=0)


def test_bad_indexing_is_refused():
    ds = TaskDataset(_toy_classes(n=10))
    with pytest.raises(IndexError, match="out of range"):
        ds[10]
    with pytest.raises(TypeError, match="integer"):
        ds[1.0]
    with pytest.raises(IndexError, match="boolean mask"):
        ds.subset(np.ones(3, bool))
    with pytest.raises(IndexError, match="out of range"):
        ds.subset([0, 11])
    with pytest.raises(IndexError, match="integer"):
        ds.subset([0.5])
    with pytest.raises(TypeError, match="TaskData"):
        TaskDataset({"lonlat": np.zeros((1, 2))})


def test_swapped_coordinates_in_a_user_taskdata_are_refused():
    data = _toy_classes(n=10)
    data.lonlat[:, [0, 1]] = np.c_[np.full(10, 10.0), np.full(10, 120.0)]  # lat column holds 120
    with pytest.raises(CoordinateError):
        TaskDataset(data)


def test_collate_refusals():
    a = {"lonlat": torch.zeros(2), "target": torch.tensor(0)}
    with pytest.raises(ValueError, match="empty"):
        collate([])
    with pytest.raises(ValueError, match="same keys"):
        collate([a, {"lonlat": torch.zeros(2)}])
    with pytest.raises(ValueError, match="shapes differ"):
        collate([a, {"lonlat": torch.zeros(3), "target": torch.tensor(1)}])
    with pytest.raises(TypeError, match="tensor"):
        collate([a, {"lonlat": [0.0, 0.0], "target": torch.tensor(1)}])


def test_locbench_refusals(tmp_path):
    with pytest.raises(ValueError, match="unknown LocBench"):
        LocBenchTaskDataset("birdsnap2", ROOT)
    with pytest.raises(ValueError, match="split"):
        LocBenchTaskDataset("birdsnap", ROOT, "val")
    with pytest.raises(DatasetNotFoundError, match="download=True") as ei:
        LocBenchTaskDataset("birdsnap", tmp_path, "train")
    assert "birdsnap.archive" in str(ei.value) and not (tmp_path / "birdsnap").exists()
    with pytest.raises(ConfigError, match="download"):
        LocBenchTaskDataset("birdsnap", tmp_path, "train", download="yes")
