PYTHON ?= python
VENV ?= .venv
PIP = $(VENV)/bin/pip
RUN = $(VENV)/bin/python
# The exact versions `make install` installs; `make lock` rewrites it from pyproject.toml.
LOCK ?= requirements.lock
PIP_VERSION ?= 26.3
UV_VERSION ?= 0.13.9
LOCK_VENV ?= .venv-lock
# Extra `uv pip compile` options for `make lock`, e.g. LOCK_ARGS="-c constraints.txt".
LOCK_ARGS ?=
LATEST_VENV ?= .venv-latest

.DEFAULT_GOAL := help
.PHONY: help install lock test test-fast test-latest lint format train bench clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-14s %s\n", $$1, $$2}'

install: ## Create .venv: the locked dependency set (requirements.lock), then audiofsl editable
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade "pip==$(PIP_VERSION)"
	$(PIP) install --no-deps -r $(LOCK)
	$(PIP) install --no-deps -e .
	$(PIP) check

lock: ## Re-resolve requirements.lock: the newest versions pyproject.toml's ranges allow (uv)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/pip install --quiet "uv==$(UV_VERSION)"
	$(LOCK_VENV)/bin/uv pip compile pyproject.toml --extra dev --extra sweeps --extra cluster --extra pretrained --universal \
		--python-version 3.10 --custom-compile-command "make lock" $(LOCK_ARGS) -o $(LOCK)

test: ## Run the test suite, slow end-to-end runs included (GPU tests skip without CUDA)
	$(RUN) -m pytest

test-fast: ## Run the fast tests only
	$(RUN) -m pytest -m "not slow"

test-latest: ## Fast tests in .venv-latest, built from pyproject.toml's ranges at their newest
	rm -rf $(LATEST_VENV)
	$(PYTHON) -m venv $(LATEST_VENV)
	$(LATEST_VENV)/bin/pip install --upgrade pip
	$(LATEST_VENV)/bin/pip install -e ".[dev,sweeps]"
	$(LATEST_VENV)/bin/pip list --format=freeze | grep -i -E "^(torch|torchvision|torchaudio|lightning|numpy|librosa|soxr|timm|torchmetrics|hydra-core)=="
	$(MAKE) test-fast VENV=$(LATEST_VENV)

lint: ## Check style and common mistakes
	$(VENV)/bin/ruff check audiofsl tests benchmarks
	$(VENV)/bin/ruff format --check audiofsl tests benchmarks

format: ## Format the code and fix what ruff can fix
	$(VENV)/bin/ruff check --fix audiofsl tests benchmarks
	$(VENV)/bin/ruff format audiofsl tests benchmarks

train: ## Train the default experiment (ProtoNet on synthetic audio)
	$(RUN) -m audiofsl.train

bench: ## Print every benchmark's figures and ratios as JSON (peers: pip install -e ".[bench]")
	$(RUN) benchmarks/throughput.py
	$(RUN) benchmarks/losses.py
	$(RUN) benchmarks/evaluation.py
	$(RUN) benchmarks/methods.py
	$(RUN) benchmarks/data.py --quick
	$(RUN) benchmarks/augmentations.py
	$(RUN) benchmarks/contrastive.py
	$(RUN) benchmarks/training_loop.py
	$(RUN) benchmarks/allocator.py
	$(RUN) benchmarks/pretrained.py

clean: ## Remove caches and run outputs (keeps the data cache)
	rm -rf .pytest_cache .ruff_cache build dist *.egg-info outputs multirun
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
