"""Which room store this process uses: Redis when ZSWAP_REDIS_URL is set, else in-process."""
from __future__ import annotations

import os

import sys
from urllib.parse import urlsplit, urlunsplit

from app.web.rooms.core import Limits, MemoryStore, RoomStore


def make_store(limits: Limits | None = None) -> RoomStore:
    """Redis when ZSWAP_REDIS_URL is set (the package is imported only then), else in-process."""
    url = os.environ.get("ZSWAP_REDIS_URL", "").strip()
    if url:
        from app.web.rooms.redis_store import RedisStore  # the redis package loads only then
        return RedisStore(url, limits or Limits.from_env())
    return MemoryStore(limits)


def shown_url(url: str) -> str:
    """The URL with its password hidden: the line goes to a terminal or a log."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.netloc.rsplit("@", 1)[1]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def refuse_unreachable_store() -> None:
    """With ZSWAP_REDIS_URL set, the server starts only if that Redis answers: otherwise one line
    naming the URL and the error on stderr, and exit 2 (the first room call would fail instead)."""
    url = os.environ.get("ZSWAP_REDIS_URL", "").strip()
    if not url:
        return
    from app.web.rooms.redis_store import unreachable  # the redis package loads only then

    problem = unreachable(url)
    if problem is not None:
        sys.stderr.write(f"cannot serve: the room store ZSWAP_REDIS_URL={shown_url(url)} does not answer: {problem}\n")
        raise SystemExit(2)
