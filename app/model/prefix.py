"""Replays that start from the replay of a prefix: a step request's parent state was almost
always replayed just before (the previous click), so the new state costs one step, not a replay
of the whole schedule. Runs are values (immutable worlds shared between a run and its
continuations), so a cached run is as good as a fresh one; a test checks that they are equal.
"""
from __future__ import annotations

import threading
from collections import OrderedDict

from .replay import MAX_STEPS, Run, extend, start, too_long
from .scenario import Scenario

# Bounded in entries; a run holds two tuples of references (to shared worlds and step results),
# at most MAX_STEPS long: about 8 kB each at the limit, so at most about 16 MB for the cache.
MAX_RUNS = 2048

_runs: OrderedDict[tuple[str, str, str], Run] = OrderedDict()
_lock = threading.Lock()


def _get(key: tuple[str, str, str]) -> Run | None:
    with _lock:
        run = _runs.get(key)
        if run is not None:
            _runs.move_to_end(key)
        return run


def _put(key: tuple[str, str, str], run: Run) -> None:
    with _lock:
        _runs[key] = run
        _runs.move_to_end(key)
        while len(_runs) > MAX_RUNS:
            _runs.popitem(last=False)


def clear() -> None:
    with _lock:
        _runs.clear()


def cached_replay(scenario: Scenario, code: str, schedule: str) -> Run:
    """replay(scenario, code, schedule), continued from the longest cached prefix of the
    schedule (the parent, usually). Raises the same ScheduleError as replay()."""
    if len(schedule) > MAX_STEPS:
        cached_replay(scenario, code, schedule[:MAX_STEPS])
        raise too_long(schedule)
    cut = len(schedule)
    base = None
    # The parent is usually cached; give up after a few misses rather than hash every prefix.
    while cut >= 0 and base is None and len(schedule) - cut <= 8:
        base = _get((scenario.id, code, schedule[:cut]))
        if base is None:
            cut -= 1
    if base is None:
        base, cut = start(scenario, code), 0
    run = extend(base, schedule[cut:])
    _put((scenario.id, code, schedule), run)
    return run
