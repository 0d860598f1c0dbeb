"""LocBench suite adapter: published splits stacked into one task, and the 'published' split indices."""

from pathlib import Path

import numpy as np
import pytest

from geosrl.bench.config import BenchConfig
from geosrl.bench.locbench_suite import VAL_FRACTION, load_task, published_split
from geosrl.bench.suites import default_backend

ROOT = Path(__file__).resolve().parents[1] / "data" / "locbench" / "root"


def test_published_split_with_a_published_validation_part():
    idx = published_split({"train": 5, "val": 2, "test": 3}, seed=0)
    assert [idx[k].tolist() for k in ("train", "val", "test")] == [[0, 1, 2, 3, 4], [5, 6], [7, 8, 9]]


def test_published_split_carves_a_seeded_validation_part_from_train():
    idx = published_split({"train": 100, "val": 0, "test": 20}, seed=3)
    assert len(idx["val"]) == round(VAL_FRACTION * 100) and len(idx["train"]) == 100 - len(idx["val"])
    assert set(idx["train"]).isdisjoint(idx["val"]) and set(idx["train"]) | set(idx["val"]) == set(range(100))
    assert idx["test"].tolist() == list(range(100, 120))
    assert np.array_equal(published_split({"train": 100, "val": 0, "test": 20}, seed=3)["val"], idx["val"])
    assert not np.array_equal(published_split({"train": 100, "val": 0, "test": 20}, seed=4)["val"], idx["val"])


@pytest.mark.skipif(not ROOT.is_dir(), reason="LocBench fixtures not generated")
@pytest.mark.parametrize("name, roles", [("birdsnap", {"train": "train", "valid": "val", "test": "test"}),
                                         ("mosaiks_population", {"train": "train", "test": "test"})])
def test_stacked_task_keeps_split_sizes(name, roles):
    data = load_task(name, ROOT)
    counts = data.metadata["published_counts"]
    assert data.metadata["published_splits"] == roles
    assert sum(counts.values()) == len(data.lonlat) == len(data.target) == len(data.image_features)
    assert "role" not in data.metadata and len(data.metadata["splits_metadata"]) == len(roles)


def test_locbench_backend_lists_the_datasets(tmp_path: Path):
    backend = default_backend(BenchConfig(suite="locbench", root=str(tmp_path), splits=["published"]))
    assert len(backend.list_tasks()) == 17
    with pytest.raises(backend.skip_errors, match="download|root"):
        backend.load_task("birdsnap")
