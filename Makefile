# Two commands do all the set-up on a fresh machine:
#   make demo   virtualenv, install, migrate an SQLite database, load the demo cohort, serve
#   make test   virtualenv, install, lint, run the whole test suite
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
REGISTRY := $(VENV)/bin/registry
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: install demo test lint translations clean-demo screenshots bench-load bench-self-report bench-grid

$(VENV)/.installed: setup.cfg setup.py pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip setuptools wheel
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

# A second `make demo` serves the demo database as it is (it carries the demo marker), with
# whatever was added while trying it out; `make clean-demo` deletes it to start over.
demo: install
	$(REGISTRY) init
	$(REGISTRY) demo
	@echo
	@echo "Serving the demo registry at http://$(HOST):$(PORT)/  (Ctrl+C stops it)"
	$(REGISTRY) run --host $(HOST) --port $(PORT)

# mypy reads its files and flags from setup.cfg [mypy]: registry/ at the default level,
# scoring/ with every --strict flag.  Its cache (.mypy_cache) makes a re-run take seconds.
lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/bandit --quiet --recursive --severity-level medium registry scoring
	$(PY) -m registry.i18n_catalogue check
	$(PY) -m registry.i18n_lint

# Extract the strings marked for translation (babel.cfg), update every language's
# catalogue (registry/translations/<lang>/LC_MESSAGES/messages.po) and compile its .mo.
# The .mo is kept in the repository, so a fresh clone translates without this step.
# Merge translators' fragment files with: $(PY) -m registry.i18n_catalogue merge FILE.po...
translations: install
	$(PY) -m registry.i18n_catalogue update

test: lint
	$(PY) -m pytest

# Deletes the default SQLite database (the demo's); a DATABASE_URL elsewhere is left alone.
clean-demo:
	rm -f instance/registry.sqlite3 instance/registry.sqlite3-wal instance/registry.sqlite3-shm

screenshots: install
	$(PY) -m tests.e2e.screenshots

bench-load: install
	$(PY) benchmarks/bench_load.py

# 200 patients submitting self-reports at once (gunicorn, PostgreSQL: REGISTRY_TEST_POSTGRES_URL
# or postgresql://postgres@127.0.0.1:5432/test); results in benchmarks/results/self_report.md
bench-self-report: install
	$(PY) benchmarks/bench_self_report.py

# The record status grid's first page for 10,000 patients at one site (SQLite, and PostgreSQL
# when REGISTRY_TEST_POSTGRES_URL names a server); results in benchmarks/results/grid.md
bench-grid: install
	$(PY) benchmarks/bench_grid.py
