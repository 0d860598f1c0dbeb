"""Why is fine-tuning below scratch at 100 % labels? Validation vs test, and a larger step budget for both.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/fewshot_budget.py --runs /tmp/gsrl13/fs-s2vl \
        --tasks country --budgets 1 4 --out benchmarks/results/fewshot/budget.md

For each task, every ``scratch`` and ``pretrained_finetune`` cell at 100 % labels of a finished
``benchmarks/pretrain_fewshot.py`` run (``--runs``: its ``pretrain-seed-*`` folders) is re-run with the same
profile, split and seed, and with the step budget (``finetune.epochs`` and ``finetune.min_steps``) multiplied by
each of ``--budgets`` — the same for both methods, so both keep the same tuning budget (9 trials each). The table
gives, per method and budget, the mean validation score of the chosen trial and the mean test score over the
cells. A diagnostic only: nothing in the protocol is chosen from its test column.
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import time
from pathlib import Path

import torch

from geosrl.bench import store
from geosrl.bench.config import build_config
from geosrl.datasets import load_offline_task
from geosrl.files import atomic_write
from geosrl.tasks.fewshot import PRIMARY, resolve_fewshot_config, run_fewshot_cell

from _results import conditions

METHODS = ("scratch", "pretrained_finetune")


def cells(runs: Path, task: str) -> list[tuple[dict, dict]]:
    """``(record, protocol)`` of every 100 % scratch / fine-tune cell of ``task`` in the run's seed folders."""
    out = []
    for folder in sorted(runs.glob("pretrain-seed-*")):
        run = store.read_json(folder / "run.json") if (folder / "run.json").is_file() else {}
        protocol = (run.get("config") or {}).get("protocol") or {}
        for r in store.iter_cell_records(folder):
            if r["task"] == task and r["encoder"] in METHODS and float(r["fraction"]) == 1.0:
                out.append((r, protocol))
    return out


def rerun(task: str, rec: dict, protocol: dict, budget: int, profile: str) -> tuple[float, float]:
    """(validation, test) primary metric of ``rec``'s cell with the step budget multiplied by ``budget``."""
    config = build_config(profile)
    data = load_offline_task(task, **config.load_kwargs(task))
    fc = resolve_fewshot_config({"profile": protocol.get("profile", "quick")})["finetune"]
    proto = {**protocol, "finetune": {"epochs": fc["epochs"] * budget, "min_steps": fc["min_steps"] * budget}}
    res = run_fewshot_cell(data, rec["encoder"], "spatial", int(rec["seed"]), proto, fraction=1.0)
    metric = PRIMARY[data.kind]
    return float(res.val_metrics[metric]), float(res.metrics[metric])


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=Path, required=True)
    p.add_argument("--tasks", nargs="+", default=["country"])
    p.add_argument("--budgets", type=int, nargs="+", default=[1, 4])
    p.add_argument("--profile", default="fewshot_quick")
    p.add_argument("--out", type=Path, required=True)
    a = p.parse_args()
    started = time.perf_counter()
    command = "OMP_NUM_THREADS=" + os.environ.get("OMP_NUM_THREADS", "") + " " + " ".join(
        shlex.quote(x) for x in [sys.executable, *sys.argv])
    lines = ["| task | method | step budget | cells | validation (chosen trial) | test |", "|---|---|---|---|---|---|"]
    for task in a.tasks:
        todo = cells(a.runs, task)
        for method in METHODS:
            for budget in a.budgets:
                got = [rerun(task, r, proto, budget, a.profile) for r, proto in todo if r["encoder"] == method]
                lines.append(f"| {task} | {method} | ×{budget} | {len(got)} | "
                             f"{statistics.mean(v for v, _ in got):.3f} | {statistics.mean(t for _, t in got):.3f} |")
                print(lines[-1], flush=True)
    cond = conditions(command, started, torch=torch.__version__)
    text = "\n".join(["# Fine-tune vs scratch at 100 % labels: step budget (diagnostic)", "",
                      *[f"- {k}: `{v}`" for k, v in cond.items()], "", *lines, ""])
    atomic_write(a.out, lambda f: f.write(text.encode()))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
