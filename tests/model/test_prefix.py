"""A replay continued from a cached prefix is the same run as a replay from the start: the same
view, the same errors at the same positions (app/model/scenarios/prefix.py)."""
from __future__ import annotations

from hypothesis import given, settings, strategies as st

from app.model.scenarios import prefix
from app.model.views import view
from app.model.kernel.engine import enabled
from app.model.scenarios.replay import MAX_STEPS, ScheduleError, replay
from app.model.scenarios.loader import load_all
from app.model.views.view import build_run_view

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


def _buttons(view):
    return [(c["id"], c["step_over"], c["run_until_blocked"]) for c in view["cpus"]]


@settings(max_examples=40, deadline=None)
@given(sid=st.sampled_from(sorted(SCENARIOS)), code=st.sampled_from(["old", "new"]),
       picks=st.lists(st.integers(min_value=0, max_value=3), min_size=8, max_size=60))
def test_a_walk_continued_from_the_parent_state_equals_a_fresh_walk(sid, code, picks):
    """"Step over" and "Run" of a state whose parent was shown just before (the stepping CPU's walk
    is the parent's less one step; another CPU's is the parent's when the step left everything it
    touches as it was: app/model/views/view.py) are those of a state shown cold."""
    s = SCENARIOS[sid]
    run = replay(s, code, "")
    t = ""
    for pick in picks:
        warm = _buttons(build_run_view(run))
        view._walks.clear()
        assert warm == _buttons(build_run_view(run))
        can = enabled(run.world)
        if not can:
            break
        t += str(can[pick % len(can)])
        run = prefix.cached_replay(s, code, t)
        build_run_view(replay(s, code, t[:-1]))  # the parent shown just before: its walks cached


@settings(max_examples=40, deadline=None)
@given(sid=st.sampled_from(sorted(SCENARIOS)), code=st.sampled_from(["old", "new"]),
       picks=st.lists(st.integers(min_value=0, max_value=3), min_size=8, max_size=60))
def test_a_view_built_after_its_parent_equals_one_built_cold(sid, code, picks):
    """The whole view of each state of a walk, built right after its parent's (the walks and the
    listings of the CPUs that did not step are reused: app/model/views/view.py), equals the view built
    with every view cache empty."""
    s = SCENARIOS[sid]
    run = replay(s, code, "")
    t = ""
    for pick in picks:
        warm = build_run_view(run)
        view.clear()
        assert warm == build_run_view(run)
        can = enabled(run.world)
        if not can:
            break
        t += str(can[pick % len(can)])
        run = prefix.cached_replay(s, code, t)
        build_run_view(replay(s, code, t[:-1]))
