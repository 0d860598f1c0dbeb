"""Geo-bias score before / after issue 10 (item 5) on the offline tasks' test points.

For each offline task (default size, seed 0) and split kind (``geosrl.splits.make_split``: random, and spatial
with 500 km blocks, no strata and no buffer — the buffer drops training rows only, so the test points are
those of the benchmark up to the presence-only strata), the test points are scored by
:func:`geosrl.metrics.geo_bias_ssi` with the benchmark's settings (``null="two_sided"``, k = 4,
``max_centres`` 1000):

* **before**: ``radius_km=100``, isolated centres scored (``isolated="score"``, PyGBS);
* **after**: ``radius_km="auto"`` (the median centre has ≥ 4 neighbours), isolated centres excluded.

Columns: isolated-centre fraction and median neighbour count, and two synthetic models with the *same*
error values on the test points — errors following a smooth random field of eight ~1000 km bumps
(``clustered``) or the same values permuted (``scattered``), marks −1 above the median error as in the
protocols — scored by the published marked SSI (before and after) and by the new ``local_marks`` score
(after). A score that measures bias ranks ``clustered`` above ``scattered``.

Run::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/geo_bias_isolation.py

Outputs: ``results/geo_bias/isolation.csv`` and ``isolation.md`` (with conditions and git commit).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from geosrl.datasets import DataUnavailableError, list_offline_tasks, load_offline_task
from geosrl.files import atomic_write
from geosrl.metrics import geo_bias_ssi
from geosrl.sphere import EARTH_RADIUS_KM, lonlat_to_xyz
from geosrl.splits import make_split

from _results import conditions, write_csv

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = dict(null="two_sided", k=4, max_centres=1000)


def synthetic_marks(lonlat: np.ndarray, seed: int) -> np.ndarray:
    """``(N, 2)`` ±1 marks of a clustered-error model and of a scattered one with equal error values."""
    rng = np.random.default_rng(seed)
    xyz = lonlat_to_xyz(lonlat)
    bumps = xyz[rng.choice(len(lonlat), 8, replace=False)]
    field = np.exp(-(1 - xyz @ bumps.T) * (EARTH_RADIUS_KM / 1000.0) ** 2).sum(1)
    errors = np.sort(rng.exponential(1.0, len(lonlat)))
    clustered = np.empty(len(lonlat))
    clustered[np.argsort(field)] = errors
    scattered = rng.permutation(clustered)
    return np.stack([np.where(e > np.median(errors), -1.0, 1.0) for e in (clustered, scattered)], 1)


def score_split(task: str, split: str, lonlat: np.ndarray) -> dict:
    """One row: before / after isolation and the clustered-vs-scattered scores."""
    marks = synthetic_marks(lonlat, 0)
    before = geo_bias_ssi(lonlat, marks=marks, radius_km=100.0, isolated="score", **SETTINGS)
    after = geo_bias_ssi(lonlat, marks=marks, radius_km="auto", **SETTINGS)
    return {"task": task, "split": split, "n_test": len(lonlat),
            "isolated_frac_100km": round(float(np.mean(before.neighbours == 0)), 3),
            "median_neighbours_100km": float(np.median(before.neighbours)),
            "auto_radius_km": round(after.params["radius_km"], 1),
            "isolated_frac_auto": round(after.isolated_frac, 3),
            "median_neighbours_auto": float(np.median(after.neighbours)),
            "marked_before_clustered": round(float(before.marked[0]), 3),
            "marked_before_scattered": round(float(before.marked[1]), 3),
            "marked_after_clustered": round(float(after.marked[0]), 3),
            "marked_after_scattered": round(float(after.marked[1]), 3),
            "local_marks_clustered": round(float(after.local_marks[0]), 3),
            "local_marks_scattered": round(float(after.local_marks[1]), 3)}


def render(rows: list[dict], cond: dict) -> str:
    head = ["# Geo-bias score: isolated centres and clustered-vs-scattered errors, before / after issue 10", "",
            "Produced by `benchmarks/geo_bias_isolation.py` (settings in its docstring). *isolated* = share of "
            "scored centres with no other test point within the radius (their SSI is one constant for every "
            "model). *marked* = the published marked SSI; *local* = `ssi_local_marks` (new). Each model pair "
            "has the same error values: `clu` = spatially clustered, `sca` = scattered at random; a bias score "
            "must give clu > sca.", "",
            "| task | split | n test | isolated @100 km | auto radius km | isolated @auto | median nbrs 100 km / auto "
            "| marked 100 km clu / sca | marked auto clu / sca | local auto clu / sca |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    body = [f"| {r['task']} | {r['split']} | {r['n_test']} | {r['isolated_frac_100km']:.3f} | {r['auto_radius_km']:.0f} | "
            f"{r['isolated_frac_auto']:.3f} | {r['median_neighbours_100km']:g} / {r['median_neighbours_auto']:g} | "
            f"{r['marked_before_clustered']:.3f} / {r['marked_before_scattered']:.3f} | "
            f"{r['marked_after_clustered']:.3f} / {r['marked_after_scattered']:.3f} | "
            f"{r['local_marks_clustered']:.3f} / {r['local_marks_scattered']:.3f} |" for r in rows]
    ok = sum(r["local_marks_clustered"] > r["local_marks_scattered"] for r in rows)
    pub = sum(r["marked_after_clustered"] > r["marked_after_scattered"] for r in rows)
    tail = ["", f"clustered > scattered: `local_marks` {ok}/{len(rows)} rows; published marked SSI (auto radius) "
            f"{pub}/{len(rows)} rows.", "", "Conditions: " + ", ".join(f"{k} = {v}" for k, v in cond.items()), ""]
    return "\n".join(head + body + tail)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "geo_bias")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    rows = []
    for task in list_offline_tasks():
        try:
            data = load_offline_task(task)
        except DataUnavailableError as err:
            print(f"skipping {task}: {err}")
            continue
        for split in ("random", "spatial"):
            test = make_split(data.lonlat, split, 0)["test"]
            rows.append(score_split(task, split, data.lonlat[test]))
            print(rows[-1], flush=True)
    cond = conditions("OMP_NUM_THREADS=1 .venv/bin/python benchmarks/geo_bias_isolation.py", t0)
    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(args.out / "isolation.csv", rows)
    atomic_write(args.out / "isolation.md", lambda f: f.write(render(rows, cond).encode()))
    print(f"wrote {args.out / 'isolation.md'}")


if __name__ == "__main__":
    main()
