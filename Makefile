# Two commands on a fresh Debian machine with Python 3.11: `make run` and `make test`.
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8000
# uvicorn worker processes (see the README's "Workers"); also ZSWAP_WEB_WORKERS.
WORKERS ?= $(or $(ZSWAP_WEB_WORKERS),1)
VENV := .venv
VPY := $(VENV)/bin/python

.PHONY: run test bench clean

$(VPY):
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --upgrade pip

# Stamp files: repeated runs skip pip until pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(VPY)
	$(VPY) -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(VPY) -m pip install --quiet -e '.[test]'
	touch $@

/usr/bin/chromium:
	DEBIAN_FRONTEND=noninteractive apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y chromium

# Live rooms across processes are tested against a real Redis (tests/web/conftest.py starts it).
/usr/bin/redis-server:
	DEBIAN_FRONTEND=noninteractive apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y redis-server

run: $(VENV)/.installed
	$(VPY) -m app --host $(HOST) --port $(PORT) --workers $(WORKERS)

test: $(VENV)/.installed-test /usr/bin/chromium /usr/bin/redis-server
	$(VPY) -m pytest -q tests/

bench: $(VENV)/.installed
	@set -e; for f in bench/*.py; do echo "== $$f"; $(VPY) $$f; done

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
