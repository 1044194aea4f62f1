"""Issue 19, item 1: slow request bodies cannot starve the other requests (app/web/http/bodies.py).

Against the real server (`python -m app`) on a free loopback port, bounded in time: 300
connections send the head of a POST with a 400,000-byte body and then one byte a second."""
from __future__ import annotations

import os
import socket
import time

import pytest

from app.localserver import slow_uploads
from app.web import urls

from .conftest import running_server

SEED = "lru-writeback-vs-swapoff"
SLOW = 300
DEADLINE = 3  # the server's ZSWAP_WEB_BODY_SECONDS in this test


@pytest.fixture()
def server(tmp_path):
    log = tmp_path / "server.log"
    env = dict(os.environ, ZSWAP_WEB_PRECOMPUTE="0", ZSWAP_WEB_BODY_SECONDS=str(DEADLINE))
    with open(log, "wb") as out, running_server(["-m", "app"], env, stdout=out, stderr=out) as (proc, port):
        yield port, log


def _get(port: int, path: str, timeout: float = 5) -> int:
    """The status of one GET on a new connection (0 when it did not answer in time)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
            return int(s.recv(64).split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _closed_by_server(s: socket.socket) -> bool:
    """Whether the server has closed the connection (an answer, then the end of the stream)."""
    s.settimeout(0.5)
    try:
        while chunk := s.recv(65536):
            del chunk
        return True
    except (TimeoutError, socket.timeout):
        return False
    except OSError:  # reset: closed too
        return True


def test_slow_bodies_do_not_starve_pages_and_are_cut_at_their_deadline(server):
    port, log = server
    page = urls.scenario(SEED, "old", "11")
    assert _get(port, page, timeout=60) == 200  # rendered once (its verdicts searched): cached from now on
    with slow_uploads(port, SLOW, (urls.api_open_trace(), urls.api_rooms())) as held:
        opened = time.monotonic()
        statuses = [_get(port, page) for _ in range(20)]
        assert statuses.count(200) >= 18, statuses
        for s in held[:3]:  # three clients give up before their deadline
            s.close()
        time.sleep(max(0.0, opened + DEADLINE + 2 - time.monotonic()))
        still_open = [s for s in held[3:] if not _closed_by_server(s)]
        assert not still_open, f"{len(still_open)} slow connections still open after {DEADLINE + 2} s"
    time.sleep(0.5)
    text = log.read_text(errors="replace")
    assert "Traceback" not in text and "Exception in ASGI application" not in text
    assert "body not complete within 3 s" in text
    assert text.count("the client left before its body was complete") >= 3
