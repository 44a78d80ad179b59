# The two commands: `make bench` and `make test`. Both create .venv when it is missing.
PY ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.rtecho-installed
export PIP_DISABLE_PIP_VERSION_CHECK = 1

.PHONY: bench test lint format benchmarks env clean

$(VPY):
	$(PY) -m venv $(VENV)

# torch==2.13.0 first: it resolves to the CPU build on disk; the package's range admits it.
$(STAMP): $(VPY) setup.cfg pyproject.toml
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q torch==2.13.0
	$(VPY) -m pip install -q -e ".[all]"
	touch $(STAMP)

env: $(STAMP)

bench: $(STAMP)
	$(VPY) -m rtecho.bench

test: $(STAMP)
	$(VPY) -m ruff check .
	$(VPY) -m pytest -q

benchmarks: $(STAMP)
	$(VPY) -m pytest -q benchmarks --benchmark-enable --benchmark-only

lint: $(STAMP)
	$(VPY) -m ruff check .
	$(VPY) -m ruff format --check .

format: $(STAMP)
	$(VPY) -m ruff format .
	$(VPY) -m ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build *.egg-info
