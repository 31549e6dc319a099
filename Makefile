# m3-amazon: the two set-up commands are `make demo` and `make test`.
# Both create .venv when it is missing or older than pyproject.toml, install the project, then run.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEMO_ARGS ?=
PYTEST_ARGS ?=

.PHONY: demo test bench chaos lint fmt clean derive-reference

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[sim,dev]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/m3amazon demo $(DEMO_ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Every benchmark script in bench/ (harness.py is the shared harness, summary.py writes
# bench/results/SUMMARY.md from the JSON results at the end). BENCH_QUICK=1: shorter runs where a
# script offers them (bench/scale_out.py).
bench: $(STAMP)
	@for script in $$(ls bench/*.py | grep -v -e harness.py -e summary.py); do \
		echo "== $$script"; $(BIN)/python $$script || exit 1; \
	done
	$(BIN)/python bench/summary.py

# The chaos suite: the product under kills and faults, then the checker's verdict as one JSON
# object (exit status 1 on "fail"). CHAOS_PROFILE=ci is the shorter profile CI runs;
# CHAOS_DATABASES=sqlite|postgresql|sqlite,postgresql (default both).
chaos: $(STAMP)
	$(BIN)/python tests/chaos/chaos_run.py

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format src tests bench scripts
	$(BIN)/ruff check --fix src tests bench scripts

# Regenerate the derived facts in src/m3amazon/*/data from the vendor reference files.
derive-reference: $(STAMP)
	$(BIN)/python scripts/derive_reference.py

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
