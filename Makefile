# Two commands matter: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
PG_URL ?= $(or $(DATABASE_URL),postgres://postgres@127.0.0.1:5432/huikuan)

.PHONY: run test install check lint typecheck messages test-sqlite test-postgres browser-deps clean

## Set everything up and serve the app with demo data on http://127.0.0.1:8000
run: install
	$(BIN)/huikuan setup --demo-accounts 2000
	$(BIN)/huikuan serve

## The whole suite on SQLite, then on PostgreSQL when one is reachable
test: install browser-deps
	$(MAKE) --no-print-directory test-sqlite
	@if DATABASE_URL=$(PG_URL) $(BIN)/python scripts/db_reachable.py; then \
		$(MAKE) --no-print-directory test-postgres; \
	else echo "PostgreSQL not reachable at $(PG_URL): skipped the PostgreSQL run"; fi

test-sqlite:
	env -u DATABASE_URL $(BIN)/pytest

test-postgres:
	DATABASE_URL=$(PG_URL) $(BIN)/pytest -m "not browser"

install: $(BIN)/.installed
	@$(BIN)/python scripts/compile_messages.py

$(BIN)/.installed: pyproject.toml uv.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync --frozen --quiet
	touch $@

browser-deps:
	@scripts/ensure-chromium.sh

check: install lint typecheck

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck:
	$(BIN)/mypy huikuan bench

## Regenerate the message catalogs after changing user-facing strings, then compile them
messages: install
	$(BIN)/python scripts/make_messages.py
	$(BIN)/python scripts/fill_english.py
	$(BIN)/python scripts/compile_messages.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
