# Every target works on a fresh machine with only Python 3.11+ and the package index:
# it bootstraps a pinned uv in .uv/, then builds .venv exactly from uv.lock.
PYTHON ?= $(shell command -v python3.11 || command -v python3 || command -v python)
UV_VERSION := 0.13.9
UV := .uv/bin/uv
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Node tools the tests drive (the MCP Inspector's CLI), exactly as .npm-tools/package-lock.json
# pins them, installed into the checkout (never globally).
NPM_TOOLS := .npm-tools/node_modules/.installed
SRC_DIRS := $(wildcard hf_tools tests agents examples benchmarks scripts)
# uv must never fetch a Python of its own (no network but the index): it uses $(PYTHON).
export UV_PYTHON_DOWNLOADS := never

.PHONY: demo test test-ray lint typecheck unit lock test-latest test-lowest record bench clean

$(UV):
	$(PYTHON) -m venv .uv
	.uv/bin/python -m pip install --quiet "uv==$(UV_VERSION)"

# The development environment is exactly uv.lock (--locked fails if pyproject.toml and the
# lock disagree: run `make lock`).
$(STAMP): pyproject.toml uv.lock | $(UV)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(UV) sync --locked --all-extras --python $(PYTHON) --quiet
	touch $(STAMP)

$(NPM_TOOLS): .npm-tools/package.json .npm-tools/package-lock.json
	npm ci --prefix .npm-tools --no-audit --no-fund --loglevel=error
	touch $(NPM_TOOLS)

demo: $(STAMP)
	$(BIN)/hf-tools demo

lint: $(STAMP)
	$(BIN)/ruff format --check $(SRC_DIRS)
	$(BIN)/ruff check $(SRC_DIRS)

typecheck: $(STAMP)
	$(BIN)/mypy
	$(BIN)/mypy --strict agents examples

unit: $(STAMP) $(NPM_TOOLS)
	$(BIN)/pytest -q $(PYTEST_ARGS)

test: lint typecheck unit

# The Ray Data test (a local 2-CPU cluster, slow to start): not part of `make unit`.
test-ray: $(STAMP)
	HF_TOOLS_TEST_RAY=1 $(BIN)/pytest -q tests/test_batch_ray.py tests/test_examples.py -k 'ray'

# Re-resolve every dependency to the newest the ranges allow and rewrite uv.lock.
lock: | $(UV)
	$(UV) lock --upgrade --python $(PYTHON)

# The whole `make test` in .venv-latest, built from the newest versions the ranges allow
# (not the lock): drift in langchain-core, mypy, ruff... shows up here first.
test-latest: | $(UV)
	rm -rf .venv-latest
	$(UV) venv --quiet --python $(PYTHON) .venv-latest
	$(UV) pip install --quiet --python .venv-latest/bin/python --upgrade -e '.[dev,server]'
	touch .venv-latest/.installed
	$(MAKE) test VENV=.venv-latest

# The unit suite with each runtime dependency (langchain-core, pydantic, httpx2) and the server
# extra (starlette, uvicorn, psycopg, psycopg-pool) at the lower bound pyproject.toml states, the dev tools resolved around them: proves the floors are real.
# The tests of the MCP SDK and langchain's agents (tools that need newer pydantic and
# langchain-core than our floors) wait for the second pass: the suite with each feature extra
# (mcp...) at its own floor, the rest resolved around them.
test-lowest: | $(UV)
	rm -rf .venv-lowest
	$(UV) venv --quiet --python $(PYTHON) .venv-lowest
	$(PYTHON) scripts/floors.py core > .venv-lowest/floors.txt
	$(PYTHON) scripts/floors.py tools > .venv-lowest/tools.txt
	$(UV) pip install --quiet --python .venv-lowest/bin/python -e '.[testing,server]' \
		-r .venv-lowest/tools.txt --constraint .venv-lowest/floors.txt
	touch .venv-lowest/.installed
	$(MAKE) unit VENV=.venv-lowest PYTEST_ARGS="$$($(PYTHON) scripts/floors.py skip)"
	$(PYTHON) scripts/floors.py extras > .venv-lowest/extras.txt
	$(UV) pip install --quiet --python .venv-lowest/bin/python \
		-e ".[dev,server$$($(PYTHON) scripts/floors.py features)]" \
		--constraint .venv-lowest/extras.txt
	$(MAKE) unit VENV=.venv-lowest

# Re-record every cassette against the live API (needs HF_TOKEN and a network).
record: $(STAMP)
	@test -n "$$HF_TOKEN" || (echo "make record needs HF_TOKEN" && exit 1)
	HF_TOOLS_RECORD=1 $(BIN)/pytest -q --force-enable-socket

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) .npm-tools/node_modules .venv-latest .venv-lowest .uv .mypy_cache .ruff_cache .pytest_cache .hypothesis
