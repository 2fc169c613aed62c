# upbit-ledger — two commands on a fresh machine: `make run` and `make test`.
# Everything installs into ./.venv; servers run from Python packages under ./.ledger/.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: help install run test lint typecheck imports unit integration bench chaos down clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# uv (from PyPI, into the venv) installs the same packages as pip in a fifth of the time;
# where it cannot (an index only pip is configured for), pip does.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	( $(BIN)/python -m pip install --quiet uv && \
	  $(BIN)/python -m uv pip install --quiet --python $(BIN)/python -e '.[dev]' ) || \
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)  ## create .venv and install the project with its dev tools

run: $(STAMP)  ## start embedded PostgreSQL + NATS under ./.ledger, migrate, serve the API
	$(BIN)/ledger run

down: $(STAMP)  ## stop what `make run` / `ledger services up` started
	$(BIN)/ledger services down

test: lint typecheck imports  ## the whole suite: ruff, mypy, import contracts, unit + integration + e2e tests
	$(BIN)/pytest -n auto --maxschedchunk 2 --durations=25

lint: $(STAMP)  ## ruff lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)  ## mypy strict on domain/commands/projections
	$(BIN)/mypy

imports: $(STAMP)  ## import-linter layer contracts
	$(BIN)/lint-imports

unit: $(STAMP)  ## unit tests only (no servers)
	$(BIN)/pytest tests/unit

integration: $(STAMP)  ## integration tests only (starts PostgreSQL/NATS)
	$(BIN)/pytest tests/integration

bench: $(STAMP)  ## benchmarks; figures are written to docs/benchmarks.md
	$(BIN)/python -m tests.bench

chaos: $(STAMP)  ## 10,000 random kill points of a trading run (not in CI; about an hour)
	$(BIN)/python -m tests.chaos

clean:  ## remove the venv and caches (keeps ./.ledger data)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
