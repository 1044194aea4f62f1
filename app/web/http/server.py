"""Serve the web visualizer with uvicorn (httptools and uvloop via uvicorn[standard]).

One worker by default; ZSWAP_WEB_WORKERS=N (or `make run WORKERS=N`) runs N worker processes,
which share nothing (the URL is the whole state), each with its caches and its search pool.
"""
from __future__ import annotations

import os
import resource

import uvicorn

# Connections held open at once per worker (idle, half-sent or busy); past it uvicorn answers 503.
# 2,500: a full live room (2,000 followers, ZSWAP_ROOM_FOLLOWERS) and room for everyone else.
MAX_CONNECTIONS = int(os.environ.get("ZSWAP_WEB_MAX_CONNECTIONS", "2500"))


def _raise_open_file_limit() -> None:
    """Idle and half-sent connections must not run the worker out of file descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 65536) if hard != resource.RLIM_INFINITY else 65536
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


KEEP_ALIVE = int(os.environ.get("ZSWAP_WEB_KEEP_ALIVE", "60"))  # seconds an idle connection stays open


def workers() -> int:
    return max(1, int(os.environ.get("ZSWAP_WEB_WORKERS", "1")))


def serve(host: str = "127.0.0.1", port: int = 8000, n_workers: int | None = None) -> None:
    """Run the app until interrupted."""
    _raise_open_file_limit()
    uvicorn.run(
        "app.web.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=n_workers or workers(),
        # httptools with a bounded request head: size and time (app/web/http/protocol.py).
        http="app.web.http.protocol:LimitedHttpToolsProtocol",
        loop="auto",
        log_level="info",
        server_header=False,
        limit_concurrency=MAX_CONNECTIONS,
        backlog=2048,
        # A presenter pauses between steps for longer than uvicorn's 5 s: the next step would open a
        # new connection. Idle connections are bounded by limit_concurrency; a silent one by protocol.py.
        timeout_keep_alive=KEEP_ALIVE,
        # Our redirects are relative and our URLs absolute-path only: no proxy headers to trust.
        proxy_headers=False,
    )
