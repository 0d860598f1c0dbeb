"""Published weights load strictly into geosrl modules and reproduce the original forward passes."""

from pathlib import Path

import numpy as np
import pytest
import torch

import geosrl
from geosrl.encoders.external import (
    geoclip_to_geosrl_state_dict,
    load_geoclip_location_encoder,
    load_satclip_location_encoder,
)

REF = Path(__file__).with_name("data") / "geoclip_reference.npz"


def _fake_geoclip_state_dict():
    sd = {}
    for i in range(3):
        sd[f"LocEnc{i}.capsule.0.b"] = torch.randn(256, 2)
        for j, shape in [(1, (1024, 512)), (3, (1024, 1024)), (5, (1024, 1024))]:
            sd[f"LocEnc{i}.capsule.{j}.weight"] = torch.randn(shape) * 0.01
            sd[f"LocEnc{i}.capsule.{j}.bias"] = torch.zeros(shape[0])
        sd[f"LocEnc{i}.head.0.weight"] = torch.randn(512, 1024) * 0.01
        sd[f"LocEnc{i}.head.0.bias"] = torch.zeros(512)
    return sd


def test_geoclip_key_map_is_strict_and_complete():
    sd = _fake_geoclip_state_dict()
    assert len(sd) == 27 and sum(v.numel() for v in sd.values()) == 9_449_472
    enc = geosrl.create_encoder("geoclip_rff", embed_dim=512)
    enc.load_state_dict(geoclip_to_geosrl_state_dict(sd), strict=True)
    torch.testing.assert_close(enc.pe.b1.float(), sd["LocEnc1.capsule.0.b"])
    with pytest.raises(KeyError, match="unexpected key"):
        geoclip_to_geosrl_state_dict({"LocEnc0.extra.weight": torch.zeros(1)})
    bad = geoclip_to_geosrl_state_dict(sd)
    bad.pop("net.branches.2.head.0.bias")
    with pytest.raises(RuntimeError, match="Missing key"):
        enc.load_state_dict(bad, strict=True)


def test_geoclip_parity_with_original_forward(monkeypatch):
    # the geoclip wheel is installed by the set-up (requirements/bench-nodeps.txt): a missing one fails here
    enc = load_geoclip_location_encoder()
    ref = np.load(REF)
    lonlat = torch.tensor(ref["latlon"][:, ::-1].copy())  # GeoCLIP takes (lat, lon); geosrl (lon, lat)
    with torch.no_grad():
        out = enc(lonlat).double().numpy()
        out64 = enc.double()(lonlat).numpy()
    scale = np.abs(ref["out_float64"]).max()
    # float64 on both sides: the only difference is GeoCLIP's float32-rounded sqrt(3) constant ...
    assert np.abs(out64 - ref["out_float64"]).max() / scale < 5e-5
    import geosrl.encoders.positional.geoclip as geoclip_module

    monkeypatch.setattr(geoclip_module, "_SQRT3", float(torch.sqrt(torch.tensor(3.0))))
    with torch.no_grad():
        emulated = enc(lonlat).numpy()
    assert np.abs(emulated - ref["out_float64"]).max() / scale < 1e-6  # ... which, emulated, gives parity
    # geosrl float32 network with float64 phases stays close to the float64 reference; GeoCLIP's own
    # float32 forward (float32 phases of up to ~5e3 rad) is ~10x further away
    assert np.abs(out - ref["out_float64"]).max() / scale < 5e-5
    assert np.abs(ref["out_float32"] - ref["out_float64"]).max() / scale > 1e-4


def test_satclip_state_dict_loads_strictly():
    torch.manual_seed(0)
    L, cap = 4, 32
    layers = {
        "model.location.nnet.layers.0.weight": torch.randn(cap, L * L, dtype=torch.float64),
        "model.location.nnet.layers.0.bias": torch.randn(cap, dtype=torch.float64),
        "model.location.nnet.layers.1.weight": torch.randn(cap, cap, dtype=torch.float64),
        "model.location.nnet.layers.1.bias": torch.randn(cap, dtype=torch.float64),
        "model.location.nnet.last_layer.weight": torch.randn(256, cap, dtype=torch.float64),
        "model.location.nnet.last_layer.bias": torch.randn(256, dtype=torch.float64),
    }
    sd = dict(layers)
    sd.update({k.replace("model.location.", "model."): v for k, v in layers.items()})  # registered twice
    sd["model.logit_scale"] = torch.tensor(1.0)
    enc = load_satclip_location_encoder(sd, legendre_polys=L, dtype=torch.float64)
    assert enc.net.layers[0].linear.weight.shape == (cap, L * L) and enc.embed_dim == 256
    x = torch.tensor([[10.0, 20.0]], dtype=torch.float64)
    # SatCLIP forward by hand: SIREN over its SH basis
    h = enc.pe(x)
    h = torch.sin(30.0 * (h @ layers["model.location.nnet.layers.0.weight"].T + layers["model.location.nnet.layers.0.bias"]))
    h = torch.sin(h @ layers["model.location.nnet.layers.1.weight"].T + layers["model.location.nnet.layers.1.bias"])
    want = h @ layers["model.location.nnet.last_layer.weight"].T + layers["model.location.nnet.last_layer.bias"]
    torch.testing.assert_close(enc(x), want)
    with pytest.raises(KeyError, match="no SatCLIP"):
        load_satclip_location_encoder({"foo": torch.zeros(1)}, legendre_polys=L)
