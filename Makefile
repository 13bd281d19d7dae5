# dpmesh developer commands. Only python3 (>= 3.11) is needed on the machine:
# every target creates .venv on first use and re-installs when pyproject.toml changes.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
EXTRAS := dev,embedded
PYTEST_ARGS ?=
# The data product standards' linters pin older pydantic/typer than the app: own virtualenv.
TOOLS       := .tools/venv
TOOLS_STAMP := $(TOOLS)/.installed
LINT_TOOLS  := 'datacontract-cli>=1.2.8,<1.3' 'dataproduct-cli>=0.3.2,<0.4'
# The API fuzzer runs the real servers from outside, from its own virtualenv too.
FUZZ        := .tools/fuzz
FUZZ_STAMP  := $(FUZZ)/.installed
FUZZ_TOOLS  := 'schemathesis>=4.3,<5'

.DEFAULT_GOAL := help
.PHONY: help install demo test fuzz lint typecheck imports lint-descriptors fmt bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "dpmesh needs Python >= 3.11, found " + sys.version.split()[0])'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[$(EXTRAS)]'
	@touch $(STAMP)

$(TOOLS_STAMP):
	@test -x $(TOOLS)/bin/python || $(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --upgrade pip
	$(TOOLS)/bin/python -m pip install --quiet $(LINT_TOOLS)
	@touch $(TOOLS_STAMP)

$(FUZZ_STAMP):
	@test -x $(FUZZ)/bin/python || $(PYTHON) -m venv $(FUZZ)
	$(FUZZ)/bin/python -m pip install --quiet --upgrade pip
	$(FUZZ)/bin/python -m pip install --quiet $(FUZZ_TOOLS)
	@touch $(FUZZ_STAMP)

install: $(STAMP) ## Create .venv and install dpmesh with its dev and embedded extras

demo: $(STAMP) ## Run the supply-chain demo locally (embedded broker, SQLite; no Docker)
	$(BIN)/dpmesh demo

test: lint typecheck imports lint-descriptors $(FUZZ_STAMP) ## Everything CI checks: lint, types, architecture, descriptors, the whole test suite (fuzzing included)
	$(BIN)/pytest $(PYTEST_ARGS)

fuzz: $(STAMP) $(FUZZ_STAMP) ## Schemathesis against every API, access control off and on (also part of make test)
	$(BIN)/pytest tests/fuzz $(PYTEST_ARGS)

lint: $(STAMP) ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP) ## mypy (strict for shared_kernel and every domain/application layer)
	$(BIN)/mypy shared_kernel contexts dpmesh

imports: $(STAMP) ## import-linter architecture contracts
	$(BIN)/lint-imports --no-cache

lint-descriptors: $(STAMP) $(TOOLS_STAMP) ## Lint data product descriptors with the ODPS/ODCS linters
	$(BIN)/python -m dpmesh.governance.lint_descriptors --tools $(TOOLS)/bin

fmt: $(STAMP) ## Format and auto-fix
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP) ## Benchmarks (not tests): print figures against a same-run baseline
	$(BIN)/python -m bench.backbone

clean: ## Remove the virtualenv, caches and demo state
	rm -rf $(VENV) .tools .mypy_cache .ruff_cache .pytest_cache .hypothesis var
