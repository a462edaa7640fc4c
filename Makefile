# Loupe — `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP) ## Create or update .venv with Loupe and its dev tools

# A real S3-compatible server (s3rver, from npm) for the blob store's S3 tests.
S3_SERVER := tests/s3/node_modules/.installed
$(S3_SERVER): tests/s3/package.json tests/s3/package-lock.json
	cd tests/s3 && npm ci --no-audit --no-fund --silent
	@touch $(S3_SERVER)

run: $(STAMP) ## Start Loupe with embedded PostgreSQL, NATS and Redis (data in ./var)
	LOUPE_DEV_AUTH=$${LOUPE_DEV_AUTH:-1} $(BIN)/loupe serve

test: $(STAMP) $(S3_SERVER) ## Run the whole suite (starts embedded engines for any service not already running)
	$(BIN)/python -m pytest

lint: $(STAMP) ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP) ## Format the Python code
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP) ## Run the benchmarks (see docs/performance.md)
	$(BIN)/python bench/append.py
	$(BIN)/python bench/live.py
	$(BIN)/python bench/projections.py
	$(BIN)/python bench/data.py
	$(BIN)/python bench/charts.py

clean: ## Remove .venv and ./var (all local data!)
	rm -rf $(VENV) var

.PHONY: help venv run test lint format bench clean
