"""Coordinate convention and validation.

geosrl takes locations as tensors ``(..., 2)`` of ``(lon, lat)`` in degrees (WGS84, EPSG:4326),
lon in [-180, 180], lat in [-90, 90]. Values outside these ranges are rejected, never wrapped or
clipped.
"""

from __future__ import annotations

import math

import numpy as np
import torch

__all__ = [
    "CoordinateError",
    "as_lonlat",
    "check_lonlat_shape",
    "validate_lonlat",
    "lonlat_to_radians",
]

DEG2RAD = math.pi / 180.0


class CoordinateError(ValueError):
    """Raised for coordinates that break the ``(lon, lat)``-degrees convention."""


def check_lonlat_shape(lonlat: torch.Tensor) -> None:
    """Check type, dtype and last dimension (no device sync).

    Floating dtypes narrower than 32 bits (float16, bfloat16, float8) are refused: bfloat16 spaces
    longitudes near 180° by 1° (float16 by 0.125°), so the location is already lost on input.
    """
    if not isinstance(lonlat, torch.Tensor):
        raise CoordinateError(
            f"expected a torch.Tensor of shape (..., 2) with (lon, lat) in degrees, got {type(lonlat).__name__}; "
            "wrap your data with torch.as_tensor(x, dtype=torch.float64)"
        )
    if lonlat.ndim == 0 or lonlat.shape[-1] != 2:
        raise CoordinateError(
            f"expected shape (..., 2) with (lon, lat) in degrees, got shape {tuple(lonlat.shape)}"
        )
    if not lonlat.is_floating_point():
        raise CoordinateError(
            f"expected a floating-point tensor of (lon, lat) degrees, got dtype {lonlat.dtype}; "
            "convert with .double() (or .float())"
        )
    if torch.finfo(lonlat.dtype).bits < 32:
        spacing = torch.finfo(lonlat.dtype).eps * 128  # ulp at |lon| in [128, 256): the worst case
        error = spacing / 2
        raise CoordinateError(
            f"{lonlat.dtype} coordinates are too coarse for locations: near lon 180 its values are {spacing:g} "
            f"degrees apart (rounding errors up to {error:g} degrees, ~{error * 111:.0f} km); keep coordinates "
            "in float64 (convert with .double() before the precision is lost) and ask for a low-precision "
            "output with the encoder's dtype= instead"
        )


def validate_lonlat(lonlat: torch.Tensor) -> None:
    """Validate a ``(..., 2)`` tensor of ``(lon, lat)`` degrees; raise :class:`CoordinateError`.

    Checks (one pass over the data and one device-to-host sync): finite values, |lat| <= 90,
    |lon| <= 180, and a likely (lat, lon) swap (all |first column| <= 90 while some |second column|
    > 90). Empty tensors pass. The detailed counts in the messages are computed only on failure.
    """
    check_lonlat_shape(lonlat)
    if lonlat.numel() == 0:
        return
    flat = lonlat.detach().reshape(-1, 2)
    lo, hi = torch.aminmax(flat, dim=0)  # NaN propagates into both
    lon_min, lat_min, lon_max, lat_max = torch.cat([lo, hi]).tolist()
    bounds = (lon_min, lat_min, lon_max, lat_max)
    if all(math.isfinite(b) for b in bounds) and lon_min >= -180 and lon_max <= 180 and lat_min >= -90 and lat_max <= 90:
        return
    _raise_coordinate_error(flat)


def _raise_coordinate_error(flat: torch.Tensor) -> None:
    """Count what is wrong with ``(N, 2)`` coordinates and raise the matching :class:`CoordinateError`."""
    lon, lat = flat[:, 0], flat[:, 1]
    n_nonfinite = int((~torch.isfinite(flat)).any(1).sum())
    if n_nonfinite:
        raise CoordinateError(
            f"{n_nonfinite} location(s) contain NaN or inf; drop or impute them before encoding"
        )
    n_bad_lat = int((lat.abs() > 90).sum())
    n_bad_lon = int((lon.abs() > 180).sum())
    if n_bad_lat:
        if bool((lon.abs() <= 90).all()) and n_bad_lon == 0:
            raise CoordinateError(
                f"{n_bad_lat} latitude value(s) exceed 90 degrees while every first-column value is within "
                "[-90, 90]: the columns look swapped. geosrl expects (lon, lat) order; "
                "use x.flip(-1) to convert (lat, lon) input (if the columns are right, the latitudes are wrong)"
            )
        raise CoordinateError(
            f"{n_bad_lat} latitude value(s) outside [-90, 90] degrees (column 1 must be latitude in degrees; "
            "radians or projected coordinates are not accepted)"
        )
    raise CoordinateError(
        f"{n_bad_lon} longitude value(s) outside [-180, 180] degrees; geosrl does not wrap silently: "
        "wrap explicitly with ((lon + 180) % 360) - 180 if that is what you mean"
    )


def lonlat_to_radians(lonlat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(lon_rad, lat_rad)``, each ``(...)``, from ``(..., 2)`` degrees."""
    return lonlat[..., 0] * DEG2RAD, lonlat[..., 1] * DEG2RAD


def as_lonlat(lonlat, name: str = "lonlat", allow_nan_rows: bool = False) -> np.ndarray:
    """``lonlat`` (array-like or tensor) as a validated C-contiguous ``(N, 2)`` float64 NumPy array.

    The host-side entry of NumPy-based code (datasets, estimators): the same checks as
    :func:`validate_lonlat`. ``allow_nan_rows`` lets rows that are entirely NaN (missing locations) through.

    Raises:
        CoordinateError: not numeric, not ``(N, 2)``, non-finite, out of range or (lat, lon)-swapped values.
    """
    if isinstance(lonlat, torch.Tensor):
        lonlat = lonlat.detach().cpu().numpy()
    try:
        arr = np.ascontiguousarray(np.asarray(lonlat, dtype=np.float64))
    except (TypeError, ValueError) as exc:
        raise CoordinateError(f"{name} must be numeric (N, 2) (lon, lat) degrees: {exc}") from None
    if arr.size == 0:
        arr = arr.reshape(0, 2)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise CoordinateError(f"{name} must have shape (N, 2) with (lon, lat) in degrees, got {arr.shape}")
    check = arr[~np.isnan(arr).all(axis=1)] if allow_nan_rows else arr
    validate_lonlat(torch.from_numpy(check))
    return arr
