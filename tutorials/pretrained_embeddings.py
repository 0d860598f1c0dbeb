# %% [markdown]
# # Embeddings from the pretrained encoder
#
# geosrl ships `csp_sphere2vec_quick`, a location encoder pre-trained with contrastive spatial pre-training
# (CSP) against Blue Marble image patches. Load it, embed your own coordinates — in Python or with
# `geosrl embed` — and train a small head on the frozen embeddings.

# %%
import csv
import os
from pathlib import Path

import numpy as np

import geosrl
from geosrl.embed import embed_file

out = Path(os.environ.get("GEOSRL_TUTORIAL_OUT", "build/tutorials"))
out.mkdir(parents=True, exist_ok=True)

print(geosrl.list_pretrained())
encoder = geosrl.load_pretrained("csp_sphere2vec_quick")
card = encoder.card
print(card["architecture"]["name"], "→", card["embed_dim"], "dimensions;", card.get("training_data", ""))

# %% [markdown]
# ## A file of coordinates → an `.npy` of embeddings
# The same as `geosrl embed coords.csv emb.npy --checkpoint csp_sphere2vec_quick` on the command line.

# %%
coords = out / "coords.csv"
with open(coords, "w", newline="") as f:
    writer = csv.writer(f)
    writer.writerow(["site", "lon", "lat"])
    writer.writerows([["paris", 2.35, 48.85], ["nairobi", 36.82, -1.29], ["lima", -77.04, -12.05]])
target = out / "coords_embeddings.npy"
target.unlink(missing_ok=True)  # geosrl never overwrites a file: remove the previous run's
n, d = embed_file(coords, target, checkpoint="csp_sphere2vec_quick")
print(f"{n} rows × {d} dimensions →", target)
emb = np.load(target)
cos = emb @ emb.T / np.outer(np.linalg.norm(emb, axis=1), np.linalg.norm(emb, axis=1))
print("cosine similarities:\n", np.round(cos, 2))

# %% [markdown]
# ## A probe on frozen embeddings
# `freeze_encoder=True` trains only the head: how much of the banana-slug range does the pretrained
# representation already separate from the background?

# %%
from geosrl.datasets.offline import load_offline_task
from geosrl.estimators import PresenceOnlySDM

data = load_offline_task("sdm_presence_only")
rng = np.random.default_rng(0)
test = rng.random(len(data.lonlat)) < 0.2
probe = PresenceOnlySDM(encoder=encoder, freeze_encoder=True, head_hidden=(64,), negatives="background",
                        lr=3e-3, max_epochs=30, random_state=0)
probe.fit(data.lonlat[~test], data.target[~test])
print(f"frozen CSP encoder + MLP head: held-out AUC {probe.score(data.lonlat[test], data.target[test]):.3f}")
