"""Shape-classification benchmark for the geometry encoders (``nuft``, ``resnet1d``, ``raster_cnn``).

Data: letter glyphs (A–Z and a–z) rendered from the TrueType fonts bundled with matplotlib, read as
polygons with holes (B, A, O…) and multipolygons (i, j). Classes are the 26 letters, case-folded, so
each class has two shapes per font. Fonts whose glyphs are not real letters (the symbol/size/extension
fonts that fall back to a missing-glyph box) are dropped: a font is kept when its ``B`` has one
exterior and two holes and its ``i`` has two parts. Train/test split **by font**, drawn per seed
(one test font from each four-variant family, DejaVu Sans/Sans Mono/Serif and STIX General, and two of
the Computer Modern fonts).

Protocol (PolyMP style): train on original training-font glyphs only, test on the held-out fonts as

* ``original``;
* ``rolled``: every ring starts at a random vertex (exactness split: must equal ``original`` for an
  exact encoder);
* ``collinear``: a vertex inserted at a random fraction of every second edge (exactness split);
* ``rotated``: random rotation in [0°, 360°);
* ``scaled``: anisotropic scaling, x and y factors uniform in [0.6, 1.4] (uniform scaling is
  removed exactly by the shape frame, so it would be a no-op);
* ``simplified``: Douglas–Peucker ``simplify(0.02 em, preserve_topology=True)``.

Reported: top-1 accuracy and macro-F1 per split, mean ± std over seeds, and CPU throughput in
geometries/s (host ingest and encoder forward separately). Writes ``runs.csv``, ``summary.csv``,
``throughput.csv`` and ``README.md`` (command, seeds, git commit, versions) to ``--out``.

``--task countries`` runs a second, optional task: the 258 country (multi)polygons of the
``geo-intel-offline`` data package (read by path, never imported) → continent, shape only. It is skipped
with a message when the package is not installed (``pip install geo-intel-offline==1.5.0``).

Run: ``python benchmarks/shapes_benchmark.py --seeds 0 1 2`` (about 10–20 min on 2 CPU cores, depending on load).
"""

from __future__ import annotations

import argparse
import csv
import glob
import gzip
import importlib.metadata
import importlib.util
import json
import math
import os
import platform
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import matplotlib
import numpy as np
import shapely
import torch
from matplotlib.font_manager import FontProperties
from matplotlib.ft2font import FT2Font
from matplotlib.textpath import TextPath
from shapely import MultiPolygon, Polygon

from geosrl.geometry import batch_geometries, create_geometry_encoder

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
SPLITS = ("original", "rolled", "collinear", "rotated", "scaled", "simplified")
ENCODERS = {
    "nuft": dict(sampling="geometric", features="reim", num_radii=10, num_angles=12, k_min=0.5, k_max=24.0),
    "resnet1d": dict(num_points=64, width=24),
    "raster_cnn": dict(resolution=32, extent=1.5, width=16),
}
FAMILIES = ("DejaVuSans-", "DejaVuSans.", "DejaVuSansMono", "DejaVuSerif", "STIXGeneral")


# ---------------------------------------------------------------- glyph data


def glyph_rings(char: str, font: str, curve_steps: int = 4) -> list[np.ndarray]:
    """Closed outlines of one glyph (em units) as open rings ``(n, 2)``; Bézier curves sampled ``curve_steps`` times."""
    path = TextPath((0, 0), char, size=1.0, prop=FontProperties(fname=font))
    rings: list[list[np.ndarray]] = []
    for segment, code in path.iter_bezier():
        if code == path.MOVETO:
            rings.append([segment.control_points[0]])
        elif code == path.CLOSEPOLY:
            continue
        else:
            steps = 1 if segment.degree == 1 else curve_steps
            rings[-1].extend(segment(np.arange(1, steps + 1) / steps))
    return [np.asarray(r) for r in rings if len(r) >= 3]


def nest_rings(rings: list[np.ndarray]) -> Polygon | MultiPolygon:
    """Even-odd nesting: a ring inside an even number of rings is an exterior, otherwise a hole of its parent."""
    polys = [shapely.make_valid(Polygon(r)) for r in rings]
    polys = [p if p.geom_type == "Polygon" else max(shapely.get_parts(p), key=lambda q: q.area) for p in polys]
    probe = [shapely.Point(p.exterior.coords[0]) for p in polys]  # a vertex: inside exactly the rings around it
    depth = [sum(polys[j].contains(probe[i]) for j in range(len(polys)) if j != i) for i in range(len(polys))]
    parts = []
    for i in (i for i in range(len(polys)) if depth[i] % 2 == 0):
        holes = [polys[j].exterior for j in range(len(polys)) if depth[j] == depth[i] + 1 and polys[i].contains(probe[j])]
        parts.append(Polygon(polys[i].exterior, holes))
    geom = parts[0] if len(parts) == 1 else MultiPolygon(parts)
    return geom if geom.is_valid else shapely.make_valid(geom)


def usable_fonts() -> list[str]:
    """Bundled fonts with all 52 letters whose 'B' has two holes and whose 'i' has two parts."""
    fonts = []
    for font in sorted(glob.glob(os.path.join(matplotlib.get_data_path(), "fonts", "ttf", "*.ttf"))):
        charmap = FT2Font(font).get_charmap()
        if not all(ord(c) in charmap for c in LETTERS):
            continue
        b, i = nest_rings(glyph_rings("B", font)), nest_rings(glyph_rings("i", font))
        if b.geom_type == "Polygon" and len(b.interiors) == 2 and i.geom_type == "MultiPolygon" and len(i.geoms) == 2:
            fonts.append(font)
    return fonts


def font_family(font: str) -> str:
    name = os.path.basename(font)
    if name.startswith("cm"):
        return "cm"
    return next(f for f in FAMILIES if name.startswith(f)).rstrip("-.")


@dataclass
class GlyphSet:
    geoms: list[shapely.Geometry]
    labels: np.ndarray
    fonts: list[str]


def load_glyphs(fonts: list[str]) -> GlyphSet:
    geoms, labels, owners = [], [], []
    for font in fonts:
        for char in LETTERS:
            geoms.append(nest_rings(glyph_rings(char, font)))
            labels.append(ord(char.upper()) - ord("A"))
            owners.append(font)
    return GlyphSet(geoms, np.asarray(labels), owners)


def split_fonts(fonts: list[str], rng: np.random.Generator) -> tuple[list[str], list[str]]:
    """One test font per four-variant family plus two Computer Modern fonts; the rest train."""
    test = []
    for family in sorted({font_family(f) for f in fonts}):
        members = [f for f in fonts if font_family(f) == family]
        test.extend(rng.choice(members, size=2 if family == "cm" else 1, replace=False).tolist())
    return [f for f in fonts if f not in test], test


# ---------------------------------------------------------------- test-split transforms


def map_rings(geom: shapely.Geometry, fn) -> shapely.Geometry:
    def poly(p: Polygon) -> Polygon:
        return Polygon(fn(np.asarray(p.exterior.coords)[:-1]), [fn(np.asarray(h.coords)[:-1]) for h in p.interiors])

    parts = [poly(p) for p in shapely.get_parts(geom)]
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


def roll_split(geom: shapely.Geometry, rng: np.random.Generator) -> shapely.Geometry:
    return map_rings(geom, lambda r: np.roll(r, -int(rng.integers(len(r))), axis=0))


def collinear_split(geom: shapely.Geometry, rng: np.random.Generator) -> shapely.Geometry:
    def insert(ring: np.ndarray) -> np.ndarray:
        out = []
        for j, (a, b) in enumerate(zip(ring, np.roll(ring, -1, axis=0))):
            out.append(a)
            if j % 2 == 0:
                out.append(a + rng.uniform(0.1, 0.9) * (b - a))
        return np.asarray(out)

    return map_rings(geom, insert)


def transform_split(name: str, geoms: list[shapely.Geometry], rng: np.random.Generator) -> list[shapely.Geometry]:
    if name == "original":
        return list(geoms)
    if name == "rolled":
        return [roll_split(g, rng) for g in geoms]
    if name == "collinear":
        return [collinear_split(g, rng) for g in geoms]
    if name == "rotated":
        return [shapely.affinity.rotate(g, rng.uniform(0, 360), origin="centroid") for g in geoms]
    if name == "scaled":
        return [shapely.affinity.scale(g, rng.uniform(0.6, 1.4), rng.uniform(0.6, 1.4), origin="centroid") for g in geoms]
    if name == "simplified":
        return [shapely.simplify(g, 0.02, preserve_topology=True) for g in geoms]
    raise ValueError(name)


# ---------------------------------------------------------------- training and evaluation


class Classifier(torch.nn.Module):
    def __init__(self, encoder: torch.nn.Module, num_classes: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = torch.nn.Sequential(torch.nn.ReLU(), torch.nn.Linear(encoder.embed_dim, num_classes))

    def forward(self, batch) -> torch.Tensor:
        return self.head(self.encoder(batch))


def minibatches(geoms: list, labels: np.ndarray, size: int, order: np.ndarray):
    for s in range(0, len(order), size):
        idx = order[s : s + size]
        yield batch_geometries([geoms[i] for i in idx], invalid="repair"), torch.as_tensor(labels[idx])


def train(model: Classifier, data: GlyphSet, epochs: int, batch_size: int, rng: np.random.Generator) -> None:
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=2e-3, total_steps=epochs * math.ceil(len(data.geoms) / batch_size)
    )
    model.train()
    for _ in range(epochs):
        for batch, y in minibatches(data.geoms, data.labels, batch_size, rng.permutation(len(data.geoms))):
            loss = torch.nn.functional.cross_entropy(model(batch), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()


@torch.no_grad()
def predict(model: Classifier, geoms: list, batch_size: int = 256) -> np.ndarray:
    model.eval()
    order = np.arange(len(geoms))
    preds = [model(b).argmax(1) for b, _ in minibatches(geoms, np.zeros(len(geoms), int), batch_size, order)]
    return torch.cat(preds).numpy()


def macro_f1(y: np.ndarray, p: np.ndarray, num_classes: int) -> float:
    scores = []
    for c in range(num_classes):
        tp, fp, fn = np.sum((p == c) & (y == c)), np.sum((p == c) & (y != c)), np.sum((p != c) & (y == c))
        scores.append(0.0 if tp == 0 else 2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores))


def throughput(encoder: torch.nn.Module, geoms: list, repeats: int = 3, batch_size: int = 256) -> tuple[float, float]:
    """``(ingest, encode)`` geometries/s on this CPU: host collate alone, and encoder forward on prebuilt batches."""
    chunks = [geoms[s : s + batch_size] for s in range(0, len(geoms), batch_size)]
    t0 = time.perf_counter()
    batches = [batch_geometries(c, invalid="repair") for c in chunks]
    ingest = len(geoms) / (time.perf_counter() - t0)
    encoder.eval()
    with torch.no_grad():
        encoder(batches[0])  # warm-up
        t0 = time.perf_counter()
        for _ in range(repeats):
            for b in batches:
                encoder(b)
        encode = repeats * len(geoms) / (time.perf_counter() - t0)
    return ingest, encode


# ---------------------------------------------------------------- optional task: country polygons → continent

MIN_COUNTRIES_PER_CONTINENT = 10  # drops "Seven seas (open ocean)" (9) and Antarctica (1)


def geo_intel_data_dir() -> Path | None:
    """``geo_intel_offline/data`` of the installed package, located without importing it; None if absent."""
    spec = importlib.util.find_spec("geo_intel_offline")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def local_equal_area(rings_latlon: list[np.ndarray], lon0: float) -> list[np.ndarray]:
    """[lat, lon] degree rings → sinusoidal (equal-area) x, y in degrees about ``lon0``, longitudes unwrapped."""
    out = []
    for ring in rings_latlon:
        lat, lon = ring[:, 0], ring[:, 1]
        dlon = (lon - lon0 + 180.0) % 360.0 - 180.0
        out.append(np.stack([dlon * np.cos(np.radians(lat)), lat], axis=1))
    return out


def country_geometry(record: dict, simplify_fraction: float) -> shapely.Geometry:
    """One country record → projected, repaired (make_valid) and simplified (Multi)Polygon."""
    exteriors = [np.asarray(r, dtype=float) for r in (record.get("exteriors") or [record["exterior"]])]
    holes = [np.asarray(r, dtype=float) for r in record["holes"]]
    lon0 = float(np.mean(max(exteriors, key=len)[:, 1]))
    shells = [shapely.make_valid(Polygon(r)) for r in local_equal_area(exteriors, lon0)]
    hole_polys = [Polygon(r) for r in local_equal_area(holes, lon0)]
    geom = shapely.union_all([g for g in shells if g.area > 0])
    if hole_polys:
        geom = geom.difference(shapely.union_all(hole_polys))
    geom = shapely.simplify(geom, simplify_fraction * math.sqrt(geom.area), preserve_topology=True)
    parts = [p for p in shapely.get_parts(shapely.get_parts(shapely.make_valid(geom))) if p.geom_type == "Polygon"]
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


def load_countries(data_dir: Path, simplify_fraction: float = 0.005) -> tuple[list, np.ndarray, list[str]]:
    """Country geometries, continent labels ``(N,)`` and class names (continents with ≥ 10 countries)."""
    with gzip.open(data_dir / "polygons.json.gz") as fh:
        polygons = json.load(fh)
    with gzip.open(data_dir / "metadata.json.gz") as fh:
        metadata = json.load(fh)
    counts: dict[str, int] = {}
    for rec in metadata.values():
        counts[rec["continent"]] = counts.get(rec["continent"], 0) + 1
    classes = sorted(c for c, n in counts.items() if n >= MIN_COUNTRIES_PER_CONTINENT)
    geoms, labels = [], []
    for key in sorted(polygons, key=int):
        continent = metadata[key]["continent"]
        if continent in classes:
            geoms.append(country_geometry(polygons[key], simplify_fraction))
            labels.append(classes.index(continent))
    return geoms, np.asarray(labels), classes


def stratified_split(labels: np.ndarray, test_fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    test = np.concatenate(
        [rng.permutation(np.flatnonzero(labels == c))[: max(1, round(test_fraction * np.sum(labels == c)))]
         for c in np.unique(labels)]
    )
    return np.setdiff1d(np.arange(len(labels)), test), np.sort(test)


def run_countries(args: argparse.Namespace) -> None:
    data_dir = geo_intel_data_dir()
    if data_dir is None:
        print("countries task skipped: geo-intel-offline is not installed (pip install geo-intel-offline==1.5.0)")
        return
    start = time.perf_counter()
    geoms, labels, classes = load_countries(data_dir)
    vertices = int(shapely.get_num_coordinates(np.asarray(geoms, dtype=object)).sum())
    runs = []
    for seed in args.seeds:
        rng = np.random.default_rng(seed)
        train_idx, test_idx = stratified_split(labels, 0.3, rng)
        train_set = GlyphSet([geoms[i] for i in train_idx], labels[train_idx], [])
        test_geoms = [geoms[i] for i in test_idx]
        splits = {"original": test_geoms, "rolled": [roll_split(g, np.random.default_rng([seed, 1])) for g in test_geoms]}
        majority = np.bincount(labels[train_idx]).argmax()
        runs += [dict(encoder="majority class", seed=seed, split=s, accuracy=round(float(np.mean(labels[test_idx] == majority)), 4),
                      macro_f1=round(macro_f1(labels[test_idx], np.full(len(test_idx), majority), len(classes)), 4), train_seconds=0.0)
                 for s in splits]
        for name, kwargs in ENCODERS.items():
            torch.manual_seed(seed)
            model = Classifier(create_geometry_encoder(name, embed_dim=64, invalid="repair", **kwargs), len(classes))
            t0 = time.perf_counter()
            train(model, train_set, args.country_epochs, 32, np.random.default_rng([seed, 99]))
            train_s = round(time.perf_counter() - t0, 1)
            for split, split_geoms in splits.items():
                pred = predict(model, split_geoms)
                runs.append(dict(encoder=name, seed=seed, split=split, accuracy=round(float(np.mean(pred == labels[test_idx])), 4),
                                 macro_f1=round(macro_f1(labels[test_idx], pred, len(classes)), 4), train_seconds=train_s))
            print(f"countries seed {seed} {name}: {runs[-2]['accuracy']:.3f} / rolled {runs[-1]['accuracy']:.3f}", flush=True)
    names = ["majority class"] + list(ENCODERS)
    summary = summarise(runs, names, ("original", "rolled"))
    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(args.out / "countries_runs.csv", runs)
    write_csv(args.out / "countries_summary.csv", summary)
    table = "| encoder | original accuracy | rolled accuracy | original macro-F1 |\n|---|---|---|---|\n"
    for name in names:
        o, r = [x for x in summary if x["encoder"] == name]
        table += (f"| {name} | {100 * o['accuracy_mean']:.1f} ± {100 * o['accuracy_std']:.1f} | "
                  f"{100 * r['accuracy_mean']:.1f} ± {100 * r['accuracy_std']:.1f} | "
                  f"{100 * o['macro_f1_mean']:.1f} ± {100 * o['macro_f1_std']:.1f} |\n")
    (args.out / "COUNTRIES.md").write_text(f"""# Country polygon → continent (shape only), geo-intel-offline

Produced by

```
{command_line(args)}
```

- git commit: {git_commit()}; seeds {args.seeds}; {args.country_epochs} epochs, batch size 32; wall time {(time.perf_counter() - start) / 60:.1f} min
- data: geo-intel-offline {importlib.metadata.version("geo-intel-offline")} (`polygons.json.gz` read from `{data_dir}`;
  Natural Earth admin-0, [lat, lon] swapped to lon/lat), {len(geoms)} countries in the {len(classes)} continents with ≥ {MIN_COUNTRIES_PER_CONTINENT} countries
  ({", ".join(classes)}); each country projected to a sinusoidal (equal-area) plane about its own central
  longitude (antimeridian unwrapped), holes subtracted, `make_valid`, simplified with tolerance 0.005·√area
  ({vertices} vertices left); stratified 70/30 split per seed
- the encoders see the **shape frame** only (position and size removed), so this measures how much shape alone
  says about the continent; chance is the majority class

## Accuracy and macro-F1 (%), mean ± std over {len(args.seeds)} seeds

{table}""")
    print((args.out / "COUNTRIES.md").read_text())


# ---------------------------------------------------------------- reporting


def git_commit() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    except (subprocess.CalledProcessError, FileNotFoundError):
        return "none (repository has no commit yet)"
    dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True).stdout.strip()
    return head + (" (dirty working tree)" if dirty else "")


def command_line(args: argparse.Namespace) -> str:
    return "python " + " ".join(shlex.quote(a) for a in [os.path.relpath(__file__)] + args.argv)


def write_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def summarise(runs: list[dict], encoders: list[str], splits: tuple[str, ...]) -> list[dict]:
    rows = []
    for enc in encoders:
        for split in splits:
            sel = [r for r in runs if r["encoder"] == enc and r["split"] == split]
            acc = np.array([r["accuracy"] for r in sel])
            f1 = np.array([r["macro_f1"] for r in sel])
            rows.append(
                dict(encoder=enc, split=split, n_seeds=len(sel), accuracy_mean=round(acc.mean(), 4),
                     accuracy_std=round(acc.std(ddof=1), 4) if len(sel) > 1 else 0.0,
                     macro_f1_mean=round(f1.mean(), 4), macro_f1_std=round(f1.std(ddof=1), 4) if len(sel) > 1 else 0.0)
            )
    return rows


def markdown_report(args: argparse.Namespace, summary: list[dict], speed: list[dict], info: dict) -> str:
    header = "| encoder | " + " | ".join(SPLITS) + " |\n|---|" + "---|" * len(SPLITS) + "\n"
    body = ""
    for enc in ENCODERS:
        cells = [f"{100 * r['accuracy_mean']:.1f} ± {100 * r['accuracy_std']:.1f}" for r in summary if r["encoder"] == enc]
        body += f"| {enc} | " + " | ".join(cells) + " |\n"
    speed_table = "| encoder | parameters | ingest (geoms/s) | encode (geoms/s) |\n|---|---|---|---|\n" + "".join(
        f"| {s['encoder']} | {s['parameters']} | {s['ingest_geoms_per_s']:.0f} | {s['encode_geoms_per_s']:.0f} |\n"
        for s in speed
    )
    return f"""# Shapes benchmark: letter glyphs from matplotlib's bundled fonts

Produced by

```
{info['command']}
```

- git commit: {info['commit']}
- seeds: {args.seeds}; epochs {args.epochs}, batch size {args.batch_size}, AdamW lr 2e-3 (one-cycle), weight decay 1e-4
- data: {info['n_fonts']} fonts × 52 glyphs (A–Z, a–z; 26 case-folded classes); per seed {info['n_train']} training
  and {info['n_test']} test glyphs, split by font; fonts: {', '.join(info['fonts'])}
- environment: {info['env']}; wall time {info['wall_min']:.1f} min
- encoder settings: {ENCODERS}

## Top-1 accuracy (%), mean ± std over {len(args.seeds)} seeds

{header}{body}
Macro-F1 and per-seed values: `summary.csv`, `runs.csv`. Training always uses original glyphs only.
`rolled` and `collinear` are exactness splits: an encoder that is exactly invariant to the ring start vertex
and to collinear vertices scores exactly as on `original`.

## Throughput on this CPU ({info['cpus']} cores, {info['threads']} torch thread), batches of 256 glyphs (all {info['n_fonts'] * 52})

The machine was shared: the 1-minute load average was {info['load']:.1f} when throughput was measured, so these
numbers are lower bounds and vary between runs; compare encoders only within one run.


{speed_table}
*ingest*: shapely validation, orientation, frame and ragged layout on the host (`batch_geometries`);
*encode*: the encoder's torch forward on prebuilt batches (for `raster_cnn` this includes the torch
rasterisation). No GPU was available to this run.

The optional country-polygon → continent task (`--task countries`, needs the geo-intel-offline data package)
writes its own `COUNTRIES.md` and `countries_*.csv` next to this file.
"""


# ---------------------------------------------------------------- main


def run_seed(seed: int, fonts: list[str], args: argparse.Namespace) -> list[dict]:
    rng = np.random.default_rng(seed)
    train_fonts, test_fonts = split_fonts(fonts, rng)
    train_set, test_set = load_glyphs(train_fonts), load_glyphs(test_fonts)
    splits = {name: transform_split(name, test_set.geoms, np.random.default_rng([seed, i])) for i, name in enumerate(SPLITS)}
    rows = []
    for name, kwargs in ENCODERS.items():
        torch.manual_seed(seed)
        model = Classifier(create_geometry_encoder(name, embed_dim=64, invalid="repair", **kwargs), 26)
        t0 = time.perf_counter()
        train(model, train_set, args.epochs, args.batch_size, np.random.default_rng([seed, 99]))
        train_s = time.perf_counter() - t0
        for split, geoms in splits.items():
            pred = predict(model, geoms)
            rows.append(dict(encoder=name, seed=seed, split=split, accuracy=round(float(np.mean(pred == test_set.labels)), 4),
                             macro_f1=round(macro_f1(test_set.labels, pred, 26), 4), train_seconds=round(train_s, 1)))
        print(f"seed {seed} {name}: " + ", ".join(f"{r['split']} {r['accuracy']:.3f}" for r in rows[-len(SPLITS):]), flush=True)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--encoders", nargs="+", default=list(ENCODERS), choices=list(ENCODERS))
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (1 avoids oversubscription on a shared CPU)")
    parser.add_argument("--task", choices=["glyphs", "countries"], default="glyphs")
    parser.add_argument("--country-epochs", type=int, default=60)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "shapes")
    args = parser.parse_args(argv)
    args.argv = list(argv if argv is not None else sys.argv[1:])
    torch.set_num_threads(args.threads)
    for name in set(ENCODERS) - set(args.encoders):
        del ENCODERS[name]
    if args.task == "glyphs":
        run_glyphs(args)
    else:
        run_countries(args)


def run_glyphs(args: argparse.Namespace) -> None:
    start = time.perf_counter()
    fonts = usable_fonts()
    runs = [row for seed in args.seeds for row in run_seed(seed, fonts, args)]
    all_glyphs = load_glyphs(fonts).geoms
    speed, load = [], os.getloadavg()[0]
    for name, kwargs in ENCODERS.items():
        torch.manual_seed(0)
        enc = create_geometry_encoder(name, embed_dim=64, invalid="repair", **kwargs)
        ingest, encode = throughput(enc, all_glyphs)
        speed.append(dict(encoder=name, parameters=sum(p.numel() for p in enc.parameters()),
                          ingest_geoms_per_s=round(ingest, 1), encode_geoms_per_s=round(encode, 1)))
    summary = summarise(runs, list(ENCODERS), SPLITS)
    args.out.mkdir(parents=True, exist_ok=True)
    write_csv(args.out / "runs.csv", runs)
    write_csv(args.out / "summary.csv", summary)
    write_csv(args.out / "throughput.csv", speed)
    n_test = 52 * (len({font_family(f) for f in fonts}) + 1)
    info = dict(
        command=command_line(args),
        commit=git_commit(), n_fonts=len(fonts), n_test=n_test, n_train=52 * len(fonts) - n_test,
        fonts=[os.path.basename(f) for f in fonts], threads=torch.get_num_threads(), load=load, cpus=os.cpu_count(),
        env=f"Python {platform.python_version()}, torch {torch.__version__}, shapely {shapely.__version__} "
            f"(GEOS {shapely.geos_version_string}), matplotlib {matplotlib.__version__}, {platform.machine()} CPU",
        wall_min=(time.perf_counter() - start) / 60,
    )
    (args.out / "README.md").write_text(markdown_report(args, summary, speed, info))
    print((args.out / "README.md").read_text())


if __name__ == "__main__":
    main()
