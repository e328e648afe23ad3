# prefsynth — the two quickstart commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# A native llama.cpp build uses every instruction set the CPU advertises; some CPUs advertise AMX without
# allowing it and the build then dies with SIGILL (tilezero). A portable build avoids that.
export CMAKE_ARGS := -DGGML_NATIVE=OFF
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test test-fast test-reliability clean help

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*##/ —/'

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

demo: $(VENV)/.installed  ## install and run a real preference build on the embedded model
	$(VENV)/bin/prefsynth build examples/quickstart.yaml

test: $(VENV)/.installed-dev  ## install the dev extras and run the whole test suite
	$(PY) -m pytest -q

test-fast: $(VENV)/.installed-dev  ## the suite without real-model and real-server tests
	$(PY) -m pytest -q -m "not slow"

test-reliability: $(VENV)/.installed-dev  ## kill/resume, server faults, bad input, concurrency, secrets, budgets (~4 min; part of make test)
	$(PY) -m pytest -q -m reliability

clean:  ## remove the virtual environment and local catalogs
	rm -rf $(VENV) prefsynth.duckdb build dist *.egg-info
