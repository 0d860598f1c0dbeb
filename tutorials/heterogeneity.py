# %% [markdown]
# # Heterogeneity: where does a relationship change?
#
# `geosrl.hetero.HeterogeneityAwareModel` puts region-specific heads on a shared, frozen location
# representation and grows the regions by split-and-test: a split is kept only when held-out data say it
# helps (a paired test). We compare it with one global head on air temperature.

# %%
import numpy as np

from geosrl.datasets.offline import load_offline_task
from geosrl.hetero import GlobalModel, HeterogeneityAwareModel, compare_to_baseline

data = load_offline_task("air_temperature", max_samples=3000)
X, y = data.lonlat, data.target
rng = np.random.default_rng(0)
test = rng.random(len(X)) < 0.25

model = HeterogeneityAwareModel(encoder="sphere2vec_spherec_plus", head="linear", max_depth=2,
                                min_region_size=200, seed=0).fit(X[~test], y[~test])
base = GlobalModel(encoder="sphere2vec_spherec_plus", head="linear").fit(X[~test], y[~test])
print(model.n_regions_, "regions")
for entry in model.split_log_[:4]:
    print({k: entry[k] for k in list(entry)[:5]})

# %% [markdown]
# Per-region comparison on the held-out points, in 30° longitude bands.

# %%
bands = np.floor((X[test, 0] + 180) / 30).astype(int)
report = compare_to_baseline(y[test], model.predict(X[test]), base.predict(X[test]), bands, "regression")
print(report)
