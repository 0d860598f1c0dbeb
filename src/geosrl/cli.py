"""Command line: ``geosrl bench`` (run the benchmark), ``bench merge``, ``pretrain``, ``embed``, ``predict`` and
``encoders``.

Examples::

    geosrl bench                                   # quick profile, offline suite → results/<timestamp>/
    geosrl bench --profile full --workers 4 --out results/full
    geosrl bench --tasks land_ocean,elevation --encoders wrap sphere2vec_spherec --seeds 3
    geosrl bench --profile full --shard 2/4 --out results/shard2     # machine 2 of 4
    geosrl bench merge results/full results/shard1 results/shard2 results/shard3 results/shard4
    geosrl bench --profile fewshot_quick --out results/fewshot      # CSP pre-training, then the few-shot grid
    geosrl pretrain --config my_pretrain.toml --out runs/pretrain
    geosrl encoders
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

from geosrl.bench.config import PROFILES

#: ``geosrl pretrain --profile`` choices (geosrl.pretrain.train.PRETRAIN_PROFILES; imported lazily, checked by a test)
PRETRAIN_PROFILE_NAMES = ("quick", "full", "satclip", "satclip_bounded", "satclip_locked", "sphere2vec_locked")

__all__ = ["build_parser", "main"]

Log = Callable[[str], None]

_EXAMPLES = """examples:
  geosrl bench                                    quick profile → results/<timestamp>/
  geosrl bench --profile full --workers 4 --out results/full
  geosrl bench --tasks land_ocean,elevation --encoders wrap rff --seeds 3
  geosrl bench --profile full --shard 2/4 --out results/shard2    (machine 2 of 4)
  geosrl bench merge results/full results/shard1 results/shard2 results/shard3 results/shard4
  geosrl bench --suite locbench --root ~/locbench --splits published --tasks birdsnap
  geosrl bench --profile fewshot_quick --out results/fewshot      (pre-train, then the few-shot grid)

outputs in --out: leaderboard.csv, summary.md, run.json, predictions/<cell>.csv, maps/<task>__<split>.png,
cells/<cell>.json (one per finished cell; what resuming keeps), skipped/, failed/"""


def build_parser() -> argparse.ArgumentParser:
    """The ``geosrl`` argument parser (subcommands ``bench``, ``bench merge``, ``encoders``)."""
    parser = argparse.ArgumentParser(prog="geosrl", description="geosrl: spatial representation learning.")
    commands = parser.add_subparsers(dest="command", required=True)
    bench = commands.add_parser(
        "bench", help="rank location encoders on real data (default: quick profile, offline suite)",
        description="Run the benchmark grid (task × encoder × split × seed). Settings: the profile's TOML, "
                    "then --config, then these flags. Rerun with the same --out to resume a killed run.",
        epilog=_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_bench_options(bench)
    merge = bench.add_subparsers(dest="bench_command").add_parser(
        "merge", help="join result folders (e.g. shards) into OUT and rebuild its reports")
    merge.add_argument("merge_out", metavar="OUT", type=Path, help="folder to create or extend")
    merge.add_argument("sources", type=Path, nargs="+", help="result folders to join")
    commands.add_parser("encoders", help="list the registered location encoders")
    embed = commands.add_parser(
        "embed", help="embed a CSV/Parquet file of (lon, lat) coordinates",
        description="Write the embeddings of every row of INPUT to OUTPUT (.npy, .csv or .parquet), from a registry "
                    "position encoding, a checkpoint or GeoCLIP's location encoder (geosrl.embed).")
    embed.add_argument("input", type=Path, help="CSV (or Parquet) file with longitude and latitude columns (degrees)")
    embed.add_argument("output", type=Path, help="new file: .npy, .csv or .parquet")
    source = embed.add_mutually_exclusive_group(required=True)
    source.add_argument("--encoder", help="registry name: its parameter-free position encoding (geosrl encoders)")
    source.add_argument("--checkpoint", help="a geosrl checkpoint path or shipped name (e.g. csp_sphere2vec_quick)")
    source.add_argument("--geoclip", action="store_true", help="GeoCLIP's pretrained location encoder (512-d)")
    embed.add_argument("--lon-col", default="lon", help="longitude column (default: lon)")
    embed.add_argument("--lat-col", default="lat", help="latitude column (default: lat)")
    embed.add_argument("--batch-size", type=_positive, default=65536, help="rows per forward pass")
    embed.add_argument("--device", default="cpu", help="cpu or cuda")
    embed.add_argument("--compile", action="store_true",
                       help="encode through torch.compile'd blocks: a one-off compile of seconds, faster for millions "
                            "of rows (registry encodings and geosrl checkpoints)")
    predict = commands.add_parser(
        "predict", help="predict a CSV/Parquet file of (lon, lat) coordinates with a saved estimator",
        description="Write the predictions of an estimator saved with .save(MODEL) (geosrl.estimators) for every row "
                    "of INPUT to OUTPUT (.csv, .parquet or .npy): labels and class probabilities, values, or "
                    "presence suitability (geosrl.estimators.predict_file).")
    predict.add_argument("model", type=Path, help="folder written by an estimator's save()")
    predict.add_argument("input", type=Path, help="CSV (or Parquet) file with longitude and latitude columns (degrees)")
    predict.add_argument("output", type=Path, help="new file: .csv, .parquet or .npy")
    predict.add_argument("--lon-col", default="lon", help="longitude column (default: lon)")
    predict.add_argument("--lat-col", default="lat", help="latitude column (default: lat)")
    predict.add_argument("--device", default="cpu", help="cpu or cuda")
    pretrain = commands.add_parser(
        "pretrain", help="contrastive spatial pre-training (CSP) of a location encoder",
        description="Pre-train a location encoder against image patches (geosrl.pretrain.train). The few-shot "
                    "evaluation of a pre-trained encoder is a benchmark profile: geosrl bench --profile fewshot_quick.")
    pretrain.add_argument("--config", help="TOML or JSON file with the keys of resolve_pretrain_config "
                                           "(top level or under [pretrain])")
    pretrain.add_argument("--out", help="output folder (default: runs/pretrain-<profile>); reuse it to resume")
    pretrain.add_argument("--profile", choices=PRETRAIN_PROFILE_NAMES, help="override the config's profile")
    pretrain.add_argument("--device", help="cpu, cuda or auto")
    pretrain.add_argument("--no-resume", action="store_true", help="ignore finished epochs in the output folder")
    return parser


def _add_bench_options(bench: argparse.ArgumentParser) -> None:
    """Flags of ``geosrl bench``; ``None`` defaults mean "as in the profile/config file"."""
    bench.add_argument("--suite", choices=("offline", "locbench"), help="task suite (profile default: offline)")
    bench.add_argument("--profile", choices=PROFILES, default="quick",
                       help="shipped settings: quick (make bench, < 10 min on 2 cores), full, or the few-shot "
                            "experiment fewshot_quick / fewshot_full (default: quick)")
    bench.add_argument("--tasks", nargs="+", type=_names, action="extend",
                       help="tasks to run, space- or comma-separated (default: the profile's)")
    bench.add_argument("--encoders", nargs="+", type=_names, action="extend",
                       help="encoders to run, space- or comma-separated (default: the profile's)")
    bench.add_argument("--imports", nargs="+", type=_names, action="extend",
                       help="your modules or .py files that register encoders, space- or comma-separated "
                            "([bench] imports; installed packages can use the geosrl.encoders entry points)")
    bench.add_argument("--seeds", type=_positive, help="number of seeds 0..N-1")
    bench.add_argument("--splits", type=_names_flat, help="comma-separated subset of random,spatial (locbench also: published)")
    bench.add_argument("--out", type=Path, help="result folder (default: results/<timestamp>/); reuse it to resume")
    bench.add_argument("--device", help="cpu, cuda, cuda:1, … (default: auto = cuda when available)")
    bench.add_argument("--config", type=Path, help="TOML file overriding the profile (see geosrl/bench/profiles)")
    bench.add_argument("--workers", type=_positive, help="parallel worker processes (default: 1)")
    bench.add_argument("--shard", help="run only shard i of n of the grid, e.g. 1/4 (counted from 1)")
    bench.add_argument("--root", help="folder holding the LocBench files (suite locbench)")
    bench.add_argument("--cache-dir", help="cache of derived task samples (default: ~/.cache/geosrl)")


def _names(text: str) -> list[str]:
    """``"a,b"`` → ``["a", "b"]`` (used with ``action="extend"`` so spaces and commas both separate)."""
    return [part for part in text.split(",") if part]


def _names_flat(text: str) -> list[str]:
    """Comma-separated list."""
    return [part.strip() for part in text.split(",") if part.strip()]


def _positive(text: str) -> int:
    """A positive integer argument."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``geosrl`` console script; returns the exit status.

    A user mistake (bad flag value, config, data, checkpoint or folder) prints one ``geosrl: error: …``
    line and exits 2; anything else that fails prints one line too and exits 1 (``GEOSRL_DEBUG=1`` re-raises
    it with its traceback). Argument-parsing errors exit 2 with argparse's usage message.
    """
    args = build_parser().parse_args(argv)
    try:
        if args.command == "encoders":
            return cmd_encoders(print)
        if args.command == "pretrain":
            return cmd_pretrain(args, print)
        if args.command == "embed":
            return cmd_embed(args, print)
        if args.command == "predict":
            return cmd_predict(args, print)
        if args.bench_command == "merge":
            return cmd_merge(args, print)
        return cmd_bench(args, print)
    except Exception as exc:  # one line, never a traceback
        if os.environ.get("GEOSRL_DEBUG"):
            raise
        user_error = isinstance(exc, _user_errors())
        kind = "" if user_error else f"unexpected {type(exc).__name__}: "
        print(f"geosrl: error: {kind}{exc}".splitlines()[0] if str(exc) else f"geosrl: error: {type(exc).__name__}",
              file=sys.stderr)
        return 2 if user_error else 1


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that mean "the user asked for something impossible": config, data, checkpoint, files."""
    from geosrl.config import ConfigError
    from geosrl.coords import CoordinateError
    from geosrl.datasets.base import DataUnavailableError, DatasetFormatError
    from geosrl.encoders.checkpoint import CheckpointError

    return (ConfigError, CoordinateError, DataUnavailableError, DatasetFormatError, CheckpointError, OSError)


def bench_overrides(args: argparse.Namespace) -> dict[str, object]:
    """The ``[bench]`` values given on the command line (``None`` = not given)."""
    return {
        "suite": args.suite,
        "tasks": _flatten(args.tasks),
        "encoders": _flatten(args.encoders),
        "imports": _flatten(args.imports),
        "seeds": args.seeds,
        "splits": args.splits,
        "device": args.device,
        "workers": args.workers,
        "shard": args.shard,
        "root": args.root,
        "cache_dir": args.cache_dir,
    }


def _flatten(groups: list[list[str]] | None) -> list[str] | None:
    """Join the per-argument lists of an ``extend`` option."""
    return None if groups is None else [name for group in groups for name in group]


def cmd_bench(args: argparse.Namespace, log: Log, backend: object | None = None) -> int:
    """``geosrl bench``: run (or resume) the grid, then write and print the reports.

    ``backend`` replaces the real datasets/protocols (tests inject fakes here).
    """
    from geosrl.bench import store
    from geosrl.bench.config import build_config, default_out_dir
    from geosrl.config import check_device

    config = build_config(args.profile, args.config, bench_overrides(args))
    check_device(config.device)
    out = store.claim_results_dir(args.out if args.out is not None else default_out_dir())
    with store.locked(out):
        return _run_and_report(config, out, log, backend)


def _run_and_report(config: object, out: Path, log: Log, backend: object | None) -> int:
    """Run the grid into ``out`` (already claimed and locked) and write the reports; see :func:`cmd_bench`."""
    from geosrl.bench.runner import run_bench
    from geosrl.config import ConfigError

    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    clock = time.perf_counter()
    try:
        if backend is None:
            from geosrl.bench.suites import default_backend, prepare_fewshot

            config = prepare_fewshot(config, out, log)
            backend = default_backend(config)
        _write_run(out, config, status="running", started_at=started)
        outcome = run_bench(config, out, backend, log=log)
    except KeyboardInterrupt:
        extra = {"status": "interrupted", "started_at": started, "wall_seconds": time.perf_counter() - clock}
        _finish(out, config.to_dict(), extra, log)  # the reports hold every cell written before the stop
        log(f"\ninterrupted: finished cells are kept; resume with --out {out}")
        return 130
    except BaseException as exc:  # a failed start or run never leaves run.json at "running"
        _write_run(out, config, status="failed", started_at=started, error=f"{type(exc).__name__}: {exc}")
        raise
    if outcome.skipped and not outcome.ran and not outcome.resumed and not outcome.failed:
        _write_run(out, config, status="nothing_ran", started_at=started)
        from geosrl.bench import store

        hints = "; ".join(f"{s['task']}: {s['reason']}" + (f", fix: {s['install_hint']}" if s.get("install_hint") else "")
                          for s in store.read_skips(out))
        raise ConfigError(f"nothing ran: every task was skipped ({hints})")
    extra = {
        "status": "complete" if not outcome.failed else "incomplete",
        "started_at": started,
        "wall_seconds": round(time.perf_counter() - clock, 2),
        "this_invocation": {"grid_cells": len(outcome.grid), "ran": len(outcome.ran),
                            "resumed": len(outcome.resumed), "failed": len(outcome.failed)},
    }
    _finish(out, config.to_dict(), extra, log)
    return 1 if outcome.failed else 0


def _write_run(out: Path, config: object, **extra: object) -> None:
    """Write ``run.json`` for ``config`` with extra top-level fields."""
    from geosrl.bench.runinfo import run_info, write_run_json

    write_run_json(out, run_info(out, config.to_dict(), **extra))


def _finish(out: Path, config: dict[str, object], extra: dict[str, object], log: Log) -> None:
    """Write run.json and the reports of ``out``, then print the leaderboard and where everything is."""
    from geosrl.bench.report import render_leaderboard, write_reports
    from geosrl.bench.runinfo import run_info, write_run_json

    info = run_info(out, config, **extra)
    write_run_json(out, info)
    agg, kinds = write_reports(out, info)
    log("\n" + render_leaderboard(agg, kinds))
    for skip in info["skipped_tasks"]:
        hint = f" (fix: {skip['install_hint']})" if skip.get("install_hint") else ""
        log(f"skipped {skip['task']}: {skip['reason']}{hint}")
    if info["failed_cells"]:
        log(f"{len(info['failed_cells'])} cells failed (details in {out / 'failed'}); rerun with --out {out} to retry")
    log(f"\nresults: {out}/ (leaderboard.csv, summary.md, run.json, predictions/, maps/)")


def cmd_merge(args: argparse.Namespace, log: Log) -> int:
    """``geosrl bench merge OUT DIR…``: join folders, then rebuild OUT's run.json and reports."""
    from geosrl.bench import store
    from geosrl.bench.merge import merge_results

    with store.locked(store.claim_results_dir(args.merge_out)):
        outcome = merge_results(args.merge_out, args.sources)
        _report_merge(args, outcome, log)
    return 0


def _report_merge(args: argparse.Namespace, outcome: object, log: Log) -> None:
    """Rebuild the merged folder's run.json and reports."""
    from geosrl.bench.store import read_json

    log(f"merged {outcome.copied} cells into {args.merge_out} ({outcome.duplicates} duplicates kept once)")
    runs = {src: read_json(src / "run.json") for src in args.sources if (src / "run.json").is_file()}
    config = dict(next(iter(runs.values()))["config"]) if runs else {}
    config.pop("shard", None)
    merged_from = [{"folder": str(src), "shard": run["config"].get("shard"), "git_commit": run.get("git_commit")}
                   for src, run in runs.items()]
    _finish(args.merge_out, config, {"status": "merged", "merged_from": merged_from}, log)


def cmd_pretrain(args: argparse.Namespace, log: Log) -> int:
    """``geosrl pretrain``: run :func:`geosrl.pretrain.train.pretrain` from ``--config`` and the flags."""
    from geosrl.config import load_config_file
    from geosrl.pretrain.train import pretrain

    raw = load_config_file(args.config)
    cfg = dict(raw.get("pretrain", raw))
    for key in ("profile", "device"):
        if getattr(args, key):
            cfg[key] = getattr(args, key)
    out = args.out if args.out is not None else f"runs/pretrain-{cfg.get('profile', 'quick')}"
    result = pretrain(cfg, out_dir=out, resume=not args.no_resume, log=log)
    if result.encoder_path is not None:
        log(f"wrote {result.encoder_path}")
    return 0


def cmd_embed(args: argparse.Namespace, log: Log) -> int:
    """``geosrl embed INPUT OUTPUT``: see :func:`geosrl.embed.embed_file`."""
    from geosrl.config import check_device
    from geosrl.embed import embed_file

    check_device(args.device)
    n, d = embed_file(args.input, args.output, encoder=args.encoder, checkpoint=args.checkpoint,
                      geoclip=args.geoclip, lon_col=args.lon_col, lat_col=args.lat_col, batch_size=args.batch_size,
                      device=args.device, progress=_progress_bar("embedded") if sys.stderr.isatty() else None,
                      compile=args.compile)
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    log(f"wrote {n} embeddings of {d} dimensions to {args.output}")
    return 0


def _progress_bar(what: str, width: int = 30) -> Callable[[int, int], None]:
    """A one-line progress bar on the terminal: ``embedded [#####-----] 500000/1000000 rows``."""

    def show(done: int, total: int) -> None:
        filled = width * done // max(total, 1)
        sys.stderr.write(f"\r{what} [{'#' * filled}{'-' * (width - filled)}] {done}/{total} rows")
        sys.stderr.flush()

    return show


def cmd_predict(args: argparse.Namespace, log: Log) -> int:
    """``geosrl predict MODEL INPUT OUTPUT``: see :func:`geosrl.estimators.predict_file.predict_file`."""
    from geosrl.config import check_device
    from geosrl.estimators.predict_file import predict_file

    check_device(args.device)
    n, columns = predict_file(args.model, args.input, args.output, lon_col=args.lon_col, lat_col=args.lat_col,
                              device=args.device)
    log(f"wrote {n} predictions ({', '.join(columns[:4])}{', …' if len(columns) > 4 else ''}) to {args.output}")
    return 0


def cmd_encoders(log: Log) -> int:
    """``geosrl encoders``: one line per registered encoder with its short description."""
    import geosrl
    from geosrl.encoders import get_encoder_class

    names = geosrl.list_encoders()
    width = max(len(n) for n in names)
    for name in names:
        doc = (get_encoder_class(name).__doc__ or "").strip().splitlines()
        log(f"{name.ljust(width)}  {doc[0] if doc else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
