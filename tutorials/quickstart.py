# %% [markdown]
# # Quickstart
#
# Locations are `(N, 2)` arrays or tensors of **(lon, lat) in degrees**. A location encoder maps them to
# vectors; an estimator puts an encoder and a head together and trains them with `fit`, scikit-learn style.
#
# Run it with `python tutorials/quickstart.py` (a few seconds on a laptop CPU).

# %%
import numpy as np
import torch

import geosrl

lonlat = torch.tensor([[2.35, 48.85], [-122.4, 37.8], [151.2, -33.9]], dtype=torch.float64)
print(len(geosrl.list_encoders()), "encoders, e.g.", geosrl.list_encoders()[:4])
encoder = geosrl.create_encoder("sphere2vec_spherec_plus", embed_dim=32)
print("embedding:", tuple(encoder(lonlat).shape))

# Inputs are checked: swapped columns, radians or projected metres raise a CoordinateError naming the fix.
try:
    encoder(lonlat.flip(-1))  # (lat, lon) by mistake
except geosrl.CoordinateError as err:
    print("CoordinateError:", err)

# %% [markdown]
# ## Fit a regressor on real data
# Near-surface air temperature of a Met Office model field (`iris-sample-data`, installed by
# `make install-data`): which temperature goes with a location?

# %%
from sklearn.model_selection import GroupKFold, cross_val_score

from geosrl.datasets.offline import load_offline_task
from geosrl.estimators import LocationRegressor

data = load_offline_task("air_temperature", max_samples=2000)
X, y = data.lonlat, data.target
print(X.shape, data.target_name)

model = LocationRegressor(encoder="sphere2vec_spherec_plus", embed_dim=32,
                          encoder_kwargs={"net_kwargs": {"hidden_dim": 128, "dropout": 0.0}},
                          lr=3e-3, max_epochs=20, random_state=0)

# %% [markdown]
# Cross-validate with **spatial** folds: rows grouped in 30° longitude bands, so a test fold is never
# surrounded by training points (a random K-fold would mostly measure interpolation).

# %%
bands = np.floor((X[:, 0] + 180) / 30).astype(int)
scores = cross_val_score(model, X, y, groups=bands, cv=GroupKFold(n_splits=3))
print("spatial-fold R²:", np.round(scores, 3))

model.fit(X, y)
print(f"R² on the training data {model.score(X, y):.3f} after {model.n_epochs_} epochs")
print("predicted at Paris, San Francisco, Sydney:", np.round(model.predict(lonlat), 1))

# %% [markdown]
# ## A global map
# `predict_grid` evaluates the model on a lon/lat grid (cell centres) in chunks: an `xarray.DataArray`.

# %%
grid = model.predict_grid(resolution_deg=2.0)
print(grid.dims, grid.shape, f"{float(grid.min()):.1f} … {float(grid.max()):.1f}")
