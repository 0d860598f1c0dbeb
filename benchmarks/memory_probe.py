#!/usr/bin/env python
"""Peak extra memory of one encoding call, as a multiple of its output (issue 12, item 2).

Runs in its own process: resets the peak-RSS mark (``/proc/self/clear_refs``), encodes N points once,
and prints one CSV line per encoder: ``encoder,n,dtype,output_bytes,peak_growth_bytes,ratio`` where
``peak_growth`` = peak RSS during the call − RSS before it (the output included). Linux only.

    .venv/bin/python benchmarks/memory_probe.py --n 5000000 --dtype float32 space2vec_grid nerf
"""

from __future__ import annotations

import argparse
import gc

import torch

import geosrl


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")


def peak_growth(name: str, lonlat: torch.Tensor, dtype: torch.dtype) -> tuple[int, int]:
    """(output bytes, peak RSS growth in bytes) of ``encoder(lonlat, dtype=dtype)``."""
    pe = geosrl.create_positional_encoding(name, validate=False)
    with torch.no_grad():
        pe(lonlat[:1000], dtype=dtype)  # warm-up: thread pool, allocator
        gc.collect()
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset VmHWM to the current RSS
        before = _status_kib("VmRSS")
        out = pe(lonlat, dtype=dtype)
        growth = _status_kib("VmHWM") - before
    size = out.numel() * out.element_size()
    del out
    gc.collect()
    return size, growth


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("encoders", nargs="+")
    p.add_argument("--n", type=int, default=5_000_000)
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(0)
    lonlat = torch.rand(args.n, 2, generator=g, dtype=torch.float64)
    lonlat = lonlat * torch.tensor([360.0, 180.0], dtype=torch.float64) - torch.tensor([180.0, 90.0], dtype=torch.float64)
    dtype = getattr(torch, args.dtype)
    for name in args.encoders:
        size, growth = peak_growth(name, lonlat, dtype)
        print(f"{name},{args.n},{args.dtype},{size},{growth},{growth / size:.4f}", flush=True)


if __name__ == "__main__":
    main()
