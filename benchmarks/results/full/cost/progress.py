"""Progress of a (sharded, resumable) full-profile run against the estimate: python progress.py OUT [OUT ...]

Reads OUT/cells/*.json (the runner's finished cells) and prints, per task, the cells done of the grid
(encoders + baselines × 3 seeds × 2 splits) and their summed wall seconds (one single-threaded worker per core,
so ≈ CPU seconds), next to estimate.py's A1 figure for the task; per encoder, its share of the finished tasks'
time; and the remaining tasks' CPU-hours, scaled by the measured / estimated ratio of the finished tasks."""
import json
import sys
from collections import defaultdict
from pathlib import Path

import geosrl

sys.path.insert(0, str(Path(__file__).parent))
from estimate import estimate  # noqa: E402  (the script beside this one)

# A1 (cache, fused Adam, pruner): CPU-hours per task for the 6 (split, seed) pairs; made before fast_dropout
ESTIMATE_H = estimate(show=False)["A1"]
BASELINES = ("knn", "majority")
PER_TASK = (len(geosrl.list_encoders()) + len(BASELINES)) * 6

cells = [json.loads(p.read_text()) for out in sys.argv[1:] for p in sorted(Path(out, "cells").glob("*.json"))]
done, secs = defaultdict(int), defaultdict(float)
by_enc = defaultdict(float)
for c in cells:
    done[c["task"]] += 1
    secs[c["task"]] += c["wall_seconds"]
finished = [t for t in ESTIMATE_H if done[t] == PER_TASK]
for c in cells:
    if c["task"] in finished:
        by_enc[c["encoder"]] += c["wall_seconds"]
print("task,cells_done,cells_in_grid,cpu_h_measured,cpu_h_estimated_A1")
for t in ESTIMATE_H:
    print(f"{t},{done[t]},{PER_TASK},{secs[t] / 3600:.2f},{ESTIMATE_H[t]:.2f}")
if finished:
    ratio = sum(secs[t] for t in finished) / 3600 / sum(ESTIMATE_H[t] for t in finished)
    total = sum(by_enc.values())
    print(f"\nfinished tasks {finished}: measured / estimated = {ratio:.2f}")
    print("encoder shares of the finished tasks: " + ", ".join(
        f"{e} {s / total:.1%}" for e, s in sorted(by_enc.items(), key=lambda kv: -kv[1])))
    left = sum(ESTIMATE_H[t] - min(ESTIMATE_H[t], secs[t] / 3600 / ratio) for t in ESTIMATE_H if t not in finished)
    print(f"remaining: ≈ {left * ratio:.1f} CPU-hours (estimate × {ratio:.2f}), "
          f"≈ {left * ratio / 2:.1f} h on 2 single-threaded workers")
