# Every routine task. `make run` and `make test` do all set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 3000
SAMPLE_PORT ?= 3001
PYTEST := $(BIN)/pytest -p no:cacheprovider

.PHONY: install run test lint format typecheck cfn-lint unit infrastructure integration e2e fuzz openapi bench bootstrap clean browser deploy-dashboard pepper-status pepper-rotate pepper-retire

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

## Every tier: lint, types, template checks, unit, infrastructure, integration, browser end-to-end, fuzzing.
test: install lint typecheck cfn-lint unit infrastructure integration e2e fuzz

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: install
	$(BIN)/mypy layers/shared/archie_keys local/archie_local tools/archie_tools functions tests/bench tests/contract

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

## Schemathesis against the local stack's /openapi.json (FUZZ_EXAMPLES per operation, default 12; about a minute).
fuzz: install
	$(BIN)/python -m tests.contract.fuzz

## Regenerate docs/openapi.json from the resolvers in functions/ (a unit test fails when it is stale).
openapi: install
	$(BIN)/python -m archie_tools.openapi

## Authorizer benchmark: p50/p99 in microseconds on stderr; stdout is one JSON object and nothing else.
bench: install
	@$(BIN)/python -m tests.bench.authorizer_bench

## First admin key of another environment on the running local stack (`make run`; or AWS: add STACK=<name>).
bootstrap: install
	@$(BIN)/python -m archie_keys bootstrap --project $(PROJECT) --environment $(ENVIRONMENT) $(if $(STACK),--stack-name $(STACK),--local)

## Pepper rotation on a deployed stack (see the README's runbook): make pepper-status STACK=name
pepper-status pepper-rotate pepper-retire: install
	$(BIN)/python -m archie_tools.pepper $(subst pepper-,,$@) $(if $(STACK),--stack-name $(STACK))

## Publish dashboard/ to a deployed stack's static site (CloudFront + private S3): make deploy-dashboard STACK=name
deploy-dashboard: install
	$(BIN)/python -m archie_tools.deploy_dashboard --stack-name $(STACK)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache tests/artifacts
