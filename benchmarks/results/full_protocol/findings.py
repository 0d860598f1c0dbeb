"""The README's per-task findings, from the cells: python findings.py OUT [--tasks …]

Per (task, split), by the primary metric the leaderboard ranks: the kNN and majority baselines, the best encoder,
how many encoders are above kNN, which of them with the paired 95 % interval (Student t over the shared seeds) of
the gain above zero, how many with it below zero, how many are below kNN and below majority; per task, the
searches that chose a value at a range edge (parameter counts) and those stopped at the epoch cap; for image tasks,
image + location fusion against location alone (item 3: fusion must not fall below it); for tasks with a softmax
model beside the geo-prior one, the two protocols side by side (item 3). Every statistic is geosrl.bench.report's."""
import argparse
from collections import Counter
from pathlib import Path

from geosrl.bench import store
from geosrl.bench.maps import BASELINE_ROWS
from geosrl.bench.report import (aggregate, hparams_rows, metric_direction, paired_gain, primary_metric,
                                 ranked_encoders, reference_metric, search_edges)
from geosrl.tasks.fewshot import relative_gain_interval


def significant(stat, knn, sign: int, above: bool = True) -> str | None:
    """``+0.0043 [+0.0024, +0.0062]`` when the paired 95 % t interval of the gain over kNN lies above zero
    (below zero when ``above`` is false)."""
    ci = relative_gain_interval(dict(stat.by_seed), dict(knn.by_seed), sign)
    if ci["n"] < 2 or not (ci["low"] > 0 if above else ci["high"] < 0):
        return None
    scale = abs(ci["reference"])  # the interval is relative to kNN's mean; shown in the metric's units
    return f"{ci['diff']:+.2g} [{ci['low'] * scale:+.2g}, {ci['high'] * scale:+.2g}]"


def fusion(task: str, split: str, table, records: list[dict]) -> str | None:
    """Image tasks: per encoder the fused primary score minus the location-only one (mean over seeds), how many
    cells chose an image weight w > 0 on validation, and how many cells' fused test score is below location-only."""
    if not any("top1_location_only" in s and "top1" in s for s in table.values()):
        return None
    cells = [r for r in records if r["task"] == task and r["split"] == split and "top1" in r["metrics"]]
    gains = {e: s["top1"].mean - s["top1_location_only"].mean for e, s in table.items() if "top1" in s}
    below = [r for r in cells if r["metrics"]["top1"] < r["metrics"]["top1_location_only"]]
    weighted = [r for r in cells if r["chosen_hparams"].get("tuned", {}).get("image_weight", 0) > 0]
    worst = min(below, key=lambda r: r["metrics"]["top1"] - r["metrics"]["top1_location_only"], default=None)
    image_only = [r["metrics"]["top1_image_only"] for r in cells]
    mean_gain = sum(gains.values()) / len(gains)
    text = (f"{task} · {split} fusion: image-only top1 {min(image_only):.3f}–{max(image_only):.3f}; "
            f"{len(weighted)} of {len(cells)} cells chose w > 0 on validation; fused − location-only top1 per "
            f"encoder {min(gains.values()):+.3f} … {max(gains.values()):+.3f} (mean {mean_gain:+.3f}); "
            f"encoders with fused mean below location-only: {sorted(e for e, g in gains.items() if g < 0) or 'none'}; "
            f"cells below: {len(below)} of {len(cells)}")
    if worst is not None:
        m = worst["metrics"]
        text += f" (worst {worst['cell_id']}: {m['top1']:.3f} vs {m['top1_location_only']:.3f})"
    return text


def softmax_protocol(task: str, split: str, table, knn) -> str | None:
    """Fully labelled multi-class tasks: the plain softmax model (``top1_softmax``) beside the geo-prior one the
    leaderboard ranks — per encoder softmax − geo-prior top1 (mean over seeds), and softmax rows above kNN (paired
    over seeds, as the main line)."""
    pairs = {e: (s["top1_softmax"].mean, s["top1"].mean) for e, s in table.items() if "top1_softmax" in s}
    if not pairs:
        return None
    diff = {e: soft - prior for e, (soft, prior) in pairs.items()}
    best = max(pairs, key=lambda e: pairs[e][0])
    above = sorted(e for e in pairs if (g := paired_gain(table[e]["top1_softmax"], knn)) and g[0] > 0)
    sig = [f"{e} {text}" for e in above if (text := significant(table[e]["top1_softmax"], knn, 1))]
    return (f"{task} · {split} softmax vs geo-prior (top1): softmax − geo-prior per encoder "
            f"{min(diff.values()):+.3f} … {max(diff.values()):+.3f} (mean {sum(diff.values()) / len(diff):+.3f}; "
            f"softmax higher for {sum(d > 0 for d in diff.values())} of {len(diff)}); best softmax {best} "
            f"{table[best]['top1_softmax'].text()}; softmax above kNN {knn.mean:.4f} (paired): {above or 'none'}, "
            f"significantly: {sig or 'none'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--tasks", nargs="+")
    args = parser.parse_args()
    records = [r for r in store.iter_cell_records(args.out) if not args.tasks or r["task"] in args.tasks]
    agg, kinds = aggregate(records)
    for (task, split), table in agg.items():
        metric = primary_metric(kinds[task], {m for ms in table.values() for m in ms})
        sign = metric_direction(metric) or 1
        if not all(b in table for b in BASELINE_ROWS):
            print(f"{task} · {split}: baselines not run yet (an unfinished task), left out")
            continue
        ref = reference_metric(table, "knn", metric)  # as the summary: image tasks compare location-only scores
        knn, majority = table["knn"][ref], table["majority"][ref]
        encoders = [e for e in ranked_encoders(table, metric) if e not in BASELINE_ROWS]
        scores = {e: table[e][ref] for e in encoders if ref in table[e]}
        above = [e for e, s in scores.items() if (g := paired_gain(s, knn, sign)) and g[0] > 0]
        sig = [f"{e} {text}" for e in above if (text := significant(scores[e], knn, sign))]
        sig_below = [e for e in scores if e not in above and significant(scores[e], knn, sign, above=False)]
        below_majority = [e for e, s in scores.items() if sign * (s.mean - majority.mean) < 0]
        best = encoders[0]
        versus = "" if ref == metric else f"; kNN compared on {ref}"
        print(f"{task} · {split} ({metric}{versus}): kNN {knn.text()}, majority {majority.text()}; best {best} "
              f"{table[best][metric].text()}; {len(above)} of {len(scores)} above kNN, "
              f"{len(scores) - len(above)} not; significantly above: {sig or 'none'}; "
              f"significantly below: {len(sig_below)}; "
              f"below majority: {below_majority or 'none'}")
        for line in (fusion(task, split, table, records), softmax_protocol(task, split, table, knn)):
            if line:
                print(line)
    rows = hparams_rows(records)
    for task in sorted({r[0] for r in rows}):
        searches, edge, capped = search_edges([r for r in rows if r[0] == task])
        params = Counter(f"{r[5]}@{r[10]}" for r in edge)
        print(f"{task}: {len({r[:5] for r in edge})} of {len(searches)} searches at a range edge "
              f"({dict(params.most_common())}); {len(capped)} at the epoch cap")


if __name__ == "__main__":
    main()
