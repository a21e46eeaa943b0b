# Every target works on a fresh machine with only Python 3.10+: it builds .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3 || command -v python)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SRC_DIRS := $(wildcard hf_tools tests agents examples benchmarks scripts)

.PHONY: demo test lint typecheck unit record bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,server]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/hf-tools demo

lint: $(STAMP)
	$(BIN)/ruff format --check $(SRC_DIRS)
	$(BIN)/ruff check $(SRC_DIRS)

typecheck: $(STAMP)
	$(BIN)/mypy
	$(BIN)/mypy --strict agents examples

unit: $(STAMP)
	$(BIN)/pytest -q

test: lint typecheck unit

# Re-record every cassette against the live API (needs HF_TOKEN and a network).
record: $(STAMP)
	@test -n "$$HF_TOKEN" || (echo "make record needs HF_TOKEN" && exit 1)
	HF_TOOLS_RECORD=1 $(BIN)/pytest -q --force-enable-socket

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
