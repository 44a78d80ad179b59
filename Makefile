# The two commands: `make bench` and `make test`. Both create .venv when it is missing.
PY ?= python3
VENV ?= .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.rtecho-installed
export PIP_DISABLE_PIP_VERSION_CHECK = 1

.PHONY: bench test lint format benchmarks env clean peers

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

# FAST (pyfast) side by side with rtecho, FAST in its own venv: never an rtecho dependency.
PEERS_VENV ?= .venv-peers
PEERS_STAMP := $(PEERS_VENV)/.fast-installed
$(PEERS_STAMP):
	@if command -v apt-get >/dev/null && ! dpkg -s libusb-1.0-0 pocl-opencl-icd >/dev/null 2>&1; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q libusb-1.0-0 pocl-opencl-icd; fi
	$(PY) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install -q pyfast==4.18.0
	touch $@

peers: $(STAMP) $(PEERS_STAMP)
	QT_QPA_PLATFORM=offscreen $(VPY) -m rtecho.bench peers --fast-python $(PEERS_VENV)/bin/python

benchmarks: $(STAMP)
	$(VPY) -m pytest -q benchmarks --benchmark-enable --benchmark-only

lint: $(STAMP)
	$(VPY) -m ruff check .
	$(VPY) -m ruff format --check .

format: $(STAMP)
	$(VPY) -m ruff format .
	$(VPY) -m ruff check --fix .

clean:
	rm -rf $(VENV) $(PEERS_VENV) .pytest_cache .ruff_cache build *.egg-info
