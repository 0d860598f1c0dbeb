"""Validation-to-training vs test-to-training great-circle km of the full profile's spatial splits (min / median / p90),
per task and seed: is validation as far from the training data as test? (Only test is buffered.)"""
import numpy as np
from geosrl.datasets import load_offline_task
from geosrl.tasks import resolve_config
from geosrl.tasks.common import resolve_split
from geosrl.splits import _nearest_km, _finite_rows
for task, ms in [("elevation", 4000), ("sdm_presence_only", 4000), ("land_ocean", 4000), ("country", 6000)]:
    data = load_offline_task(task, max_samples=ms)
    cfg = resolve_config({"profile": "full"})
    for seed in range(3):
        _, idx = resolve_split(data, "spatial", seed, cfg)
        tr = _finite_rows(data.lonlat, idx["train"])
        dv = _nearest_km(data.lonlat, _finite_rows(data.lonlat, idx["val"]), tr)
        dt = _nearest_km(data.lonlat, _finite_rows(data.lonlat, idx["test"]), tr)
        print(task, seed, "val→train min/med/p90 %.0f/%.0f/%.0f" % (dv.min(), np.median(dv), np.percentile(dv, 90)),
              " test→train %.0f/%.0f/%.0f" % (dt.min(), np.median(dt), np.percentile(dt, 90)))
