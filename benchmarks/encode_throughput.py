#!/usr/bin/env python
"""Location-encoder throughput: millions of points per second for every geosrl encoder.

For each encoder (issue #2, item 5):
  (a) the position encoding alone (eager, default ``validate=True``; and ``validate=False``),
  (b) encoding + default network (``create_encoder(name)``, eval mode, ``torch.no_grad``),
  (c) optionally ``torch.compile`` of the ``validate=False`` encoding (compile time reported
      separately; a failure is recorded, not raised),
  (d) on CUDA: up to N = 10,000,000 points, chunked where the output would not fit, with the
      memory-bandwidth bound (time to write the output once at the card's measured
      device-to-device copy bandwidth),
  (e) on CPU, side by side with TorchSpatial's NumPy position encoders on identical float64
      inputs (``--torchspatial-dir``), with speed ratios against the targets (>= 10x eager,
      >= 20x compiled) and a numerical agreement check.

Timings: one warm-up call, then ``--repeats`` timed calls; the median is reported. Slow calls
(> 2 s) use at most 3 timed repeats so the whole CPU run stays near 10 minutes.

Example:
    .venv/bin/python benchmarks/encode_throughput.py --device cpu --n 200000 \
        --torchspatial-dir /tmp/ts/torchspatial --out benchmarks/results

TorchSpatial is never vendored: point ``--torchspatial-dir`` at the unpacked PyPI wheel
(``pip download --no-deps torchspatial==0.0.0.1 -d DIR && unzip DIR/*.whl -d DIR``).
"""

from __future__ import annotations

import argparse
import csv
import datetime as _dt
import fnmatch
import math
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

import geosrl

MULTI_SCALE = {
    "space2vec_grid", "space2vec_theory", "sphere2vec_spherec", "sphere2vec_spherec_plus",
    "sphere2vec_spherem", "sphere2vec_spherem_plus", "sphere2vec_dfs",
}
EAGER_TARGET, COMPILED_TARGET = 10.0, 20.0
SLOW_CALL_S = 2.0
#: environment variables that change CPU threading; recorded in the command line of the report
ENV_VARS = ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "GOMP_SPINCOUNT")


# ----------------------------------------------------------------------------------------------
# timing helpers
# ----------------------------------------------------------------------------------------------
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_call(fn: Callable[[], Any], repeats: int, device: torch.device, warmup: int = 1) -> float:
    """Median wall time (s) of ``fn()`` after ``warmup`` calls; slow calls get at most 3 repeats."""
    first = None
    for _ in range(warmup):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        first = time.perf_counter() - t0
    if first is not None and first > SLOW_CALL_S:
        repeats = min(repeats, 3)
    times = []
    for _ in range(max(1, repeats)):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def mpts(n: int, seconds: float | None) -> float | None:
    return None if seconds is None or seconds <= 0 else n / seconds / 1e6


def random_lonlat(n: int, seed: int, dtype: torch.dtype) -> torch.Tensor:
    """``n`` points uniform on the sphere, ``(n, 2)`` (lon, lat) degrees."""
    g = torch.Generator().manual_seed(seed)
    u = torch.rand(n, 2, generator=g, dtype=torch.float64)
    lon = 360.0 * u[:, 0] - 180.0
    lat = torch.rad2deg(torch.asin(2.0 * u[:, 1] - 1.0))
    return torch.stack([lon, lat], dim=-1).to(dtype)


def short_error(exc: BaseException) -> str:
    msg = f"{type(exc).__name__}: {exc}".strip().splitlines()
    return (msg[0] if msg else type(exc).__name__)[:300]


# ----------------------------------------------------------------------------------------------
# chunking (CUDA, large N): keep each call's output under a byte budget
# ----------------------------------------------------------------------------------------------
def chunk_size_for(output_dim: int, itemsize: int, n: int, budget_bytes: int) -> int:
    per_point = max(1, output_dim) * itemsize
    return int(max(1, min(n, budget_bytes // per_point)))


def run_chunked(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, chunk: int) -> None:
    for i in range(0, x.shape[0], chunk):
        fn(x[i:i + chunk])


def copy_bandwidth(device: torch.device, nbytes: int = 2 << 30) -> float:
    """Device-to-device copy bandwidth in bytes/s, counting read + write (as CUDA's bandwidthTest)."""
    src = torch.empty(nbytes // 4, dtype=torch.float32, device=device)
    dst = torch.empty_like(src)
    dst.copy_(src)
    _sync(device)
    t = time_call(lambda: dst.copy_(src), 10, device)
    del src, dst
    torch.cuda.empty_cache()
    return 2.0 * nbytes / t


# ----------------------------------------------------------------------------------------------
# TorchSpatial (optional, CPU side by side)
# ----------------------------------------------------------------------------------------------
def load_torchspatial(path: str | None):
    """Import TorchSpatial's ``SpatialRelationEncoder`` from an unpacked wheel, or return (None, note)."""
    if not path:
        return None, "no --torchspatial-dir given: TorchSpatial comparison skipped"
    root = Path(path)
    if not (root / "SpatialRelationEncoder.py").exists() and (root / "torchspatial" / "SpatialRelationEncoder.py").exists():
        root = root / "torchspatial"
    if not (root / "SpatialRelationEncoder.py").exists():
        return None, f"{path} holds no SpatialRelationEncoder.py: TorchSpatial comparison skipped"
    # its modules use absolute imports (module, data_utils, paths, ...) and import a module the
    # wheel does not ship; a stub keeps the import alive (its spherical harmonics cannot run, B2).
    sys.path.insert(0, str(root))
    if "spherical_harmonics_ylm_numpy" not in sys.modules:
        stub = types.ModuleType("spherical_harmonics_ylm_numpy")

        def get_positional_encoding(*_a, **_k):
            raise NotImplementedError("spherical_harmonics_ylm_numpy is not shipped in torchspatial==0.0.0.1")

        stub.get_positional_encoding = get_positional_encoding
        sys.modules["spherical_harmonics_ylm_numpy"] = stub
    try:
        import SpatialRelationEncoder as sre  # type: ignore[import-not-found]
    except Exception as exc:  # pragma: no cover - depends on the wheel
        return None, f"TorchSpatial import failed ({short_error(exc)}): comparison skipped"
    return sre, f"TorchSpatial imported from {root}"


def ts_pairs(sre, name: str, anchors: np.ndarray | None = None):
    """(TorchSpatial position encoder, geosrl kwargs for the same formula, geosrl kwargs timed, note).

    Settings: frequency_num=32 for the multi-scale encoders (Space2Vec radii 0.1 .. 360 deg,
    Sphere2Vec 1e-3 .. 1), dfs at S = 32 on both sides, float64 coordinates on both sides.
    """
    c = dict(device="cpu")
    s2v = dict(frequency_num=32, min_radius=0.1, max_radius=360.0)
    sph = dict(frequency_num=32, min_radius=1e-3, max_radius=1.0)
    if name == "space2vec_grid":
        return sre.GridCellSpatialRelationPositionEncoder(**s2v, **c), s2v, s2v, ""
    if name == "space2vec_theory":
        return sre.TheoryGridCellSpatialRelationPositionEncoder(**s2v, **c), s2v, s2v, ""
    if name == "sphere2vec_spherec":
        return sre.SphereSpatialRelationPositionEncoder(**sph, **c), sph, sph, ""
    if name == "sphere2vec_spherec_plus":
        return sre.SphereGirdSpatialRelationPositionEncoder(**sph, **c), sph, sph, ""
    if name == "sphere2vec_spherem":
        return sre.SphereMixScaleSpatialRelationPositionEncoder(**sph, **c), sph, sph, ""
    if name == "sphere2vec_spherem_plus":
        leg = dict(sph, legacy_single_scale=True)
        return (sre.SphereGridMixScaleSpatialRelationPositionEncoder(**sph, **c), leg, leg,
                "TorchSpatial ignores min_radius (B4: all omega = 1 at max_radius = 1); compared with "
                "geosrl legacy_single_scale=True; geosrl's default geometric schedule differs by design")
    if name == "sphere2vec_dfs":
        leg = dict(sph, legacy_single_scale=True)
        return (sre.DFTSpatialRelationPositionEncoder(**sph, **c), leg, leg,
                "S = 32 on both sides (output 4224); TorchSpatial ignores min_radius (B4); compared with "
                "geosrl legacy_single_scale=True")
    if name == "xyz":
        return sre.XYZSpatialRelationPositionEncoder(**c), {}, {}, ""
    if name == "nerf":
        return sre.NERFSpatialRelationPositionEncoder(frequency_num=16, **c), {"frequency_num": 16}, {"frequency_num": 16}, ""
    if name in ("wrap", "wrap_ffn"):
        enc = sre.AodhaFFTSpatialRelationPositionEncoder(
            extent=(-180, 180, -90, 90), do_pos_enc=True, do_global_pos_enc=True, **c)
        return (enc, {"lat_mode": "mac_aodha"}, {},
                "TorchSpatial doubles the latitude (B10); agreement checked with lat_mode='mac_aodha'; "
                "its coord_normalize mutates the input array in place (a fresh copy is passed each call)")
    if name == "rbf":
        m = anchors.shape[0]
        enc = sre.RBFSpatialRelationPositionEncoder(
            model_type="global", train_locs=anchors, num_rbf_anchor_pts=m, rbf_kernel_size=2.0,
            rbf_anchor_pt_ids=list(range(m)), **c)
        kw = {"anchors": torch.from_numpy(anchors), "distance": "euclidean_deg", "kernel_size_deg": 2.0}
        return (enc, kw, kw,
                "same 200 anchors and sigma = 2 deg; TorchSpatial's Euclidean-degree distance (geosrl "
                "distance='euclidean_deg'; geosrl's default great-circle distance is timed in the main table)")
    if name == "rff":
        enc = sre.RFFSpatialRelationPositionEncoder(frequency_num=64, rbf_kernel_size=16.0,
                                                    extent=(-180, 180, -90, 90), **c)
        return (enc, {}, {},
                "same omega/b copied into TorchSpatial (float32 there); global extent (B8 avoided)")
    if name == "tile":
        enc = sre.GridLookupSpatialRelationPositionEncoder(spa_embed_dim=256, interval=1.0,
                                                           extent=[-180, 180, -90, 90], **c)
        return (enc, {}, {},
                "1-degree cells on both sides (TorchSpatial's factory would give one cell, B3); "
                "same embedding table copied in")
    if name == "spherical_harmonics":
        enc = sre.SphericalHarmonicsSpatialRelationPositionEncoder(legendre_poly_num=10, **c)
        return (enc, {"legendre_degree": 10}, {"legendre_degree": 10},
                "TorchSpatial's wheel does not ship spherical_harmonics_ylm_numpy (B2): not runnable")
    return None, None, None, "no TorchSpatial counterpart"


def ts_sync_params(name: str, ts_enc, pe) -> None:
    """Give both sides the same random/learned parameters where they have any."""
    if name == "rff":
        ts_enc.dirvec.data = pe.dirvec.to(torch.float32).clone()
        ts_enc.shift.data = pe.shift.to(torch.float32).clone()
    elif name == "tile":
        ts_enc.embedding.weight.data = pe.embedding.weight.detach().clone()


def agreement_points(seed: int = 7) -> np.ndarray:
    special = np.array([[0.0, 0.0], [180.0, 0.0], [-180.0, 0.0], [12.5, 90.0], [-77.0, -90.0],
                        [-122.4, 37.8], [151.2, -33.9], [2.35, 48.85], [179.999, -45.0]])
    rnd = random_lonlat(55, seed, torch.float64).numpy()
    return np.concatenate([special, rnd], 0)


# ----------------------------------------------------------------------------------------------
# main benchmark
# ----------------------------------------------------------------------------------------------
def git_commit(repo: Path) -> str:
    try:
        sha = subprocess.check_output(["git", "rev-parse", "HEAD"], cwd=repo, text=True,
                                      stderr=subprocess.DEVNULL).strip()
        dirty = subprocess.check_output(["git", "status", "--porcelain", "--", "src"], cwd=repo, text=True,
                                        stderr=subprocess.DEVNULL).strip()
        return sha + (" (src/ has uncommitted changes)" if dirty else "")
    except Exception:
        return "unknown"


def fmt(v: Any, digits: int = 3) -> str:
    if v is None or v == "":
        return "–"
    if isinstance(v, float):
        if v == 0:
            return "0"
        if abs(v) >= 100:
            return f"{v:.0f}"
        return f"{v:.{digits}g}"
    return str(v)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    p.add_argument("--n", type=int, default=None,
                   help="points per call (default 200,000 on CPU, 10,000,000 on CUDA)")
    p.add_argument("--repeats", type=int, default=5, help="timed repeats (median reported)")
    p.add_argument("--encoders", default="*",
                   help="comma-separated names or fnmatch patterns (default: all registered encoders)")
    p.add_argument("--no-compile", action="store_true", help="skip the torch.compile path")
    p.add_argument("--dtype", default=None, choices=["float32", "float64"],
                   help="coordinate dtype (default float64 on CPU, float32 on CUDA)")
    p.add_argument("--torchspatial-dir", default=None,
                   help="unpacked torchspatial==0.0.0.1 wheel (folder holding SpatialRelationEncoder.py)")
    p.add_argument("--ts-n", type=int, default=20000,
                   help="points for the TorchSpatial side by side (dfs at S=32 uses ts-n/10)")
    p.add_argument("--net-macs", type=float, default=2e11,
                   help="CPU: cap N for 'pe + net' so that N x (network MACs per point) stays below this")
    p.add_argument("--chunk-gib", type=float, default=4.0,
                   help="CUDA: largest output per call in GiB before chunking")
    p.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    p.add_argument("--out", default="benchmarks/results")
    return p.parse_args(argv)


def select_encoders(spec: str) -> list[str]:
    names = geosrl.list_encoders()
    pats = [s.strip() for s in spec.split(",") if s.strip()]
    chosen = [n for n in names if any(fnmatch.fnmatch(n, p) for p in pats)]
    unknown = [p for p in pats if not any(fnmatch.fnmatch(n, p) for n in names)]
    if unknown:
        raise SystemExit(f"unknown encoder(s) {unknown}; choose from {names}")
    return chosen


def bench_encoder(name: str, x: torch.Tensor, device: torch.device, args, chunk_budget: int,
                  bw: float | None) -> dict[str, Any]:
    n = x.shape[0]
    row: dict[str, Any] = {"encoder": name}
    pe = geosrl.create_positional_encoding(name).to(device)
    pe_nv = geosrl.create_positional_encoding(name, validate=False).to(device)
    out_itemsize = torch.empty(0, dtype=x.dtype).element_size()
    row["output_dim"] = pe.output_dim
    chunk = n if device.type == "cpu" else chunk_size_for(pe.output_dim, out_itemsize, n, chunk_budget)
    row["chunk"] = chunk
    if bw:
        out_bytes = n * pe.output_dim * out_itemsize
        row["bound_mpts"] = mpts(n, out_bytes / bw)

    def timed(fn, key: str) -> None:
        try:
            with torch.no_grad():
                t = time_call(lambda: run_chunked(fn, x, chunk), args.repeats, device)
            row[key] = mpts(n, t)
        except Exception as exc:
            row[key] = None
            row.setdefault("errors", []).append(f"{key}: {short_error(exc)}")

    timed(pe, "pe_eager_mpts")
    timed(pe_nv, "pe_eager_novalidate_mpts")
    try:
        enc = geosrl.create_encoder(name).to(device).eval()
        row["net"] = type(enc.net).__name__
        # the network dominates on CPU (GeoCLIP's MLP is ~9M MACs per point): cap N by a MAC budget
        macs = sum(m.weight.numel() for m in enc.net.modules() if isinstance(m, torch.nn.Linear))
        n_net = n if device.type == "cuda" else int(min(n, max(2000, args.net_macs / max(1, macs))))
        row["net_n"] = n_net
        xs = x[:n_net]
        with torch.no_grad():
            t = time_call(lambda: run_chunked(enc, xs, min(chunk, n_net)), args.repeats, device)
        row["pe_net_eager_mpts"] = mpts(n_net, t)
        del enc
    except Exception as exc:
        row["pe_net_eager_mpts"] = None
        row.setdefault("errors", []).append(f"net: {short_error(exc)}")

    if not args.no_compile:
        try:
            torch._dynamo.reset()
            compiled = torch.compile(pe_nv)
            _sync(device)
            t0 = time.perf_counter()
            with torch.no_grad():
                compiled(x[:chunk])
            _sync(device)
            row["compile_s"] = time.perf_counter() - t0
            with torch.no_grad():
                t = time_call(lambda: run_chunked(compiled, x, chunk), args.repeats, device)
            row["pe_compiled_mpts"] = mpts(n, t)
        except Exception as exc:
            row["pe_compiled_mpts"] = None
            row["compile_error"] = short_error(exc)
        torch._dynamo.reset()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return row


def compare_torchspatial(name: str, sre, args, repeats: int) -> dict[str, Any]:
    """TorchSpatial vs geosrl on identical float64 inputs; returns the comparison columns."""
    anchors = random_lonlat(200, 11, torch.float64).numpy()
    ts_enc, kw_agree, kw_time, note = ts_pairs(sre, name, anchors)
    res: dict[str, Any] = {"ts_note": note}
    if ts_enc is None:
        return res
    n = max(200, args.ts_n // 10) if name == "sphere2vec_dfs" else args.ts_n
    res["ts_n"] = n
    x = random_lonlat(n, 3, torch.float64)
    xn = x.numpy()
    cpu = torch.device("cpu")

    # --- agreement on a few points (same formula and parameters on both sides)
    pe_agree = geosrl.create_positional_encoding(name, **kw_agree)
    ts_sync_params(name, ts_enc, pe_agree)
    pts = agreement_points()
    try:
        with torch.no_grad():
            ts_out = ts_enc(pts[:, None, :].copy()).detach().to(torch.float64).reshape(len(pts), -1)
            gs_out = pe_agree(torch.from_numpy(pts)).to(torch.float64)
        if ts_out.shape != gs_out.shape:
            res["max_abs_diff"] = None
            res["agree_note"] = f"shape mismatch {tuple(ts_out.shape)} vs {tuple(gs_out.shape)}"
        else:
            res["max_abs_diff"] = float((ts_out - gs_out).abs().max())
    except Exception as exc:
        res["ts_error"] = short_error(exc)
        return res

    # --- timing: TorchSpatial's position-encoder forward, as its trainer calls it ((batch, 1, 2)
    # numpy float64), and the faster (1, N, 2) layout; geosrl eager + compiled on the same points.
    needs_copy = name in ("wrap", "wrap_ffn")  # coord_normalize mutates its input in place
    layouts = {"ts_mpts_b1": xn[:, None, :], "ts_mpts_1n": xn[None, :, :]}
    for key, arr in layouts.items():
        pool = [arr.copy() for _ in range(repeats + 1)] if needs_copy else None
        it = iter(pool) if pool else None
        fn = (lambda: ts_enc(next(it))) if pool else (lambda a=arr: ts_enc(a))
        try:
            with torch.no_grad():
                res[key] = mpts(n, time_call(fn, repeats, cpu))
        except Exception as exc:
            res[key] = None
            res["ts_error"] = short_error(exc)

    pe_t = geosrl.create_positional_encoding(name, **kw_time)
    ts_sync_params(name, ts_enc, pe_t)
    f32 = torch.float32  # TorchSpatial returns float32 features from float64 coordinates: the like-for-like output
    with torch.no_grad():
        res["gs_eager_mpts"] = mpts(n, time_call(lambda: pe_t(x), repeats, cpu))
        res["gs_eager_f32_mpts"] = mpts(n, time_call(lambda: pe_t(x, dtype=f32), repeats, cpu))
    if not args.no_compile:
        try:
            torch._dynamo.reset()
            pe_c = torch.compile(geosrl.create_positional_encoding(name, validate=False, **kw_time))
            with torch.no_grad():
                pe_c(x)
                res["gs_compiled_mpts"] = mpts(n, time_call(lambda: pe_c(x), repeats, cpu))
                pe_c(x, dtype=f32)
                res["gs_compiled_f32_mpts"] = mpts(n, time_call(lambda: pe_c(x, dtype=f32), repeats, cpu))
        except Exception as exc:
            res["gs_compiled_mpts"] = None
            res["gs_compile_error"] = short_error(exc)
        torch._dynamo.reset()
    ts_ref = res.get("ts_mpts_b1")
    if ts_ref:
        res["ratio_eager"] = res["gs_eager_mpts"] / ts_ref
        res["ratio_eager_f32"] = res["gs_eager_f32_mpts"] / ts_ref
        if res.get("gs_compiled_mpts"):
            res["ratio_compiled"] = res["gs_compiled_mpts"] / ts_ref
            res["ratio_compiled_f32"] = res["gs_compiled_f32_mpts"] / ts_ref
    ts_fast = res.get("ts_mpts_1n")
    if ts_fast:
        res["ratio_eager_vs_1n"] = res["gs_eager_mpts"] / ts_fast
        if res.get("gs_compiled_mpts"):
            res["ratio_compiled_vs_1n"] = res["gs_compiled_mpts"] / ts_fast
    return res


CSV_COLUMNS = [
    "device", "encoder", "output_dim", "n", "dtype", "threads", "net",
    "pe_eager_mpts", "pe_eager_novalidate_mpts", "pe_net_eager_mpts", "net_n", "compile_s", "pe_compiled_mpts",
    "compile_error", "chunk", "bound_mpts", "copy_bw_gbs",
    "ts_n", "ts_mpts_b1", "ts_mpts_1n", "gs_eager_mpts", "gs_compiled_mpts", "gs_eager_f32_mpts",
    "gs_compiled_f32_mpts", "ratio_eager", "ratio_compiled", "ratio_eager_f32", "ratio_compiled_f32",
    "ratio_eager_vs_1n", "ratio_compiled_vs_1n",
    "eager_target_met", "compiled_target_met", "max_abs_diff", "agree_note", "ts_note", "ts_error",
    "gs_compile_error", "errors",
]


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda given but CUDA is not available")
    n = args.n or (10_000_000 if device.type == "cuda" else 200_000)
    dtype = getattr(torch, args.dtype) if args.dtype else (torch.float32 if device.type == "cuda" else torch.float64)
    names = select_encoders(args.encoders)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    repo = Path(__file__).resolve().parents[1]
    exe = sys.executable
    if exe.startswith(os.getcwd() + os.sep):
        exe = os.path.relpath(exe)
    env = [f"{k}={os.environ[k]}" for k in ENV_VARS if k in os.environ]
    command = " ".join([*env, *(shlex.quote(a) for a in [exe, *sys.argv])])
    load0 = os.getloadavg() if hasattr(os, "getloadavg") else None
    started = time.perf_counter()

    print(f"geosrl {geosrl.__version__}, torch {torch.__version__}, device {device}, N = {n:,}, "
          f"dtype {dtype}, threads {torch.get_num_threads()}, nproc {os.cpu_count()}", flush=True)

    bw = None
    chunk_budget = int(args.chunk_gib * (1 << 30))
    if device.type == "cuda":
        bw = copy_bandwidth(device)
        free, _ = torch.cuda.mem_get_info(device)
        chunk_budget = int(min(chunk_budget, free // 8))
        print(f"device-to-device copy bandwidth: {bw / 1e9:.0f} GB/s (read + write)", flush=True)

    sre, ts_msg = (None, "comparison runs on CPU only") if device.type != "cpu" else load_torchspatial(args.torchspatial_dir)
    print(ts_msg, flush=True)

    x = random_lonlat(n, 0, dtype).to(device)
    rows = []
    for name in names:
        t0 = time.perf_counter()
        row = bench_encoder(name, x, device, args, chunk_budget, bw)
        row.update(device=str(device), n=n, dtype=str(dtype).replace("torch.", ""),
                   threads=torch.get_num_threads(), copy_bw_gbs=(bw / 1e9 if bw else None))
        if sre is not None:
            row.update(compare_torchspatial(name, sre, args, args.repeats))
            if row.get("ratio_eager") is not None:  # either output dtype (float64, or float32 as TorchSpatial's)
                row["eager_target_met"] = max(row["ratio_eager"], row["ratio_eager_f32"]) >= EAGER_TARGET
            if row.get("ratio_compiled") is not None:
                row["compiled_target_met"] = max(row["ratio_compiled"], row["ratio_compiled_f32"]) >= COMPILED_TARGET
        rows.append(row)
        print(f"{name:26s} pe {fmt(row.get('pe_eager_mpts'))}  pe(no-validate) "
              f"{fmt(row.get('pe_eager_novalidate_mpts'))}  pe+net {fmt(row.get('pe_net_eager_mpts'))}  "
              f"compiled {fmt(row.get('pe_compiled_mpts'))} (compile {fmt(row.get('compile_s'))} s)"
              + (f"  bound {fmt(row.get('bound_mpts'))}" if bw else "")
              + (f"  | TS {fmt(row.get('ts_mpts_b1'))} Mpts/s, x{fmt(row.get('ratio_eager'))} eager, "
                 f"x{fmt(row.get('ratio_compiled'))} compiled, max|diff| {fmt(row.get('max_abs_diff'))}"
                 if row.get("ts_n") else "")
              + f"  [{time.perf_counter() - t0:.0f} s]", flush=True)
        if row.get("compile_error"):
            print(f"    compile failed: {row['compile_error']}", flush=True)

    elapsed = time.perf_counter() - started
    load1 = os.getloadavg() if hasattr(os, "getloadavg") else None
    csv_path = out / f"encode_throughput_{device.type}.csv"
    with open(csv_path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            r = dict(r)
            if isinstance(r.get("errors"), list):
                r["errors"] = "; ".join(r["errors"])
            w.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()})

    meta = {
        "command": command, "cwd": os.getcwd(), "commit": git_commit(repo),
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "device": (torch.cuda.get_device_name(device) if device.type == "cuda" else
                   (platform.processor() or platform.machine())),
        "nproc": os.cpu_count(), "torch": torch.__version__, "numpy": np.__version__,
        "threads": torch.get_num_threads(), "python": platform.python_version(),
        "load": (load0, load1), "elapsed": elapsed, "ts": ts_msg, "n": n, "dtype": str(dtype),
    }
    md_path = out / ("encode_throughput.md" if device.type == "cpu" else f"encode_throughput_{device.type}.md")
    md_path.write_text(render_markdown(rows, meta, args, device, bw))
    print(f"wrote {csv_path} and {md_path} in {elapsed:.0f} s", flush=True)
    return 0


def render_markdown(rows, meta, args, device, bw) -> str:
    L = []
    L.append(f"# Location-encoder throughput ({device.type.upper()})\n")
    L.append("Produced by `benchmarks/encode_throughput.py` (issue #2, item 5). Numbers are millions of "
             "points per second (median of the timed repeats after one warm-up call).\n")
    L.append("```\n" + meta["command"] + "\n```\n")
    L.append(f"- run from `{meta['cwd']}`, git commit `{meta['commit']}`, {meta['date']}")
    L.append(f"- machine: {meta['device']}, nproc = {meta['nproc']}, torch {meta['torch']} "
             f"(threads = {meta['threads']}), numpy {meta['numpy']}, Python {meta['python']}")
    if meta["load"][0] is not None:
        l0, l1 = meta["load"]
        L.append(f"- 1/5/15-min load average at start {l0[0]:.1f}/{l0[1]:.1f}/{l0[2]:.1f}, at end "
                 f"{l1[0]:.1f}/{l1[1]:.1f}/{l1[2]:.1f} (above nproc means other processes shared the cores "
                 "and absolute numbers are pessimistic; the side-by-side ratios are measured in the same run). "
                 "On an oversubscribed machine libgomp's spin-waiting makes 2-thread torch ops up to ~100x "
                 "slower; `OMP_WAIT_POLICY=PASSIVE` avoids that")
    L.append(f"- N = {meta['n']:,} coordinates, {meta['dtype'].replace('torch.', '')}, uniform on the sphere; "
             f"{args.repeats} timed repeats (3 when a call takes > {SLOW_CALL_S:.0f} s); total run {meta['elapsed']:.0f} s")
    L.append("- `pe` = position encoding, default `validate=True`; `pe (no val.)` = `validate=False`; "
             "`pe + net` = `geosrl.create_encoder(name)` (default network, embed_dim 256), eval mode, "
             "`torch.no_grad()`, timed on the first `net N` points (N capped on CPU so N × network MACs ≤ "
             f"{args.net_macs:.0e}); `compiled` = `torch.compile(pe with validate=False)`, compile time = first call")
    if bw:
        L.append(f"- copy bandwidth {bw / 1e9:.0f} GB/s (device-to-device, read + write); `bound` = N / (time to "
                 "write the output once at that bandwidth); calls chunked where the output exceeds the chunk budget")
    L.append("")
    head = ["encoder", "out dim", "pe", "pe (no val.)", "pe + net", "net N", "compiled", "compile s"]
    if bw:
        head += ["bound", "chunk"]
    L.append("| " + " | ".join(head) + " |")
    L.append("|" + "---|" * len(head))
    for r in rows:
        cells = [f"`{r['encoder']}`", fmt(r.get("output_dim")), fmt(r.get("pe_eager_mpts")),
                 fmt(r.get("pe_eager_novalidate_mpts")), fmt(r.get("pe_net_eager_mpts")),
                 (f"{r['net_n']:,}" if r.get("net_n") else "–"),
                 fmt(r.get("pe_compiled_mpts")) if not r.get("compile_error") else "failed",
                 fmt(r.get("compile_s"), 2)]
        if bw:
            cells += [fmt(r.get("bound_mpts")), fmt(r.get("chunk"))]
        L.append("| " + " | ".join(cells) + " |")
    errs = [(r["encoder"], r["compile_error"]) for r in rows if r.get("compile_error")]
    errs += [(r["encoder"], e) for r in rows for e in (r.get("errors") or [])]
    L.append("")
    L.append("Compile / run errors: " + ("none." if not errs else ""))
    for enc, e in errs:
        L.append(f"- `{enc}`: {e}")
    L.append("")
    comp = [r for r in rows if r.get("ts_n") or r.get("ts_note")]
    if device.type == "cpu":
        L.append("## Side by side with TorchSpatial (CPU, float64 coordinates on both sides)\n")
        L.append(meta["ts"] + ".")
        if any(r.get("ts_n") for r in comp):
            L.append("")
            L.append("TorchSpatial (`torchspatial==0.0.0.1`, `SpatialRelationEncoder.py`) position-encoder "
                     "`forward` on a NumPy float64 array shaped `(batch, 1, 2)` as its trainer calls it "
                     "(`TS`), and shaped `(1, N, 2)` (`TS (1,N)`; faster because `make_output_embeds` turns the "
                     "array into a list of `batch` sub-arrays), against geosrl's encoding on the same points "
                     "(eager with the default `validate=True`, and compiled). Settings: frequency_num = 32 for "
                     "the multi-scale encoders (Space2Vec λ 0.1°…360°, Sphere2Vec 10⁻³…1), dfs at S = 32 on both "
                     "sides, NeRF L = 16, rbf 200 shared anchors σ = 2°, rff D = 64 with shared ω/b, tile 1° cells "
                     f"with a shared table. Targets: ≥ {EAGER_TARGET:.0f}× eager, ≥ {COMPILED_TARGET:.0f}× compiled "
                     "(ratios against the `(batch, 1, 2)` call; the `(1, N, 2)` ratios in the CSV). `f32 out`: "
                     "geosrl with `dtype=torch.float32` — float64 coordinates and phases, float32 features, "
                     "which is what TorchSpatial returns.")
            L.append("")
            head = ["encoder", "N", "TS", "TS (1,N)", "geosrl eager", "geosrl compiled", "eager ×", "compiled ×",
                    "eager × (f32 out)", "compiled × (f32 out)", "≥10× / ≥20×", "max abs diff"]
            L.append("| " + " | ".join(head) + " |")
            L.append("|" + "---|" * len(head))
            for r in comp:
                if not r.get("ts_n") or r.get("ts_mpts_b1") is None:
                    continue
                met = ("yes" if r.get("eager_target_met") else "no" if r.get("eager_target_met") is not None else "–") \
                    + " / " + ("yes" if r.get("compiled_target_met") else "no" if r.get("compiled_target_met") is not None else "–")
                L.append("| " + " | ".join([
                    f"`{r['encoder']}`", f"{r['ts_n']:,}", fmt(r.get("ts_mpts_b1"), 2), fmt(r.get("ts_mpts_1n"), 2),
                    fmt(r.get("gs_eager_mpts")), fmt(r.get("gs_compiled_mpts")),
                    fmt(r.get("ratio_eager"), 3), fmt(r.get("ratio_compiled"), 3),
                    fmt(r.get("ratio_eager_f32"), 3), fmt(r.get("ratio_compiled_f32"), 3), met,
                    (f"{r['max_abs_diff']:.1e}" if r.get("max_abs_diff") is not None else "–")]) + " |")
            L.append("")
            L.append("Notes per encoder (agreement uses 64 points incl. the antimeridian and both poles; "
                     "TorchSpatial casts its float64 result to float32, so ~1e-7 differences are its rounding):")
            for r in comp:
                note = "; ".join(s for s in (r.get("ts_note"), r.get("agree_note"), r.get("ts_error"),
                                             r.get("gs_compile_error")) if s)
                if note:
                    L.append(f"- `{r['encoder']}`: {note}")
    L.append("")
    return "\n".join(L)


if __name__ == "__main__":
    sys.exit(main())
