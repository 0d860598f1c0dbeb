#!/usr/bin/env python
"""Everything issue 12 item 4 asks of a CUDA machine, in one run of under 8 minutes.

1. Copy bandwidth (device to device, read + write) and, per multi-scale encoding at N = 10,000,000
   (fewer rows where the output would exceed ``--max-output-gib``), the memory-bandwidth bound: the time
   to write the output once at that bandwidth. Then the fused Triton kernel (geosrl's default CUDA path,
   ``validate=False``) and ``torch.compile`` of the encoding (inductor) in float32 and float64 output,
   each as M pts/s and as a multiple of the bound's time (target ≤ 3), with the kernel's largest
   difference from the float64 torch path on the first 100,000 points.
2. GeoCLIP's location encoder: geosrl's ``load_geoclip_location_encoder()`` (geoclip_rff + its MLP
   with GeoCLIP's weights, float64 coordinates, float64 phases) against GeoCLIP's own ``LocationEncoder``
   (from the installed ``geoclip`` wheel, loaded without its image side) in fp32, tf32 and bf16 autocast,
   with the ratio to GeoCLIP's own in the same mode and the outputs' largest difference (fp32).

    python benchmarks/gpu_throughput.py --out benchmarks/results/gpu

Writes ``gpu_throughput.csv`` and ``gpu_throughput.md`` to ``--out``. Items that fail are recorded with
their error and the run goes on; items left when ``--budget-s`` is spent are listed as skipped.
"""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import importlib
import importlib.util
import io
import os
import platform
import sys
import time
import types
from pathlib import Path
from typing import Any, Callable

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from encode_throughput import copy_bandwidth, git_commit, random_lonlat  # noqa: E402

import geosrl  # noqa: E402
from geosrl.encoders import load_geoclip_location_encoder  # noqa: E402
from geosrl.encoders.kernels import kernel_usable  # noqa: E402
from geosrl.files import atomic_write_text  # noqa: E402

ENCODERS = ["space2vec_grid", "space2vec_theory", "sphere2vec_spherec", "sphere2vec_spherec_plus",
            "sphere2vec_spherem", "sphere2vec_spherem_plus", "sphere2vec_dfs", "nerf", "geoclip_rff"]
BOUND_TARGET, GEOCLIP_TARGET = 3.0, 10.0


def cuda_time(fn: Callable[[], Any], repeats: int) -> float:
    """Median seconds of ``fn()`` over ``repeats`` CUDA-event-timed calls after one warm-up."""
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / 1e3)
    return sorted(times)[len(times) // 2]


def short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:300]


def bench_encoding(name: str, x: torch.Tensor, bandwidth: float, args) -> list[dict[str, Any]]:
    """Kernel and compiled rows (float32, float64 output) of one encoding."""
    rows = []
    pe = geosrl.create_positional_encoding(name, validate=False).cuda()
    check = x[:100_000]
    for dtype in (torch.float32, torch.float64):
        row_bytes = pe.output_dim * dtype.itemsize
        n = int(min(x.shape[0], args.max_output_gib * 2**30 // row_bytes))
        xs = x[:n]
        bound_s = n * row_bytes / bandwidth
        row: dict[str, Any] = {"item": "encoding", "encoder": name, "dtype": str(dtype)[6:], "n": n,
                               "output_dim": pe.output_dim, "bound_mpts": n / bound_s / 1e6}
        with torch.no_grad():
            try:
                t = cuda_time(lambda: pe(xs, dtype=dtype), args.repeats)
                row.update(kernel_mpts=n / t / 1e6, kernel_x_bound=t / bound_s)
                row["kernel_max_abs_diff"] = float((pe(check, dtype=dtype).double() - pe.encode(check, torch.float64))
                                                   .abs().max())
            except Exception as exc:  # noqa: BLE001 - recorded, the run goes on
                row["kernel_error"] = short(exc)
            try:
                torch._dynamo.reset()
                compiled = torch.compile(pe)
                t0 = time.perf_counter()
                compiled(xs, dtype=dtype)
                torch.cuda.synchronize()
                row["compile_s"] = time.perf_counter() - t0
                t = cuda_time(lambda: compiled(xs, dtype=dtype), args.repeats)
                row.update(compiled_mpts=n / t / 1e6, compiled_x_bound=t / bound_s)
                del compiled
            except Exception as exc:  # noqa: BLE001
                row["compile_error"] = short(exc)
        torch.cuda.empty_cache()
        rows.append(row)
        print(f"{name:24s} {row['dtype']}: N {n:,} bound {row['bound_mpts']:.0f}  kernel "
              f"{row.get('kernel_mpts', float('nan')):.0f} ({row.get('kernel_x_bound', float('nan')):.2f}x bound, "
              f"diff {row.get('kernel_max_abs_diff', float('nan')):.1e})  compiled "
              f"{row.get('compiled_mpts', float('nan')):.0f} M pts/s", flush=True)
    return rows


def geoclip_original():
    """GeoCLIP's own ``LocationEncoder`` with its released weights, imported without the ``geoclip``
    package's image side (which needs transformers)."""
    spec = importlib.util.find_spec("geoclip")
    if spec is None or spec.origin is None:
        raise ImportError("the geoclip wheel is not installed (pip install --no-deps geoclip==1.3.0)")
    package = types.ModuleType("_geoclip_model")
    package.__path__ = [str(Path(spec.origin).parent / "model")]
    sys.modules["_geoclip_model"] = package
    return importlib.import_module("_geoclip_model.location_encoder").LocationEncoder().eval()


def bench_geoclip(args) -> list[dict[str, Any]]:
    """geosrl's GeoCLIP location encoder vs GeoCLIP's own, fp32 / tf32 / bf16 autocast."""
    ours = load_geoclip_location_encoder(validate=False).cuda()
    theirs = geoclip_original().cuda()
    lonlat = random_lonlat(args.geoclip_n, 5, torch.float64).cuda()
    latlon32 = lonlat.flip(-1).float().contiguous()
    rows = []
    for mode in ("fp32", "tf32", "bf16"):
        torch.backends.cuda.matmul.allow_tf32 = mode == "tf32"
        torch.backends.cudnn.allow_tf32 = mode == "tf32"
        autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=mode == "bf16")
        with torch.no_grad(), autocast:
            t_ours = cuda_time(lambda: ours(lonlat), args.repeats)
            t_theirs = cuda_time(lambda: theirs(latlon32), args.repeats)
            a, b = ours(lonlat[:100_000]).float(), theirs(latlon32[:100_000]).float()
        row = {"item": "geoclip", "encoder": "geoclip location encoder", "dtype": mode, "n": args.geoclip_n,
               "geosrl_mpts": args.geoclip_n / t_ours / 1e6, "geoclip_mpts": args.geoclip_n / t_theirs / 1e6,
               "ratio": t_theirs / t_ours, "max_abs_diff": float((a - b).abs().max()),
               "output_scale": float(b.abs().max())}
        rows.append(row)
        print(f"GeoCLIP {mode}: geosrl {row['geosrl_mpts']:.2f} vs GeoCLIP {row['geoclip_mpts']:.2f} M pts/s "
              f"({row['ratio']:.1f}x), max |diff| {row['max_abs_diff']:.1e} of {row['output_scale']:.2g}", flush=True)
    torch.backends.cuda.matmul.allow_tf32 = False
    return rows


def fmt(v: Any, digits: int = 3) -> str:
    if v is None or v == "":
        return "–"
    if isinstance(v, float):
        return f"{v:.0f}" if abs(v) >= 1000 else f"{v:.{digits}g}"
    return str(v)


def render(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    lines = ["# GPU throughput (issue 12, item 4)\n", f"`{meta['command']}` — git `{meta['commit']}`, {meta['date']}; "
             f"{meta['gpu']}, torch {torch.__version__}, triton {meta['triton']}; copy bandwidth "
             f"{meta['bandwidth'] / 1e9:.0f} GB/s (read + write); run took {meta['elapsed']:.0f} s.\n",
             f"M pts/s. `bound`: N / (time to write the output once at the copy bandwidth); `× bound`: time / bound "
             f"time (target ≤ {BOUND_TARGET:.0f}). `kernel`: geosrl's default CUDA path (fused Triton kernel); "
             "`compiled`: `torch.compile(encoding)`.\n",
             "| encoder | out | N | bound | kernel | × bound | max abs diff | compiled | × bound | compile s | errors |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in (r for r in rows if r["item"] == "encoding"):
        lines.append("| " + " | ".join([f"`{r['encoder']}`", r["dtype"], f"{r['n']:,}", fmt(r["bound_mpts"]),
                                        fmt(r.get("kernel_mpts")), fmt(r.get("kernel_x_bound")),
                                        (f"{r['kernel_max_abs_diff']:.1e}" if "kernel_max_abs_diff" in r else "–"),
                                        fmt(r.get("compiled_mpts")), fmt(r.get("compiled_x_bound")),
                                        fmt(r.get("compile_s")),
                                        "; ".join(r[k] for k in ("kernel_error", "compile_error") if k in r) or ""])
                     + " |")
    geo = [r for r in rows if r["item"] == "geoclip"]
    if geo:
        lines += ["", f"GeoCLIP location encoder (target ≥ {GEOCLIP_TARGET:.0f}× GeoCLIP's own):", "",
                  "| mode | N | geosrl | GeoCLIP | × | max abs diff (output scale) |", "|---|---|---|---|---|---|"]
        for r in geo:
            lines.append(f"| {r['dtype']} | {r['n']:,} | {fmt(r['geosrl_mpts'])} | {fmt(r['geoclip_mpts'])} | "
                         f"{fmt(r['ratio'])} | {r['max_abs_diff']:.1e} ({r['output_scale']:.2g}) |")
    for r in rows:
        if r["item"] in ("error", "skipped"):
            lines.append(f"- {r['item']}: {r['encoder']}: {r.get('error', '')}")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", required=True)
    p.add_argument("--n", type=int, default=10_000_000)
    p.add_argument("--geoclip-n", type=int, default=1_000_000)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--max-output-gib", type=float, default=16.0)
    p.add_argument("--budget-s", type=float, default=420.0, help="stop starting new items after this many seconds")
    p.add_argument("--encoders", default=",".join(ENCODERS))
    args = p.parse_args(argv)
    if not torch.cuda.is_available():
        raise SystemExit("no CUDA device: this script measures the GPU targets only")
    if not kernel_usable("cuda"):
        print("warning: triton is not importable: the 'kernel' column is geosrl's chunked torch path", flush=True)
    started = time.perf_counter()
    bandwidth = copy_bandwidth(torch.device("cuda"))
    print(f"{torch.cuda.get_device_name()}: copy bandwidth {bandwidth / 1e9:.0f} GB/s", flush=True)
    x = random_lonlat(args.n, 0, torch.float64).cuda()
    rows: list[dict[str, Any]] = []
    items = [("encoding", e) for e in args.encoders.split(",") if e] + [("geoclip", "geoclip")]
    for kind, name in items:
        if time.perf_counter() - started > args.budget_s:
            rows.append({"item": "skipped", "encoder": name, "error": f"time budget of {args.budget_s:.0f} s spent"})
            continue
        try:
            rows += bench_encoding(name, x, bandwidth, args) if kind == "encoding" else bench_geoclip(args)
        except Exception as exc:  # noqa: BLE001 - one failure must not lose the other measurements
            rows.append({"item": "error", "encoder": name, "error": short(exc)})
            print(f"{name}: {short(exc)}", flush=True)
        torch.cuda.empty_cache()
    meta = {"command": " ".join(["python", *sys.argv]), "commit": git_commit(Path(__file__).resolve().parents[1]),
            "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "gpu": torch.cuda.get_device_name(), "bandwidth": bandwidth, "elapsed": time.perf_counter() - started,
            "triton": importlib.import_module("triton").__version__ if kernel_usable("cuda") else "absent",
            "host": platform.node()}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    keys = list(dict.fromkeys(k for r in rows for k in r))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=keys)
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out / "gpu_throughput.csv", buf.getvalue())
    atomic_write_text(out / "gpu_throughput.md", render(rows, meta))
    print(f"wrote {out}/gpu_throughput.csv and .md in {meta['elapsed']:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
