# Two commands on a fresh Debian machine with Python 3.11: `make run` and `make test`.
# What they install is locked: requirements/run.txt and requirements/test.txt, exact versions with
# hashes for Python 3.11 on Linux x86-64, compiled from pyproject.toml by `make lock`
# (docs/operations.md, "Dependencies and locks").
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8000
# uvicorn worker processes (docs/operations.md, "Workers"); also ZSWAP_WEB_WORKERS.
WORKERS ?= $(or $(ZSWAP_WEB_WORKERS),1)
# Extra pytest arguments for `make test`, e.g. PYTEST_ARGS='-m "not browser"' or PYTEST_ARGS='-k wheel'.
PYTEST_ARGS ?=
VENV := .venv
VPY := $(VENV)/bin/python
LOCK_RUN := requirements/run.txt
LOCK_TEST := requirements/test.txt
# The locks carry no index URL: pip's own configuration (pip.conf, PIP_INDEX_URL) says where to look.
PIP_COMPILE := $(VPY) -m piptools compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--all-build-deps --no-emit-index-url --no-emit-find-links --no-emit-trusted-host

.PHONY: run test bench lock clean

$(VPY):
	$(PYTHON) -m venv $(VENV)

# Stamp files: repeated runs skip pip until a lock or pyproject.toml changes. The locked
# dependencies first (every one pinned and hashed), then the project itself, editable, without
# dependencies and without build isolation: the locked hatchling builds it.
$(VENV)/.installed: $(LOCK_RUN) pyproject.toml | $(VPY)
	$(VPY) -m pip install --quiet --require-hashes -r $(LOCK_RUN)
	$(VPY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $@

$(VENV)/.installed-test: $(LOCK_TEST) $(VENV)/.installed
	$(VPY) -m pip install --quiet --require-hashes -r $(LOCK_TEST)
	touch $@

/usr/bin/chromium:
	DEBIAN_FRONTEND=noninteractive apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

# Live rooms across processes are tested against a real Redis (tests/web/conftest.py starts it).
/usr/bin/redis-server:
	DEBIAN_FRONTEND=noninteractive apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server

run: $(VENV)/.installed
	$(VPY) -m app --host $(HOST) --port $(PORT) --workers $(WORKERS)

# tests/test_wheel.py builds the wheel and runs it installed in a fresh virtualenv (marker `wheel`).
test: $(VENV)/.installed-test /usr/bin/chromium /usr/bin/redis-server
	$(VPY) -m pytest -q $(PYTEST_ARGS) tests/

bench: $(VENV)/.installed
	@set -e; for f in bench/*.py; do echo "== $$f"; $(VPY) $$f; done

# Refresh the locks to the newest releases pyproject.toml allows (the test lock agrees with the
# run lock on every package both hold), then reinstall from them.
lock: $(VENV)/.installed-test
	$(PIP_COMPILE) --upgrade --output-file $(LOCK_RUN) pyproject.toml
	$(PIP_COMPILE) --upgrade --extra test --constraint $(LOCK_RUN) --output-file $(LOCK_TEST) pyproject.toml
	$(MAKE) $(VENV)/.installed-test

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis dist
