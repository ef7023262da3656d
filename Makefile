# kubegate: `make run` (set up + run the server with demo services), `make test` (set up + tests).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Debian packages the tests need, installed only when missing (see scripts/apt-deps).
APT_PACKAGES := etcd-server chromium fish zsh

.PHONY: setup setup-test run test test-all lint bench screenshots clean

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
# Browser tests drive Chromium through Playwright's sync API, whose event loop cannot share a
# process with pytest-asyncio's; they run in a second pytest process.
test: setup-test
	$(BIN)/pytest -q -m "not slow and not browser" -p no:cacheprovider
	$(BIN)/pytest -q -m "not slow" -p no:cacheprovider tests/browser

test-all: setup-test
	KUBEGATE_HYPOTHESIS_PROFILE=explore $(BIN)/pytest -q -m "not browser" -p no:cacheprovider
	$(BIN)/pytest -q -p no:cacheprovider tests/browser

lint: setup
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy src/kubegate/core src/kubegate/http src/kubegate/proxy
	$(BIN)/lint-imports

# Regenerate the screenshots the docs embed (docs/img/) from the browser tests.
screenshots: setup-test
	KUBEGATE_DOCS_SCREENSHOTS=1 $(BIN)/pytest -q -p no:cacheprovider tests/browser

bench: setup
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) .kubegate .pytest_cache
