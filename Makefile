# groundseg: `make demo` runs the simulated pad, `make test` runs the whole suite.
# Both set up everything they need on a fresh Debian or Ubuntu machine.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# Services and third-party peers the tests use; installed with apt-get when missing.
DEBIAN_PACKAGES := python3-venv openssl mosquitto mosquitto-clients influxdb influxdb-client \
	victoria-metrics mbpoll chromium
PAD ?= pads/baiterek.toml
SPEED ?= 20
# What the demo shows (all 311 channels do not fit a screen; `groundseg poll` without
# --channels shows every one).
DEMO_CHANNELS ?= lox.s1.* lox.storage.level.a lox.line.temp.* gn2.supply.* ghe.bank.1.* \
	umb.power.* umb.bus.* umb.heartbeat.counter wx.wind.m10.* wx.lightning.* wx.gas.p1.*
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

demo: venv
	$(PY) -m groundseg controller --pad $(PAD) --sim --speed $(SPEED) --state-dir var/demo --view \
		$(foreach c,$(DEMO_CHANNELS),--channels '$(c)')

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
