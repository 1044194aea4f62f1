"""Fixtures shared by every test directory."""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import pytest
from fastapi.testclient import TestClient

# The disk cache of verdicts (app/model/explorer/verdict_store.py) of the test session lives in a folder
# of its own, never in the project's .cache/: a test must search, not read an earlier run's answer.
_VERDICTS = tempfile.mkdtemp(prefix="zswap-test-verdicts-")
os.environ["ZSWAP_VERDICT_CACHE_DIR"] = _VERDICTS
atexit.register(shutil.rmtree, _VERDICTS, True)

from app.web.app import create_app  # noqa: E402 - after the environment above


@pytest.fixture(scope="session")
def app():
    """One app instance for the session: it holds no state between requests."""
    return create_app()


@pytest.fixture()
def client(app) -> TestClient:
    """A TestClient that turns unexpected server exceptions into 500 responses, as production does."""
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
