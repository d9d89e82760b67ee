PYTHON ?= python
VENV ?= .venv
PIP = $(VENV)/bin/pip
RUN = $(VENV)/bin/python

.DEFAULT_GOAL := help
.PHONY: help install test test-fast lint format train bench clean

help: ## Show the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-14s %s\n", $$1, $$2}'

install: ## Create .venv and install audiofsl with its development and sweep tools
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install -e ".[dev,sweeps]"

test: ## Run the test suite, slow end-to-end runs included (GPU tests skip without CUDA)
	$(RUN) -m pytest

test-fast: ## Run the fast tests only
	$(RUN) -m pytest -m "not slow"

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

clean: ## Remove caches and run outputs (keeps the data cache)
	rm -rf .pytest_cache .ruff_cache build dist *.egg-info outputs multirun
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
