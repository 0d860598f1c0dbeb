"""How the rankings moved between two benchmark runs: python benchmarks/compare_runs.py OLD NEW [--tasks …] [--out FILE]

OLD and NEW are result folders of ``geosrl bench`` (their ``cells/``). For each (task, split) present in both, the
primary metric the leaderboard ranks (``geosrl.bench.report.primary_metric``: top1, r2 or auc) as mean ± std over
seeds, each encoder's rank in either run (baselines such as knn and majority are shown, not ranked), the change, and
Spearman's ρ between the two rankings of the encoders they share. Every statistic comes from
``geosrl.bench.report.aggregate``, as in the runs' own summaries.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from geosrl.bench import store
from geosrl.bench.maps import BASELINE_ROWS
from geosrl.bench.report import Aggregate, Stat, Table, aggregate, primary_metric, ranked_encoders


def read(folder: Path) -> tuple[Aggregate, dict[str, str]]:
    """(task, split) → encoder → metric → Stat, and each task's kind, from the folder's cell records."""
    return aggregate(store.iter_cell_records(folder))


def ranks(table: Table, metric: str, among: set[str] | None = None) -> dict[str, int]:
    """Rank (1 = best) of each encoder with a finite mean of ``metric``; baselines are not ranked."""
    order = [e for e in ranked_encoders(table, metric) if e not in BASELINE_ROWS and (among is None or e in among)
             and metric in table[e] and math.isfinite(table[e][metric].mean)]
    return {e: i + 1 for i, e in enumerate(order)}


def spearman(old: Table, new: Table, metric: str) -> float:
    """Spearman's ρ between the two rankings of the encoders both runs rank (NaN for fewer than 3)."""
    common = set(ranks(old, metric)) & set(ranks(new, metric))
    ra, rb = ranks(old, metric, common), ranks(new, metric, common)
    n = len(ra)
    return 1 - 6 * sum((ra[e] - rb[e]) ** 2 for e in ra) / (n * (n * n - 1)) if n > 2 else float("nan")


def fmt(stat: Stat | None) -> str:
    if stat is None:
        return "–"
    return f"{stat.mean:.3f}" if stat.n == 1 else f"{stat.mean:.3f} ± {stat.std:.3f}"


def compare(old: Path, new: Path, tasks: list[str] | None) -> list[str]:
    (a, _), (b, kinds) = read(old), read(new)
    lines = [f"Rankings by each task's primary metric, mean ± std over seeds: `{old}` (old) vs `{new}` (new); "
             "rank 1 = best encoder; baselines are not ranked.", ""]
    for key in sorted(set(a) & set(b)):
        task, split = key
        if tasks and task not in tasks:
            continue
        metric = primary_metric(kinds[task], {m for ms in b[key].values() for m in ms})
        ra, rb = ranks(a[key], metric), ranks(b[key], metric)
        lines += [f"### {task} · {split} ({metric}); Spearman ρ of the shared encoders' ranks: "
                  f"{spearman(a[key], b[key], metric):.2f}",
                  "", f"| encoder | old {metric} | old rank | new {metric} | new rank | Δ mean |",
                  "|---|---|---|---|---|---|"]
        for enc in ranked_encoders(b[key], metric):
            was, now = a[key].get(enc, {}).get(metric), b[key][enc].get(metric)
            delta = f"{now.mean - was.mean:+.3f}" if was is not None and now is not None else "–"
            lines.append(f"| {enc} | {fmt(was)} | {ra.get(enc, '–')} | {fmt(now)} | {rb.get(enc, '–')} | {delta} |")
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
