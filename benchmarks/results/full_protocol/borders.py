"""Where the encoders lose to kNN on a country label: test top-1 by distance to the nearest border, measured as the
great-circle km from a test point to the nearest point of the task's whole sample that has another label (a proxy
for the distance to the border, at the sample's spacing).

    python borders.py OUT [--task country_from_imagery] [--max-samples N] [--encoders E ...]

Reads OUT/predictions/<task>__<encoder>__<split>__s<seed>.csv (lon, lat, y_true, y_pred; an encoder's y_pred is its
primary prediction) and the task's sample (`geosrl.datasets.load_offline_task`, the full profile's sample size).
Prints per split a Markdown table: the share of test points per distance bin and each row's top-1 in the bin,
mean over the seeds whose predictions exist.
"""
import argparse
from pathlib import Path

import numpy as np

from geosrl.bench import store
from geosrl.datasets import load_offline_task
from geosrl.sphere import great_circle_km

BINS_KM = (0.0, 100.0, 250.0, np.inf)


def border_km(test_lonlat: np.ndarray, test_y: np.ndarray, lonlat: np.ndarray, y: np.ndarray) -> np.ndarray:
    """km from each test point ``(M, 2)`` to the nearest sample point ``(N, 2)`` whose label differs: ``(M,)``."""
    km = great_circle_km(test_lonlat, lonlat)
    km[test_y[:, None] == y[None, :]] = np.inf
    return km.min(axis=1)


def top1_by_bin(pred: dict[str, np.ndarray], dist: np.ndarray) -> list[float]:
    """Top-1 of the predictions in each distance bin (NaN for an empty bin)."""
    hit = pred["y_true"] == pred["y_pred"]
    bins = [(dist >= lo) & (dist < hi) for lo, hi in zip(BINS_KM[:-1], BINS_KM[1:])]
    return [float(hit[b].mean()) if b.any() else np.nan for b in bins]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--task", default="country_from_imagery")
    parser.add_argument("--max-samples", type=int, default=None, help="the profile's sample size (country: 6000)")
    parser.add_argument("--encoders", nargs="+",
                        default=["knn", "geoclip_rff", "spherical_harmonics", "sphere2vec_spherem_plus", "rff"])
    args = parser.parse_args()
    data = load_offline_task(args.task, max_samples=args.max_samples)
    lonlat, y = np.asarray(data.lonlat, dtype=np.float64), np.asarray(data.target)
    labels = [f"{lo:g}–{hi:g} km" for lo, hi in zip(BINS_KM[:-1], BINS_KM[1:])]
    for split in ("random", "spatial"):
        shares, rows = [], {e: [] for e in args.encoders}
        for seed in range(3):
            paths = {e: args.out / "predictions" / f"{args.task}__{e}__{split}__s{seed}.csv" for e in args.encoders}
            if not all(p.is_file() for p in paths.values()):
                continue
            preds = {e: store.read_predictions(p) for e, p in paths.items()}
            first = preds[args.encoders[0]]
            dist = border_km(np.stack([first["lon"], first["lat"]], axis=1), first["y_true"], lonlat, y)
            shares.append([float(((dist >= lo) & (dist < hi)).mean()) for lo, hi in zip(BINS_KM[:-1], BINS_KM[1:])])
            for e, pred in preds.items():
                rows[e].append(top1_by_bin(pred, dist))
        if not shares:
            print(f"{args.task} · {split}: no seed with predictions of every row")
            continue
        print(f"\n{args.task} · {split} ({len(shares)} seeds): test top-1 by km to the nearest other-label point\n")
        print("| row | " + " | ".join(labels) + " |\n|---|" + "---|" * len(labels))
        print("| share of test points | " + " | ".join(f"{s:.2f}" for s in np.mean(shares, axis=0)) + " |")
        for e, values in rows.items():
            print(f"| {e} | " + " | ".join(f"{v:.3f}" for v in np.nanmean(values, axis=0)) + " |")


if __name__ == "__main__":
    main()
