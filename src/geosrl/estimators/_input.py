"""Locations given to an estimator → a validated ``(N, 2)`` float64 (lon, lat) array.

Accepted: an ``(N, 2)`` array, list or tensor of (lon, lat) degrees; a pandas DataFrame with longitude
and latitude columns (names configurable); a geopandas GeoDataFrame or GeoSeries of points (CRS
EPSG:4326 or unset); a sequence of shapely Points. Everything goes through :func:`geosrl.coords.as_lonlat`.
"""

from __future__ import annotations

import numpy as np
import torch

from ..coords import CoordinateError, as_lonlat

__all__ = ["lonlat_from"]


def lonlat_from(X, lon_col: str = "lon", lat_col: str = "lat", name: str = "X") -> np.ndarray:
    """``X`` as a validated ``(N, 2)`` float64 (lon, lat) degrees array (see the module doc for the forms).

    Raises:
        CoordinateError: a missing column, a non-point geometry, a projected CRS, sparse or complex data,
            a number of columns other than 2, or coordinates that break the (lon, lat)-degrees convention.
    """
    module = type(X).__module__ or ""
    if module.startswith("geopandas"):
        if hasattr(X, "columns") and lon_col in X.columns and lat_col in X.columns:
            return _from_columns(X, lon_col, lat_col, name)
        return _from_geometry(X.geometry if hasattr(X, "columns") else X, name)
    if module.startswith("pandas") and hasattr(X, "columns"):
        return _from_columns(X, lon_col, lat_col, name)
    if hasattr(X, "toarray") and hasattr(X, "nnz"):
        raise CoordinateError(f"{name} is a sparse matrix; sparse input is not supported: pass a dense (N, 2) "
                              "array of (lon, lat) degrees")
    if isinstance(X, (list, tuple)) and len(X) and hasattr(X[0], "geom_type"):
        return _from_geometry(np.asarray(X, dtype=object), name)
    if isinstance(X, np.ndarray) and X.dtype == object and X.size and hasattr(X.flat[0], "geom_type"):
        return _from_geometry(X, name)
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    arr = np.asarray(X)
    if arr.dtype.kind == "c":
        raise CoordinateError(f"Complex data not supported: {name} must hold real (lon, lat) degrees")
    if arr.ndim == 2 and arr.shape[1] == 0:
        raise CoordinateError(f"0 feature(s) (shape={arr.shape}) while a minimum of 2 is required: {name} must be "
                              "(N, 2) (lon, lat) degrees")
    if arr.dtype.kind in "fiub" and arr.size and not np.isfinite(arr.astype(np.float64)).all():
        raise CoordinateError(f"Input {name} contains NaN or infinity; drop or impute those locations first")
    if arr.ndim == 2 and arr.shape[1] != 2:
        raise CoordinateError(f"{name} has {arr.shape[1]} feature(s) per row; expected 2 columns, (lon, lat) in degrees")
    if arr.ndim == 1 and arr.shape[0] != 0:
        raise CoordinateError(f"{name} is 1-d with shape {arr.shape}; expected a 2-d (N, 2) array of (lon, lat) "
                              "degrees (reshape a single point with x.reshape(1, 2))")
    return as_lonlat(arr if arr.flags.writeable else arr.copy(), name=name)


def _from_columns(frame, lon_col: str, lat_col: str, name: str) -> np.ndarray:
    missing = [c for c in (lon_col, lat_col) if c not in frame.columns]
    if missing:
        raise CoordinateError(f"{name} has no column {missing[0]!r} (columns: {list(frame.columns)[:10]}); name the "
                              "longitude and latitude columns with lon_col=... and lat_col=...")
    try:
        values = frame[[lon_col, lat_col]].to_numpy(dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise CoordinateError(f"{name} columns {lon_col!r}, {lat_col!r} must be numeric degrees: {exc}") from None
    return as_lonlat(values, name=name)


def _from_geometry(geometry, name: str) -> np.ndarray:
    import shapely

    crs = getattr(geometry, "crs", None)
    if crs is not None and crs.to_epsg() != 4326:
        raise CoordinateError(f"{name} is in {crs.to_string()}; geosrl takes (lon, lat) degrees: convert with "
                              ".to_crs(4326) first")
    geoms = np.asarray(geometry, dtype=object)
    if geoms.ndim != 1:
        raise CoordinateError(f"{name} must be a 1-d sequence of shapely Points, got shape {geoms.shape}")
    try:
        kinds = shapely.get_type_id(geoms)
    except (TypeError, shapely.errors.GEOSException) as exc:
        raise CoordinateError(f"{name} must hold shapely Points only: {exc}") from None
    if (kinds != 0).any():
        bad = int(np.flatnonzero(kinds != 0)[0])
        raise CoordinateError(f"{name}[{bad}] is a {geoms[bad].geom_type if geoms[bad] is not None else 'missing'} "
                              "geometry; estimators take points (use .centroid for polygons)")
    empty = shapely.is_empty(geoms)
    if empty.any():
        raise CoordinateError(f"{name} holds {int(empty.sum())} empty point(s) (first at {int(np.flatnonzero(empty)[0])}); "
                              "drop them first")
    return as_lonlat(shapely.get_coordinates(geoms), name=name)
