"""Reports of a result folder, rebuilt from its cell files: leaderboard.csv, summary.md, maps, terminal table.

Every number is a statistic over the stored cells; nothing is computed that a cell did not report.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from . import store
from .maps import BASELINE_ROWS, write_bar_charts, write_maps

__all__ = [
    "HPARAMS_COLUMNS",
    "LEADERBOARD_COLUMNS",
    "Stat",
    "aggregate",
    "best_encoders",
    "leaderboard_rows",
    "metric_direction",
    "primary_metric",
    "render_leaderboard",
    "render_summary",
    "write_hparams",
    "write_leaderboard",
    "write_reports",
    "write_summary",
]

LEADERBOARD_COLUMNS = ("task", "encoder", "split", "seed", "metric", "value")
_HIGHER = ("top1", "top3", "top5", "top10", "mrr", "r2", "auc")
_LOWER = ("mae", "rmse", "log_loss", "ssi_local_marks")  # ssi_unmarked, ssi_isolated_frac, ssi_radius_km: properties of
# the test points, not ranked; ssi_marked (PyGBS) is kept in diagnostics but not ranked: on the offline tasks it
# ranks spatially clustered errors above scattered ones in only 6 of 14 cases (benchmarks/results/geo_bias)
_ZERO = ("morans_i_residual",)
_VARIANTS = ("_image_only", "_location_only", "_softmax")
_ORDER = _HIGHER + ("mae", "rmse", "log_loss", "ssi_local_marks", "ssi_marked", "ssi_unmarked", "ssi_isolated_frac",
                    "ssi_radius_km", "morans_i_residual")
_PRIMARY = {"classification": "top1", "regression": "r2", "presence_only": "auc"}
_ARROWS = {1: "↑", -1: "↓", 0: "→0"}


@dataclass(frozen=True)
class Stat:
    """Mean and sample standard deviation of one metric over ``n`` seeds (``std`` is NaN when n = 1)."""

    mean: float
    std: float
    n: int
    #: the values by seed (for paired comparisons between encoders evaluated on the same splits)
    by_seed: tuple[tuple[int, float], ...] = ()
    #: seeds left out because the metric is undefined there (NaN; only with ``skip_undefined``)
    undefined: int = 0

    @classmethod
    def of(cls, values: list[float], seeds: list[int] | None = None, skip_undefined: bool = False) -> "Stat":
        """Statistics of ``values`` (non-empty), optionally labelled by their ``seeds``.

        ``skip_undefined``: NaN values are left out and counted in ``undefined`` (for metrics that are
        undefined on some test sets, such as the geo-bias of a model whose marks are all equal); otherwise a
        NaN makes the mean NaN, so a diverged seed is never hidden."""
        pairs = list(zip(seeds, values)) if seeds is not None else [(None, v) for v in values]
        kept = [(s, v) for s, v in pairs if math.isfinite(v)] if skip_undefined else pairs
        if not kept:
            return cls(float("nan"), float("nan"), len(pairs))
        vals = [v for _, v in kept]
        n = len(vals)
        mean = math.fsum(vals) / n
        std = math.sqrt(math.fsum((v - mean) ** 2 for v in vals) / (n - 1)) if n > 1 else float("nan")
        return cls(mean, std, n, tuple(kept) if seeds is not None else (), len(pairs) - n)

    def text(self) -> str:
        """``0.9123 ± 0.0041``, or just the mean for a single seed; ``(2 of 3 seeds)`` when some were undefined."""
        text = f"{self.mean:.4g}" if self.n == 1 else f"{self.mean:.4g} ± {self.std:.2g}"
        return text + (f" ({self.n} of {self.n + self.undefined} seeds)" if self.undefined else "")


# (task, split) -> encoder -> metric -> Stat
Table = dict[str, dict[str, Stat]]
Aggregate = dict[tuple[str, str], Table]


def metric_direction(metric: str) -> int | None:
    """+1 if higher is better, -1 if lower is better, 0 if closer to zero is better, ``None`` if unknown."""
    for suffix in _VARIANTS:
        if metric.endswith(suffix):
            return metric_direction(metric[: -len(suffix)])
    if metric.startswith("worst_region_"):
        return metric_direction(metric[len("worst_region_"):])
    if metric in _HIGHER:
        return 1
    if metric in _LOWER:
        return -1
    if metric in _ZERO:
        return 0
    return None


def primary_metric(kind: str, metrics: Iterable[str]) -> str:
    """The ranking metric of a task kind (top1 / r2 / auc), else the first metric reported."""
    names = list(metrics)
    preferred = _PRIMARY.get(kind)
    return preferred if preferred in names else names[0]


def leaderboard_rows(records: Iterable[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """One row per (cell, test metric), in the columns of :data:`LEADERBOARD_COLUMNS`."""
    rows = []
    for rec in records:
        for metric, value in rec["metrics"].items():
            split = store.split_label(rec["split"], rec.get("fraction"))
            rows.append((rec["task"], rec["encoder"], split, rec["seed"], metric, value))
    return sorted(rows, key=lambda r: (r[0], r[2], r[1], r[3], r[4]))


def write_leaderboard(out: Path, records: list[dict[str, Any]]) -> Path:
    """Write ``leaderboard.csv`` (long format, one value per row)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(LEADERBOARD_COLUMNS)
    writer.writerows((t, e, sp, s, m, repr(float(v))) for t, e, sp, s, m, v in leaderboard_rows(records))
    path = out / "leaderboard.csv"
    store.atomic_write_text(path, buffer.getvalue())
    return path


HPARAMS_COLUMNS = ("task", "split", "seed", "encoder", "search", "param", "value", "low", "high", "scale", "edge")


def hparams_rows(records: Iterable[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """One row per (cell, searched parameter) from ``chosen_hparams["search"]``, in :data:`HPARAMS_COLUMNS`.

    ``edge`` is ``low``/``high`` when the chosen value sits at that edge of its search range (``epochs``: at the
    early-stopping cap, i.e. validation was still improving), else empty.
    """
    rows = []
    for rec in records:
        for r in rec.get("chosen_hparams", {}).get("search", ()):
            rows.append((rec["task"], store.split_label(rec["split"], rec.get("fraction")), rec["seed"], rec["encoder"],
                         r["search"], r["param"], r["value"], r["low"], r["high"], r["scale"], r["edge"]))
    return sorted(rows, key=lambda r: tuple(str(x) for x in r[:6]))


def write_hparams(out: Path, records: list[dict[str, Any]]) -> Path | None:
    """Write ``hparams.csv`` (the values chosen on validation, with their ranges); None when no cell searched."""
    rows = hparams_rows(records)
    if not rows:
        return None
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(HPARAMS_COLUMNS)
    writer.writerows(rows)
    path = out / "hparams.csv"
    store.atomic_write_text(path, buffer.getvalue())
    return path


def search_edges(rows: list[tuple[Any, ...]]) -> tuple[set[tuple], list[tuple[Any, ...]], set[tuple]]:
    """From :func:`hparams_rows`: the searches (their first five columns), the rows of a parameter chosen at a range
    edge (early stopping's epoch cap apart), and the searches that stopped at that cap."""
    searches = {r[:5] for r in rows}
    edge = [r for r in rows if r[10] and r[5] != "epochs"]
    capped = {r[:5] for r in rows if r[10] and r[5] == "epochs"}
    return searches, edge, capped


def render_edges(records: Iterable[dict[str, Any]]) -> list[str]:
    """Markdown section: the cells whose chosen value sits at an edge of its search range (flagged ⚠), and the
    share of searched cells with such a value; the epoch cap of early stopping is counted apart."""
    rows = hparams_rows(records)
    if not rows:
        return []
    cells, edge, capped = search_edges(rows)
    flagged = {r[:5] for r in edge}
    lines = ["", "## Search edges", "",
             f"{len(flagged)} of {len(cells)} searches ({len(flagged) / len(cells):.0%}) chose a value at an edge of "
             "its search range (within 5 % of a log range, or an integer bound; `hparams.csv` has every choice): "
             "there the range, not the encoder, may limit the score. "
             f"{len(capped)} of {len(cells)} stopped at the epoch cap (validation still improving)."]
    if edge:
        lines += ["", "| task | split | encoder | seed | search | ⚠ parameter at edge |", "|---|---|---|---|---|---|"]
        by_cell: dict[tuple, list[str]] = {}
        for r in edge:
            by_cell.setdefault(r[:5], []).append(f"{r[5]}={_num(r[6])} ({r[10]} of [{_num(r[7])}, {_num(r[8])}])")
        for (task, split, seed, enc, search), items in sorted(by_cell.items(), key=lambda kv: tuple(map(str, kv[0]))):
            lines.append(f"| {task} | {split} | {enc} | {seed} | {search} | ⚠ {'; '.join(items)} |")
    return lines


def _num(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def aggregate(records: Iterable[dict[str, Any]]) -> tuple[Aggregate, dict[str, str]]:
    """Mean ± std over seeds per (task, split, encoder, metric), and each task's kind."""
    values: dict[tuple[str, str], dict[str, dict[str, list[tuple[int, float]]]]] = {}
    kinds: dict[str, str] = {}
    for rec in records:
        kinds[rec["task"]] = rec["kind"]
        split = store.split_label(rec["split"], rec.get("fraction"))
        per_encoder = values.setdefault((rec["task"], split), {}).setdefault(rec["encoder"], {})
        for metric, value in rec["metrics"].items():
            per_encoder.setdefault(metric, []).append((int(rec["seed"]), float(value)))
    stats = {key: {enc: {m: Stat.of([v for _, v in pairs], [s for s, _ in pairs], skip_undefined=m.startswith("ssi_"))
                         for m, pairs in ms.items()}
                   for enc, ms in table.items()}
             for key, table in sorted(values.items())}
    return stats, kinds


def best_encoders(table: Table, metric: str) -> set[str]:
    """Encoders whose mean is best for ``metric`` (ties all count); empty if the direction is unknown."""
    direction = metric_direction(metric)
    means = {enc: ms[metric].mean for enc, ms in table.items() if metric in ms and math.isfinite(ms[metric].mean)}
    if direction is None or not means:
        return set()
    score = {enc: (abs(m) if direction == 0 else m * -direction) for enc, m in means.items()}
    best = min(score.values())
    return {enc for enc, s in score.items() if s == best}


def ranked_encoders(table: Table, metric: str) -> list[str]:
    """Encoders from best to worst by the mean of ``metric`` (missing or NaN last)."""
    direction = metric_direction(metric) or 1

    def key(enc: str) -> float:
        stat = table[enc].get(metric)
        if stat is None or not math.isfinite(stat.mean):
            return math.inf
        return abs(stat.mean) if direction == 0 else -direction * stat.mean

    return sorted(table, key=lambda enc: (key(enc), enc))


def metric_columns(table: Table) -> list[str]:
    """Metric names of a table: the standard ones in a fixed order, then the rest alphabetically."""
    names = {m for ms in table.values() for m in ms}

    def key(metric: str) -> tuple[int, str]:
        base = metric
        for prefix_or_suffix in ("worst_region_",) + _VARIANTS:
            base = base.replace(prefix_or_suffix, "")
        rank = _ORDER.index(base) if base in _ORDER else len(_ORDER)
        return rank, metric

    return sorted(names, key=key)


#: metrics of the compact tables of summary.md (with their variant suffixes); the rest go to diagnostics.md
_HEADLINE = set(_HIGHER) | {"mae", "rmse", "log_loss", "ssi_local_marks"}


def headline_columns(table: Table) -> list[str]:
    """The metric columns of ``table`` shown in ``summary.md``: scores, errors and the geo-bias score."""
    def base(metric: str) -> str:
        for suffix in _VARIANTS:
            if metric.endswith(suffix):
                return metric[: -len(suffix)]
        return metric

    return [m for m in metric_columns(table) if base(m) in _HEADLINE]


def reference_metric(table: Table, reference: str, primary: str) -> str:
    """The metric rows are compared to ``reference`` on: ``primary``, or its ``_location_only`` variant where the
    reference has no ``primary`` but that variant (image tasks: a baseline has no image input). A table without
    the reference row keeps ``primary``."""
    row = table.get(reference, {})
    return primary + "_location_only" if primary not in row and primary + "_location_only" in row else primary


def render_table(table: Table, kind: str, reference: str | None = None,
                 columns: list[str] | None = None) -> list[str]:
    """Markdown table of one (task, split): rows = encoders ranked by the primary metric, best marked bold.

    With a ``reference`` encoder present in the table (``knn`` for the encoder benchmark, ``scratch`` for
    the few-shot one), a column gives each row's gain of the primary metric over it: the mean ± std over
    seeds of the paired per-seed difference (improvement direction), its relative size, and ``✗`` when the
    row does not beat the reference.
    """
    columns = metric_columns(table) if columns is None else columns
    primary = primary_metric(kind, metric_columns(table))
    best = {m: best_encoders(table, m) for m in columns}
    ref_metric = reference_metric(table, reference, primary) if reference else primary
    ref = table.get(reference, {}).get(ref_metric) if reference else None
    gain = [f"{ref_metric} vs {reference}"] if ref is not None else []
    header = ["encoder", "seeds"] + gain + [f"{m} {_ARROWS.get(metric_direction(m), '')}".strip() for m in columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for enc in ranked_encoders(table, primary):
        cells = [enc, str(max(s.n for s in table[enc].values()))]
        if ref is not None:
            cells.append(_gain_text(table[enc].get(ref_metric), ref, metric_direction(primary) or 1)
                         if enc != reference else "–")
        for m in columns:
            stat = table[enc].get(m)
            text = stat.text() if stat else "–"
            cells.append(f"**{text}**" if enc in best[m] else text)
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def paired_gain(stat: Stat | None, ref: Stat, direction: int = 1) -> tuple[float, float, int] | None:
    """Mean and sample std over the shared seeds of ``direction·(stat − ref)``, and the number of shared seeds.

    Both are evaluated on the same split per seed, so the per-seed difference removes the split's share of
    the variance. ``None`` when no seed is shared or a value is not finite.
    """
    if stat is None:
        return None
    ref_by_seed = dict(ref.by_seed)
    diffs = [direction * (v - ref_by_seed[s]) for s, v in stat.by_seed if s in ref_by_seed]
    if not diffs or not all(math.isfinite(d) for d in diffs):
        return None
    summary = Stat.of(diffs)
    return summary.mean, summary.std, summary.n


def _gain_text(stat: Stat | None, ref: Stat, direction: int) -> str:
    """``+0.031 ± 0.004 (+3.5%)`` — the paired gain over the reference (``✗`` appended when not above it)."""
    gain = paired_gain(stat, ref, direction)
    if gain is None:
        return "–"
    mean, std, n = gain
    text = f"{mean:+.3g}" + (f" ± {std:.2g}" if n > 1 else "")
    if ref.mean != 0 and math.isfinite(ref.mean):
        text += f" ({direction * mean / abs(ref.mean):+.1%})"
    return text + (" ✗" if mean <= 0 else "")


def render_tuned(records: Iterable[dict[str, Any]]) -> list[str]:
    """Markdown section: the hyper-parameters each cell chose on validation (``chosen_hparams["tuned"]``).

    One row per (task, split, encoder), the choices listed per seed in seed order; empty when no cell
    records its tuned values. Shows at a glance when a choice sits at the edge of its grid.
    """
    rows: dict[tuple[str, str, str], list[tuple[int, str]]] = {}
    for rec in records:
        tuned = rec.get("chosen_hparams", {}).get("tuned")
        if tuned:
            key = (rec["task"], store.split_label(rec["split"], rec.get("fraction")), rec["encoder"])
            text = ", ".join(f"{k}={v:g}" if isinstance(v, (int, float)) else f"{k}={v}" for k, v in tuned.items())
            rows.setdefault(key, []).append((rec["seed"], text))
    if not rows:
        return []
    lines = ["", "## Hyper-parameters chosen on validation", "",
             "Chosen on the validation split only, per seed in seed order; every trial's validation score is in "
             "the cell files (`cells/*.json`, `val_trials`).", "", "| task | split | encoder | chosen |",
             "|---|---|---|---|"]
    for (task, split, enc), choices in sorted(rows.items()):
        lines.append(f"| {task} | {split} | {enc} | {'; '.join(t for _, t in sorted(choices))} |")
    return lines


def _commit_text(run: dict[str, Any], records: list[dict[str, Any]]) -> str:
    """The code that made the cells: the commits recorded in the cells (for cells that recorded none, in a merged
    folder, its sources' commits), and the run's own commit when it differs (the one that wrote the reports)."""
    made = {r["git_commit"] for r in records if r.get("git_commit")}
    unrecorded = sum(1 for r in records if not r.get("git_commit"))
    if unrecorded:
        made |= {m["git_commit"] for m in run.get("merged_from", ()) if m.get("git_commit")}
    if not made:
        return f"git commit `{run.get('git_commit', '?')}`"
    text = "cells made at git commit " + ", ".join(f"`{c}`" for c in sorted(made))
    if any(r.get("git_dirty") for r in records):
        text += " (some with local changes)"
    if unrecorded and not run.get("merged_from"):
        text += f"; {unrecorded} cells without a recorded commit"
    return text + (f"; reports written at `{run.get('git_commit', '?')}`" if made != {run.get("git_commit")} else "")


def render_summary(agg: Aggregate, kinds: dict[str, str], run: dict[str, Any],
                   records: Iterable[dict[str, Any]] = ()) -> str:
    """The whole ``summary.md``: a header, one table per (task, split), then skipped and failed work."""
    config = run.get("config", {})
    records = list(records)
    lines = [
        "# geosrl benchmark summary",
        "",
        f"Profile `{config.get('profile', '?')}`, suite `{config.get('suite', '?')}`, "
        f"seeds {config.get('seeds', '?')}, splits {config.get('splits', '?')}, {_commit_text(run, records)}.",
        "",
        "Test-split metrics (the headline ones; every metric is in `diagnostics.md`), mean ± sample standard "
        "deviation over seeds (a single seed shows the value alone). A geo-bias value marked \"(k of n seeds)\" "
        "is over the k seeds where it is defined (`ssi_local_marks` is undefined when a model's marks are all "
        "equal on the test points: no error, or every prediction wrong). "
        "**Bold** = best mean in the column (↑ higher is better, ↓ lower is better, →0 closer to zero is better; "
        "columns without an arrow are not ranked). Rows are ordered by the task's primary metric "
        "(top1 / r2 / auc).",
    ]
    lines += _render_best(agg, kinds)
    tasks = run.get("tasks", {})
    leaks = target_context_tasks(records)
    for (task, split), table in agg.items():
        leak = f" — **with target context** {leaks[task]} (pre-training saw its target: not transfer)" \
            if task in leaks else ""
        lines += ["", f"## {task} · {split} split ({_describe(kinds[task], tasks.get(task, {}))}){leak}", ""]
        lines += _render_split(tasks.get(task, {}).get("splits", {}).get(split, {}))
        lines += render_table(table, kinds[task], config.get("reference"), headline_columns(table))
    lines += render_edges(records)
    lines += render_tuned(records)
    lines += _render_problems(run)
    return "\n".join(lines) + "\n"


def target_context_tasks(records: Iterable[dict[str, Any]]) -> dict[str, list[str]]:
    """``{task: sorted context names}`` for tasks whose cells ran labelled "with target context" (few-shot
    ``[protocol] target_context = "label"``: a pre-training context holds the task's target)."""
    found: dict[str, set[str]] = {}
    for rec in records:
        names = rec.get("chosen_hparams", {}).get("target_context") or []
        if names:
            found.setdefault(rec["task"], set()).update(names)
    return {task: sorted(names) for task, names in sorted(found.items())}


def render_diagnostics(agg: Aggregate, kinds: dict[str, str], run: dict[str, Any]) -> str:
    """``diagnostics.md``: every metric of every (task, split) — worst region, Moran's I of the residuals, the
    geo-bias score's unmarked value and its capped / degenerate-centre fractions — beside the headline ones."""
    lines = ["# geosrl benchmark diagnostics", "",
             f"Every metric of each table of `summary.md` (git commit `{run.get('git_commit', '?')}`). "
             "Geo-bias: `ssi_local_marks` (ranked, lower is less biased) is the surprisal of the marks in each "
             "neighbourhood given the model's own error rate; `ssi_marked` is PyGBS's marked score (not ranked); "
             "`ssi_unmarked`, `ssi_isolated_frac` (centres with no other test point within the radius, left out) "
             "and `ssi_radius_km` (chosen from the test points) depend on the test points only; "
             "`*_degenerate_frac` is the share of scoring centres without enough neighbours, `*_cap_frac` the "
             "share at the legacy cap."]
    for (task, split), table in agg.items():
        lines += ["", f"## {task} · {split} split ({kinds[task]})", ""]
        lines += render_table(table, kinds[task])
    return "\n".join(lines) + "\n"


def _render_split(by_seed: dict[str, dict[str, Any]]) -> list[str]:
    """One line per table: split sizes, buffer exclusions and how far test points lie from training data."""
    if not by_seed:
        return []
    parts = []
    for seed, rec in sorted(by_seed.items(), key=lambda kv: int(kv[0])):
        sizes, dist = rec.get("sizes") or {}, rec["test_to_train_km"]
        block = f"{rec['block_km']:.0f} km blocks, " if rec.get("block_km") else ""
        parts.append(f"seed {seed}: {block}{sizes.get('train', '?')}/{sizes.get('val', '?')}/{sizes.get('test', '?')} "
                     f"train/val/test, {sizes.get('excluded', 0)} excluded by the buffer; test→train "
                     f"{dist['min_km']:.0f} / {dist['median_km']:.0f} / {dist['p90_km']:.0f} km (min / median / p90)")
    return ["Split — " + "; ".join(parts) + ".", ""]


def _describe(kind: str, task: dict[str, Any]) -> str:
    """``regression: elevation (m), 4000 samples`` from a run.json task entry."""
    details = [d for d in (task.get("target_name"), f"{task['n_samples']} samples" if "n_samples" in task else "") if d]
    return f"{kind}: {', '.join(details)}" if details else kind


def _render_best(agg: Aggregate, kinds: dict[str, str]) -> list[str]:
    """A short table naming the best encoder(s) of each (task, split) by the primary metric's mean."""
    lines = ["", "## Best encoder per task", "", "| task | split | metric | best encoder | value |", "|---|---|---|---|---|"]
    for (task, split), table in agg.items():
        primary = primary_metric(kinds[task], metric_columns(table))
        best = sorted(best_encoders(table, primary))
        value = table[best[0]][primary].text() if best else "–"
        lines.append(f"| {task} | {split} | {primary} | {', '.join(best) or '–'} | {value} |")
    return lines


def _render_problems(run: dict[str, Any]) -> list[str]:
    """Markdown sections for skipped tasks and failed cells (empty when there are none)."""
    lines: list[str] = []
    if run.get("skipped_tasks"):
        lines += ["", "## Skipped tasks", ""]
        for skip in run["skipped_tasks"]:
            hint = f" — fix: `{skip['install_hint']}`" if skip.get("install_hint") else ""
            lines.append(f"- `{skip['task']}`: {skip['reason']}{hint}")
    if run.get("failed_cells"):
        lines += ["", "## Failed cells (rerun with the same --out to retry)", ""]
        lines += [f"- `{f['cell_id']}`: {f['error']}" for f in run["failed_cells"]]
    return lines


def write_summary(out: Path, agg: Aggregate, kinds: dict[str, str], run: dict[str, Any],
                  records: Iterable[dict[str, Any]] = ()) -> Path:
    """Write ``summary.md``."""
    path = out / "summary.md"
    store.atomic_write_text(path, render_summary(agg, kinds, run, records))
    return path


def render_leaderboard(agg: Aggregate, kinds: dict[str, str], geo_bias: str = "ssi_local_marks") -> str:
    """Plain-text leaderboard for the terminal: per (task, split), encoders ranked by the primary metric."""
    blocks = []
    for (task, split), table in agg.items():
        primary = primary_metric(kinds[task], metric_columns(table))
        shown = [primary] + ([geo_bias] if any(geo_bias in ms for ms in table.values()) else [])
        width = max(len("encoder"), *(len(enc) for enc in table))
        head = "  ".join(f"{m} {_ARROWS.get(metric_direction(m), '')}".ljust(18) for m in shown)
        lines = [f"{task} · {split}", f"  #  {'encoder'.ljust(width)}  {head}  seeds"]
        for rank, enc in enumerate(ranked_encoders(table, primary), 1):
            stats = [table[enc].get(m) for m in shown]
            values = "  ".join((s.text() if s else "–").ljust(18) for s in stats)
            ranked = stats[0] is not None and math.isfinite(stats[0].mean)
            lines.append(f"{rank if ranked else '–':>3}  {enc.ljust(width)}  {values}  "
                         f"{max(s.n for s in table[enc].values())}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) if blocks else "(no finished cells)"


def write_reports(out: Path, run: dict[str, Any], maps: bool = True) -> tuple[Aggregate, dict[str, str]]:
    """Rebuild leaderboard.csv, summary.md and (optionally) the maps of ``out`` from its cell files."""
    records = list(store.iter_cell_records(out))
    agg, kinds = aggregate(records)
    write_leaderboard(out, records)
    write_hparams(out, records)
    write_summary(out, agg, kinds, run, records)
    store.atomic_write_text(out / "diagnostics.md", render_diagnostics(agg, kinds, run))
    if maps and records:
        best = {}
        for (task, split), table in agg.items():
            primary = primary_metric(kinds[task], metric_columns(table))
            ranked = ranked_encoders(table, primary)  # the map shows the best encoder (its prediction surface)
            best[(task, split)] = ([e for e in ranked if e not in BASELINE_ROWS] or ranked)[0], primary
        write_maps(out, best, kinds, records)
        write_bar_charts(out, *bar_tables(agg, kinds, run.get("config", {}).get("reference")))
    return agg, kinds


def bar_tables(agg: Aggregate, kinds: dict[str, str], reference: str | None
               ) -> tuple[dict[str, dict[str, dict[str, tuple]]], dict[str, str]]:
    """The bar charts' data: task → split → row → ``(mean, std, n_seeds)``, and task → metric shown.

    The metric is the one the summary compares each row with ``reference`` on (``reference_metric``; the run
    config's ``reference``, ``knn`` for the encoder benchmark): the primary metric, or for an image task its
    location-only variant, so that the baselines (no image input) have bars too."""
    bars: dict[str, dict[str, dict[str, tuple]]] = {}
    metrics: dict[str, str] = {}
    for (task, split), table in agg.items():
        primary = primary_metric(kinds[task], metric_columns(table))
        metric = reference_metric(table, reference, primary) if reference else primary
        metrics[task] = metric
        bars.setdefault(task, {})[split] = {enc: (ms[metric].mean, ms[metric].std, ms[metric].n)
                                            for enc, ms in table.items() if metric in ms}
    return bars, metrics
