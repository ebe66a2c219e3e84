# Every target installs what it needs into .venv, so each works on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
JOBS ?= 2

.PHONY: setup demo full test test-all bench docs wheel lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test,bench,docs,dev]"
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)  ## quick reproduction of every seed claim -> results/
	$(BIN)/python -m experiments.run all --quick --jobs $(JOBS) --out results

full: $(STAMP)  ## the paper sizes (hours on a CPU)
	$(BIN)/python -m experiments.run all --full --out results-full

test: $(STAMP)  ## the fast suite (CI)
	$(BIN)/python -m pytest -q -n $(JOBS) -m "not slow"

test-all: $(STAMP)
	$(BIN)/python -m pytest -q -n $(JOBS)

bench: $(STAMP)
	$(BIN)/python -m experiments.benchmarks all --out results/benchmarks

docs: $(STAMP)  ## the site in site/, MathJax vendored from npm (docs/_hooks.py): no network to read it
	$(BIN)/mkdocs build --strict --site-dir site
	$(BIN)/python docs/_check_site.py site --screenshots build/screenshots

wheel: $(STAMP)  ## dist/contractax-<version>-py3-none-any.whl (pip install it anywhere)
	$(BIN)/python -m build --no-isolation --wheel --outdir dist

lint: $(STAMP)
	$(BIN)/ruff check contractax experiments tests
	$(BIN)/ruff format --check contractax experiments tests

clean:
	rm -rf $(VENV) results site build dist .pytest_cache
