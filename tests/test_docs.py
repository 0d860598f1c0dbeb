"""The documentation site: every page in the nav exists, every API page's module imports, every tutorial has
a page; the slow test builds the site with ``mkdocs build --strict`` (what ``make docs`` runs)."""

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _nav_pages() -> list[str]:
    return re.findall(r":\s*([\w/.-]+\.md)\s*$", (ROOT / "mkdocs.yml").read_text(), flags=re.M)


def test_every_nav_page_exists_and_every_doc_page_is_in_the_nav():
    nav = _nav_pages()
    assert len(nav) > 10
    missing = [p for p in nav if not (DOCS / p).is_file()]
    assert not missing
    pages = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md")}
    assert pages == set(nav)


def test_api_pages_name_importable_modules():
    modules = {m for page in (DOCS / "api").glob("*.md") for m in re.findall(r"^::: ([\w.]+)", page.read_text(), re.M)}
    assert "geosrl.estimators.models" in modules and "geosrl.maps" in modules
    for module in modules:
        importlib.import_module(module)


def test_every_tutorial_has_a_page_that_includes_it():
    for script in (ROOT / "tutorials").glob("*.py"):
        page = DOCS / "tutorials" / f"{script.stem}.md"
        assert f'--8<-- "tutorials/{script.name}"' in page.read_text()


def test_readme_links_the_documentation():
    readme = (ROOT / "README.md").read_text()
    for page in ("docs/index.md", "tutorials/quickstart.py", "tutorials/species_range_map.py"):
        assert page in readme


@pytest.mark.slow
def test_site_builds_in_strict_mode(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                            cwd=ROOT, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "WARNING" not in result.stderr
    assert (tmp_path / "site" / "api" / "estimators" / "index.html").is_file()
