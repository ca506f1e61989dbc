# Every routine task. `make run` and `make test` do all set-up on a fresh machine.
SHELL := /bin/bash

# The functions run on python3.13 (template.yaml), so the project's venv - and every test tier - uses a
# python3.13 when this machine has one, and python3 otherwise. A candidate counts only if it runs: a pyenv
# shim exists for every installed version but fails unless that version is selected.
PYTHON313 := $(shell for p in python3.13 $$HOME/.pyenv/versions/3.13*/bin/python3.13 /usr/local/bin/python3.13 /usr/bin/python3.13; do \
  "$$p" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' >/dev/null 2>&1 && { "$$p" -c 'import sys; print(sys.executable)'; break; }; done)
PYTHON ?= $(or $(PYTHON313),python3)
PYTHON_VERSION := $(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(PYTHON_VERSION)

# Operator and build tools, each pinned in its own venv: their own pins (click, boto3) conflict with ours.
# SAM CLI is installed with python3.11 where there is one (the version it is known to work with here).
TOOLS := .venv-tools
TOOLS_PYTHON := $(shell for p in python3.11 python3; do "$$p" -c 'import sys' >/dev/null 2>&1 && { "$$p" -c 'import sys; print(sys.executable)'; break; }; done)
SAM_VERSION := 1.170.0
CHECKOV_VERSION := 3.3.30
SAM := $(TOOLS)/sam/bin/sam
CHECKOV := $(TOOLS)/checkov/bin/checkov
BUILD_DIR := .aws-sam/build
PORT ?= 3000
SAMPLE_PORT ?= 3001
OIDC_PORT ?= 3002
PYTEST := $(BIN)/pytest -p no:cacheprovider
# make load: seconds of load, target requests per second, keys issued, the plan's seed, client threads.
DURATION ?= 30
RATE ?= 10
KEYS ?= 100
SEED ?= 1
THREADS ?= 16

.PHONY: install run test lint format typecheck cfn-lint checkov build build-if-possible complexity logic component emulator \
	infrastructure integration browser contract unit e2e fuzz openapi docs bench bench-regions bench-ip-cache cost \
	load load-smoke mutate bootstrap secret clean chromium deploy-dashboard redrive audit-skipped pepper-status \
	pepper-rotate pepper-retire replay-revocations oidc-issuer oidc-token shell-tools

install: $(STAMP)

# Installing prints to stderr only: `make run`'s stdout carries nothing but the `admin key:` line.
$(STAMP): requirements-dev.txt layers/shared/requirements.txt constraints.txt pyproject.toml
	@echo "installing into $(VENV) with Python $(PYTHON_VERSION) ($(PYTHON))" >&2
	@$(PYTHON) -m venv --clear $(VENV) >&2
	@$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt -c constraints.txt >&2
	@$(BIN)/pip install -q --disable-pip-version-check --no-deps -e . >&2
	@touch $@

## The local stack in the foreground: moto + local API Gateways + dashboard; prints `admin key: ...`, its addresses
## and `export` lines to paste, then is quiet while idle (functions' logs: .local-stack.log; VERBOSE=1 streams them).
## REGIONS=us-east-1,eu-west-1: one stack per region, the keys table replicated between them (docs/regions.md);
## the second on SECOND_PORT/SECOND_SAMPLE_PORT (default PORT + 2, SAMPLE_PORT + 2).
run: install
	@PORT=$(PORT) SAMPLE_PORT=$(SAMPLE_PORT) OIDC_PORT=$(OIDC_PORT) VERBOSE=$(VERBOSE) REGIONS=$(REGIONS) \
	  SECOND_PORT=$(SECOND_PORT) SECOND_SAMPLE_PORT=$(SECOND_SAMPLE_PORT) $(BIN)/python -m archie_local run

## Every tier (docs/testing.md): lint, the complexity gate, types, template checks (cfn-lint, checkov), the
## documentation site, then the test tiers by scope, fastest first: logic, component (with the coverage gate),
## emulator, infrastructure (SAM translation and the built layer, which CI may not skip), integration, a short
## load run, browser, contract.
test: install lint complexity typecheck cfn-lint checkov docs logic component emulator infrastructure integration \
	load-smoke browser contract

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

## Only the complexity gate: no function above pyproject.toml's mccabe max-complexity (`make lint` checks it too).
complexity: install
	$(BIN)/ruff check --select C901 .

typecheck: install
	$(BIN)/mypy layers/shared/archie_keys local/archie_local tools/archie_tools functions tests/contract tests/fakes/services.py tests/fakes/key_store.py tests/fakes/unit_of_work.py tests/fakes/revocations.py tests/fakes/channels.py tests/fakes/regional_audit.py

cfn-lint: install
	$(BIN)/cfn-lint template.yaml

## checkov on the template: every finding is fixed or skipped in template.yaml with its reason. It downloads
## nothing (--skip-download, BC_SKIP_MAPPING): its guidelines service is not reachable from here, nor needed.
checkov: $(TOOLS)/checkov/.installed-$(CHECKOV_VERSION)
	BC_SKIP_MAPPING=TRUE $(CHECKOV) -f template.yaml --framework cloudformation --compact --quiet --skip-download

$(TOOLS)/checkov/.installed-$(CHECKOV_VERSION):
	@echo "installing checkov $(CHECKOV_VERSION) into $(TOOLS)/checkov" >&2
	@$(TOOLS_PYTHON) -m venv --clear $(TOOLS)/checkov >&2
	@$(TOOLS)/checkov/bin/pip install -q --disable-pip-version-check checkov==$(CHECKOV_VERSION) >&2
	@touch $@

$(TOOLS)/sam/.installed-$(SAM_VERSION):
	@echo "installing aws-sam-cli $(SAM_VERSION) into $(TOOLS)/sam" >&2
	@$(TOOLS_PYTHON) -m venv --clear $(TOOLS)/sam >&2
	@$(TOOLS)/sam/bin/pip install -q --disable-pip-version-check aws-sam-cli==$(SAM_VERSION) >&2
	@touch $@

## `sam build` as AWS builds: the layer's pinned dependencies for arm64 and python3.13, without Docker, which
## needs a python3.13 first on PATH (the real interpreter, not a pyenv shim).
build: $(TOOLS)/sam/.installed-$(SAM_VERSION)
	@test -n "$(PYTHON313)" || { echo "make build needs a python3.13 (the functions' runtime); none found" >&2; exit 1; }
	PATH="$(dir $(PYTHON313)):$$PATH" SAM_CLI_TELEMETRY=0 $(SAM) build --template-file template.yaml \
	  --build-dir $(BUILD_DIR)

## For `make test`: build when this machine can (the infrastructure tier then checks the built layer).
build-if-possible:
	@if [ -n "$(PYTHON313)" ]; then $(MAKE) --no-print-directory build; \
	else echo "no python3.13 here: skipping sam build (the built-layer tests will say so)" >&2; rm -rf $(BUILD_DIR); fi

## The domain and the use cases with no moto, no socket and no subprocess of the stack, and the checks on the
## repository's own files (layers, pins, docs): seconds, so one process (xdist's start-up would cost more).
## Branch coverage of layers/ (the package Lambda runs): the logic tier starts the measure, the component tier
## adds to it (combined across its xdist workers) and fails under 90%. COVERAGE= turns it off for a quicker run.
COVERAGE ?= --cov=layers --cov-branch
COVERAGE_GATE ?= $(if $(COVERAGE),--cov-append --cov-report=term:skip-covered --cov-fail-under=90)
logic: install
	$(PYTEST) -p no:xdist tests/logic -q $(COVERAGE) $(if $(COVERAGE),--cov-report=)

## The real stores, handlers and authorizer on moto's in-process mock through the template's routes: each test
## provisions its own stack or shares one per module (tests/component/decision_stack.py), so every core is used.
component: install
	$(PYTEST) -n auto tests/component -q $(COVERAGE) $(COVERAGE_GATE)

## The local stack's own behaviour: its API Gateway, usage plans, control plane, OIDC issuer, template reader.
emulator: install
	$(PYTEST) -p no:xdist tests/emulator -q

## The tiers that ran as one `make unit` before tests were split by scope; kept while docs and habits name it.
unit: logic component emulator

## Offline SAM translation of template.yaml, checks on the CloudFormation it produces, and on the built layer.
infrastructure: install build-if-possible
	ARCHIE_BUILD_DIR=$(if $(PYTHON313),$(BUILD_DIR)) $(PYTEST) tests/infrastructure -q

integration: install shell-tools
	$(PYTEST) tests/integration -q

## The dashboard in headless Debian chromium (Playwright). `make e2e` is its former name.
browser: install chromium
	$(PYTEST) tests/browser -q

e2e: browser

## Debian's chromium for the dashboard tests (Playwright never downloads a browser here).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; fi; }

## Debian's curl and jq: the integration tier runs the README's shell examples, which use them.
shell-tools:
	@missing="$$(for tool in curl jq; do command -v $$tool >/dev/null 2>&1 || echo $$tool; done)"; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian's $$missing for the README's examples" >&2; \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi; fi

## Schemathesis against the local stack's /openapi.json (FUZZ_EXAMPLES per operation, default 12; about a minute).
## `make fuzz` is the same tier under the name the docs have always used.
contract: install
	$(BIN)/python -m tests.contract.fuzz

fuzz: contract

## Regenerate docs/openapi.json from the resolvers in functions/ (a unit test fails when it is stale).
openapi: install
	$(BIN)/python -m archie_tools.openapi

## The documentation site (mkdocs.yml: docs/ with the Material theme) into site/, which is never committed.
## Strict: a broken link or anchor, or a page left out of the nav, fails the build. It fetches nothing.
docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

## Authorizer benchmark and expiry's lateness at the local gateway: p50/p99 on stderr; stdout is one JSON object and nothing else.
bench: install
	@$(BIN)/python -m archie_tools.bench.authorizer_bench

## Two regions (docs/regions.md): a revocation in one region until the other's sample API refuses (p50, p99 over
## 20 keys), a creation until the other has it, and the local replication's own lag; stdout is one JSON line.
bench-regions: install
	@$(BIN)/python -m archie_tools.bench.regions_bench

## What keying the authorizer cache on the source address costs in cache hits, for five client populations
## (docs/limits.md); stdout is one JSON line, a table on stderr. About a minute.
bench-ip-cache: install
	@$(BIN)/python -m archie_tools.bench.ip_cache_bench

## Cost per million authorized requests and the capacity table, from the template and the local stack's bytes.
cost: install
	@$(BIN)/python -m archie_tools.bench.cost

## The local sample API under load through the local gateway (README: "Under load"); stdout is one JSON line.
## make load DURATION=30 RATE=10 KEYS=100 SEED=1 THREADS=16. Exits 1 when a request was lost or wrongly answered.
load: install
	@$(BIN)/python -m archie_tools.load --duration $(DURATION) --rate $(RATE) --keys $(KEYS) --seed $(SEED) \
	  --threads $(THREADS)

## make load in short (part of make test, about 20 s): fails when a request has no audit record, two, or an
## answer its key's state does not call for.
load-smoke: install
	@$(BIN)/python -m archie_tools.load --duration 6 --rate 20 --keys 20 --seed 1 --deadline 120

## Mutation testing (mutmut) of the modules that decide; kill rate per module, the last line is JSON. Slow: not in `make test`.
## MODULES=edge/authorizer.py,... mutates only those (a full run is half an hour).
mutate: install
	MUTATE_MODULES="$(MODULES)" $(BIN)/python -m archie_tools.mutate

## First admin key of another environment on the running local stack (`make run`; or AWS: add STACK=<name>).
bootstrap: install
	@test -n "$(PROJECT)" -a -n "$(ENVIRONMENT)" || { echo "usage: make bootstrap PROJECT=<project> ENVIRONMENT=<environment> [STACK=<name>]" >&2; exit 2; }
	@$(BIN)/python -m archie_keys bootstrap --project $(PROJECT) --environment $(ENVIRONMENT) $(if $(STACK),--stack-name $(STACK),--local)

## The development OIDC issuer alone, in the foreground (docs/federation.md); its address is the one stdout line.
oidc-issuer: install
	@$(BIN)/python -m archie_local oidc-issuer --port $(OIDC_PORT)

## A token minted by the running development issuer, alone on stdout:
## make oidc-token SUB=repo:acme/billing:ref:refs/heads/main AUD=archie-keys [CLAIMS='{"repository": "acme/billing"}']
oidc-token: install
	@test -n "$$SUB" -a -n "$$AUD" || { echo "usage: make oidc-token SUB=<subject> AUD=<audience> [CLAIMS=<json object>]" >&2; exit 2; }
	@$(BIN)/python -m archie_local oidc-token --sub "$$SUB" --aud "$$AUD" $${CLAIMS:+--claims "$$CLAIMS"}

## What a consumer of a delivered secret reads now, from the running local stack: make secret NAME=archie/keys/demo/dev/billing
secret: install
	@test -n "$(NAME)" || { echo "usage: make secret NAME=<secret name>" >&2; exit 2; }
	@$(BIN)/python -m archie_local secret '$(NAME)'

## Pepper rotation on a deployed stack (docs/operations.md): make pepper-status STACK=name
pepper-status pepper-rotate pepper-retire: install
	$(BIN)/python -m archie_tools.pepper $(subst pepper-,,$@) $(if $(STACK),--stack-name $(STACK))

## Publish dashboard/ to a deployed stack's static site (CloudFront + private S3): make deploy-dashboard STACK=name
deploy-dashboard: install
	$(BIN)/python -m archie_tools.deploy_dashboard --stack-name $(STACK)

## Replay a dead-letter queue once its cause is fixed: make redrive STACK=name QUEUE=audit-ingest|expiry-flush
## (add ARGS=--dry-run to see what is there and why, changing nothing).
redrive: install
	$(BIN)/python -m archie_tools.redrive --stack-name $(STACK) --queue $(QUEUE) $(ARGS)

## After restoring the keys table from point-in-time recovery (docs/runbooks/restore-keys-table.md): revoke
## again every key revoked since SINCE, from the audit. On the running local stack, or AWS with STACK=<name>;
## DRY_RUN=1 prints what it would do; ACTOR=<who> names the operator in the audit. Safe to run twice.
replay-revocations: install
	@test -n "$(SINCE)" || { echo "usage: make replay-revocations SINCE=<ISO time> [STACK=<name>] [DRY_RUN=1] [ACTOR=<who>]" >&2; exit 2; }
	@$(BIN)/python -m archie_tools.replay_revocations --since "$(SINCE)" $(if $(STACK),--stack-name $(STACK),--local) \
	  $(if $(DRY_RUN),--dry-run) $(if $(ACTOR),--actor "$(ACTOR)")

## The audit buckets the compactor skipped after their retries (AuditBucketsSkipped): make audit-skipped STACK=name
## (add ARGS=--retry, once the cause is fixed, to compact them again).
audit-skipped: install
	$(BIN)/python -m archie_tools.audit_skipped --stack-name $(STACK) $(ARGS)

clean:
	rm -rf $(VENV) $(TOOLS) .aws-sam .pytest_cache .mypy_cache .ruff_cache tests/artifacts build/mutate site .coverage .coverage.*
