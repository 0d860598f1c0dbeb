"""How the rankings moved between two benchmark runs: python benchmarks/compare_runs.py OLD NEW [--tasks …] [--out FILE]

OLD and NEW are result folders holding a ``leaderboard.csv`` (``geosrl bench``). For each (task, split) present in
both, the primary metric (top1 for classification, r2 for regression, auc for presence-only — the one the
leaderboard ranks) as mean ± std over seeds, each encoder's rank in either run (baselines such as knn and
majority are shown, not ranked), the change, and Spearman's ρ between the two rankings of the encoders they share.
"""

from __future__ import annotations

import argparse
import csv
import statistics as st
import sys
from collections import defaultdict
from pathlib import Path

BASELINES = ("knn", "majority")
PRIMARY = ("top1", "r2", "auc")


def read(folder: Path) -> dict[tuple[str, str], dict[str, dict[str, list[float]]]]:
    """(task, split) → encoder → metric → values over seeds."""
    table: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    with open(folder / "leaderboard.csv", newline="") as f:
        for row in csv.DictReader(f):
            table[(row["task"], row["split"])][row["encoder"]][row["metric"]].append(float(row["value"]))
    return table


def primary(cells: dict[str, dict[str, list[float]]]) -> str:
    metrics = {m for enc in cells.values() for m in enc}
    return next(m for m in PRIMARY if m in metrics)


def ranks(means: dict[str, float]) -> dict[str, int]:
    order = sorted((e for e in means if e not in BASELINES), key=lambda e: -means[e])
    return {e: i + 1 for i, e in enumerate(order)}


def spearman(a: dict[str, int], b: dict[str, int]) -> float:
    common = sorted(set(a) & set(b))
    ra, rb = ranks({e: -a[e] for e in common}), ranks({e: -b[e] for e in common})
    n = len(common)
    return 1 - 6 * sum((ra[e] - rb[e]) ** 2 for e in common) / (n * (n * n - 1)) if n > 2 else float("nan")


def fmt(values: list[float] | None) -> str:
    if not values:
        return "–"
    return f"{st.mean(values):.3f} ± {st.stdev(values):.3f}" if len(values) > 1 else f"{values[0]:.3f}"


def compare(old: Path, new: Path, tasks: list[str] | None) -> list[str]:
    a, b = read(old), read(new)
    lines = [f"Rankings by each task's primary metric, mean ± std over seeds: `{old}` (old) vs `{new}` (new); "
             "rank 1 = best encoder; baselines are not ranked.", ""]
    for key in sorted(set(a) & set(b)):
        task, split = key
        if tasks and task not in tasks:
            continue
        metric = primary(b[key])
        mean_a = {e: st.mean(m[metric]) for e, m in a[key].items() if metric in m}
        mean_b = {e: st.mean(m[metric]) for e, m in b[key].items() if metric in m}
        ra, rb = ranks(mean_a), ranks(mean_b)
        lines += [f"### {task} · {split} ({metric}); Spearman ρ of the shared encoders' ranks: {spearman(ra, rb):.2f}",
                  "", f"| encoder | old {metric} | old rank | new {metric} | new rank | Δ mean |", "|---|---|---|---|---|---|"]
        for enc in sorted(mean_b, key=lambda e: -mean_b[e]):
            delta = f"{mean_b[enc] - mean_a[enc]:+.3f}" if enc in mean_a else "–"
            lines.append(f"| {enc} | {fmt(a[key].get(enc, {}).get(metric))} | {ra.get(enc, '–')} | "
                         f"{fmt(b[key][enc][metric])} | {rb.get(enc, '–')} | {delta} |")
        lines.append("")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--tasks", nargs="+")
    parser.add_argument("--out", type=Path, help="write the Markdown here (default: print it)")
    args = parser.parse_args(argv)
    text = "\n".join(compare(args.old, args.new, args.tasks)) + "\n"
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
