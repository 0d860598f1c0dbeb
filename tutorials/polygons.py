# %% [markdown]
# # Polygons
#
# Geometry encoders (`geosrl.geometry`) turn shapely points, lines and polygons — holes and multi-parts
# included — into vectors. Here: country outlines (Natural Earth, from the `geo-intel-offline` package) →
# embeddings → a nearest-neighbour lookup of countries with similar shapes.

# %%
import numpy as np
import torch

from geosrl.datasets.country import load_country_polygons
from geosrl.geometry import batch_geometries, create_geometry_encoder, list_geometry_encoders

print(list_geometry_encoders())
countries = load_country_polygons()
names = countries.names
pick = [names.index(n) for n in ("France", "Italy", "Chile", "Norway", "Egypt", "Sudan", "Japan", "Peru")]
shapes = [countries.geoms[i] for i in pick]

# %% [markdown]
# `batch_geometries` validates and normalises the shapes (each in its own frame: `location` and `scale`
# are kept apart from the shape); `nuft` is the non-uniform Fourier transform encoder (parameter-free
# features + an MLP). The MLP is untrained here, yet the neighbours already follow the shapes: train the
# encoder inside a model for your task to make the embedding task-specific.

# %%
batch = batch_geometries(shapes)
encoder = create_geometry_encoder("nuft", embed_dim=32).eval()
with torch.no_grad():
    emb = encoder(batch).numpy()
print(emb.shape)
emb /= np.linalg.norm(emb, axis=1, keepdims=True)
sim = emb @ emb.T
for i, p in enumerate(pick):
    j = np.argsort(-sim[i])[1]
    print(f"{names[p]:>8} ↔ {names[pick[j]]}")
