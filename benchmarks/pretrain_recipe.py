"""Run a pre-training recipe once and commit its log: per-step cost, the full recipe's cost, the run's curve.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/pretrain_recipe.py --profile satclip_bounded \
        --out runs/pretrain-satclip-bounded --results benchmarks/results/pretrain

1. Per-step cost (forward + backward + AdamW, median of 3 after a warm-up, random inputs of the profile's
   shapes) of every pre-training profile, and what its full schedule costs at that rate
   (``epochs · pairs / batch`` steps) — on this machine, with the threads it was given.
2. ``geosrl.pretrain.train.pretrain`` with ``--profile`` into ``--out`` (resumable); its ``log.csv`` and a
   ``<profile>.md`` summary (command, machine, threads, git commit, data, the validation retrieval curve,
   whether it plateaued) are copied to ``--results``.

With a locked image side (``image.locked``, profile ``satclip_locked``) the cost table has a second row for the
image encoder's augmentation-contrast stage (``ssl_epochs · pairs / ssl_batch_size`` steps of two views each),
the location step runs on fixed ``(B, embed_dim)`` embeddings, and the summary shows that stage's curve too.

Plateau (:func:`geosrl.pretrain.train.plateaued`): the last epoch's validation top-1 retrieval is within 0.01 of
the best of the epochs before it, and the last three epochs gained less than 0.01 together.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import sys
import time
from pathlib import Path

import torch

from geosrl.config import git_commit
from geosrl.files import atomic_write
from geosrl.pretrain.contexts import CONTEXTS
from geosrl.pretrain.data import SOURCES
from geosrl.pretrain.image_encoder import PatchCNN
from geosrl.pretrain.locked import SSLHead, augment_views
from geosrl.pretrain.objectives import infonce_objective
from geosrl.pretrain.train import PRETRAIN_PROFILES, build_model, plateaued, pretrain, resolve_pretrain_config


def step_seconds(profile: str, repeats: int = 3) -> float:
    """Median seconds of one training step of ``profile`` on random inputs of its shapes (CPU)."""
    cfg = resolve_pretrain_config({"profile": profile})
    model = build_model(cfg)
    opt = torch.optim.AdamW(model.parameters(), 1e-3)
    bs, p = int(cfg["optim"]["batch_size"]), int(cfg["data"]["patch_size"])
    channels = sum(len(CONTEXTS[c].channels) for c in cfg["data"]["contexts"])
    g = torch.Generator().manual_seed(0)
    ll = torch.rand(bs, 2, generator=g) * torch.tensor([360.0, 180.0]) - torch.tensor([180.0, 90.0])
    x = (torch.randn(bs, int(cfg["encoder"]["embed_dim"]), generator=g) if cfg["image"]["locked"]
         else torch.randn(bs, channels, p, p, generator=g))
    k = int(cfg["objective"]["num_random"])
    rand = (torch.rand(bs, k, 2, generator=g) * torch.tensor([360.0, 180.0]) - torch.tensor([180.0, 90.0]))

    def step() -> None:
        loss, _ = model(ll, x, rand)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return _median_seconds(step, repeats)


def _median_seconds(step, repeats: int) -> float:
    step()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def ssl_step_seconds(profile: str, repeats: int = 3) -> float:
    """Median seconds of one augmentation-contrast step of the locked image encoder (two views per patch)."""
    cfg = resolve_pretrain_config({"profile": profile})
    ic, p = cfg["image"], int(cfg["data"]["patch_size"])
    channels = sum(len(CONTEXTS[c].channels) for c in cfg["data"]["contexts"])
    d = int(cfg["encoder"]["embed_dim"])
    cnn, head = PatchCNN(channels, d, int(ic["width"]), int(ic["depth"])), SSLHead(d)
    opt = torch.optim.AdamW(list(cnn.parameters()) + list(head.parameters()), 1e-3)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(int(ic["ssl_batch_size"]), channels, p, p, generator=g)

    def step() -> None:
        z = head(cnn(torch.cat([augment_views(x, g), augment_views(x, g)])))
        loss = infonce_objective(z[:len(x)], z[len(x):], float(ic["ssl_tau"]), symmetric=True)
        opt.zero_grad()
        loss.backward()
        opt.step()

    return _median_seconds(step, repeats)


def cost_table(profiles: list[str]) -> list[str]:
    rows = ["| profile | pairs | patch | batch | epochs | s/step | steps | full schedule (h) |",
            "|---|---|---|---|---|---|---|---|"]
    for name in profiles:
        cfg = resolve_pretrain_config({"profile": name})
        pairs = sum(int(cfg["data"][s]) for s in SOURCES)
        bs, epochs = int(cfg["optim"]["batch_size"]), int(cfg["optim"]["epochs"])
        steps = epochs * int(pairs * (1 - cfg["data"]["val_fraction"])) // bs
        sec = step_seconds(name)
        patch = f"{cfg['data']['patch_size']}×{cfg['data']['patch_size']} stride {cfg['data']['stride']}"
        label = f"{name} (location, fixed image embeddings)" if cfg["image"]["locked"] else name
        rows.append(f"| {label} | {pairs} | {patch} | {bs} | {epochs} | {sec:.3f} | {steps} | "
                    f"{steps * sec / 3600:.2f} |")
        if cfg["image"]["locked"]:
            ic = cfg["image"]
            sbs, sep = int(ic["ssl_batch_size"]), int(ic["ssl_epochs"])
            ssteps = sep * int(pairs * (1 - cfg["data"]["val_fraction"])) // sbs
            ssec = ssl_step_seconds(name)
            rows.append(f"| {name} (image encoder, augmentation contrast) | {pairs} | {patch} | {sbs} | {sep} | "
                        f"{ssec:.3f} | {ssteps} | {ssteps * ssec / 3600:.2f} |")
    return rows


def _image_history(out: Path) -> list[dict]:
    """The locked image encoder's per-epoch history from the run's ``run.json`` (empty when not locked)."""
    import json

    run = out / "run.json"
    return json.loads(run.read_text(encoding="utf-8")).get("image_history") or [] if run.is_file() else []


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--profile", default="satclip_bounded", choices=sorted(PRETRAIN_PROFILES))
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--results", type=Path, default=Path("benchmarks/results/pretrain"))
    p.add_argument("--seed", type=int, default=0, help="pre-training seed ([pretrain] seed)")
    p.add_argument("--cost-profiles", nargs="*", default=None,
                   help="profiles whose per-step cost is measured first (default: every profile)")
    a = p.parse_args()
    command = "OMP_NUM_THREADS=" + os.environ.get("OMP_NUM_THREADS", "") + " " + " ".join(
        shlex.quote(x) for x in [sys.executable, *sys.argv])
    costs = cost_table(list(PRETRAIN_PROFILES) if a.cost_profiles is None else a.cost_profiles)
    t0 = time.perf_counter()
    res = pretrain({"profile": a.profile, "seed": a.seed}, out_dir=a.out, resume=True)
    wall = time.perf_counter() - t0
    curve = [float(r["val_top1_retrieval"]) for r in res.history]
    git = git_commit()
    a.results.mkdir(parents=True, exist_ok=True)
    log = (a.out / "log.csv").read_bytes()
    stem = a.profile if a.seed == 0 else f"{a.profile}_seed{a.seed}"
    atomic_write(a.results / f"{stem}_log.csv", lambda f: f.write(log))
    cfg = res.config
    image_history = _image_history(a.out)
    lines = [
        f"# Pre-training run: profile `{a.profile}`, seed {a.seed}", "",
        f"Command: `{command}`", "",
        f"Machine: {platform.machine()} CPU, torch {torch.__version__}, {torch.get_num_threads()} torch thread(s), "
        f"{os.cpu_count()} cores visible (shared); git commit `{git['commit']}`"
        f"{' (dirty)' if git['dirty'] else ''}; this invocation's wall time {wall / 60:.1f} min "
        f"(a resumed run counts only the epochs it ran).", "",
        f"Data: {sum(int(cfg['data'][s]) for s in SOURCES)} pairs "
        + ", ".join(f"{s} {cfg['data'][s]}" for s in SOURCES)
        + f"; contexts {cfg['data']['contexts']}; patch {cfg['data']['patch_size']}×{cfg['data']['patch_size']} at "
        f"stride {cfg['data']['stride']} (1/15° pixels); validation {cfg['data']['val_fraction']:.0%}.", "",
        f"Location encoder: `{cfg['encoder']['name']}` {cfg['encoder']['pe_kwargs']} + `{cfg['encoder']['net']}` "
        f"{cfg['encoder']['net_kwargs']}, {cfg['encoder']['embed_dim']}-d; image PatchCNN width "
        f"{cfg['image']['width']} depth {cfg['image']['depth']}; objective {cfg['objective']['kind']}-"
        f"{cfg['objective']['terms']}; {cfg['optim']['epochs']} epochs, batch {cfg['optim']['batch_size']}, "
        f"lr {cfg['optim']['lr']}"
        + (f"; image side locked: PatchCNN trained first by augmentation contrast "
           f"({cfg['image']['ssl_epochs']} epochs, "
           f"batch {cfg['image']['ssl_batch_size']}, lr {cfg['image']['ssl_lr']}, tau {cfg['image']['ssl_tau']}), "
           "then frozen; a linear projection of its fixed embeddings is trained with the location encoder."
           if cfg["image"]["locked"] else "."), "",
        "## Per-step cost of every profile on this machine (random inputs, median of 3)", "", *costs, "",
        *(["## Image encoder stage (augmentation contrast; view top-1 = a view's nearest other view in the batch "
            "is its twin)", "", "| epoch | loss | view top-1 | s |", "|---|---|---|---|",
            *[f"| {int(r['epoch']) + 1} | {r['ssl_loss']:.4f} | {r['ssl_top1']:.3f} | {r['seconds']:.0f} |"
              for r in image_history], ""] if image_history else []),
        "## Validation top-1 retrieval (location → patch within chunks of 512; chance 0.002)", "",
        "| epoch | loss | val top-1 | s |", "|---|---|---|---|",
        *[f"| {int(r['epoch']) + 1} | {r['loss']:.4f} | {r['val_top1_retrieval']:.3f} | {r['seconds']:.0f} |"
          for r in res.history], "",
        f"Plateaued (last within 0.01 of the best, < 0.01 gained over the last 3 epochs): "
        f"{'yes' if plateaued(curve) else 'no'}. Encoder: `{res.encoder_path}`.", "",
    ]
    text = "\n".join(lines)
    atomic_write(a.results / f"{stem}.md", lambda f: f.write(text.encode()))
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
