"""Write geoclip_reference.npz: GeoCLIP's own LocationEncoder outputs on the first 64 gallery points.

Run once with the geoclip 1.3.0 wheel installed (`pip install --no-deps geoclip==1.3.0`, plus pandas):
    python tests/encoders/data/make_geoclip_reference.py
GeoCLIP's package __init__ imports its image model, so the location-encoder module is loaded by path.
"""

import importlib.util
import sys
import types
from pathlib import Path

import numpy as np
import torch

root = Path(importlib.util.find_spec("geoclip").submodule_search_locations[0])
for name, path in [("geoclip", root), ("geoclip.model", root / "model")]:
    pkg = types.ModuleType(name)
    pkg.__path__ = [str(path)]
    sys.modules[name] = pkg
from geoclip.model.location_encoder import LocationEncoder  # noqa: E402

gallery = np.loadtxt(root / "model" / "gps_gallery" / "coordinates_100K.csv", delimiter=",", skiprows=1)[:64]
enc = LocationEncoder().eval()
with torch.no_grad():
    out32 = enc(torch.tensor(gallery, dtype=torch.float32)).numpy()
    out64 = enc.double()(torch.tensor(gallery, dtype=torch.float64)).numpy()
np.savez_compressed(Path(__file__).with_name("geoclip_reference.npz"), latlon=gallery, out_float32=out32,
                    out_float64=out64)
print("wrote", gallery.shape, out32.shape)
