# groundseg: `make demo` runs the simulated pad, `make test` runs the whole suite.
# Both set up everything they need on a fresh Debian or Ubuntu machine.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Services and third-party peers the tests use; installed with apt-get when missing.
DEBIAN_PACKAGES := python3-venv openssl mosquitto mosquitto-clients influxdb influxdb-client \
	victoria-metrics mbpoll chromium poppler-utils
PAD ?= pads/baiterek.toml
# The demo's plant and count speed: at 60x the count from T-6 h takes about seven minutes.
SPEED ?= 60
DEMO_ARGS ?=
PYTEST_ARGS ?=

.PHONY: all demo test lint typecheck contracts unit bench system-packages venv clean

all: test

system-packages:
	@scripts/ensure-debian-packages.sh $(DEBIAN_PACKAGES)

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml | system-packages
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

# The simulated pad, the controller and the web console in one process; prints the URL and
# the demo accounts; Ctrl-C stops it.
demo: venv
	$(PY) -m groundseg demo --pad $(PAD) --speed $(SPEED) --state-dir var/demo $(DEMO_ARGS)

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: venv
	$(VENV)/bin/mypy

contracts: venv
	$(VENV)/bin/lint-imports

# pytest exits 5 when it collects no tests; that is a broken suite, not a pass.
test: lint typecheck contracts
	$(PY) -m pytest $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests" >&2; exit 1; fi; exit $$rc

bench: venv
	$(PY) -m bench

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache build *.egg-info
