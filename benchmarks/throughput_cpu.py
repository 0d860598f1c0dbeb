#!/usr/bin/env python
"""Multi-scale encodings on CPU against TorchSpatial and the sine floor (issue 12); run by `make throughput`.

For every multi-scale encoding (Space2Vec grid/theory, Sphere2Vec C/C+/M/M+/dfs, NeRF, spherical
harmonics), at each N (default 200,000 and 2,000,000), float64 coordinates in:

* geosrl's eager encoding (default arguments, ``validate=True``), float32 and float64 output;
* TorchSpatial's NumPy position encoder on the same points, shaped ``(N, 1, 2)`` as its trainer calls it
  (timed on at most ``--ts-max-n`` points: its float64 temporaries are ~10× the output);
* the sine floor: the time ``torch.sin`` takes, on an out-of-cache tensor in the output dtype, for the
  encoding's count of transcendental values (``sines_per_point`` × N) — measured in the same run;
* ratios: geosrl / TorchSpatial and floor time / geosrl time (1 = at the floor; the target is ≥ 0.5).

Then ``encoding.compile_blocks()`` (inductor) of every encoding at every N (compile time reported), the peak
extra memory of one call at ``--memory-n`` points (``benchmarks/memory_probe.py``, in a subprocess),
and the thread/N scaling study that explains the old README's 10–14× (1 and 2 threads, N = 20,000 and
200,000, this tree and, with ``--baseline``, older commits' code), each in its own process.

Writes ``encode_throughput_multiscale.{md,csv}`` and ``encode_throughput_scaling.csv`` to ``--out``
and, with ``--readme``, replaces the table between the README's ``<!-- throughput-table -->`` markers.

    OMP_WAIT_POLICY=PASSIVE .venv/bin/python benchmarks/throughput_cpu.py \\
        --torchspatial-dir .venv/torchspatial/torchspatial --out benchmarks/results --readme README.md
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from encode_throughput import git_commit, load_torchspatial, random_lonlat, time_call, ts_pairs  # noqa: E402

import geosrl  # noqa: E402  (the scaling study imports older geosrl trees too: only the API they share)

ENCODERS = ["space2vec_grid", "space2vec_theory", "sphere2vec_spherec", "sphere2vec_spherec_plus",
            "sphere2vec_spherem", "sphere2vec_spherem_plus", "sphere2vec_dfs", "nerf", "spherical_harmonics"]
COMPILED = ENCODERS
SCALING = ["space2vec_grid", "space2vec_theory", "nerf"]  # the old README's 10–14× rows
TS_TARGET_F32, TS_TARGET_F64, FLOOR_TARGET = 10.0, 5.0, 0.5
MARK_BEGIN, MARK_END = "<!-- throughput-table:begin -->", "<!-- throughput-table:end -->"
CPU = torch.device("cpu")


def load() -> str:
    """1-minute load average, as text."""
    return f"{os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "?"


def torchspatial_encoder(sre, name: str):
    """TorchSpatial's encoder for ``name`` at geosrl's default settings, or None (spherical harmonics: B2)."""
    if sre is None or name == "spherical_harmonics":
        return None
    if name == "sphere2vec_dfs":  # geosrl's default S = 8 on both sides (ts_pairs uses S = 32)
        return sre.DFTSpatialRelationPositionEncoder(frequency_num=8, min_radius=1e-3, max_radius=1.0, device="cpu")
    return ts_pairs(sre, name)[0]


def sine_rate(dtype: torch.dtype, values: int, repeats: int) -> float:
    """``torch.sin`` values per second on ``values`` phases in [−π, π) (out of cache), ``out=`` preallocated."""
    phases = (torch.rand(values, dtype=torch.float64) * (2 * math.pi) - math.pi).to(dtype)
    out = torch.empty_like(phases)
    return values / time_call(lambda: torch.sin(phases, out=out), repeats, CPU)


def write_rate(values: int, repeats: int) -> float:
    """float32 values per second that ``fill_`` writes into an existing out-of-cache tensor (the write floor)."""
    out = torch.empty(values, dtype=torch.float32)
    return values / time_call(lambda: out.fill_(1.0), repeats, CPU)


def bench_n(n: int, sre, args, ts_rates: dict[str, tuple[int, float]]) -> list[dict[str, Any]]:
    """One row per encoder at ``n`` points. TorchSpatial is timed once per encoder, on min(N, ``--ts-max-n``)
    points at the first N, and that rate (``ts_rates``: encoder → (points, M pts/s)) is used for every N:
    its NumPy code runs at a rate flat in N out of cache, and timing it again took a fifth of the run."""
    x = random_lonlat(n, 0, torch.float64)
    rates = {dt: sine_rate(dt, min(n * 128, 1 << 25), args.repeats) for dt in (torch.float32, torch.float64)}
    writes = write_rate(1 << 25, args.repeats)
    print(f"N = {n:,}: torch.sin {rates[torch.float32] / 1e9:.2f} G/s float32, "
          f"{rates[torch.float64] / 1e9:.2f} G/s float64; fill_ {writes * 4 / 1e9:.1f} GB/s (load {load()})", flush=True)
    rows = []
    for name in args.encoders:
        pe = geosrl.create_positional_encoding(name)
        row: dict[str, Any] = {"n": n, "encoder": name, "output_dim": pe.output_dim, "sines": pe.sines_per_point,
                               "load_start": load()}
        with torch.no_grad():
            for dt, tag in ((torch.float32, "f32"), (torch.float64, "f64")):
                seconds = time_call(lambda: pe(x, dtype=dt), args.repeats, CPU)
                row[f"geosrl_{tag}_mpts"] = n / seconds / 1e6
                floor_s = n * pe.sines_per_point / rates[dt]
                row[f"floor_{tag}_mpts"] = n / floor_s / 1e6
                row[f"floor_ratio_{tag}"] = floor_s / seconds
            row["write_ratio_f32"] = n * pe.output_dim / writes / (n / row["geosrl_f32_mpts"] / 1e6)
        ts = torchspatial_encoder(sre, name)
        if ts is not None:
            if name not in ts_rates:
                ts_n = min(n, args.ts_max_n)
                arr = x[:ts_n].numpy()[:, None, :]
                with torch.no_grad():
                    ts_rates[name] = (ts_n, ts_n / time_call(lambda: ts(arr), args.repeats, CPU) / 1e6)
            row["ts_n"], row["ts_mpts"] = ts_rates[name]
            row["ts_ratio_f32"] = row["geosrl_f32_mpts"] / row["ts_mpts"]
            row["ts_ratio_f64"] = row["geosrl_f64_mpts"] / row["ts_mpts"]
        row["load_end"] = load()
        rows.append(row)
        print(f"  {name:24s} f32 {row['geosrl_f32_mpts']:6.2f}  f64 {row['geosrl_f64_mpts']:6.2f} M pts/s  "
              f"floor ratio {row['floor_ratio_f32']:.2f}/{row['floor_ratio_f64']:.2f}  "
              + (f"TS {row['ts_mpts']:.2f} (x{row['ts_ratio_f32']:.1f}/x{row['ts_ratio_f64']:.1f})" if ts else "TS –")
              + f"  load {row['load_end']}", flush=True)
    return rows


def bench_compiled(n: int, rows: list[dict[str, Any]], args) -> list[dict[str, Any]]:
    """``encoding.compile_blocks()`` (inductor, float32 output) at ``n`` points: speed, × TorchSpatial, ÷ floor
    and × eager against the eager row of the same run, and the one-off compile time (first call)."""
    x = random_lonlat(n, 0, torch.float64)
    eager_rows = {r["encoder"]: r for r in rows if r["n"] == n}
    out = []
    for name in args.compile_encoders:
        pe = geosrl.create_positional_encoding(name).compile_blocks()
        with torch.no_grad():
            t0 = time.perf_counter()
            pe(x[:1000], dtype=torch.float32)
            compile_s = time.perf_counter() - t0
            mpts = n / time_call(lambda: pe(x, dtype=torch.float32), args.repeats, CPU) / 1e6
        eager = eager_rows[name]
        row = {"encoder": name, "n": n, "compile_s": compile_s, "compiled_mpts": mpts,
               "speedup": mpts / eager["geosrl_f32_mpts"], "floor_ratio": mpts / eager["floor_f32_mpts"],
               "ts_ratio": mpts / eager["ts_mpts"] if eager.get("ts_mpts") else None, "load": load()}
        out.append(row)
        print(f"  compiled {name:24s} {mpts:6.2f} M pts/s = {row['speedup']:.2f}x eager, floor ratio "
              f"{row['floor_ratio']:.2f} (compile {compile_s:.1f} s, load {load()})", flush=True)
    return out


def memory_ratios(args) -> dict[str, float]:
    """Peak extra memory / output of one float32 call at ``--memory-n`` points, per encoder."""
    probe = Path(__file__).resolve().parent / "memory_probe.py"
    done = subprocess.run([sys.executable, str(probe), "--n", str(args.memory_n), "--dtype", "float32",
                           "--threads", str(torch.get_num_threads()), *args.encoders],
                          capture_output=True, text=True, check=True)
    return {line.split(",")[0]: float(line.split(",")[5]) for line in done.stdout.splitlines()}


def scaling_rows(sre, threads: int) -> list[dict[str, Any]]:
    """TorchSpatial and geosrl at N = 20,000 and 200,000 with ``threads`` threads (run in its own process)."""
    torch.set_num_threads(threads)
    rows = []
    for n in (20_000, 200_000):
        x = random_lonlat(n, 3, torch.float64)
        arr = x.numpy()[:, None, :]
        for name in SCALING:
            pe = geosrl.create_positional_encoding(name)
            ts = torchspatial_encoder(sre, name)
            with torch.no_grad():
                row = {"encoder": name, "n": n, "threads": threads, "load": load(),
                       "ts_mpts": n / time_call(lambda: ts(arr), 3, CPU) / 1e6 if ts is not None else None,
                       "geosrl_f64_mpts": n / time_call(lambda: pe(x), 3, CPU) / 1e6,
                       "geosrl_f32_mpts": n / time_call(lambda: pe(x, dtype=torch.float32), 3, CPU) / 1e6}
            rows.append(row)
    return rows


def run_scaling(args) -> list[dict[str, Any]]:
    """The scaling study in fresh processes: 1 and 2 threads, this tree and the baseline source."""
    sources = [("this tree", None)] + [(f"commit {label}", src) for label, src in
                                       (b.split("=", 1) for b in args.baseline)]
    rows = []
    for label, src in sources:
        env = dict(os.environ)
        if src:
            env["PYTHONPATH"] = str(Path(src).resolve()) + os.pathsep + env.get("PYTHONPATH", "")
        for threads in (1, 2):
            cmd = [sys.executable, __file__, "--scaling-only", str(threads)]
            if args.torchspatial_dir:
                cmd += ["--torchspatial-dir", args.torchspatial_dir]
            done = subprocess.run(cmd, capture_output=True, text=True, env=env)
            if done.returncode != 0:  # recorded; the main table must not be lost
                print(f"  scaling: {label}, {threads} thread(s) FAILED: {done.stderr.strip().splitlines()[-1:]}")
                continue
            for r in json.loads(done.stdout.strip().splitlines()[-1]):
                rows.append(dict(r, code=label))
            print(f"  scaling: {label}, {threads} thread(s) done (load {load()})", flush=True)
    return rows


def fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.0f}" if abs(v) >= 100 else f"{v:.{digits}g}"
    return str(v)


def main_table(rows: list[dict[str, Any]], memory: dict[str, float], compiled: list[dict[str, Any]]) -> str:
    """The README table: one line per encoder and N."""
    comp = {(r["encoder"], r["n"]): r for r in compiled}
    head = ["encoder", "N", "f32 out", "× TS", "÷ floor", "÷ write", "f64 out", "× TS", "÷ floor", "TS", "sines/pt",
            "compiled f32", "× TS", "÷ floor", "× eager", "peak mem / out"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    first_n = rows[0]["n"] if rows else None
    for r in rows:
        c = comp.get((r["encoder"], r["n"]), {})
        lines.append("| " + " | ".join([
            f"`{r['encoder']}`", f"{r['n']:,}", fmt(r["geosrl_f32_mpts"]), fmt(r.get("ts_ratio_f32")),
            fmt(r["floor_ratio_f32"], 2), fmt(r["write_ratio_f32"], 2), fmt(r["geosrl_f64_mpts"]),
            fmt(r.get("ts_ratio_f64")),
            fmt(r["floor_ratio_f64"], 2), fmt(r.get("ts_mpts")), str(r["sines"]),
            fmt(c.get("compiled_mpts")), fmt(c.get("ts_ratio")), fmt(c.get("floor_ratio"), 2),
            f"{c['speedup']:.2f}" if c else "–",
            fmt(memory.get(r["encoder"]), 3) if r["n"] == first_n else ""]) + " |")
    return "\n".join(lines)


def scaling_table(rows: list[dict[str, Any]]) -> str:
    head = ["code", "encoder", "threads", "N", "TS", "geosrl f64", "× TS (f64)", "geosrl f32", "× TS (f32)", "load"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        ts = r.get("ts_mpts")
        lines.append("| " + " | ".join([
            r["code"], f"`{r['encoder']}`", str(r["threads"]), f"{r['n']:,}", fmt(ts), fmt(r["geosrl_f64_mpts"]),
            fmt(r["geosrl_f64_mpts"] / ts if ts else None), fmt(r["geosrl_f32_mpts"]),
            fmt(r["geosrl_f32_mpts"] / ts if ts else None), r["load"]]) + " |")
    return "\n".join(lines)


def conditions(meta: dict[str, Any]) -> str:
    return (f"`{meta['command']}` — git `{meta['commit']}`, {meta['date']}; {meta['machine']}, nproc {meta['nproc']}, "
            f"torch {torch.__version__}, {meta['threads']} threads; float64 coordinates uniform on the sphere; median "
            f"of {meta['repeats']} timed calls after one warm-up; 1-min load average {meta['load0']} at start, "
            f"{meta['load1']} at end (per-row loads in the CSV); run took {meta['elapsed']:.0f} s")


def atomic_write_text(path: Path, text: str) -> None:
    from geosrl.files import atomic_write_text as write  # this tree's writer (older trees lack geosrl.files)

    write(path, text)


def update_readme(path: Path, table: str, meta: dict[str, Any]) -> None:
    text = path.read_text()
    if MARK_BEGIN not in text or MARK_END not in text:
        raise SystemExit(f"{path} has no {MARK_BEGIN} … {MARK_END} block to replace")
    head, rest = text.split(MARK_BEGIN, 1)
    _, tail = rest.split(MARK_END, 1)
    block = f"{MARK_BEGIN}\n{conditions(meta)}.\n\n{table}\n{MARK_END}"
    atomic_write_text(path, head + block + tail)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", default="200000,2000000", help="comma-separated point counts")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--encoders", default=",".join(ENCODERS))
    p.add_argument("--compile-encoders", default=",".join(COMPILED), help="'' to skip torch.compile")
    p.add_argument("--memory-n", type=int, default=5_000_000, help="0 to skip the memory probe")
    p.add_argument("--ts-max-n", type=int, default=500_000)
    p.add_argument("--torchspatial-dir", default=None)
    p.add_argument("--baseline", action="append", default=[], metavar="LABEL=SRC",
                   help="also run the scaling study on the geosrl package in the folder SRC (repeatable)")
    p.add_argument("--no-scaling", action="store_true")
    p.add_argument("--scaling-only", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--out", default="benchmarks/results")
    p.add_argument("--readme", default=None, help="README to update between the throughput-table markers")
    args = p.parse_args(argv)
    args.encoders = [e for e in args.encoders.split(",") if e]
    args.compile_encoders = [e for e in args.compile_encoders.split(",") if e]
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    sre, ts_msg = load_torchspatial(args.torchspatial_dir)
    if args.scaling_only is not None:
        print(json.dumps(scaling_rows(sre, args.scaling_only)))
        return 0
    torch.set_num_threads(args.threads)
    started, load0 = time.perf_counter(), load()
    print(f"geosrl {geosrl.__version__} from {Path(geosrl.__file__).parent}, torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; {ts_msg}", flush=True)
    ts_rates: dict[str, tuple[int, float]] = {}
    rows = [r for n in (int(v) for v in args.n.split(",")) for r in bench_n(n, sre, args, ts_rates)]
    compiled = [r for n in sorted({r["n"] for r in rows}) for r in bench_compiled(n, rows, args)] \
        if args.compile_encoders else []
    memory = memory_ratios(args) if args.memory_n else {}
    for name, ratio in memory.items():
        print(f"  peak memory {name:24s} {ratio:.3f} x output at N = {args.memory_n:,}", flush=True)
    scaling = [] if args.no_scaling else run_scaling(args)
    env = [f"{k}={os.environ[k]}" for k in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS") if k in os.environ]
    meta = {"command": " ".join([*env, "python", *(shlex.quote(a) for a in sys.argv)]),
            "commit": git_commit(Path(__file__).resolve().parents[1]),
            "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": platform.processor() or platform.machine(), "nproc": os.cpu_count(),
            "threads": args.threads, "repeats": args.repeats, "load0": load0, "load1": load(),
            "elapsed": time.perf_counter() - started}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for r in rows:
        r["peak_mem_ratio"] = memory.get(r["encoder"]) if r["n"] == rows[0]["n"] else None
    from _results import write_csv  # this tree's (older trees, run by the scaling study, lack geosrl.config)

    write_csv(out / "encode_throughput_multiscale.csv", rows + [dict(r, kind="compiled") for r in compiled], digits=6)
    if scaling:
        write_csv(out / "encode_throughput_scaling.csv", scaling, digits=6)
    table = main_table(rows, memory, compiled)
    md = ["# Multi-scale encodings on CPU: geosrl vs TorchSpatial vs the sine floor\n", conditions(meta) + ".\n",
          "M pts/s. `× TS`: geosrl / TorchSpatial (float32 features from float64 coordinates is what TorchSpatial "
          f"returns; TorchSpatial timed once per encoding on min(first N, {args.ts_max_n:,}) points, `(N, 1, 2)` as "
          "its trainer calls it, and that rate used at every N). "
          "`÷ floor`: the time `torch.sin` takes for the encoding's `sines/pt` × N values (out of cache, output "
          f"dtype) divided by geosrl's time (1 = at the floor). `÷ write`: the time `fill_` takes to write the float32 "
          "output once into existing memory, divided by geosrl's float32 time (the floor of an encoding whose "
          "cost is its output rather than its sines, e.g. spherical harmonics' L² products). Targets: ≥ {TS_TARGET_F32:.0f}× TS with float32 "
          f"output, ≥ {TS_TARGET_F64:.0f}× with float64, ÷ floor ≥ {FLOOR_TARGET}. `peak mem / out`: peak RSS "
          f"growth of one float32 call at N = {args.memory_n:,} over its output bytes. `compiled f32`: "
          "`encoding.compile_blocks()` (inductor fuses a fixed-size block of rows into one loop; opt-in), "
          "float32 output, with its ratios to TorchSpatial, to the floor and to eager; one-off compile times "
          "in the CSV.\n", table, ""]
    if scaling:
        md += ["## Scaling: threads and N (why the old 10–14× did not reproduce)\n", scaling_table(scaling), ""]
    atomic_write_text(out / "encode_throughput_multiscale.md", "\n".join(md))
    if args.readme:
        update_readme(Path(args.readme), table, meta)
    print("\n" + table + "\n", flush=True)
    if scaling:
        print(scaling_table(scaling) + "\n", flush=True)
    print(f"wrote {out / 'encode_throughput_multiscale.md'} in {meta['elapsed']:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
