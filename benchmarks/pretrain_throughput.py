"""Throughput of CSP pre-training and of the pretrained GeoCLIP location encoder.

    .venv/bin/python benchmarks/pretrain_throughput.py [--device cpu|cuda] [--out benchmarks/results/pretrain_throughput.md]

1. CSP pre-training step (forward + backward + AdamW step of ``geosrl.pretrain.train.build_model`` at the
   quick profile's sizes: CSP-MC-BLD, batch 512, C×8×8 patches with C the quick contexts' channels): pairs/s.
2. GeoCLIP's location encoder forward, (a) geosrl's ``geoclip_rff`` module with the wheel's weights
   (``geosrl.encoders.external.load_geoclip_location_encoder``, ``validate=False``) and (b) GeoCLIP's own
   ``LocationEncoder`` loaded by file path (as ``tests/encoders/data/make_geoclip_reference.py`` does,
   without importing the package's image model); same points, max |difference| reported; points/s
   in fp32 (and tf32 / bf16 autocast on CUDA).

Timings: median of ``--repeats`` runs after a warm-up; wall clock with ``torch.cuda.synchronize`` on GPU.
The markdown file is overwritten with the table, host, thread count, torch version and git commit.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import platform
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import torch


def _load_geoclip_location_encoder_class():
    root = Path(importlib.util.find_spec("geoclip").submodule_search_locations[0])
    for name, path in [("geoclip", root), ("geoclip.model", root / "model")]:
        if name not in sys.modules:
            pkg = types.ModuleType(name)
            pkg.__path__ = [str(path)]
            sys.modules[name] = pkg
    from geoclip.model.location_encoder import LocationEncoder

    return LocationEncoder, root


def _time(fn, repeats: int, device: torch.device) -> float:
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize()
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def bench_csp(device: torch.device, repeats: int, batch: int = 512) -> dict:
    from geosrl.pretrain.train import build_model, resolve_pretrain_config

    cfg = resolve_pretrain_config({"profile": "quick"})
    model = build_model(cfg).to(device).train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    g = torch.Generator().manual_seed(0)
    ll = (torch.rand(batch, 2, generator=g) * torch.tensor([360.0, 170.0]) - torch.tensor([180.0, 85.0])).to(device)
    rand = (torch.rand(batch, 1, 2, generator=g) * torch.tensor([360.0, 170.0]) - torch.tensor([180.0, 85.0])).to(device)
    p = cfg["data"]["patch_size"]
    channels = model.image_encoder.in_channels  # the quick profile's declared contexts
    img = torch.randn(batch, channels, p, p, generator=g).to(device)

    def step():
        loss, _ = model(ll, img, rand)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    t = _time(step, repeats, device)
    return {"batch": batch, "seconds_per_step": t, "pairs_per_s": batch / t,
            "config": f"{cfg['encoder']['name']} d={cfg['encoder']['embed_dim']}, PatchCNN w={cfg['image']['width']} "
                      f"depth={cfg['image']['depth']}, {p}x{p} patches, {cfg['objective']['kind']}-{cfg['objective']['terms']}"}


def bench_geoclip(device: torch.device, repeats: int, n: int) -> list[dict]:
    from geosrl.encoders import load_geoclip_location_encoder

    ours = load_geoclip_location_encoder(validate=False).to(device).eval()  # before the by-path stub modules
    LocationEncoder, root = _load_geoclip_location_encoder_class()
    gallery = np.loadtxt(root / "model" / "gps_gallery" / "coordinates_100K.csv", delimiter=",", skiprows=1)
    latlon = torch.tensor(np.resize(gallery, (n, 2)), dtype=torch.float32, device=device)
    lonlat = latlon.flip(-1).contiguous()
    theirs = LocationEncoder().to(device).eval()
    with torch.no_grad():
        diff = float((ours(lonlat[:4096]) - theirs(latlon[:4096])).abs().max())
        scale = float(theirs(latlon[:4096]).abs().max())
    modes = [("fp32", contextlib.nullcontext, False)]
    if device.type == "cuda":
        modes += [("tf32", contextlib.nullcontext, True),
                  ("bf16 autocast", lambda: torch.autocast("cuda", dtype=torch.bfloat16), False)]
    rows = []
    for mode, ctx, tf32 in modes:
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        for name, fn, x in (("geosrl geoclip_rff", ours, lonlat), ("GeoCLIP LocationEncoder", theirs, latlon)):
            def run():
                with torch.no_grad(), ctx():
                    fn(x)
            t = _time(run, repeats, device)
            rows.append({"impl": name, "mode": mode, "points": n, "seconds": t, "mpoints_per_s": n / t / 1e6,
                         "max_abs_diff_fp32": diff, "output_scale": scale})
    torch.backends.cuda.matmul.allow_tf32 = False
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--points", type=int, default=None, help="GeoCLIP points per forward (default 20k CPU, 1M GPU)")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "pretrain_throughput.md"))
    a = ap.parse_args(argv)
    device = torch.device(a.device)
    n = a.points or (1_000_000 if device.type == "cuda" else 20_000)
    csp = bench_csp(device, a.repeats)
    geo = bench_geoclip(device, a.repeats, n)
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                cwd=Path(__file__).parent).stdout.strip()
    except OSError:
        commit = "unknown"
    hw = torch.cuda.get_device_name(device) if device.type == "cuda" else \
        f"CPU ({platform.processor() or platform.machine()}), {torch.get_num_threads()} torch threads, " \
        f"{os.cpu_count()} cores visible"
    lines = ["# Pre-training and GeoCLIP-encoder throughput", "",
             f"Command: `python benchmarks/pretrain_throughput.py --device {a.device} --repeats {a.repeats}"
             f"{' --points ' + str(a.points) if a.points else ''}`", "",
             f"Device: {hw}; torch {torch.__version__}; git commit `{commit}`; "
             f"written {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Median of {a.repeats} runs after warm-up.",
             "", "## CSP pre-training step (forward + backward + AdamW)", "",
             "| model | batch | s/step | pairs/s |", "|---|---|---|---|",
             f"| {csp['config']} | {csp['batch']} | {csp['seconds_per_step']:.3f} | {csp['pairs_per_s']:.0f} |", "",
             "## GeoCLIP location encoder forward (same weights, same points)", "",
             "| implementation | mode | points | s | M points/s |", "|---|---|---|---|---|"]
    for r in geo:
        lines.append(f"| {r['impl']} | {r['mode']} | {r['points']} | {r['seconds']:.3f} | {r['mpoints_per_s']:.4f} |")
    ratio = {r["mode"]: r["mpoints_per_s"] for r in geo if r["impl"].startswith("geosrl")}
    base = {r["mode"]: r["mpoints_per_s"] for r in geo if r["impl"].startswith("GeoCLIP")}
    lines += ["", "Speed-up geosrl / GeoCLIP: " + ", ".join(f"{m} {ratio[m] / base[m]:.2f}×" for m in ratio) + ".",
              f"Max |geosrl − GeoCLIP| on 4096 points in fp32: {geo[0]['max_abs_diff_fp32']:.2e} "
              f"(output magnitude up to {geo[0]['output_scale']:.2f}).", ""]
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    existing = Path(a.out).read_text() if Path(a.out).is_file() else ""
    block = "\n".join(lines)
    if device.type == "cuda" and existing:  # keep the CPU record, add the GPU one
        block = existing.rstrip() + "\n\n" + "\n".join(["", *lines[2:]])
    Path(a.out).write_text(block + "\n")
    print(block)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
