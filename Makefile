# The README's two commands: `make demo` and `make test`. Both set up first (idempotent).
VENV := .venv
BIN  := $(VENV)/bin

.PHONY: setup demo test test-fast lint bench fuzz clean
setup:
	@bash scripts/setup.sh

demo: setup
	$(BIN)/govnet lab run baseline

lint: setup
	$(BIN)/ruff check govnet topology labs monitors backup_hsm apps capacity firewall ids cli tests bench fuzz
	$(BIN)/ruff format --check govnet topology labs monitors backup_hsm apps capacity firewall ids cli tests bench fuzz
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo  # the layering contracts in pyproject.toml (docs/layers.md)

test: setup lint
	$(BIN)/python -m pytest -q

test-fast: setup
	$(BIN)/python -m pytest -q -m "not emu"

bench: setup
	$(BIN)/python bench/bringup.py

# coverage-guided fuzzing of every input parser, FUZZ_SECONDS (default 60) each; not part of `make test`
fuzz: setup
	$(BIN)/python fuzz/run.py

clean: setup
	$(BIN)/govnet clean
