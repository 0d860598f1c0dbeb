"""The benchmark's map PNGs (geosrl.bench.maps): prediction grids stored per cell, drawn under the test points."""

import numpy as np
import pytest

from geosrl.bench.maps import grid_extent, grid_path, plot_predictions_map, read_grid, write_grid
from geosrl.maps import predict_grid


def test_grid_round_trip_and_malformed_files(tmp_path):
    grid = predict_grid(lambda p: p[:, 0] + p[:, 1], (-124, -114, 32, 42), 0.5)
    path = write_grid(tmp_path, "t__enc__random__s0", grid)
    assert path == grid_path(tmp_path, "t__enc__random__s0")
    back = read_grid(path)
    assert np.array_equal(back["values"], grid.values) and np.array_equal(back["lat"], grid["lat"].values)
    path.write_bytes(b"not an npz")
    assert read_grid(path) is None
    np.savez(path, lon=np.zeros(3), lat=np.zeros(2), values=np.zeros((3, 3)))
    assert read_grid(path) is None


def test_grid_extent_zooms_to_regional_data():
    rng = np.random.default_rng(0)
    regional = np.column_stack([rng.uniform(-124, -114, 50), rng.uniform(32, 42, 50)])
    extent, res = grid_extent(regional)
    assert -126 < extent[0] < -124 and extent[3] < 44 and res < 0.05
    extent, res = grid_extent(np.column_stack([rng.uniform(-180, 180, 50), rng.uniform(-90, 90, 50)]))
    assert extent == (-180.0, 180.0, -90.0, 90.0) and res == 1.0


@pytest.mark.parametrize("kind", ["presence_only", "regression", "classification"])
def test_map_with_a_surface_differs_from_points_alone(tmp_path, kind):
    rng = np.random.default_rng(1)
    lon, lat = rng.uniform(-124, -114, 100), rng.uniform(32, 42, 100)
    y = (lat > 37).astype(float) if kind != "regression" else lat
    pred = {"lon": lon, "lat": lat, "y_true": y, "y_pred": y}
    surface = predict_grid(lambda p: (p[:, 1] > 37).astype(float), (-125, -113, 31, 43), 0.1)
    plain, drawn = tmp_path / "plain.png", tmp_path / "surface.png"
    plot_predictions_map(plain, pred, kind, "t")
    plot_predictions_map(drawn, pred, kind, "t", grid={"lon": surface["lon"].values, "lat": surface["lat"].values,
                                                       "values": surface.values})
    assert drawn.read_bytes()[:4] == b"\x89PNG" and drawn.read_bytes() != plain.read_bytes()


def test_presence_only_scores_are_mapped_as_relative_suitability():
    from geosrl.bench.maps import relative_suitability

    scores = np.array([0.98, 0.99, 0.995, 1.0])  # SINR-style probabilities: all near 1
    grid = {"lon": np.array([0.0, 1.0]), "lat": np.array([1.0, 0.0]), "values": np.array([[0.97, 0.98], [0.99, 1.0]])}
    scaled, scaled_grid = relative_suitability(scores, grid)
    assert scaled.min() >= 0 and scaled.max() <= 1 and np.all(np.diff(scaled) >= 0)  # order kept, range spread
    assert scaled_grid["values"].min() == 0.0 and scaled_grid["values"].max() == 1.0
    alone, none = relative_suitability(scores, None)
    assert none is None and alone[0] == 0.0 and alone[-1] == 1.0
