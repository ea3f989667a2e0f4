# Cooperation Alliance Platform — the two commands are `make run` and `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
TOOLS := .tools
UV := $(TOOLS)/bin/uv
UV_VERSION := 0.13.9
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := .venv
PYTEST_ARGS ?=

PACKAGES := shared/src deploy/local/src services/registry/src services/funding/src services/evaluation/src services/notifications/src services/console/src

.PHONY: help setup stack-install browser-install run test test-unit bench lint fmt contract images demo clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

$(UV):
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11+ is required ($(PYTHON) not found)"; exit 1; }
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q "uv==$(UV_VERSION)"

setup: $(UV) ## create .venv from uv.lock (Python 3.11, all workspace packages)
	$(UV) sync --frozen --quiet

stack-install: setup ## fetch Kafka's jars and build the MongoDB-wire server once (cached)
	$(UV) run --frozen alliance dev install

# The console's browser tests drive Debian's chromium (Playwright cannot download its own
# browser here); Noto CJK so that Chinese pages render in screenshots; chromium-l10n so that
# chromium can take the page language as its locale (what a date field shows). Installed once.
browser-install: ## Debian chromium, its locales (zh-CN, en-GB) + Noto CJK fonts for the console (apt-get, when missing)
	@if ! command -v chromium >/dev/null || ! dpkg -s fonts-noto-cjk chromium-l10n >/dev/null 2>&1; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && $$SUDO apt-get install -y -q chromium chromium-l10n fonts-noto-cjk; \
	fi

run: stack-install ## start Kafka, the MongoDB-wire server, the SMTP sink and every service
	$(UV) run --frozen alliance run

test: stack-install browser-install lint ## lint first, then everything: unit, runtime, services, console, deployment and system tests
	$(UV) run --frozen pytest -q -p no:cacheprovider --durations=15 $(PYTEST_ARGS)

test-unit: setup ## the pure domain tests only (no servers)
	$(UV) run --frozen pytest -q -p no:cacheprovider tests/unit $(PYTEST_ARGS)

bench: stack-install ## benchmarks (not part of `make test`): prints figures, writes bench/results/
	$(UV) run --frozen python -m bench $(ARGS)

lint: setup ## ruff, mypy --strict on every package, and the layer rules (import contracts)
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy --strict $(PACKAGES)
	$(UV) run --frozen lint-imports

fmt: setup ## format and autofix
	$(UV) run --frozen ruff format .
	$(UV) run --frozen ruff check --fix .

contract: setup ## regenerate docs/contract (JSON Schemas + AsyncAPI) from the payload models
	$(UV) run --frozen alliance-contract docs/contract

VERSION ?= 0.1.0
images: ## build the four service images and the console's (needs a Docker engine with BuildKit)
	@command -v docker >/dev/null && docker info >/dev/null 2>&1 || { echo "make images needs a running Docker engine"; exit 1; }
	for svc in registry funding evaluation notifications console; do \
	  docker build -f deploy/docker/Dockerfile --target $$svc --build-arg VERSION=$(VERSION) \
	    --build-arg REVISION=$$(git rev-parse HEAD) -t coop-alliance/$$svc:$(VERSION) . || exit 1; \
	done

demo: stack-install ## the narrated scenario against a running `make run` (or one it starts)
	$(UV) run --frozen alliance demo

clean: ## stop the local stack and delete its data
	-$(UV) run --frozen alliance dev down
	rm -rf var
