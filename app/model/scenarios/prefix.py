"""Replays that start from the replay of a prefix: a step request's parent state was almost
always replayed just before (the previous click), so the new state costs one step, not a replay
of the whole schedule. Runs are values (immutable worlds shared between a run and its
continuations), so a cached run is as good as a fresh one; a test checks that they are equal.
"""
from __future__ import annotations

from app.model.cache import BoundedCache, share
from app.model.scenarios.replay import MAX_STEPS, Run, extend, start, too_long
from app.model.scenarios.scenario import Scenario

# A run holds every world and step result of its schedule (shared with its prefixes and
# continuations, but in the worst case, schedules that diverge at once, its own): bounded in
# entries and by an estimate of 2.5 kB a step (tracemalloc: 19 kB a run at 6 steps, 58 kB at 22),
# within a share of the process's cache budget.
STEP_BYTES = 2560
MAX_RUNS = 1024
_runs = BoundedCache(MAX_RUNS, share(0.15), lambda run: 3072 + STEP_BYTES * len(run.schedule))


def clear() -> None:
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
        _found, base = _runs.get((scenario.id, code, schedule[:cut]))
        if base is None:
            cut -= 1
    if base is None:
        base, cut = start(scenario, code), 0
    run = extend(base, schedule[cut:])
    _runs.put((scenario.id, code, schedule), run)
    return run
