# Two commands do everything on a fresh machine:
#   make report   set up .venv and run the weekly report (on the built-in simulator without KAIKO_API_KEY)
#   make test     set up .venv and run the linter and the test suite (what CI runs)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: report test bench lint clean

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
	$(BIN)/python -m pytest

bench: $(BIN)/.installed
	$(BIN)/python -m bench

clean:
	rm -rf $(VENV) output
