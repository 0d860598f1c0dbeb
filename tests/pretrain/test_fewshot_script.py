"""benchmarks/pretrain_fewshot.py: pairing over (pre-training seed, split seed), seed-independent arms, tuning
edges — on hand-made cell records (the script's grid runs are the benchmark, not a test)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "pretrain_fewshot.py"


@pytest.fixture(scope="module")
def script():
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        spec = importlib.util.spec_from_file_location("pretrain_fewshot_script", SCRIPT)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(str(SCRIPT.parent))
    return mod


def _cell(out: Path, method: str, seed: int, top1: float, lr: float = 1e-2, lrs=(1e-3, 1e-2)) -> None:
    (out / "cells").mkdir(parents=True, exist_ok=True)
    rec = {"task": "country", "encoder": method, "kind": "classification", "fraction": 0.05, "seed": seed,
           "metrics": {"top1": top1}, "chosen_hparams": {"tuned": {"lr": lr}, "target_context": []},
           "val_trials": [{"lr": v, "val_top1": 0.5} for v in lrs]}
    (out / "cells" / f"country__{method}__s{seed}.json").write_text(json.dumps(rec))


def test_seed_independent_arms_pair_with_every_pretraining_seed(script, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for split, (s0, p0, p1) in enumerate(((0.5, 0.6, 0.7), (0.6, 0.7, 0.8))):
        _cell(a, "scratch", split, s0, lr=1e-3)
        _cell(a, "pretrained_probe", split, p0)
        _cell(b, "pretrained_probe", split, p1)  # seed 1's grid ran no scratch
    scores, kinds, leaks = script.collect({0: a, 1: b})
    assert scores[("country", "scratch", 0.05)] == {(0, 0): 0.5, (1, 0): 0.5, (0, 1): 0.6, (1, 1): 0.6}
    assert scores[("country", "pretrained_probe", 0.05)] == {(0, 0): 0.6, (0, 1): 0.7, (1, 0): 0.7, (1, 1): 0.8}
    rows = {r["method"]: r for r in script.gains_table(scores)}
    assert rows["pretrained_probe"]["n"] == 4
    assert rows["pretrained_probe"]["gain"] == pytest.approx((0.15) / 0.55)
    assert kinds == {"country": "classification"} and leaks == {}
    # a method that depends on the pre-trained weights is never copied to another seed
    assert "scratch" in script.SEED_INDEPENDENT and "pretrained_finetune" not in script.SEED_INDEPENDENT


def test_edge_choices_count_top_and_bottom_of_the_grid(script, tmp_path):
    out = tmp_path / "run"
    _cell(out, "scratch", 0, 0.5, lr=1e-2, lrs=(1e-3, 3e-3, 1e-2))
    _cell(out, "scratch", 1, 0.5, lr=3e-3, lrs=(1e-3, 3e-3, 1e-2))
    _cell(out, "pretrained_finetune", 0, 0.5, lr=1e-3, lrs=(1e-3, 3e-3, 1e-2))
    lines = script.edge_choices({0: out})
    assert lines == ["- `pretrained_finetune`: top of its learning-rate grid in 0 of 1 cells, bottom in 1.",
                     "- `scratch`: top of its learning-rate grid in 1 of 2 cells, bottom in 0."]


def test_versus_table_pairs_two_encoders_on_the_same_splits(script):
    this = {("country", "pretrained_probe", 0.05): {(0, 0): 0.6, (0, 1): 0.8},
            ("country", "scratch", 0.05): {(0, 0): 0.1, (0, 1): 0.1},
            ("land_ocean", "pretrained_probe", 0.05): {(0, 0): 0.9, (0, 1): 0.9}}
    other = {("country", "pretrained_probe", 0.05): {(0, 0): 0.5, (0, 1): 0.5},
             ("land_ocean", "pretrained_probe", 0.05): {(0, 0): 0.5, (0, 1): 0.5}}
    lines = script.versus_table(this, other, "old", ["country"])
    assert len(lines) == 3  # header, rule, one row: no scratch row, land_ocean left out
    assert lines[2].startswith("| country | pretrained_probe | 5% | 0.700 | 0.500 | +40.0% [") and "(n=2)" in lines[2]
