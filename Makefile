# All set-up from a fresh clone: `make bench` (main job) and `make test` (test suite).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: bench test install install-dev throughput clean

$(VENV)/.created:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip >/dev/null
	touch $@

$(VENV)/.installed: $(VENV)/.created pyproject.toml
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	$(PIP) install -e ".[dev]"
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

bench: $(VENV)/.installed
	$(VENV)/bin/geosrl bench

test: $(VENV)/.installed-dev
	$(PY) -m pytest

throughput: $(VENV)/.installed-dev
	$(PY) benchmarks/encode_throughput.py

clean:
	rm -rf $(VENV) build *.egg-info src/*.egg-info
