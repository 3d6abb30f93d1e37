# Conversion normalizer: every command the README mentions is a target here.
# `make help` lists them.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 50051
STAMP := $(VENV)/.installed-stamp
IMAGE := build/image.binpb
PROTO_FILES := $(shell find proto -name '*.proto')

.DEFAULT_GOAL := help

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

.PHONY: install
install: $(STAMP) ## Create .venv and install the service with its development tools.

.PHONY: generate
generate: $(STAMP) ## Regenerate the Python code and stubs in service/gen from proto/.
	rm -rf service/gen
	$(BIN)/python scripts/protos.py generate service/gen

.PHONY: check-generate
check-generate: $(STAMP) ## Fail when service/gen is stale against proto/.
	$(BIN)/python scripts/protos.py check

$(IMAGE): $(PROTO_FILES) $(STAMP)
	$(BIN)/python scripts/protos.py image $(IMAGE)

.PHONY: lint
lint: $(STAMP) $(IMAGE) ## ruff, mypy --strict, buf lint, buf format, buf breaking (BUF_BREAKING_AGAINST=<git ref>), generated code freshness.
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy service tests scripts
	$(BIN)/buf lint $(IMAGE) --path conversions/v1
	$(BIN)/buf format --diff --exit-code proto
	$(BIN)/python scripts/protos.py breaking $(BUF_BREAKING_AGAINST)
	$(BIN)/python scripts/protos.py check

.PHONY: test
test: $(STAMP) ## Run the whole test suite.
	$(BIN)/pytest

.PHONY: run
run: $(STAMP) ## Serve on :$(PORT) with the embedded defaults (override: make run PORT=50052).
	$(BIN)/python -m service --port $(PORT)

.PHONY: bench
bench: $(STAMP) ## Side-by-side benchmark: the service against an empty grpc.aio baseline (h2load).
	$(BIN)/python scripts/bench.py

.PHONY: fuzz
fuzz: $(STAMP) ## Long fuzzing run through the core and a live server (RUNS=200000).
	$(BIN)/python scripts/fuzz.py --runs $(or $(RUNS),200000)

.PHONY: soak
soak: $(STAMP) ## Memory soak: 200,000 mixed requests, resident memory growth after warm-up.
	$(BIN)/python scripts/soak.py
