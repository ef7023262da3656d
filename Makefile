# kubegate: `make run` (set up + run the server with demo services), `make test` (set up + tests).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Debian packages the tests need, installed only when missing (see scripts/apt-deps).
APT_PACKAGES := etcd-server chromium fish zsh

.PHONY: setup setup-test run test test-all lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

setup-test: setup
	@scripts/apt-deps $(APT_PACKAGES)

run: setup
	$(BIN)/kubegate serve --demo

# The bounded suite CI runs (slow soak / large-transfer tests excluded).
test: setup-test
	$(BIN)/pytest -q -m "not slow" -p no:cacheprovider

test-all: setup-test
	$(BIN)/pytest -q -p no:cacheprovider

lint: setup
	$(BIN)/ruff check src tests
	$(BIN)/mypy src/kubegate/core
	$(BIN)/lint-imports

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .kubegate .pytest_cache
