# Two commands do everything on a fresh machine:
#   make report   set up .venv and run the weekly report (on the built-in simulator without KAIKO_API_KEY)
#   make test     set up .venv and run the linter and the test suite (what CI runs)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: report test bench lint dbt clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,pdf,bench]'
	touch $@

# e.g. make report REPORT_FLAGS=--no-demo in the scheduled workflow
REPORT_FLAGS ?=

report: $(BIN)/.installed
	$(BIN)/liqreport run --pdf $(REPORT_FLAGS)

lint: $(BIN)/.installed
	$(BIN)/ruff check report tests bench

test: lint
	$(BIN)/python -m pytest -n auto

bench: $(BIN)/.installed
	$(BIN)/python -m bench

# sql/ is also a dbt project: dbt-duckdb in a venv of its own (dbt-core 1.12 needs a download at install time;
# 1.11 installs from the package index alone), then `dbt build` with the runner's vars over the same landing
# zone, and every table compared with the runner's warehouse. Not part of `make test`: CI need not install dbt.
DBT_VENV ?= .venv-dbt

$(DBT_VENV)/bin/dbt:
	$(PYTHON) -m venv $(DBT_VENV)
	$(DBT_VENV)/bin/python -m pip install --quiet 'dbt-duckdb>=1.11,<1.12' 'dbt-core>=1.11,<1.12'

dbt: $(BIN)/.installed $(DBT_VENV)/bin/dbt
	$(BIN)/python tests/dbt_parity.py --dbt $(DBT_VENV)/bin/dbt

clean:
	rm -rf $(VENV) $(DBT_VENV) output
