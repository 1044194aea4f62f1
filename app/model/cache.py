"""Memoisation bounded in entries and in bytes: an LRU for values whose sizes vary.

functools.lru_cache bounds entries only; a cached view or page grows with its schedule (a view
of 20 steps holds about 100 kB, one of 40 steps 140 kB), so a cache sized by entries alone grew
to hundreds of MB under random schedules. Every cache of the model and of the web layer takes
its share of one budget, ZSWAP_CACHE_MB (default 64) per process.
"""
from __future__ import annotations

import functools
import os
import sys
import threading
import weakref
from collections import OrderedDict
from typing import Any, Callable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

BUDGET = int(float(os.environ.get("ZSWAP_CACHE_MB", "64")) * (1 << 20))


# Every share taken (a test holds their sum to the whole budget).
SHARES: list[float] = []
# Every cache made (tests measure each against what it holds).
EVERY: "weakref.WeakSet[BoundedCache]" = weakref.WeakSet()


def share(fraction: float) -> int:
    """``fraction`` of the process's cache budget, in bytes."""
    SHARES.append(fraction)
    return int(BUDGET * fraction)


def text_size(value: Any) -> int:
    """Bytes held by a str or bytes value (a str of non-ASCII text takes 2 or 4 bytes a character)."""
    return sys.getsizeof(value)


def deep_size(value: Any) -> int:
    """Bytes held by the containers of a JSON-shaped value (dicts, lists, tuples), each once: a
    verdict with its stories is hundreds of small dicts, which weigh two to three times their JSON.
    Strings and numbers are left out: a cached verdict shares them with the model's own."""
    seen: set[int] = set()
    total = 0
    stack = [value]
    while stack:
        obj = stack.pop()
        if not isinstance(obj, (dict, list, tuple)) or id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, dict):
            total += sys.getsizeof(obj)
            stack.extend(obj.values())
        elif isinstance(obj, (list, tuple)):
            total += sys.getsizeof(obj)
            stack.extend(obj)
    return total


# What an entry costs besides its key and value: the map's node and the (value, size) pair.
ENTRY_BYTES = 120


def key_size(key: Any) -> int:
    """Bytes held by a key: a tuple and its strings (a pane's key is the repr of its inputs, often
    larger than the pane's HTML). Numbers, None and shared records are left out."""
    if isinstance(key, (str, bytes)):
        return sys.getsizeof(key)
    if isinstance(key, tuple):
        return sys.getsizeof(key) + sum(sys.getsizeof(k) for k in key if isinstance(k, (str, bytes)))
    return 0


class BoundedCache:
    """An LRU map bounded by ``max_entries`` and by the sum of each entry's bytes: ``size(value)``,
    its key's and the map's own (ENTRY_BYTES)."""

    def __init__(self, max_entries: int, max_bytes: int, size: Callable[[Any], int]) -> None:
        self.max_entries, self.max_bytes, self.size = max_entries, max_bytes, size
        self._data: OrderedDict[Any, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = self.misses = 0
        EVERY.add(self)

    def get(self, key: Any) -> tuple[bool, Any]:
        with self._lock:
            found = self._data.get(key)
            if found is None:
                self.misses += 1
                return False, None
            self._data.move_to_end(key)
            self.hits += 1
            return True, found[0]

    def put(self, key: Any, value: Any) -> None:
        n = self.size(value) + key_size(key) + ENTRY_BYTES
        if self.max_entries <= 0 or n > self.max_bytes:
            return
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._data[key] = (value, n)
            self._bytes += n
            while len(self._data) > self.max_entries or self._bytes > self.max_bytes:
                _, (_, dropped) = self._data.popitem(last=False)
                self._bytes -= dropped

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._bytes = 0

    def info(self) -> dict[str, int]:
        return {"entries": len(self._data), "bytes": self._bytes, "hits": self.hits, "misses": self.misses}


def bounded_cache(max_entries: int, max_bytes: int, size: Callable[[Any], int] = text_size) -> Callable[[F], F]:
    """Memoise a function of hashable positional arguments (exceptions are not cached), like
    functools.lru_cache, within ``max_entries`` and ``max_bytes``; adds ``cache_clear`` and
    ``cache_info``."""

    def wrap(fn: F) -> F:
        cache = BoundedCache(max_entries, max_bytes, size)

        @functools.wraps(fn)
        def cached(*args: Any) -> Any:
            hit, value = cache.get(args)
            if hit:
                return value
            value = fn(*args)
            cache.put(args, value)
            return value

        cached.cache_clear = cache.clear  # type: ignore[attr-defined]
        cached.cache_info = cache.info  # type: ignore[attr-defined]
        cached.cache = cache  # type: ignore[attr-defined]
        return cached  # type: ignore[return-value]

    return wrap
