# Every routine task. `make run` and `make test` do all set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 3000
SAMPLE_PORT ?= 3001
PYTEST := $(BIN)/pytest -p no:cacheprovider

.PHONY: install run test lint format typecheck cfn-lint unit infrastructure integration e2e bench mutate bootstrap clean browser deploy-dashboard

install: $(STAMP)

# Installing prints to stderr only: `make run`'s stdout carries nothing but the `admin key:` line.
$(STAMP): requirements-dev.txt layers/shared/requirements.txt constraints.txt pyproject.toml
	@echo "installing into $(VENV)" >&2
	@$(PYTHON) -m venv $(VENV) >&2
	@$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt -c constraints.txt >&2
	@$(BIN)/pip install -q --disable-pip-version-check --no-deps -e . >&2
	@touch $@

## The local stack in the foreground: moto + local API Gateways + dashboard; prints `admin key: ...`.
run: install
	@PORT=$(PORT) SAMPLE_PORT=$(SAMPLE_PORT) $(BIN)/python -m archie_local run

## Every tier: lint, types, template checks, unit, infrastructure, integration, browser end-to-end.
test: install lint typecheck cfn-lint unit infrastructure integration e2e

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: install
	$(BIN)/mypy layers/shared/archie_keys local/archie_local tools/archie_tools functions tests/bench

cfn-lint: install
	$(BIN)/cfn-lint template.yaml

unit: install
	$(PYTEST) tests/unit -q

## Offline SAM translation of template.yaml and checks on the CloudFormation it produces.
infrastructure: install
	$(PYTEST) tests/infrastructure -q

integration: install
	$(PYTEST) tests/integration -q

e2e: install browser
	$(PYTEST) tests/e2e -q

## Debian's chromium for the dashboard tests (Playwright never downloads a browser here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi; }

## Authorizer benchmark: p50/p99 in microseconds; the last line is JSON.
bench: install
	$(BIN)/python -m tests.bench.authorizer_bench

## Mutation testing (mutmut) of the modules that decide; kill rate per module, the last line is JSON. Slow: not in `make test`.
mutate: install
	$(BIN)/python -m tests.mutation.run

## First admin key of another environment on the running local stack (or AWS: add STACK=<name>).
bootstrap: install
	$(BIN)/python -m archie_keys bootstrap --project $(PROJECT) --environment $(ENVIRONMENT) $(if $(STACK),--stack-name $(STACK))

## Publish dashboard/ to a deployed stack's static site (CloudFront + private S3): make deploy-dashboard STACK=name
deploy-dashboard: install
	$(BIN)/python -m archie_tools.deploy_dashboard --stack-name $(STACK)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache tests/artifacts build/mutate
