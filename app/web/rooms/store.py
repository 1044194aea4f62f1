"""Which room store this process uses: Redis when ZSWAP_REDIS_URL is set, else in-process."""
from __future__ import annotations

import os

from app.web.rooms.core import Limits, MemoryStore, RoomStore


def make_store(limits: Limits | None = None) -> RoomStore:
    """Redis when ZSWAP_REDIS_URL is set (the package is imported only then), else in-process."""
    url = os.environ.get("ZSWAP_REDIS_URL", "").strip()
    if url:
        from app.web.rooms.redis_store import RedisStore  # the redis package loads only then
        return RedisStore(url, limits or Limits.from_env())
    return MemoryStore(limits)
