# kubesvc — every set-up step lives here so a fresh machine needs only `make up` / `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DATA_DIR ?= .kubesvc


.PHONY: install system-deps js-deps up test test-fast bench conformance lint clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	touch $@

# Debian packages the e2e tests and benchmarks drive (dig, nft, etcd, haproxy, dnsperf, unbound, wrk).
# Installed only when missing and only as root; as a normal user the tests that need them skip.
system-deps:
	@bash scripts/system-deps.sh

# The official JavaScript client, a test peer (tests/js, pinned by its package-lock.json);
# without npm its tests skip.
js-deps:
	@if command -v npm >/dev/null; then cd tests/js && npm ci --no-audit --no-fund --silent; \
	else echo "npm not found: the JavaScript client tests will skip"; fi

up: install
	$(BIN)/kubesvc up --data-dir $(DATA_DIR)

test: install system-deps js-deps
	$(BIN)/python -m pytest -q -p no:cacheprovider

test-fast: install js-deps
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/unit tests/integration

bench: install system-deps
	$(BIN)/python -m benchmarks.run

# Runs the port of upstream's Service/DNS/EndpointSlice conformance cases and rewrites
# docs/conformance.md with the result of each (root: most cases use port 80).
conformance: install system-deps
	$(BIN)/python scripts/conformance_report.py

lint: install
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) $(DATA_DIR) build *.egg-info
