"""Embed a file of coordinates: a CSV (or Parquet) table of (lon, lat) → an ``.npy`` (or CSV / Parquet) of embeddings.

``geosrl embed`` is the command-line face of :func:`embed_file`. The embedding comes from

* a registry name (``--encoder sphere2vec_spherec_plus``): its **position encoding**, parameter-free and
  deterministic (a registry encoder's network would be randomly initialised, so it is not used);
* a checkpoint (``--checkpoint PATH_OR_NAME``): :func:`geosrl.load_pretrained`, e.g. the shipped
  ``csp_sphere2vec_quick`` or a file written by :func:`geosrl.save_pretrained`;
* GeoCLIP's published location encoder (``--geoclip``), loaded offline from the installed wheel.

Coordinates are validated (:class:`geosrl.CoordinateError` names the problem rows); rows are encoded in
batches without gradients; the output is written atomically and never over an existing file.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from .config import ConfigError
from .coords import as_lonlat
from .encoders import (PositionEncoding, create_positional_encoding, embed_locations, load_geoclip_location_encoder,
                       load_pretrained)

from .checks import check_count, check_flag
from .files import atomic_write

__all__ = ["embed_file", "read_lonlat_table"]

_OUTPUTS = (".npy", ".csv", ".parquet")


def read_lonlat_table(path: Path, lon_col: str = "lon", lat_col: str = "lat") -> np.ndarray:
    """``(N, 2)`` float64 (lon, lat) from the named columns of a CSV (or, with pandas + pyarrow, Parquet) file.

    Raises:
        ConfigError: missing file or column, or a non-numeric value (the message names the line).
        CoordinateError: coordinates out of range, non-finite or (lat, lon)-swapped.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"input file {str(path)!r} not found")
    if path.suffix == ".parquet":
        frame = _read_parquet(path)
        missing = [c for c in (lon_col, lat_col) if c not in frame.columns]
        if missing:
            raise ConfigError(f"{path}: no column {missing[0]!r}; columns: {list(frame.columns)} (use --lon-col/--lat-col)")
        return as_lonlat(frame[[lon_col, lat_col]].to_numpy(dtype=np.float64), name=str(path))
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text ({exc}); save it as UTF-8 CSV") from None
    if not rows:
        raise ConfigError(f"{path} is empty; expected a header row with {lon_col!r} and {lat_col!r}")
    header = [h.strip() for h in rows[0]]
    missing = [c for c in (lon_col, lat_col) if c not in header]
    if missing:
        raise ConfigError(f"{path}: no column {missing[0]!r} in the header {header} (use --lon-col/--lat-col)")
    i, j = header.index(lon_col), header.index(lat_col)
    out = np.empty((len(rows) - 1, 2), dtype=np.float64)
    for line, row in enumerate(rows[1:], start=2):
        try:
            out[line - 2] = float(row[i]), float(row[j])
        except (ValueError, IndexError):
            raise ConfigError(f"{path}, line {line}: expected numbers in columns {lon_col!r} and {lat_col!r}, "
                              f"got {row!r}") from None
    return as_lonlat(out, name=str(path))


def _read_parquet(path: Path):
    try:
        import pandas as pd

        return pd.read_parquet(path)
    except ImportError as exc:
        raise ConfigError(f"reading Parquet needs pandas and pyarrow ({exc}); pip install pandas pyarrow, or use CSV") \
            from None


def _encoder(encoder: str | None, checkpoint: str | None, geoclip: bool, device: str) -> torch.nn.Module:
    """The one encoder the arguments name, in eval mode on ``device``."""
    if sum(x is not None and x is not False for x in (encoder, checkpoint, geoclip or None)) != 1:
        raise ConfigError("name exactly one of --encoder NAME, --checkpoint PATH_OR_NAME or --geoclip")
    if checkpoint is not None:
        return load_pretrained(checkpoint, device=device)
    if geoclip:
        return load_geoclip_location_encoder().to(device).eval()
    try:
        module = create_positional_encoding(encoder)
    except ValueError as exc:  # unknown name (the registry lists the choices)
        raise ConfigError(str(exc)) from None
    return module.to(device).eval()


def _position_encoding(module: torch.nn.Module) -> PositionEncoding:
    """The position encoding of a registry encoding or a geosrl checkpoint (``--compile`` compiles it)."""
    pe = module if isinstance(module, PositionEncoding) else getattr(module, "pe", None)
    if not isinstance(pe, PositionEncoding):
        raise ConfigError(f"--compile applies to a registry encoding (--encoder) or a geosrl checkpoint's position "
                          f"encoding; {type(module).__name__} has none: drop --compile")
    return pe


def embed_file(input_path: str | Path, output_path: str | Path, encoder: str | None = None,
               checkpoint: str | None = None, geoclip: bool = False, lon_col: str = "lon", lat_col: str = "lat",
               batch_size: int = 65536, device: str = "cpu",
               progress: Callable[[int, int], None] | None = None, compile: bool = False) -> tuple[int, int]:
    """Embed every row of ``input_path`` and write ``(N, D)`` float32 embeddings to ``output_path``.

    ``output_path`` ends in ``.npy`` (a NumPy array), ``.csv`` (columns ``e0 … e{D-1}``) or ``.parquet``
    (needs pyarrow); it must not exist yet. Rows are encoded ``batch_size`` at a time and each batch is
    written before the next is computed, so memory stays at the input plus one batch whatever N·D is
    (the ``.npy`` header is written first, then the rows). ``progress(done, total)`` is called after each batch.
    ``compile=True`` encodes the position encoding through ``torch.compile``'d blocks
    (:meth:`~geosrl.encoders.positional.base.PositionEncoding.compile_blocks`: a one-off compile of seconds,
    faster for millions of rows). Returns ``(N, D)``.

    Raises:
        ConfigError: bad arguments, input or output path; CoordinateError: bad coordinates;
        CheckpointError: an unusable checkpoint.
    """
    output_path = Path(output_path)
    if output_path.suffix not in _OUTPUTS:
        raise ConfigError(f"output {str(output_path)!r} must end in one of {list(_OUTPUTS)}")
    if output_path.exists():
        raise ConfigError(f"output {str(output_path)!r} exists; geosrl does not overwrite it: choose another name")
    module = _encoder(encoder, checkpoint, geoclip, device)
    if check_flag("compile", compile):
        _position_encoding(module).compile_blocks()
    lonlat = read_lonlat_table(Path(input_path), lon_col, lat_col)
    coords = torch.as_tensor(lonlat, dtype=torch.float64, device=device)
    n = len(lonlat)
    batch_size = check_count("batch_size", batch_size)

    def batches():
        for start in range(0, n, batch_size):
            emb = embed_locations(module, coords[start:start + batch_size], batch_size)
            yield emb.reshape(min(batch_size, n - start), -1).float().cpu().numpy()
            if progress is not None:
                progress(min(start + batch_size, n), n)

    if n == 0:
        raise ConfigError(f"{input_path} has no data rows: nothing to embed")
    chunks = batches()
    first = next(chunks)
    dim = first.shape[1]
    _WRITERS[output_path.suffix](output_path, first, chunks, n, dim)
    return n, dim


def _write_npy(path: Path, first: np.ndarray, rest: Iterator[np.ndarray], n: int, dim: int) -> None:
    def write(f) -> None:
        np.lib.format.write_array_header_2_0(f, {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)),
                                                 "fortran_order": False, "shape": (n, dim)})
        for chunk in _chain(first, rest):
            f.write(np.ascontiguousarray(chunk, dtype=np.float32).tobytes())

    atomic_write(path, write)


def _write_csv(path: Path, first: np.ndarray, rest: Iterator[np.ndarray], n: int, dim: int) -> None:
    def write(f) -> None:
        text = io.TextIOWrapper(f, encoding="utf-8", newline="")
        writer = csv.writer(text, lineterminator="\n")
        writer.writerow([f"e{k}" for k in range(dim)])
        for chunk in _chain(first, rest):
            writer.writerows(chunk.tolist())
        text.flush()
        text.detach()

    atomic_write(path, write)


def _write_parquet(path: Path, first: np.ndarray, rest: Iterator[np.ndarray], n: int, dim: int) -> None:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ConfigError(f"writing Parquet needs pyarrow ({exc}); pip install pyarrow, or write .npy") from None
    names = [f"e{k}" for k in range(dim)]

    def write(f) -> None:
        with pq.ParquetWriter(f, pa.schema([(name, pa.float32()) for name in names])) as writer:
            for chunk in _chain(first, rest):
                writer.write_table(pa.Table.from_arrays([pa.array(chunk[:, k]) for k in range(dim)], names=names))

    atomic_write(path, write)


def _chain(first: np.ndarray, rest: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    yield first
    yield from rest


_WRITERS = {".npy": _write_npy, ".csv": _write_csv, ".parquet": _write_parquet}
