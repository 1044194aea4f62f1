"""Fixtures shared by every test directory."""
from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.web.app import create_app


@pytest.fixture(scope="session")
def app():
    """One app instance for the session: it holds no state between requests."""
    return create_app()


@pytest.fixture()
def client(app) -> TestClient:
    """A TestClient that turns unexpected server exceptions into 500 responses, as production does."""
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c
