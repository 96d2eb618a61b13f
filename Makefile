# neurovid — `make help` lists the targets. Everything runs in .venv (made by `make venv`).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.neurovid-installed
CORES ?= 2

.DEFAULT_GOAL := help
.PHONY: help venv validator demo test test-fast lint format bench bench-scale screenshots clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

venv: $(STAMP) ## create .venv from the pinned requirements (once; again when they change)

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml hatch_build.py
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	@touch $@

VALIDATOR := .tools/bids-validator/node_modules/.bin/bids-validator

validator: $(VALIDATOR) ## npm's bids-validator into .tools/ (tests/package/test_bids_validator.py)

$(VALIDATOR):
	npm install --no-audit --no-fund --silent --prefix .tools/bids-validator bids-validator@1.15.0

demo: venv ## build the demo dataset offline, render it, print the review page's path
	@test -d demo/bids || $(BIN)/python -m neurovid.demo demo/bids
	$(BIN)/snakemake --cores $(CORES) --logger neurovid --config bids_dir=demo/bids output_dir=demo/derivatives/neurovid
	@echo "Review page: file://$(CURDIR)/demo/derivatives/neurovid/index.html"

test: venv ## run every test, then lint (browser and SLURM tests skip where they cannot run, never in CI)
	$(BIN)/python -m pytest
	@$(MAKE) --no-print-directory lint

test-fast: venv ## unit tests only
	$(BIN)/python -m pytest tests/unit -q

lint: venv ## ruff, snakefmt, snakemake --lint, codespell
	$(BIN)/ruff check src tests workflow/scripts benchmarks hatch_build.py
	$(BIN)/ruff format --check src tests workflow/scripts benchmarks hatch_build.py
	$(BIN)/snakefmt --check Snakefile workflow/rules
	$(BIN)/codespell src tests workflow config docs README.md CHANGELOG.md CITATION.cff

format: venv ## apply ruff and snakefmt formatting
	$(BIN)/ruff format src tests workflow/scripts benchmarks hatch_build.py
	$(BIN)/snakefmt Snakefile workflow/rules

bench: venv ## every benchmark (~15 min on 2 cores); rewrites docs/benchmarks.md
	$(BIN)/python benchmarks/bench_render.py --write docs/benchmarks.md $(BENCH_ARGS)
	$(BIN)/python benchmarks/bench_window.py --write docs/benchmarks.md
	$(BIN)/python benchmarks/bench_review_page.py --write docs/benchmarks.md
	$(BIN)/python benchmarks/bench_workflow.py --write docs/benchmarks.md
	$(BIN)/python benchmarks/bench_triage.py --write docs/benchmarks.md

bench-scale: venv ## 20,000 images: planning, a cluster job's start, SLURM, the page (~20 min, root)
	$(BIN)/python benchmarks/bench_scale.py --slurm --page --write docs/benchmarks.md

screenshots: demo ## screenshots of the demo's review page for the README (needs chromium)
	$(BIN)/python benchmarks/screenshot_review_page.py demo/derivatives/neurovid docs/img

clean: ## remove outputs (keeps .venv)
	rm -rf results demo .snakemake .pytest_cache .bench
