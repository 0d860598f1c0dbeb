"""Heterogeneity-aware modelling experiments (issue 6): global vs fixed zones vs split-and-test.

Three experiments, all on offline data (no download), written to ``benchmarks/results/hetero/``:

1. **Benchmark tasks** (``geosrl.datasets.load_offline_task``): regression ``elevation``,
   ``air_temperature``, ``city_population``; classification ``land_ocean``, ``country``. Seeded random
   80/20 split (``geosrl.splits.make_split``), location only. Methods share the encoder
   (``sphere2vec_spherec_plus``, 16 scales, min radius 0.01 rad → 96 features, frozen):
   ``global`` (one linear head), ``global_mlp`` (one MLP head: a capacity control — does a richer
   global model get the same gain?), ``zones`` (HEALPix nside 2 = 48 fixed zones ≈ 3260 km, SVANN-like),
   ``split_test`` (STAR-like, α = 0.05, min region 100, depth ≤ 4; ``--null``: bootstrap-calibrated split
   tests by default, see ``hetero_calibration.py``), ``equal_capacity_global`` (one model with as many
   parameters as ``split_test``'s regions together, no partition). Metrics on the test split: global
   score (R² / top-1), RMSE, Moran's I of residuals (``geosrl.metrics.morans_i``, k = 8; error
   indicator for classes), worst region and share of regions improved over ``global`` on fixed
   evaluation regions (HEALPix nside 2 cells with ≥ 20 test points; RMSE / top-1 per region).
2. **Tabular regression with GWR/MGWR**: 1.5 m air temperature at land grid nodes with elevation
   (pvlib 5′ grid, km) as the covariate; 500 training / 1000 test points per seed; methods above +
   ``GWR`` and ``MGWR`` (mgwr, adaptive bisquare, AICc bandwidth search, great-circle distances).
3. **Transfer**: same tabular task; train on North America, test on Europe (zero shot), then adapt
   with k ∈ {25, 50, 100} European labels: ``target_only`` (global model on the k labels),
   ``pooled_global`` / ``pooled_split_test`` (refit on source + k), ``adapt_root`` / ``adapt_nearest``
   (source split-and-test model + :meth:`HeterogeneityAwareModel.adapt`: a new region for Europe,
   warm-started from the source root model / the nearest source region's model), ``adapt_features``
   (as ``adapt_root`` but only the elevation coefficient is shrunk toward the source; location
   weights toward 0).

Run (≈ 5–10 min on 2 CPU cores)::

    .venv/bin/python benchmarks/hetero_experiments.py --seeds 0 1 2

Outputs: ``results.json`` (every number, per seed), ``tables.md`` (mean ± std over seeds),
``partition_<task>.png`` (learned split-and-test regions, seed 0), ``run_info.json`` (per experiment:
command, seeds, git commit, package versions, wall time). ``--only`` runs a subset and merges it into
an existing ``results.json``.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

from geosrl.datasets import load_offline_task
from geosrl.hetero import FixedZoneModel, GlobalModel, GWRModel, HeterogeneityAwareModel, MGWRModel
from geosrl.hetero.evaluation import compare_to_baseline, region_scores, score
from geosrl.hetero.model import equal_capacity_global
from geosrl.metrics import morans_i
from geosrl.splits import healpix_index, make_split

ROOT = Path(__file__).resolve().parents[1]
ENC = {"frequency_num": 16, "min_radius": 0.01}
EVAL_NSIDE = 2
TASKS = ["elevation", "air_temperature", "city_population", "land_ocean", "country"]
NORTH_AMERICA = (-170.0, -50.0, 10.0, 75.0)  # lon_min, lon_max, lat_min, lat_max
EUROPE = (-15.0, 45.0, 35.0, 72.0)
#: split-test null (``--null``, ``--n-null``): the calibrated bootstrap by default (issue 10)
SPLIT_NULL = {"null": "bootstrap", "n_null": 99}


def methods(kind: str, seed: int, tabular: bool = False) -> dict:
    """Estimators compared in experiments 1–2 (all share the frozen encoder)."""
    common = {"encoder_kwargs": ENC, "seed": seed}
    mlp_kw = {"hidden": 64, "epochs": 100, "lr": 5e-3, "weight_decay": 1e-3}
    out = {
        "global": GlobalModel(**common),
        "global_mlp": GlobalModel(head="mlp", head_kwargs=mlp_kw, **common),
        "zones": FixedZoneModel(zone_resolution=EVAL_NSIDE, min_region_size=50 if tabular else 100, **common),
        "split_test": HeterogeneityAwareModel(min_region_size=50 if tabular else 100, **SPLIT_NULL, **common),
    }
    return out


def _residual(kind, y, p):
    return (y != p).astype(float) if kind == "classification" else y - p


def evaluate(kind, lonlat, y, pred, pred_global) -> dict:
    """Test-split metrics of one method (and its comparison with the global linear model)."""
    cells = healpix_index(lonlat, EVAL_NSIDE)
    out = {"score": score(y, pred, kind), "morans_i": morans_i(_residual(kind, y, pred), lonlat, k=8)}
    if kind == "regression":
        out["rmse"] = float(np.sqrt(np.mean((y - pred) ** 2)))
    cmp = compare_to_baseline(y, pred, pred_global, cells, kind, min_count=20)
    out.update({"worst_region": cmp["model_worst"], "share_regions_improved": cmp["share_improved"],
                "n_eval_regions": cmp["n_regions"], "wilcoxon_p_vs_global": cmp["wilcoxon_p"]})
    return out


def _split(n, seed):
    sp = make_split(np.zeros((n, 2)), "random", seed, fractions=(0.8, 0.0, 0.2))
    return np.sort(np.concatenate([sp["train"], sp["val"]])), sp["test"]


def run_benchmark_tasks(seeds, n_samples, out_dir, log) -> dict:
    res = {}
    for task in TASKS:
        data = load_offline_task(task, max_samples=n_samples, seed=0)
        y_all = data.target
        res[task] = {"kind": data.kind, "n": int(len(y_all)), "target": data.target_name, "seeds": {}}
        for seed in seeds:
            tr, te = _split(len(y_all), seed)
            preds, rows, models = {}, {}, {}
            for name, model in methods(data.kind, seed).items():
                t0 = time.perf_counter()
                model.fit(data.lonlat[tr], y_all[tr])
                preds[name] = model.predict(data.lonlat[te])
                rows[name] = {"fit_seconds": time.perf_counter() - t0, "n_regions": int(model.n_regions_)}
                models[name] = model
            # the equal-capacity global comparator: as many parameters as split_test's regions, no partition
            t0 = time.perf_counter()
            comp = equal_capacity_global(models["split_test"], data.lonlat[tr], y_all[tr])
            preds["equal_capacity_global"] = comp.predict(data.lonlat[te])
            rows["equal_capacity_global"] = {"fit_seconds": time.perf_counter() - t0, "n_regions": 1,
                                             "n_parameters": int(comp.n_parameters_)}
            for name in preds:
                rows[name].update(evaluate(data.kind, data.lonlat[te], y_all[te], preds[name], preds["global"]))
            st = models["split_test"]
            rows["split_test"]["split_log"] = st.split_log_
            # per learned region: test score of split_test vs global inside each region
            reg = st.regions(data.lonlat[te])
            a = region_scores(y_all[te], preds["split_test"], reg, data.kind, min_count=10)
            b = region_scores(y_all[te], preds["global"], reg, data.kind, min_count=10)
            rows["split_test"]["learned_regions"] = [
                {"region": st.region_names_[int(r)], "n_test": int(c), "split_test": float(sa), "global": float(sb)}
                for r, c, sa, sb in zip(a["regions"], a["counts"], a["scores"], b["scores"])]
            rows["split_test"]["learned_region_metric"] = a["metric"]
            res[task]["seeds"][str(seed)] = rows
            if seed == seeds[0]:
                plot_partition(st, data, tr, out_dir / f"partition_{task}.png")
            log(f"{task} seed {seed}: " + ", ".join(f"{k} {v['score']:.4f} ({v['n_regions']}r, {v['fit_seconds']:.1f}s)"
                                                  for k, v in rows.items()))
    return res


def tabular_air_temperature():
    """(lonlat (N, 2), elevation km (N, 1), temperature K (N,)) at land grid nodes."""
    from geosrl.datasets.elevation import lookup_altitude
    from geosrl.datasets.sources import load_altitude_codes

    data = load_offline_task("air_temperature", max_samples=27_458, seed=0)
    grid = load_altitude_codes("hetero_experiments")
    el = lookup_altitude(data.lonlat, grid)
    land = np.isfinite(el)
    return data.lonlat[land], el[land, None] / 1000.0, data.target[land]


def run_tabular(seeds, n_train, n_test, with_mgwr, log) -> dict:
    lonlat, feat, y = tabular_air_temperature()
    res = {"n_available": int(len(y)), "n_train": n_train, "n_test": n_test, "seeds": {}}
    for seed in seeds:
        rng = np.random.default_rng([seed, 6])
        idx = rng.permutation(len(y))
        tr, te = idx[:n_train], idx[n_train:n_train + n_test]
        ms = methods("regression", seed, tabular=True)
        ms["GWR"] = GWRModel()
        if with_mgwr:
            ms["MGWR"] = MGWRModel()
        preds, rows = {}, {}
        for name, m in ms.items():
            t0 = time.perf_counter()
            m.fit(lonlat[tr], y[tr], feat[tr])
            preds[name] = m.predict(lonlat[te], feat[te])
            rows[name] = {"fit_seconds": time.perf_counter() - t0, "n_regions": int(m.n_regions_)}
            if name == "GWR":
                rows[name]["bandwidth_nn"] = m.bw_
            if name == "MGWR":
                rows[name]["bandwidths_nn"] = m.bws_.tolist()
        for name in preds:
            rows[name].update(evaluate("regression", lonlat[te], y[te], preds[name], preds["global"]))
        res["seeds"][str(seed)] = rows
        log(f"tabular seed {seed}: " + ", ".join(f"{k} {v['score']:.4f}" for k, v in rows.items()))
    return res


def _in_box(lonlat, box):
    return (lonlat[:, 0] >= box[0]) & (lonlat[:, 0] <= box[1]) & (lonlat[:, 1] >= box[2]) & (lonlat[:, 1] <= box[3])


def run_transfer(seeds, ks, log) -> dict:
    lonlat, feat, y = tabular_air_temperature()
    src, tgt = np.where(_in_box(lonlat, NORTH_AMERICA))[0], np.where(_in_box(lonlat, EUROPE))[0]
    res = {"source": "North America " + str(NORTH_AMERICA), "target": "Europe " + str(EUROPE),
           "n_source": int(len(src)), "n_target": int(len(tgt)), "seeds": {}}
    kw = {"encoder_kwargs": ENC, "min_region_size": 100}
    for seed in seeds:
        rng = np.random.default_rng([seed, 7])
        s_perm = rng.permutation(src)
        s_test, s_train = s_perm[: len(src) // 5], s_perm[len(src) // 5:]
        t_perm = rng.permutation(tgt)
        t_test, t_pool = t_perm[:300], t_perm[300:]
        rows = {}
        glob = GlobalModel(**kw, seed=seed).fit(lonlat[s_train], y[s_train], feat[s_train])
        st = HeterogeneityAwareModel(**kw, seed=seed).fit(lonlat[s_train], y[s_train], feat[s_train])
        for name, m in (("global", glob), ("split_test", st)):
            rows[f"{name}_source_test"] = score(y[s_test], m.predict(lonlat[s_test], feat[s_test]), "regression")
            rows[f"{name}_target_zero_shot"] = score(y[t_test], m.predict(lonlat[t_test], feat[t_test]), "regression")
            rows[f"{name}_target_zero_shot_rmse"] = float(np.sqrt(np.mean(
                (y[t_test] - m.predict(lonlat[t_test], feat[t_test])) ** 2)))
        rows["split_test_source_regions"] = int(st.n_regions_)
        for k in ks:
            lab = t_pool[:k]
            r = {}
            tgt_only = GlobalModel(**kw, seed=seed).fit(lonlat[lab], y[lab], feat[lab])
            r["target_only"] = tgt_only
            both = np.concatenate([s_train, lab])
            r["pooled_global"] = GlobalModel(**kw, seed=seed).fit(lonlat[both], y[both], feat[both])
            r["pooled_split_test"] = HeterogeneityAwareModel(**kw, seed=seed).fit(lonlat[both], y[both], feat[both])
            for prior, transfer in (("root", "all"), ("nearest", "all"), ("root", "features")):
                m = HeterogeneityAwareModel(**kw, seed=seed).fit(lonlat[s_train], y[s_train], feat[s_train])
                key = f"adapt_{prior}" if transfer == "all" else "adapt_features"
                r[key] = m.adapt(lonlat[lab], y[lab], feat[lab], prior=prior, transfer=transfer)
            for name, m in r.items():
                p = m.predict(lonlat[t_test], feat[t_test])
                rows[f"k{k}_{name}"] = score(y[t_test], p, "regression")
                rows[f"k{k}_{name}_rmse"] = float(np.sqrt(np.mean((y[t_test] - p) ** 2)))
                if name.startswith("adapt") or name.startswith("pooled"):
                    rows[f"k{k}_{name}_source_test"] = score(y[s_test], m.predict(lonlat[s_test], feat[s_test]),
                                                             "regression")
        # reference: a model trained on plenty of European data (upper bound)
        ub = GlobalModel(**kw, seed=seed).fit(lonlat[t_pool], y[t_pool], feat[t_pool])
        rows["target_full_global"] = score(y[t_test], ub.predict(lonlat[t_test], feat[t_test]), "regression")
        ub = HeterogeneityAwareModel(**kw, seed=seed).fit(lonlat[t_pool], y[t_pool], feat[t_pool]) \
            if len(t_pool) >= 200 else ub
        rows["target_full_split_test"] = score(y[t_test], ub.predict(lonlat[t_test], feat[t_test]), "regression")
        rows["n_target_pool"] = int(len(t_pool))
        res["seeds"][str(seed)] = rows
        log(f"transfer seed {seed}: zero-shot {rows['global_target_zero_shot']:.3f}; "
            + ", ".join(f"k{k}: adapt_root {rows[f'k{k}_adapt_root']:.3f} pooled {rows[f'k{k}_pooled_global']:.3f} "
                        f"target_only {rows[f'k{k}_target_only']:.3f}" for k in ks))
    return res


def plot_partition(model, data, tr, path: Path) -> None:
    """Map of the learned regions (training points coloured by region) and a 1° grid lookup."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lon, lat = np.meshgrid(np.arange(-179.5, 180, 1.0), np.arange(-89.5, 90, 1.0))
    grid = np.stack([lon.ravel(), lat.ravel()], 1)
    reg = model.regions(grid).reshape(lon.shape)
    fig, ax = plt.subplots(figsize=(11, 5.5))
    cmap = plt.get_cmap("tab20", max(model.n_regions_, 2))
    ax.pcolormesh(lon, lat, reg, cmap=cmap, vmin=-0.5, vmax=max(model.n_regions_, 2) - 0.5, alpha=0.35,
                  shading="auto")
    r_tr = model.regions(data.lonlat[tr])
    sc = ax.scatter(data.lonlat[tr, 0], data.lonlat[tr, 1], c=r_tr, s=3, cmap=cmap, vmin=-0.5,
                    vmax=max(model.n_regions_, 2) - 0.5)
    cb = fig.colorbar(sc, ax=ax, ticks=range(model.n_regions_), fraction=0.03)
    cb.ax.set_yticklabels(model.region_names_)
    cb.set_label("region (STAR branch id)")
    ax.set_xlim(-180, 180)
    ax.set_ylim(-90, 90)
    ax.set_xlabel("longitude (°)")
    ax.set_ylabel("latitude (°)")
    ax.set_title(f"{data.name}: {model.n_regions_} regions learned by split-and-test "
                 f"(α={model.alpha}, min region {model.min_region_size}, HEALPix nside {model.cell_resolution} cells; "
                 "shading = lookup for unseen locations)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _ms(vals, fmt="{:.3f}"):
    v = np.array([x for x in vals if x is not None and np.isfinite(x)], dtype=float)
    if not len(v):
        return "n/a"
    return (fmt + " ± " + fmt.replace("+", "")).format(v.mean(), v.std(ddof=1) if len(v) > 1 else 0.0)


def summary(results: dict) -> list[str]:
    """Computed summary: split-and-test minus each baseline, per task (mean ± std of paired per-seed
    differences; positive = split-and-test better on the task's score)."""
    lines = ["## Summary: split_test minus baseline (paired per seed; + = split_test better)", "",
             "| task | metric | − global | − zones | − global_mlp | − equal_capacity_global | regions improved vs global "
             "| Moran's I global → split_test |",
             "|---|---|---|---|---|---|---|---|"]
    blocks = dict(results.get("benchmark", {}))
    if "tabular" in results:
        blocks["air_temperature + elevation (tabular)"] = {"kind": "regression", **results["tabular"]}
    for task, tr in blocks.items():
        seeds = list(tr["seeds"].values())
        d = {b: [s["split_test"]["score"] - s[b]["score"] for s in seeds if b in s]
             for b in ("global", "zones", "global_mlp", "equal_capacity_global")}
        share = [s["split_test"]["share_regions_improved"] for s in seeds]
        mi = (_ms([s["global"]["morans_i"] for s in seeds]), _ms([s["split_test"]["morans_i"] for s in seeds]))
        metric = "R²" if tr["kind"] == "regression" else "top-1"
        lines.append(f"| {task} | {metric} | {_ms(d['global'], '{:+.4f}')} | {_ms(d['zones'], '{:+.4f}')} | "
                     f"{_ms(d['global_mlp'], '{:+.4f}')} | "
                     f"{_ms(d['equal_capacity_global'], '{:+.4f}') if d['equal_capacity_global'] else 'not run'} | "
                     f"{_ms(share, '{:.2f}')} | {mi[0]} → {mi[1]} |")
    if "tabular" in results:
        seeds = list(results["tabular"]["seeds"].values())
        for b in ("GWR", "MGWR"):
            if b in seeds[0]:
                lines.append(f"| air_temperature + elevation (tabular) | R² | − {b}: "
                             f"{_ms([s['split_test']['score'] - s[b]['score'] for s in seeds], '{:+.4f}')} | | | | |")
    return lines + [""]


def tables(results: dict) -> str:
    lines = ["# Heterogeneity-aware modelling: results", "",
             "Mean ± std over seeds " + ", ".join(results["run"]["seeds"]) + ". Generated by "
             "`benchmarks/hetero_experiments.py`; see `run_info.json` for the command and commit.", ""]
    lines += summary(results)
    lines += ["## 1. Benchmark tasks (location only, random 80/20 split)", "",
              "score = R² (regression) / top-1 (classification); worst region and share improved on HEALPix "
              "nside-2 evaluation cells with ≥ 20 test points (RMSE or top-1 per cell), improvement vs `global`. "
              "Moran's I of test residuals (k = 8; error indicator for classification).", ""]
    for task, tr in results.get("benchmark", {}).items():
        lines += [f"### {task} ({tr['kind']}, n = {tr['n']}, {tr['target']})", "",
                  "| method | score | RMSE | worst region | share regions improved | Moran's I | regions | fit s |",
                  "|---|---|---|---|---|---|---|---|"]
        seeds = list(tr["seeds"].values())
        for name in seeds[0]:
            col = lambda k: [s[name].get(k) for s in seeds]  # noqa: E731
            lines.append(f"| {name} | {_ms(col('score'), '{:.4f}')} | {_ms(col('rmse'), '{:.3g}')} | "
                         f"{_ms(col('worst_region'), '{:.3g}')} | {_ms(col('share_regions_improved'), '{:.2f}')} | "
                         f"{_ms(col('morans_i'))} | {_ms(col('n_regions'), '{:.1f}')} | {_ms(col('fit_seconds'), '{:.1f}')} |")
        s0 = seeds[0]["split_test"]
        lines += ["", f"Learned regions (first seed): test {s0['learned_region_metric']} inside each region, "
                  "split_test vs global:", "", "| region | n test | split_test | global |", "|---|---|---|---|"]
        lines += [f"| {r['region']} | {r['n_test']} | {r['split_test']:.4g} | {r['global']:.4g} |"
                  for r in s0["learned_regions"]]
        lines.append("")
    if "tabular" in results:
        tb = results["tabular"]
        lines += ["## 2. Tabular regression: air temperature ~ location + elevation (with GWR/MGWR)", "",
                  f"{tb['n_train']} training / {tb['n_test']} test land grid nodes per seed "
                  f"(of {tb['n_available']}); covariate elevation (km).", "",
                  "| method | R² | RMSE (K) | worst region RMSE | share regions improved | Moran's I | regions | fit s |",
                  "|---|---|---|---|---|---|---|---|"]
        seeds = list(tb["seeds"].values())
        for name in seeds[0]:
            col = lambda k: [s[name].get(k) for s in seeds]  # noqa: E731
            lines.append(f"| {name} | {_ms(col('score'), '{:.4f}')} | {_ms(col('rmse'), '{:.3f}')} | "
                         f"{_ms(col('worst_region'), '{:.3f}')} | {_ms(col('share_regions_improved'), '{:.2f}')} | "
                         f"{_ms(col('morans_i'))} | {_ms(col('n_regions'), '{:.1f}')} | {_ms(col('fit_seconds'), '{:.1f}')} |")
        lines.append("")
    if "transfer" in results:
        t = results["transfer"]
        seeds = list(t["seeds"].values())
        col = lambda k: [s.get(k) for s in seeds]  # noqa: E731
        lines += ["## 3. Transfer: train on North America, test on Europe (air temperature ~ location + elevation)", "",
                  f"source {t['source']} ({t['n_source']} nodes), target {t['target']} ({t['n_target']} nodes; "
                  "300 held out for testing).", "",
                  "| model | source test R² | Europe zero-shot R² | Europe zero-shot RMSE (K) |", "|---|---|---|---|"]
        for name in ("global", "split_test"):
            lines.append(f"| {name} | {_ms(col(f'{name}_source_test'))} | {_ms(col(f'{name}_target_zero_shot'))} | "
                         f"{_ms(col(f'{name}_target_zero_shot_rmse'), '{:.2f}')} |")
        lines += ["", f"Upper bound trained on all {seeds[0]['n_target_pool']} non-test European nodes: global "
                  f"{_ms(col('target_full_global'))}, split_test {_ms(col('target_full_split_test'))}.", "",
                  "Few-label adaptation, Europe test R² (RMSE K) [source test R² after adaptation]:", ""]
        ks = sorted({int(k.split('_')[0][1:]) for s in seeds for k in s if k.startswith("k")})
        names = ["target_only", "pooled_global", "pooled_split_test", "adapt_root", "adapt_nearest", "adapt_features"]
        lines += ["| k labels | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
        for k in ks:
            cells = []
            for nm in names:
                c = f"{_ms(col(f'k{k}_{nm}'))} ({_ms(col(f'k{k}_{nm}_rmse'), '{:.2f}')})"
                if seeds[0].get(f"k{k}_{nm}_source_test") is not None:
                    c += f" [{_ms(col(f'k{k}_{nm}_source_test'))}]"
                cells.append(c)
            lines.append(f"| {k} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def _git(*args) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--n-samples", type=int, default=5000, help="samples per benchmark task")
    ap.add_argument("--tabular-train", type=int, default=500)
    ap.add_argument("--tabular-test", type=int, default=1000)
    ap.add_argument("--no-mgwr", action="store_true", help="skip MGWR (its bandwidth search is slow)")
    ap.add_argument("--ks", type=int, nargs="+", default=[25, 50, 100])
    ap.add_argument("--only", nargs="+", choices=["benchmark", "tabular", "transfer"],
                    default=["benchmark", "tabular", "transfer"])
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "hetero")
    ap.add_argument("--retable", action="store_true", help="only rewrite tables.md from an existing results.json")
    ap.add_argument("--null", choices=["bootstrap", "t"], default="bootstrap",
                    help="split-test null: calibrated parametric bootstrap (default) or the analytic t-test")
    ap.add_argument("--n-null", type=int, default=99, help="bootstrap replicates per split test")
    args = ap.parse_args(argv)
    SPLIT_NULL.update(null=args.null, n_null=args.n_null)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.retable:
        (args.out / "tables.md").write_text(tables(json.loads((args.out / "results.json").read_text())))
        return
    torch.set_num_threads(1)
    t0 = time.perf_counter()

    def log(msg):
        print(f"[{time.perf_counter() - t0:7.1f}s] {msg}", flush=True)

    pkgs = {}
    for p in ["torch", "numpy", "scipy", "mgwr", "libpysal", "spglm", "matplotlib"]:
        try:
            pkgs[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            pkgs[p] = None
    run = {"command": " ".join([Path(sys.executable).name, *sys.argv]), "argv": sys.argv[1:],
           "seeds": [str(s) for s in args.seeds], "git_commit": _git("rev-parse", "HEAD"),
           "git_dirty": bool(_git("status", "--porcelain", "--", "src/geosrl", "benchmarks")),
           "python": platform.python_version(), "packages": pkgs, "encoder": "sphere2vec_spherec_plus", "encoder_kwargs": ENC,
           "torch_threads": 1, "split_null": dict(SPLIT_NULL), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    # experiments run with --only are merged into an existing results.json (each part keeps its own run record)
    path = args.out / "results.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    runs = results.setdefault("runs", {})
    results["run"] = run

    def save():
        path.write_text(json.dumps(results, indent=1, default=float))
        (args.out / "run_info.json").write_text(json.dumps(runs, indent=1))
        (args.out / "tables.md").write_text(tables(results))

    for part in args.only:
        tp = time.perf_counter()
        if part == "benchmark":
            results[part] = run_benchmark_tasks(args.seeds, args.n_samples, args.out, log)
        elif part == "tabular":
            results[part] = run_tabular(args.seeds, args.tabular_train, args.tabular_test, not args.no_mgwr, log)
        else:
            results[part] = run_transfer(args.seeds, args.ks, log)
        runs[part] = {**run, "wall_seconds": time.perf_counter() - tp}
        save()
    log(f"done; wrote {args.out}")


if __name__ == "__main__":
    main()
