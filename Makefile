# Two entry points (see README): `make run` and `make test`. Both create .venv on first use.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first and pinned: the CPU wheel on disk; a bare `torch` would pull CUDA packages.
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

.PHONY: install run test lint bench

install: $(STAMP)

run: $(STAMP)
	$(PY) manage.py serve

test: $(STAMP)
	@# Browser tests need Debian's Chromium; install it when we can (root), else they skip with a reason.
	@test -x /usr/bin/chromium || (command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && apt-get install -y -q chromium >/dev/null) || echo 'note: /usr/bin/chromium missing; browser tests will skip'
	$(PY) -m ruff check .
	@# Two workers: browser and server tests spend much of their time waiting on other processes.
	@# Integration tests stay one group on one worker (tests/conftest.py says why).
	$(PY) -m pytest -n 2 --dist loadgroup

lint: $(STAMP)
	$(PY) -m ruff check .

# Every benchmark in devtools/bench/ (see README), each through its own command, then one line
# `BENCH {json}` with the headline figures (devtools/bench/summary.py). jobs and clicks also time
# the distributed mode when PostgreSQL and Redis answer; votes needs them.
bench: $(STAMP)
	$(PY) -m devtools.bench.summary
