# waltero_frames — every target installs what it needs into .venv (python3 >= 3.11 and make only).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-all

.PHONY: report test test-slow lint bench bench-quick bench-tools clean install tools

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	$(PY) -m pip install -q --disable-pip-version-check -e '.[all]'
	@touch $@

## The main job: verify the committed studies (their answers against the checksum, then
## notebooks 5 and 6 replayed offline against them), start the bundled simulator (unless WALTERO_*
## point at a tenant), execute every notebook and write HTML reports to reports/.
DEMO_STUDY := data/studies/energy-report-demo
report: $(STAMP)
	$(VENV)/bin/waltero-frames study verify $(DEMO_STUDY) notebooks/05-energy-report.py
	$(VENV)/bin/waltero-frames study verify data/studies/weather-review notebooks/06-weather-review.py
	$(PY) -m tools.report

## The test suite (what CI runs): lint (incl. docstrings), type check, then every test but
## the slow ones.
test: $(STAMP) tools
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) -m pytest

## curl and jq run the vendor guide's commands in tests/test_sim_guide.py.
tools:
	@command -v curl >/dev/null && command -v jq >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq curl jq >/dev/null; }

## The slow, exhaustive cases.
test-slow: $(STAMP)
	$(PY) -m pytest -m slow

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

## wrk drives the simulator's throughput benchmark (else a slower Python client is the limit).
bench: $(STAMP) bench-tools
	$(PY) -m bench.run

bench-tools:
	@command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	  apt-get install -y -qq wrk >/dev/null; } || echo "wrk not installed: bench_sim uses Python clients"

bench-quick: $(STAMP)
	$(PY) -m bench.run --quick

clean:
	rm -rf $(VENV) reports .pytest_cache build *.egg-info
