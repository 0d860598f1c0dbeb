"""Reports built from cell files: leaderboard.csv, summary.md, predictions CSVs, maps, run.json."""

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest

import bench_fakes
from geosrl.bench import report, store
from geosrl.bench.config import BenchConfig
from geosrl.bench.report import Stat, aggregate, best_encoders, metric_direction, render_summary
from geosrl.bench.runinfo import run_info, write_run_json
from geosrl.bench.runner import run_bench
from geosrl.bench.store import Cell


def record(encoder: str, seed: int, metrics: dict, task: str = "t", split: str = "random", kind: str = "regression"):
    return {"task": task, "encoder": encoder, "split": split, "seed": seed, "kind": kind, "metrics": metrics}


def test_stat_is_mean_and_sample_std():
    stat = Stat.of([1.0, 2.0, 3.0])
    assert stat.mean == 2.0 and stat.std == 1.0 and stat.n == 3
    assert stat.text() == "2 ± 1"
    assert Stat.of([0.25]).text() == "0.25" and math.isnan(Stat.of([0.25]).std)



def test_an_undefined_geo_bias_seed_is_left_out_and_counted_but_a_nan_score_is_not_hidden():
    nan = float("nan")
    records = [record("a", s, {"r2": v, "ssi_local_marks": g}) for s, (v, g) in enumerate([(0.5, 1.0), (0.7, nan), (nan, 3.0)])]
    agg, _ = aggregate(records)
    geo, r2 = agg[("t", "random")]["a"]["ssi_local_marks"], agg[("t", "random")]["a"]["r2"]
    assert (geo.mean, geo.n, geo.undefined, geo.by_seed) == (2.0, 2, 1, ((0, 1.0), (2, 3.0)))
    assert geo.text() == "2 ± 1.4 (2 of 3 seeds)"
    assert math.isnan(r2.mean) and r2.undefined == 0  # a diverged seed keeps the primary metric NaN
    assert math.isnan(Stat.of([nan, nan], [0, 1], skip_undefined=True).mean)


def test_the_summary_names_every_commit_that_made_its_cells():
    recs = [dict(record("a", 0, {"r2": 0.5}), git_commit="c1", git_dirty=False),
            dict(record("a", 1, {"r2": 0.6}), git_commit="c2", git_dirty=True), record("a", 2, {"r2": 0.7})]
    text = render_summary(aggregate(recs)[0], {"t": "regression"}, {"git_commit": "c3", "config": {}}, recs)
    assert ("cells made at git commit `c1`, `c2` (some with local changes); 1 cells without a recorded commit; "
            "reports written at `c3`") in text
    same = render_summary(aggregate(recs[:1])[0], {"t": "regression"}, {"git_commit": "c1", "config": {}}, recs[:1])
    assert "cells made at git commit `c1`." in same and "reports written" not in same
    # a merged folder: its source's commit is named only for the cells that recorded none
    merged = {"git_commit": "c3", "config": {}, "merged_from": [{"git_commit": "c9"}]}
    one = render_summary(aggregate(recs[:1])[0], {"t": "regression"}, merged, recs[:1])
    assert "cells made at git commit `c1`; reports written at `c3`" in one
    assert "`c1`, `c2`, `c9`" in render_summary(aggregate(recs)[0], {"t": "regression"}, merged, recs)

@pytest.mark.parametrize(
    "metric, direction",
    [("top1", 1), ("r2", 1), ("auc", 1), ("rmse", -1), ("mae", -1), ("ssi_local_marks", -1),
     ("ssi_unmarked", None),  # depends on the test points only, not on the encoder: never ranked (issue 10)
     ("ssi_isolated_frac", None), ("ssi_radius_km", None),  # the test points' too
     ("ssi_marked", None),  # PyGBS's marked score: does not rank clustered errors as worse (issue 10), not ranked
     ("morans_i_residual", 0), ("worst_region_r2", 1), ("worst_region_rmse", -1), ("top1_image_only", 1),
     ("mrr_location_only", 1), ("ssi_cap_fraction", None)],
)
def test_metric_direction(metric, direction):
    assert metric_direction(metric) == direction


def test_best_marking_follows_direction_and_ties():
    agg, _ = aggregate([
        record("a", 0, {"r2": 0.5, "rmse": 2.0, "morans_i_residual": -0.1, "odd": 1.0}),
        record("b", 0, {"r2": 0.7, "rmse": 2.0, "morans_i_residual": 0.3, "odd": 2.0}),
    ])
    table = agg[("t", "random")]
    assert best_encoders(table, "r2") == {"b"}
    assert best_encoders(table, "rmse") == {"a", "b"}
    assert best_encoders(table, "morans_i_residual") == {"a"}
    assert best_encoders(table, "odd") == set()


def test_summary_has_mean_std_tables_with_best_bold():
    records = [record("a", s, {"r2": v, "rmse": 1 - v}) for s, v in enumerate([0.5, 0.7])]
    records += [record("b", s, {"r2": v, "rmse": 1 - v}) for s, v in enumerate([0.2, 0.4])]
    agg, kinds = aggregate(records)
    text = render_summary(agg, kinds, {"config": {"profile": "quick", "suite": "offline", "seeds": [0, 1]},
                                       "skipped_tasks": [{"task": "x", "reason": "no pkg", "install_hint": "pip i"}],
                                       "failed_cells": [{"cell_id": "t__c__random__s0", "error": "RuntimeError"}]})
    assert "## t · random split (regression)" in text
    assert "| encoder | seeds | r2 ↑ | rmse ↓ |" in text
    assert "| a | 2 | **0.6 ± 0.14** | **0.4 ± 0.14** |" in text
    assert "| b | 2 | 0.3 ± 0.14 | 0.7 ± 0.14 |" in text
    assert text.index("| a |") < text.index("| b |")  # ranked by the primary metric
    assert "- `x`: no pkg — fix: `pip i`" in text and "t__c__random__s0" in text


def test_leaderboard_csv_columns_and_rows(tmp_path: Path):
    records = [record("a", 0, {"r2": 0.5, "rmse": 0.25}), record("b", 1, {"r2": 0.125})]
    path = report.write_leaderboard(tmp_path, records)
    rows = list(csv.reader(path.open()))
    assert rows[0] == ["task", "encoder", "split", "seed", "metric", "value"]
    assert rows[1:] == [["t", "a", "random", "0", "r2", "0.5"], ["t", "a", "random", "0", "rmse", "0.25"],
                        ["t", "b", "random", "1", "r2", "0.125"]]


def test_predictions_csv_roundtrip_and_column_order(tmp_path: Path):
    path = tmp_path / "p.csv"
    store.write_predictions(path, {"extra": np.array([1, 2]), "y_pred": np.array([0.5, 1.5]),
                                   "lon": np.array([10.0, -20.5]), "lat": np.array([1.0, 2.0]),
                                   "y_true": np.array([0.0, 1.0])})
    assert path.read_text().splitlines()[0] == "lon,lat,y_true,y_pred,extra"
    back = store.read_predictions(path)
    np.testing.assert_array_equal(back["lon"], [10.0, -20.5])
    with pytest.raises(ValueError, match="equal length"):
        store.write_predictions(path, {"lon": np.zeros(2), "lat": np.zeros(3)})


def test_bar_charts_show_the_baselines_of_an_image_task_on_the_location_only_score():
    # an image task: encoders have the fused top1 and its location-only variant, the baselines only the latter
    recs = [record(e, s, {"top1": 0.8 + s / 100, "top1_location_only": 0.7 + s / 100}, kind="classification")
            for e in ("enc", "enc2") for s in (0, 1)]
    recs += [record(b, s, {"top1_location_only": v}, kind="classification")
             for b, v in (("knn", 0.75), ("majority", 0.1)) for s in (0, 1)]
    bars, metrics = report.bar_tables(*aggregate(recs), "knn")
    assert metrics == {"t": "top1_location_only"}
    assert set(bars["t"]["random"]) == {"enc", "enc2", "knn", "majority"}
    assert bars["t"]["random"]["enc"][0] == pytest.approx(0.705) and bars["t"]["random"]["knn"][2] == 2
    # a task whose baselines have the primary metric: the bars are the primary metric, baselines included
    plain = [record(e, s, {"r2": 0.5}) for e in ("enc", "knn", "majority") for s in (0, 1)]
    bars, metrics = report.bar_tables(*aggregate(plain), "knn")
    assert metrics == {"t": "r2"} and set(bars["t"]["random"]) == {"enc", "knn", "majority"}
    # a run without a kNN row (few-shot, or baselines not run): the primary metric
    bars, metrics = report.bar_tables(*aggregate([record("enc", 0, {"r2": 0.5})]), "knn")
    assert metrics == {"t": "r2"} and set(bars["t"]["random"]) == {"enc"}


def run_fake(tmp_path: Path, **kwargs) -> Path:
    out = tmp_path / "out"
    config = BenchConfig(tasks=["alpha", "beta", "gamma", "missing"], encoders=["enc_a", "enc_b"], seeds=[0, 1],
                         splits=["random"], device="cpu", **kwargs)
    run_bench(config, out, bench_fakes.backend(), log=lambda _: None)
    info = run_info(out, config.to_dict(), status="complete")
    write_run_json(out, info)
    report.write_reports(out, info)
    return out


def test_full_report_files(tmp_path: Path):
    out = run_fake(tmp_path)
    for name in ("leaderboard.csv", "summary.md", "run.json"):
        assert (out / name).is_file()
    maps = sorted(p.name for p in (out / "maps").glob("*.png"))
    assert maps == ["alpha__bars.png", "alpha__random.png", "beta__bars.png", "beta__random.png", "gamma__bars.png",
                    "gamma__random.png"]  # a map per (task, split), a bar chart per task
    assert all((out / "maps" / m).read_bytes()[:4] == b"\x89PNG" for m in maps)
    rows = list(csv.DictReader((out / "leaderboard.csv").open()))
    assert {(r["task"], r["metric"]) for r in rows} >= {("alpha", "top1"), ("beta", "r2"), ("gamma", "auc")}
    assert len([r for r in rows if r["task"] == "alpha"]) == 2 * 2 * 4


def test_run_json_fields(tmp_path: Path):
    info = json.loads((run_fake(tmp_path) / "run.json").read_text())
    assert info["seeds"] == [0, 1] and info["config"]["encoders"] == ["enc_a", "enc_b"]
    assert info["packages"]["numpy"] == np.__version__ and "torch" in info["packages"]
    assert isinstance(info["git_commit"], str) and info["git_commit"]
    assert info["skipped_tasks"] == [{"task": "missing", "reason": "package fake-data is not installed",
                                      "install_hint": "pip install fake-data"}]
    assert info["finished_cells"] == 12 and info["failed_cells"] == []
    assert info["tasks"]["alpha"] == {"kind": "classification", "n_samples": 40, "target_name": "alpha target",
                                      "data_metadata": {"source": "fake"}}


def test_terminal_leaderboard_ranks_by_primary_metric(tmp_path: Path):
    agg, kinds = aggregate(store.iter_cell_records(run_fake(tmp_path)))
    text = report.render_leaderboard(agg, kinds)
    block = text.split("\n\n")[0].splitlines()
    assert block[0] == "alpha · random" and "top1 ↑" in block[1] and "ssi_local_marks ↓" in block[1]
    mean = {e: np.mean([bench_fakes.score(e, "random", s) for s in (0, 1)]) for e in ("enc_a", "enc_b")}
    assert block[2].split()[1] == max(mean, key=mean.get)


def test_git_commit_unknown_outside_a_repository(tmp_path: Path):
    from geosrl.config import git_commit

    assert git_commit(tmp_path) == {"commit": "unknown", "dirty": None}


def test_git_dirty_means_changes_to_the_code_folder_not_to_results_written_beside_it(tmp_path: Path):
    import subprocess

    from geosrl.config import git_commit

    def git(*args):
        subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True,
                       capture_output=True)

    (tmp_path / "src").mkdir()
    (tmp_path / "results").mkdir()
    (tmp_path / "src" / "code.py").write_text("x = 1\n")
    (tmp_path / "results" / "summary.md").write_text("old\n")
    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "c")
    (tmp_path / "results" / "summary.md").write_text("rewritten by a run\n")
    assert git_commit(tmp_path / "src")["dirty"] is False
    (tmp_path / "src" / "code.py").write_text("x = 2\n")
    assert git_commit(tmp_path / "src")["dirty"] is True


def test_cell_ids_are_file_safe():
    assert Cell("t", "sphere2vec/sphereC+", "random", 3).cell_id == "t__sphere2vec-sphereC+__random__s3"


def test_maps_zoom_to_a_regional_data_set(tmp_path: Path):
    # issue 3: the California presence-only task was drawn as a dot on a world map
    import numpy as np

    from geosrl.bench.maps import _regional_extent, plot_predictions_map

    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(-124, -114, 200), rng.uniform(32, 42, 200)
    (x0, x1), (y0, y1) = _regional_extent(lon, lat)
    assert -126 < x0 < -124 and -114 < x1 < -112 and 30 < y0 < 32 and 42 < y1 < 44
    assert _regional_extent(rng.uniform(-180, 180, 200), rng.uniform(-90, 90, 200)) is None
    pred = {"lon": lon, "lat": lat, "y_true": (lat > 37).astype(float), "y_pred": rng.uniform(0, 1, 200)}
    path = tmp_path / "sdm.png"
    plot_predictions_map(path, pred, "presence_only", "regional")
    assert path.read_bytes()[:4] == b"\x89PNG"


def test_summary_is_compact_and_diagnostics_hold_every_metric():
    metrics = {"r2": 0.5, "rmse": 0.5, "ssi_local_marks": 1.5, "ssi_marked": 3.0, "ssi_unmarked": 2.0,
               "ssi_isolated_frac": 0.1, "worst_region_rmse": 0.9, "morans_i_residual": 0.1,
               "ssi_marked_degenerate_frac": 0.4}
    agg, kinds = aggregate([record("a", 0, metrics), record("b", 0, dict(metrics, r2=0.6))])
    run = {"config": {"profile": "quick", "suite": "offline", "seeds": [0]}}
    summary = render_summary(agg, kinds, run)
    assert "| encoder | seeds | r2 ↑ | rmse ↓ | ssi_local_marks ↓ |" in summary
    assert "ssi_marked" not in summary and "isolated" not in summary
    assert "worst_region" not in summary and "morans_i" not in summary and "degenerate" not in summary
    diagnostics = report.render_diagnostics(agg, kinds, run)
    for name in metrics:
        assert name in diagnostics


def _searched(encoder: str, seed: int, rows: list[dict]) -> dict:
    rec = record(encoder, seed, {"r2": 0.5}, task="elevation", split="spatial")
    rec["chosen_hparams"] = {"tuned": {r["param"]: r["value"] for r in rows}, "search": rows}
    return rec


def _row(param, value, low, high, edge, scale="log"):
    return {"search": "main", "param": param, "value": value, "low": low, "high": high, "scale": scale, "edge": edge}


def test_hparams_csv_and_search_edges_are_flagged(tmp_path):
    recs = [
        _searched("rff", 0, [_row("lr", 0.29, 1e-4, 0.3, "high"), _row("omega_var", 50.0, 0.1, 1e4, ""),
                             _row("epochs", 15, 1, 15, "high", "early_stopping")]),
        _searched("wrap", 0, [_row("lr", 3e-3, 1e-4, 0.3, ""), _row("epochs", 7, 1, 15, "", "early_stopping")]),
        record("knn", 0, {"r2": 0.6}, task="elevation", split="spatial"),  # baselines keep their own tuning
    ]
    path = report.write_hparams(tmp_path, recs)
    with open(path) as fh:
        rows = list(csv.DictReader(fh))
    assert [r["param"] for r in rows] == ["epochs", "lr", "omega_var", "epochs", "lr"]
    assert {(r["encoder"], r["param"]) for r in rows if r["edge"]} == {("rff", "lr"), ("rff", "epochs")}
    md = "\n".join(report.render_edges(recs))
    assert "1 of 2 searches (50%) chose a value at an edge" in md and "1 of 2 stopped at the epoch cap" in md
    assert "| elevation | spatial | rff | 0 | main | ⚠ lr=0.29 (high of [0.0001, 0.3]) |" in md
    assert "wrap |" not in md.split("## Search edges")[1]
    assert report.write_hparams(tmp_path / "none", [recs[2]]) is None and report.render_edges([recs[2]]) == []


def test_tasks_run_with_target_context_are_labelled_in_the_summary():
    clean = record("a", 0, {"top1": 0.5}, task="country", kind="classification")
    leaky = dict(record("a", 0, {"top1": 0.9}, task="land_ocean", kind="classification"),
                 chosen_hparams={"target_context": ["bmng_rgb"]})
    records = [clean, leaky, dict(leaky, seed=1, chosen_hparams={"target_context": []})]
    assert report.target_context_tasks(records) == {"land_ocean": ["bmng_rgb"]}
    agg, kinds = aggregate(records)
    summary = render_summary(agg, kinds, {"config": {}}, records)
    headings = [line for line in summary.splitlines() if line.startswith("## ")]
    assert any(h.startswith("## land_ocean") and "with target context" in h and "bmng_rgb" in h for h in headings)
    assert not any(h.startswith("## country") and "target context" in h for h in headings)


def test_prediction_surfaces_are_stored_for_the_lowest_seed_and_merged(tmp_path: Path):
    from geosrl.bench.maps import grid_path, read_grid
    from geosrl.bench.merge import merge_results

    out = run_fake(tmp_path)
    grids = sorted(p.stem for p in (out / "grids").glob("*.npz"))
    assert grids == ["beta__enc_a__random__s0", "beta__enc_b__random__s0"]  # regression only, seed 0 only
    grid = read_grid(grid_path(out, grids[0]))
    assert grid["values"].shape == (len(grid["lat"]), len(grid["lon"]))
    assert np.allclose(grid["values"], (grid["lat"][:, None] / 90.0 + bench_fakes.score("enc_a", "random", 0))
                       * np.ones_like(grid["lon"])[None, :], atol=1e-5)
    merged = tmp_path / "merged"
    merged.mkdir()
    merge_results(merged, [out])
    assert grid_path(merged, grids[0]).read_bytes() == grid_path(out, grids[0]).read_bytes()
