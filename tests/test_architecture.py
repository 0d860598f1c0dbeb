"""The layout of docs/architecture.md holds: import layers, no import cycles, a core-only ``import geosrl``."""

import subprocess
import sys
import textwrap
from pathlib import Path

import grimp
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "geosrl"


def test_import_contracts_are_kept():
    """The contracts in pyproject.toml's [tool.importlinter] (layers, core dependencies, public data API)."""
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True) == 0


def test_no_import_cycles():
    """No module reaches itself through imports, module-level or inside functions."""
    graph = grimp.build_graph("geosrl", cache_dir=None)
    cycles = []
    for module in sorted(graph.modules):
        for imported in sorted(graph.find_modules_directly_imported_by(module)):
            if imported != module and graph.find_shortest_chain(importer=imported, imported=module):
                cycles.append(f"{module} -> {imported}")
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_import_geosrl_needs_only_core_dependencies():
    """``import geosrl`` and the encoder API run with every optional dependency made unimportable."""
    code = textwrap.dedent("""
        import importlib.abc, sys
        BLOCKED = {"scipy", "shapely", "matplotlib", "pandas", "geopandas", "h5py", "PIL", "sklearn", "mgwr",
                   "libpysal", "hypothesis", "pytest", "grimp", "importlinter"}
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in BLOCKED:
                    raise ImportError(f"blocked optional dependency {name}")
        sys.meta_path.insert(0, Block())
        import torch, geosrl
        enc = geosrl.create_encoder("sphere2vec_spherec_plus", embed_dim=8)
        assert enc(torch.tensor([[2.35, 48.85]], dtype=torch.float64)).shape == (1, 8)
        pre = geosrl.load_pretrained(geosrl.list_pretrained()[0])
        assert pre(torch.zeros(3, 2, dtype=torch.float64)).shape[0] == 3
        try:
            geosrl.metrics.geo_bias_ssi  # lazily imported: loads, but scipy is only needed when it runs
            geosrl.hetero  # needs scipy: must fail loudly, not at `import geosrl`
        except ImportError as exc:
            assert "blocked" in str(exc)
        else:
            raise AssertionError("geosrl.hetero imported without scipy")
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_no_source_module_looks_like_a_test_file():
    """pytest collects test_*.py and *_test.py: the package must hold none."""
    offenders = [p.relative_to(SRC) for p in SRC.rglob("*.py") if p.name.startswith("test_") or p.stem.endswith("_test")]
    assert not offenders
