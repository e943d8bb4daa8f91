# msgtrace: `make start` runs the server, `make test` runs everything CI runs.
# Both set up what they need from this repository's own files, on a fresh machine.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml setup.py msgtrace/core/_otlp_native.c | cksum | cut -d' ' -f1)
ARGS   ?=

.PHONY: start test setup setup-dev setup-browser ui ui-check lint pytest bench clean

start: $(STAMP)
	$(BIN)/msgtrace start $(ARGS)

$(STAMP): pyproject.toml setup.py msgtrace/core/_otlp_native.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,grpc]'
	touch $@

setup: $(STAMP)

setup-browser:
	bash scripts/setup-browser.sh

ui/node_modules/.package-lock.json: ui/package-lock.json
	cd ui && npm ci --no-audit --no-fund
	touch $@

ui: ui/node_modules/.package-lock.json
	cd ui && npm run build

# CI: the committed build under msgtrace/api/static must be what the source builds to.
ui-check: ui/node_modules/.package-lock.json
	bash scripts/check-ui-build.sh

lint: $(STAMP)
	$(BIN)/ruff check msgtrace tests benchmarks examples
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(ARGS)

test: $(STAMP) setup-browser
	$(MAKE) --no-print-directory ui-check-if-present
	$(MAKE) --no-print-directory lint
	$(BIN)/python -m pytest -n 2 --dist loadgroup $(ARGS)

ui-check-if-present:
	@if [ -f ui/package.json ]; then $(MAKE) --no-print-directory ui-check; cd ui && npm test; fi

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run_all $(ARGS)

clean:
	rm -rf $(VENV) ui/node_modules test-artifacts benchmarks/.work
