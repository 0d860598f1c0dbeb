"""A shipped checkpoint reproduces the committed few-shot table: cells re-run from its shipped name through the
bench's own config give exactly the test metrics of the committed leaderboard its card names."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from geosrl.bench.config import build_config
from geosrl.encoders import list_pretrained, read_card
from geosrl.tasks.fewshot import PRIMARY, run_fewshot_cell

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = [n for n in list_pretrained() if (read_card(n).get("fewshot") or {}).get("leaderboard")]


def _committed(path: Path, task: str, method: str, fraction: float, seed: int, metric: str) -> float:
    label = f"spatial · {fraction:.0%} labels"
    for row in csv.DictReader(open(path, newline="")):
        if (row["task"], row["encoder"], row["split"], int(row["seed"]), row["metric"]) == (
                task, method, label, seed, metric):
            return float(row["value"])
    raise AssertionError(f"{path} has no cell {task}/{method}/{label}/seed {seed}/{metric}")


@pytest.mark.skipif(not SHIPPED, reason="no shipped checkpoint names a committed leaderboard")
@pytest.mark.parametrize("name", SHIPPED)
@pytest.mark.parametrize("task, method, fraction", [("country", "pretrained_knn", 0.05),
                                                    ("air_temperature", "pretrained_probe", 0.05)])
def test_shipped_checkpoint_reproduces_its_committed_cells(name, task, method, fraction):
    pytest.importorskip("h5py")
    from geosrl.datasets import load_offline_task

    card = read_card(name)["fewshot"]
    config = build_config(card["profile"])
    data = load_offline_task(task, **config.load_kwargs(task))
    protocol = {**config.protocol_for(task), "pretrained": name}
    res = run_fewshot_cell(data, method, "spatial", 0, protocol, fraction=fraction)
    metric = PRIMARY[data.kind]
    assert res.metrics[metric] == _committed(ROOT / card["leaderboard"], task, method, fraction, 0, metric)
