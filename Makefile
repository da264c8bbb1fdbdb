# Imprint: `make demo` and `make test` work on a fresh Debian machine (they install what is missing).
SHELL := /bin/bash
.DEFAULT_GOAL := help
DEB_PACKAGES := softhsm2 opensc socat postgresql golang-cfssl openssl curl
STAMP := node_modules/.imprint-deps

.PHONY: help deps build test lint demo bench clean

help:
	@echo "make demo   - install what is missing, start Imprint on embedded defaults, walk simulated devices"
	@echo "make test   - lint, typecheck and run every test tier (unit, integration, end to end)"
	@echo "make bench  - run the benchmarks in bench/ and print results"

deps: $(STAMP)

$(STAMP): package.json package-lock.json
	@bash scripts/install-deps.sh $(DEB_PACKAGES)
	npm ci --no-audit --no-fund
	@touch $(STAMP)

build: deps
	npx tsc -p tsconfig.build.json
	@chmod +x dist/cli/main.js

lint: deps
	npx tsc -p tsconfig.json --noEmit
	npx eslint --max-warnings 0 src test bench
	npx prettier --check .

test: build lint
	bash scripts/run-tests.sh

demo: build
	bash scripts/demo.sh

bench: build
	@for f in bench/*.ts; do echo "== $$f"; npx tsx $$f || exit 1; done

clean:
	rm -rf dist node_modules imprint-data .tmp
