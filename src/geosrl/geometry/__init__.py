"""Geometry encoders: shapely (Multi)Points, (Multi)LineStrings and (Multi)Polygons with holes → ``(B, D)``.

Layout (one file per concept):

* :mod:`.ingest` — validation, repair/reject, orientation, normalisation frame (host, shapely);
* :mod:`.batch` — :class:`GeometryBatch`, the ragged (flat vertices + offsets) tensor layout;
* :mod:`.spectral` — exact Fourier transform of areas/lines/points as edge sums (float64);
* :mod:`.frequencies` — FFT grid and geometric frequency sets;
* :mod:`.nuft`, :mod:`.resnet1d`, :mod:`.raster_cnn` — the registered encoders;
* :mod:`.registry` — ``list_geometry_encoders()`` / ``create_geometry_encoder(name, embed_dim=…, **kwargs)``.

>>> import shapely
>>> from geosrl.geometry import batch_geometries, create_geometry_encoder, list_geometry_encoders
>>> list_geometry_encoders()
['nuft', 'raster_cnn', 'resnet1d']
>>> batch = batch_geometries([shapely.box(0, 0, 4, 1), shapely.box(10, 10, 11, 11)])
>>> batch.location.tolist(), batch.scale.tolist()
([[2.0, 0.5], [10.5, 10.5]], [2.0, 1.0])
>>> create_geometry_encoder("nuft", embed_dim=16).eval()(batch).shape
torch.Size([2, 16])
"""

from .base import GeometryEncoder
from .batch import GeometryBatch, batch_geometries
from .frequencies import fft_grid_frequencies, polar_frequencies
from .ingest import canonicalise, frame_of
from .nuft import NUFTEncoder
from .raster_cnn import RasterCNNEncoder, rasterise
from .registry import create_geometry_encoder, list_geometry_encoders, register_geometry_encoder
from .resnet1d import ResNet1DEncoder, resample_boundary
from .spectral import area_moments, fourier_transform

__all__ = [
    "GeometryBatch",
    "GeometryEncoder",
    "NUFTEncoder",
    "RasterCNNEncoder",
    "ResNet1DEncoder",
    "area_moments",
    "batch_geometries",
    "canonicalise",
    "create_geometry_encoder",
    "fft_grid_frequencies",
    "fourier_transform",
    "frame_of",
    "list_geometry_encoders",
    "polar_frequencies",
    "rasterise",
    "register_geometry_encoder",
    "resample_boundary",
]
