"""A replay continued from a cached prefix is the same run as a replay from the start: the same
view, the same errors at the same positions (app/model/prefix.py)."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from app.model import prefix
from app.model.replay import MAX_STEPS, ScheduleError, replay
from app.model.scenario import load_all
from app.model.view import build_run_view

SCENARIOS = load_all()


def _outcome(fn, scenario, code, t):
    try:
        return build_run_view(fn(scenario, code, t))
    except ScheduleError as e:
        return ("error", e.position, e.reason, e.valid_prefix)


@settings(max_examples=60, deadline=None)
@given(sid=st.sampled_from(sorted(SCENARIOS)), code=st.sampled_from(["old", "new"]),
       digits=st.text(alphabet="1234x", max_size=40), warm=st.integers(min_value=0, max_value=40))
def test_cached_replay_equals_replay(sid, code, digits, warm):
    s = SCENARIOS[sid]
    try:  # warm the cache with some prefix first, as the previous click would
        prefix.cached_replay(s, code, digits[:warm])
    except ScheduleError:
        pass
    assert _outcome(prefix.cached_replay, s, code, digits) == _outcome(replay, s, code, digits)


def test_the_cache_is_bounded_and_too_long_schedules_are_refused_like_replay():
    s = SCENARIOS["lru-writeback-vs-swapoff"]
    for i in range(prefix.MAX_RUNS + 50):
        try:
            prefix.cached_replay(s, "old", "1" * (i % 9) + "2" * (i // 9 % 40))
        except ScheduleError:
            pass
    info = prefix._runs.info()
    assert info["entries"] <= prefix.MAX_RUNS and info["bytes"] <= prefix._runs.max_bytes
    long = "12" * (MAX_STEPS // 2 + 5)
    assert _outcome(prefix.cached_replay, s, "old", long) == _outcome(replay, s, "old", long)
