"""CSP few-shot transfer over pre-training seeds × split seeds, with 95 % intervals; optionally the shipped card.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/pretrain_fewshot.py --profile fewshot_quick \
        --pretrain-seeds 0 --runs /tmp/gsrl/fs-quick --results benchmarks/results/fewshot \
        [--ship csp_sphere2vec_quick]

1. For each pre-training seed ``s``: ``geosrl bench --profile PROFILE --config RUNS/pretrain-seed-s.toml
   --out RUNS/pretrain-seed-s`` (the config sets ``[pretrain] seed = s``; the bench pre-trains into
   ``OUT/pretrain`` and runs the grid; a finished folder is read back, not re-run). Each bench seed draws its
   own split (the profile's buffered spatial split) and labelled subset.
2. Table: per task, method and labelled fraction, the test primary metric (mean over the (pre-training seed,
   split seed) pairs) and the relative gain over ``scratch`` on the same split with a 95 % t interval
   (:func:`geosrl.tasks.fewshot.relative_gain_interval`). Written to ``RESULTS/summary.md`` and
   ``RESULTS/gains.csv`` with the command, machine, threads and git commit, and a closing note on the issue's
   targets (≥ +10 % at 5 % labels on ≥ 3 of 5 tasks; fine-tune never below scratch at 100 %); each run's
   ``leaderboard.csv``, ``run.json`` and pre-training ``log.csv`` are copied beside it.
   ``scratch`` and ``geoclip_probe`` do not depend on the pre-trained weights (scratch builds the architecture from
   the split seed, GeoCLIP is its own checkpoint), so they run in the first seed's grid only and pair with every
   pre-training seed on the same split (:data:`SEED_INDEPENDENT`); the table says so.
   Tuning check: per end-to-end method, how many cells chose the top or bottom learning rate of their grid (on
   validation) — a method whose best value sits at an edge was given a grid that stops too early.
3. ``--ship NAME``: the encoder of pre-training seed ``--pretrain-seeds[0]`` is written to
   ``geosrl/encoders/pretrained/NAME.safetensors`` with its card: the pre-training card plus this table,
   the few-shot command and the profile (generated here, never edited by hand).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import shlex
import sys
from collections import defaultdict
from pathlib import Path

import torch

from geosrl.bench import store
from geosrl.cli import main as geosrl_main
from geosrl.config import git_commit
from geosrl.encoders import load_pretrained, save_pretrained
from geosrl.encoders.checkpoint import pretrained_dir
from geosrl.files import atomic_write
from geosrl.tasks.fewshot import PRIMARY, relative_gain_interval

from _results import write_csv

PRETRAINED_METHODS = ("pretrained_probe", "pretrained_finetune", "pretrained_knn")
#: methods whose cells are identical for every pre-training seed: run once, paired with each seed on its split
SEED_INDEPENDENT = ("scratch", "geoclip_probe")
_AUTO_CARD_KEYS = {"format", "format_version", "created", "file_sha256", "tensors_sha256", "num_parameters",
                   "embed_dim", "geosrl_version", "git_commit", "coord_order", "crs", "input"}


def run_seed(profile: str, seed: int, runs: Path, device: str, pretrained: str | None = None,
             encoders: list[str] | None = None, contexts: list[str] | None = None,
             tasks: list[str] | None = None, pretrain_profile: str | None = None) -> Path:
    """Run (or read back) the few-shot grid with pre-training seed ``seed`` (or the given ``pretrained``
    checkpoint, pre-trained elsewhere); ``contexts`` replaces the pre-training contexts (a leave-one-out
    pre-training), ``tasks`` the profile's tasks, ``pretrain_profile`` the bench profile's pre-training recipe
    (a ``geosrl.pretrain.train.PRETRAIN_PROFILES`` name); returns its result folder."""
    runs.mkdir(parents=True, exist_ok=True)
    name = f"pretrain-seed-{seed}" if pretrained is None else "given-checkpoint"
    cfg = runs / f"{name}.toml"
    text = (f"[pretrain]\nseed = {seed}\n" if pretrained is None
            else f"[protocol]\npretrained = {json.dumps(pretrained)}\n")
    if pretrain_profile and pretrained is None:
        text += f"profile = {json.dumps(pretrain_profile)}\n"
    if contexts and pretrained is None:
        text += f"data = {{contexts = {json.dumps(contexts)}}}\n"
    if tasks:
        text += f"[bench]\ntasks = {json.dumps(tasks)}\n"
    if not cfg.exists():
        atomic_write(cfg, lambda f: f.write(text.encode()))
    elif cfg.read_text() != text:
        raise SystemExit(f"{cfg} exists with other content; remove it or choose another --runs")
    out = runs / name
    argv = ["bench", "--profile", profile, "--config", str(cfg), "--out", str(out), "--device", device]
    code = geosrl_main(argv + (["--encoders", ",".join(encoders)] if encoders else []))
    if code != 0:
        raise SystemExit(f"geosrl bench failed for {name} (exit {code})")
    return out


def collect(outs: dict[int, Path], methods: list[str] | None = None) -> tuple[dict, dict, dict]:
    """``scores[(task, method, fraction)][(pretrain_seed, split_seed)]`` = primary test metric; task kinds;
    ``{task: contexts}`` of the tasks whose cells ran labelled "with target context" (not transfer).

    ``methods``: keep only these methods' cells (default: every cell in the folders)."""
    scores: dict = defaultdict(dict)
    kinds: dict[str, str] = {}
    leaks: dict[str, set] = defaultdict(set)
    for ps, out in outs.items():
        for r in store.iter_cell_records(out):
            if methods is not None and r["encoder"] not in methods:
                continue
            metric = PRIMARY[r["kind"]]
            kinds[r["task"]] = r["kind"]
            # a seed-independent method (run in the first seed's grid only) pairs with every pre-training seed
            keys = [(s, int(r["seed"])) for s in outs] if r["encoder"] in SEED_INDEPENDENT else [(ps, int(r["seed"]))]
            for key in keys:
                scores[(r["task"], r["encoder"], float(r["fraction"]))][key] = r["metrics"][metric]
            leaks[r["task"]].update(r["chosen_hparams"].get("target_context") or [])
    return scores, kinds, {t: sorted(c) for t, c in leaks.items() if c}


def edge_choices(outs: dict[int, Path]) -> list[str]:
    """Per end-to-end method: cells whose learning rate chosen on validation is the top or bottom of the grid
    it tried (from each cell's ``val_trials``); for the fine-tune, the head learning rate."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for out in outs.values():
        for r in store.iter_cell_records(out):
            trials = r.get("val_trials") or []
            if r["encoder"] not in ("scratch", "pretrained_finetune") or not trials:
                continue
            lrs = sorted({float(t["lr"]) for t in trials})
            chosen = float(r["chosen_hparams"]["tuned"]["lr"])
            c = counts[r["encoder"]]
            c[0] += chosen == lrs[-1]
            c[1] += chosen == lrs[0]
            c[2] += 1
    return [f"- `{m}`: top of its learning-rate grid in {c[0]} of {c[2]} cells, bottom in {c[1]}."
            for m, c in sorted(counts.items())]


def gains_table(scores: dict) -> list[dict]:
    """One row per (task, method, fraction): mean, n, and the gain over scratch with its 95 % interval."""
    rows = []
    for (task, method, frac), vals in sorted(scores.items()):
        row = {"task": task, "method": method, "fraction": frac, "mean": sum(vals.values()) / len(vals),
               "n": len(vals)}
        ref = scores.get((task, "scratch", frac))
        if ref and method != "scratch":
            g = relative_gain_interval(vals, ref)
            row.update({"gain": g["gain"], "gain_low": g["low"], "gain_high": g["high"]})
        rows.append(row)
    return rows


def _pct(x: float) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:+.1f}%"


def render(rows: list[dict], kinds: dict, header: list[str], leaks: dict) -> tuple[str, list[str]]:
    """Markdown tables per task (those with target context labelled) and the closing note on the targets."""
    fracs = sorted({r["fraction"] for r in rows})
    by = {(r["task"], r["method"], r["fraction"]): r for r in rows}
    lines = list(header)
    for task in sorted(kinds):
        leak = f" — **with target context** {leaks[task]}: not transfer, not counted below" if task in leaks else ""
        lines += ["", f"## {task} ({PRIMARY[kinds[task]]}){leak}", "",
                  "| method | " + " | ".join(f"{f:.0%}" for f in fracs) + " |", "|---" * (len(fracs) + 1) + "|"]
        for method in sorted({m for (t, m, _) in by if t == task}, key=lambda m: (m != "scratch", m)):
            cells = []
            for f in fracs:
                r = by.get((task, method, f))
                if r is None:
                    cells.append("")
                elif "gain" in r:
                    cells.append(f"{r['mean']:.3f} ({_pct(r['gain'])} [{_pct(r['gain_low'])}, {_pct(r['gain_high'])}])")
                else:
                    cells.append(f"{r['mean']:.3f}")
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
    note = closing_note(by, sorted(kinds), fracs, set(leaks))
    return "\n".join(lines + ["", "## Targets", ""] + note) + "\n", note


#: a relative gain counts towards a target only over a scratch score above this (R² or top-1): on a base near or
#: below zero, "+200 %" says nothing
MIN_BASE = 0.05


def closing_note(by: dict, tasks: list[str], fracs: list[float], leaky: set = frozenset()) -> list[str]:
    """Whether each of the issue's targets is met, with the numbers (tasks in ``leaky`` ran with target context
    and never count towards the transfer target)."""
    low = min(fracs)
    out = []

    def base_ok(t: str, f: float) -> bool:
        return t not in leaky and (t, "scratch", f) in by and by[(t, "scratch", f)]["mean"] > MIN_BASE

    for method in ("pretrained_finetune", *[m for m in PRETRAINED_METHODS if m != "pretrained_finetune"]):
        hits = [t for t in tasks if (r := by.get((t, method, low))) and r.get("gain", -1) >= 0.10 and base_ok(t, low)]
        detail = ", ".join(f"{t} {_pct(by[(t, method, low)].get('gain'))}"
                           + ("" if base_ok(t, low) else " (with target context: not counted)" if t in leaky
                              else f" (scratch ≤ {MIN_BASE}: not counted)")
                           for t in tasks if (t, method, low) in by)
        out.append(f"- ≥ +10 % relative at {low:.0%} labels on ≥ 3 of {len(tasks)} tasks, `{method}`: "
                   f"{'MET' if len(hits) >= 3 else 'NOT MET'} ({len(hits)} tasks: {detail}).")
    high = max(fracs)
    if not any((t, "pretrained_finetune", high) in by for t in tasks):
        return out + [f"- fine-tune never worse than scratch at {high:.0%} labels: not measured (no fine-tune cells)."]
    worse = [(t, by[(t, 'pretrained_finetune', high)]) for t in tasks if (t, "pretrained_finetune", high) in by
             and by[(t, "pretrained_finetune", high)].get("gain", 0) < 0]
    detail = ", ".join(f"{t} {_pct(by[(t, 'pretrained_finetune', high)].get('gain'))}" for t in tasks
                       if (t, "pretrained_finetune", high) in by)
    out.append(f"- fine-tune never worse than scratch at {high:.0%} labels (mean gain ≥ 0 on every task): "
               f"{'MET' if not worse else 'NOT MET'} ({detail}).")
    return out


def ship(name: str, out: Path, rows: list[dict], command: str, profile: str, note: list[str], results: Path,
         seed: int) -> Path:
    """Write the pre-trained encoder of ``out`` with its card (pre-training card + few-shot table) as ``name``;
    the card names the committed table and the per-cell leaderboard of pre-training seed ``seed`` in ``results``
    (which tests/pretrain/test_shipped_fewshot.py re-runs from the shipped name)."""
    enc = load_pretrained(out / "pretrain" / "location_encoder.safetensors")
    meta = {k: v for k, v in enc.card.items() if k not in _AUTO_CARD_KEYS}
    meta["metrics"] = dict(meta.get("metrics") or {})
    meta["metrics"]["fewshot"] = {f"{r['task']}/{r['method']}/{r['fraction']:g}": {
        k: (r[k] if math.isfinite(r[k]) else None) for k in ("mean", "n", "gain", "gain_low", "gain_high") if k in r}
        for r in rows}
    meta["fewshot"] = {"command": command, "profile": profile, "targets": note,
                       "table": str(results / "summary.md"),
                       "leaderboard": str(results / f"pretrain-seed-{seed}_leaderboard.csv"),
                       "metric": "test top-1 (classification) / R² (regression); gain = relative to scratch on "
                                 "the same split, 95 % t interval over (pre-training seed, split seed) pairs"}
    return save_pretrained(enc, pretrained_dir() / f"{name}.safetensors", meta)


def verify_shipped(name: str, profile: str, runs: Path, device: str, committed: Path,
                   methods: list[str]) -> tuple[int, int]:
    """Re-run ``methods`` of the grid from the shipped checkpoint ``name`` and count the cells whose test metrics
    equal the committed run's exactly; returns ``(equal, compared)``."""
    out = run_seed(profile, 0, runs / "verify", device, name, methods)
    done = {(r["task"], r["encoder"], r["fraction"], r["seed"]): r["metrics"]
            for r in store.iter_cell_records(committed)}
    again = [(k, r["metrics"]) for r in store.iter_cell_records(out)
             if (k := (r["task"], r["encoder"], r["fraction"], r["seed"])) in done]
    return sum(m == done[k] for k, m in again), len(again)


def versus_table(scores: dict, other: dict, name: str, tasks: list[str]) -> list[str]:
    """Markdown: per (task, pre-trained method, fraction), this run's mean, the other encoder's mean and the
    relative gain of this run over it, paired on (pre-training seed index, split seed), with its 95 % interval."""
    lines = [f"| task | method | fraction | this run | `{name}` | gain over `{name}` [95 %] |",
             "|---|---|---|---|---|---|"]
    for (task, method, frac), vals in sorted(scores.items()):
        ref = other.get((task, method, frac))
        if task not in tasks or method not in PRETRAINED_METHODS or not ref or not set(vals) & set(ref):
            continue
        g = relative_gain_interval(vals, ref)
        lines.append(f"| {task} | {method} | {frac:.0%} | {sum(vals.values()) / len(vals):.3f} | "
                     f"{g['reference']:.3f} | {_pct(g['gain'])} [{_pct(g['low'])}, {_pct(g['high'])}] (n={g['n']}) |")
    return lines


def _profile_methods(profile: str) -> list[str]:
    """The ``[bench] encoders`` (few-shot methods) of a shipped bench profile."""
    from geosrl.bench.config import build_config

    return list(build_config(profile).encoders)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--profile", default="fewshot_quick")
    p.add_argument("--pretrain-seeds", type=int, nargs="+", default=[0])
    p.add_argument("--runs", type=Path, required=True, help="folder of the bench runs (one per pre-training seed)")
    p.add_argument("--results", type=Path, default=Path("benchmarks/results/fewshot"))
    p.add_argument("--device", default="cpu")
    p.add_argument("--ship", help="write the first seed's encoder and card as this shipped name")
    p.add_argument("--pretrained", help="a checkpoint pre-trained elsewhere (instead of --pretrain-seeds)")
    p.add_argument("--encoders", help="comma-separated subset of the few-shot methods (default: the profile's)")
    p.add_argument("--verify", help="after --ship, re-run these methods (comma-separated) from the shipped name and "
                   "compare with the committed cells")
    p.add_argument("--contexts", help="comma-separated pre-training contexts (default: the profile's), e.g. "
                   "linke_turbidity for a leave-one-out pre-training of a task whose target another context holds")
    p.add_argument("--tasks", help="comma-separated subset of the profile's tasks")
    p.add_argument("--versus", type=Path, help="--runs folder of another encoder's run of the same profile and seeds: "
                   "writes versus.md, the gain of this run's pre-trained methods over that encoder's")
    p.add_argument("--pretrain-profile", help="pre-training recipe instead of the bench profile's [pretrain] profile "
                   "(a geosrl.pretrain.train.PRETRAIN_PROFILES name, e.g. satclip_locked)")
    p.add_argument("--reference", type=Path, help="take the scratch arm from this finished result folder (same "
                   "profile, so the same splits and labelled subsets) instead of running it here")
    a = p.parse_args()
    if a.pretrained and a.ship:
        raise SystemExit("--ship needs the encoder pre-trained by this command (leave out --pretrained)")
    command = "OMP_NUM_THREADS=" + os.environ.get("OMP_NUM_THREADS", "") + " " + " ".join(
        shlex.quote(x) for x in [sys.executable, *sys.argv])
    encoders = a.encoders.split(",") if a.encoders else None
    if a.pretrained:
        outs = {0: run_seed(a.profile, 0, a.runs, a.device, str(Path(a.pretrained).resolve()), encoders)}
    else:
        contexts = a.contexts.split(",") if a.contexts else None
        tasks = a.tasks.split(",") if a.tasks else None
        outs = {}
        for i, s in enumerate(a.pretrain_seeds):  # seed-independent methods in the first seed's grid only
            methods = encoders or _profile_methods(a.profile)
            enc = encoders if i == 0 else [m for m in methods if m not in SEED_INDEPENDENT]
            outs[s] = run_seed(a.profile, s, a.runs, a.device, None, enc, contexts, tasks, a.pretrain_profile)
    scores, kinds, leaks = collect(outs, encoders)
    if a.reference:
        ref, _, _ = collect({0: a.reference}, ["scratch"])
        scores.update(ref)
    rows = gains_table(scores)
    git = git_commit()
    n_pairs = max(r["n"] for r in rows)
    header = [
        f"# CSP few-shot transfer: profile `{a.profile}`", "",
        f"Command: `{command}`", "",
        f"Machine: {platform.machine()} CPU, torch {torch.__version__}, {torch.get_num_threads()} torch thread(s); "
        f"git commit `{git['commit']}`{' (dirty)' if git['dirty'] else ''}. "
        + (f"Pre-trained encoder `{a.pretrained}` (one pre-training run)" if a.pretrained else
           f"Pre-training seeds {a.pretrain_seeds}")
        + f" × split seeds (the profile's `seeds`): {n_pairs} (pre-training seed, split seed) pairs per cell."
        + (f" `{'`, `'.join(SEED_INDEPENDENT)}` do not depend on the pre-trained weights: they ran once per split "
           "(in the first seed's grid) and pair with every pre-training seed on that split, so their share of a "
           "pair's variance is over the splits only." if len(outs) > 1 else "")
        + (f" `scratch` = the scratch arm of `{a.reference}` (its architecture, same splits and subsets)."
           if a.reference else ""), "",
        "Cells: test primary metric (top-1 or R²), mean over the pairs; in brackets the relative gain over `scratch` "
        "on the same split (mean paired difference / mean scratch score) with its 95 % t interval over the pairs. "
        "Tasks whose target a pre-training context holds ran labelled \"with target context\" (per cell "
        "`target_context`; geosrl.tasks.fewshot.check_target_contexts) and are not counted towards the targets.",
    ]
    text, note = render(rows, kinds, header, leaks)
    edges = edge_choices(outs)
    if edges:
        text += ("\n## Tuning check (validation only)\n\nA method whose chosen learning rate sits at the edge of its "
                 "grid was given a grid that stops too early.\n\n" + "\n".join(edges) + "\n")
    a.results.mkdir(parents=True, exist_ok=True)
    atomic_write(a.results / "summary.md", lambda f: f.write(text.encode()))
    write_csv(a.results / "gains.csv", rows, ["task", "method", "fraction", "n", "mean", "gain", "gain_low",
                                              "gain_high"])
    for seed, out in outs.items():  # each run's per-cell leaderboard, run record and pre-training curve
        for src, dst in (("leaderboard.csv", "leaderboard"), ("run.json", "run"), ("pretrain/log.csv", "pretrain_log")):
            if (out / src).is_file():
                payload = (out / src).read_bytes()
                target = a.results / f"pretrain-seed-{seed}_{dst}{Path(src).suffix}"
                atomic_write(target, lambda f, b=payload: f.write(b))
    print(text)
    if a.versus:
        other_outs = {int(d.name.rsplit("-", 1)[1]): d for d in sorted(a.versus.glob("pretrain-seed-*")) if d.is_dir()}
        other, _, _ = collect(other_outs, list(PRETRAINED_METHODS))
        name = a.versus.name
        vs = [f"# This run vs `{name}`", "", f"Command: `{command}`", "",
              f"Both on profile `{a.profile}`, the same splits and labelled subsets; pairs = (pre-training seed index, "
              "split seed); tasks with target context left out.", "",
              *versus_table(scores, other, name, sorted(t for t in kinds if t not in leaks))]
        atomic_write(a.results / "versus.md", lambda f: f.write(("\n".join(vs) + "\n").encode()))
        print("\n".join(vs))
    if a.ship:
        path = ship(a.ship, outs[a.pretrain_seeds[0]], rows, command, a.profile, note, a.results, a.pretrain_seeds[0])
        print(f"shipped {path}")
        if a.verify:
            same, n = verify_shipped(a.ship, a.profile, a.runs, a.device, outs[a.pretrain_seeds[0]],
                                     a.verify.split(","))
            line = (f"\nReproduction: `geosrl bench --profile {a.profile}` with `[protocol] pretrained = \"{a.ship}\"` "
                    f"(the shipped checkpoint), methods {a.verify}: {same} of {n} cells have exactly the test metrics "
                    "in this table's runs.\n")
            atomic_write(a.results / "summary.md", lambda f: f.write((text + line).encode()))
            print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
