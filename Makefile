# lambdesk: the two commands are `make run` and `make test`; the rest are their parts.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test lint typecheck pytest bench install install-dev demo serve clean browser vendor

# The runtime: torch's CPU wheel first (so nothing pulls a CUDA build), then the project.
$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[ml,voice,aws]"
	$(BIN)/pip install -q --no-deps openai-whisper==20250625
	$(BIN)/pip install -q --no-deps animal-mnist==0.4
	touch $@

$(BIN)/.installed-dev: $(BIN)/.installed
	$(BIN)/pip install -q -e ".[ml,voice,aws,dev]"
	touch $@

install: $(BIN)/.installed
install-dev: $(BIN)/.installed-dev

## make run: install, prepare the demo tenant (first run only), serve on $(HOST):$(PORT)
run: install
	$(BIN)/lambdesk demo
	$(BIN)/lambdesk serve --host $(HOST) --port $(PORT)

demo: install
	$(BIN)/lambdesk demo

serve: install
	$(BIN)/lambdesk serve --host $(HOST) --port $(PORT)

## make test: lint, type checks, then every test tier
test: install-dev deploy-check browser lint typecheck pytest

# The browser tests drive Debian's chromium with its chromium-driver (never a browser download).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		{ $(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium chromium-driver; }

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: install-dev
	$(BIN)/mypy

pytest: install-dev
	$(BIN)/pytest -q

bench: install-dev
	$(BIN)/python bench/text_turn.py

bench-widget: install-dev npm
	$(BIN)/python bench/widget_size.py

clean:
	rm -rf .lambdesk .pytest_cache .mypy_cache .ruff_cache

# ------------------------------------------------------------------ AWS deploy (Serverless, osls)
STAGE ?= dev
REGION ?= us-east-1
SLS := SLS_TELEMETRY_DISABLED=1 SLS_PYTHON_BIN=$(CURDIR)/$(BIN)/python npx --no-install osls

.PHONY: deploy deploy-check npm run-aws-local bench-widget

# The deploy tooling, from the committed lock file (npm does not run install scripts here).
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

npm: node_modules/.installed

## make vendor: copy the pinned browser libraries (package.json) into widget/vendor, served locally
vendor: npm
	cp node_modules/chart.js/dist/chart.umd.min.js widget/vendor/chart.umd.min.js
	cp node_modules/chart.js/LICENSE.md widget/vendor/chart.js.LICENSE.md
	cp node_modules/axe-core/axe.min.js widget/vendor/axe.min.js
	cp node_modules/axe-core/LICENSE widget/vendor/axe-core.LICENSE

## make deploy-check: package the ci stage offline (no AWS credentials) and lint its CloudFormation
deploy-check: install-dev npm
	$(SLS) package --stage ci --region $(REGION)
	$(BIN)/cfn-lint -t .serverless/cloudformation-template-update-stack.json --ignore-checks W3005

## make deploy STAGE=<name>: a real deploy (needs AWS credentials, the skill images and the SSM
## parameter /lambdesk/<stage>/token-secret); never run by the tests
deploy: install npm
	$(SLS) deploy --stage $(STAGE) --region $(REGION)

## make run-aws-local: moto (DynamoDB, S3) + the local Lambda endpoint + the API in aws mode
run-aws-local: install-dev
	$(BIN)/python scripts/aws_local.py --host $(HOST) --port $(PORT)
