"""Why air_temperature · direct · spatial · seed 0 scored R² ≈ 0: python plateau.py (one thread, ≈ 1 min).

Trains the full protocol's regression model (direct encoder, lr 3e-3, no early stopping) for 1, 5 and 20 epochs on
three (split, seed) pairs and prints train/validation R², the spread of the predictions and of the location branch's
sigmoid outputs across samples. The model first collapses to the mean (sigmoid outputs nearly equal for every
location) and leaves that plateau only after 5–20 epochs; early stopping with patience 10 from a best epoch of 1 ends
a trial that has not left it by epoch 11, and the median pruner stops such trials at epoch 10."""
import numpy as np, torch
torch.set_num_threads(1)
from geosrl.bench.config import build_config
from geosrl.datasets.offline import load_offline_task as load_task
from geosrl.tasks.common import resolve_config, resolve_split, lonlat_tensor
from geosrl.tasks.regression import _fit, _predict
cfgb = build_config("full")
proto = cfgb.protocol_for("air_temperature")
data = load_task("air_temperature", **cfgb.load_kwargs("air_temperature"))
y = np.asarray(data.target, float)
for split, seed in (("spatial", 0), ("spatial", 1), ("random", 0)):
    cfg = resolve_config({**proto, "patience": None, "tune": {**proto["tune"], "pruner": "none"}})
    _, idx = resolve_split(data, split, seed, cfg)
    tr, va = idx["train"], idx["val"]
    m, s = y[tr].mean(), y[tr].std()
    ll = lonlat_tensor(data.lonlat, "cpu")
    yt = torch.as_tensor((y - m) / s, dtype=torch.float32)
    for ep in (1, 5, 20):
        c = {**cfg, "epochs": ep}
        model, _ = _fit("", "direct", c, seed, 3e-3, (ll[tr], None), yt[tr], (ll[va], None), (y[va]-m)/s, "cpu")
        model.eval()
        ptr = _predict(model, (ll[tr], None), True, False, c); pva = _predict(model, (ll[va], None), True, False, c)
        r2 = lambda p, t: 1 - ((p - t) ** 2).mean() / t.var()
        with torch.no_grad():
            e = torch.sigmoid(model.loc_proj(model.encoder(ll[tr][:500])))
        print(split, seed, ep,
              "train r2 %.3f val r2 %.3f pred std %.3f  sigmoid out: mean %.3f std-over-samples %.4f" % (
            r2(ptr, ((y[tr]-m)/s)), r2(pva, (y[va]-m)/s), ptr.std(), e.mean(), e.std(0).mean()))
