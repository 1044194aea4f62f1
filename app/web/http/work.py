"""A request's CPU work off the event loop, bounded: cache hits answer at once, misses queue.

A step nobody asked for before costs 5-20 ms of CPU (replay, view, render, gzip). Done on the
event loop, 200 such requests queued every other request behind them: a cached step waited
seconds. Here a miss runs on one of ZSWAP_WEB_RENDER_THREADS threads (default 1: the GIL lets
only one run anyway) while the loop keeps answering hits, static files and 503s; at most
ZSWAP_WEB_MAX_WAITING misses wait (default 16, about 0.2 s of work), and past that a miss gets a
fast 503 with Retry-After instead of a place at the back of a queue seconds long.
"""
from __future__ import annotations

import asyncio
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

from app.web.http import weberror

THREADS = max(1, int(os.environ.get("ZSWAP_WEB_RENDER_THREADS", "1")))
MAX_WAITING = int(os.environ.get("ZSWAP_WEB_MAX_WAITING", "16"))
RETRY_AFTER = 1

def _one_malloc_arena() -> None:
    """glibc gives each thread its own malloc arena: pages freed in the render thread's arena and
    the loop's stayed resident apart. Two arenas kept RSS about a third lower under load."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(-8, 2)  # M_ARENA_MAX
    except (OSError, AttributeError):
        pass


_one_malloc_arena()
_executor = ThreadPoolExecutor(THREADS, thread_name_prefix="render")
_waiting = 0
# The event loop asks for the GIL back after 1 ms instead of 5: a hit waits less behind a render.
sys.setswitchinterval(0.001)


async def cached_or_run(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` for a function memoised with app.model.cache.bounded_cache: from its cache on
    the event loop, else on the render thread (a 503 WebError when too many wait)."""
    hit, value = fn.cache.get(args)  # type: ignore[attr-defined]
    if hit:
        return value
    return await run(fn, *args)


async def run(fn: Callable[..., Any], *args: Any) -> Any:
    global _waiting
    if _waiting >= MAX_WAITING + THREADS:
        raise weberror.busy(RETRY_AFTER)
    _waiting += 1
    try:
        return await asyncio.get_running_loop().run_in_executor(_executor, fn, *args)
    finally:
        _waiting -= 1
