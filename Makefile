# Developer shortcuts. Everything here is also what .ci/run does, step by step.
VENV ?= .venv
PY := $(VENV)/bin/python
# forge from this platform's npm build (@foundry-rs/forge pulls it in); chains/foundry.py
# finds it, or says in one line how to install it
FORGE = forge="$$($(PY) -m chains.foundry forge)"

.PHONY: install contracts contracts-check vectors forge-test gas-snapshot gas-check test lint console-vendor

install:
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q -e '.[dev]'
	npm ci --no-audit --no-fund

contracts:            ## compile contracts/src into the committed artifacts in contracts/out
	node contracts/tools/build.js

contracts-check:      ## fail when contracts/out differs from a fresh compile
	node contracts/tools/build.js --check

vectors:              ## regenerate tests/vectors from the Solidity side
	$(FORGE) && cd contracts && "$$forge" test --match-contract VectorsTest -vv

forge-test:           ## Solidity unit, fuzz, boundary and invariant tests
	$(FORGE) && cd contracts && "$$forge" test

gas-snapshot:         ## record the gas figures (contracts/.gas-snapshot, contracts/snapshots/*.json)
	cd contracts && FOUNDRY_GAS_SNAPSHOT_EMIT=true ../$(FORGE) snapshot --match-test '^test_gas_'

gas-check:            ## fail when a gas figure moved by more than 1% (CI)
	scripts/gas-check

console-vendor:       ## copy uPlot (pinned in package.json) into relayer/console/static/vendor
	scripts/vendor-console

test:
	$(PY) -m pytest

lint:
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(VENV)/bin/mypy
