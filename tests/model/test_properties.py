"""Hypothesis: random valid schedules of every scenario.

Under the fixed code nothing goes wrong: no use-after-free, double free, leak,
stale writeback, NULL dereference, sleep in atomic context or deadlock. Under
the old code the weaker invariants hold: the only memory error is the
use-after-free on the trees array in shrink_memcg_cb (never on an entry:
checklist 1), and never a double free, stale writeback or deadlock. Replaying
the drawn schedule string reproduces the same final world.

Two model bugs first found this way (a false deadlock in the fixed code) are
pinned in test_regressions.py.
"""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.model.kernel.engine import ACTORS, enabled, step
from app.model.scenarios.initial import initial_world
from app.model.scenarios.replay import MAX_STEPS, all_violations, replay
from app.model.scenarios.loader import load_all
from app.model.kernel.lines import line_of
from app.model.kernel.state import World

SCENARIOS = sorted(load_all())
MEMORY = {"use-after-free", "double-free"}


def sane(world: World) -> None:
    """Model-level invariants of every reachable world."""
    for slot in world.swap.slots:
        assert slot.count >= 0, f"negative swap count: {slot}"
    assert world.swap.inuse_pages >= 0
    for entry in world.entries:
        assert entry.refcount >= 0
    done = {c.id for c in world.cpus if c.state == "done"}
    assert world.lru.lock not in done, "a finished CPU still holds the LRU lock"
    assert not any(t.lock in done for t in world.trees), "a finished CPU still holds tree->lock"
    assert not any(f.locked_by in done for f in world.folios), "a finished CPU still holds a folio lock"


def _draw_run(data, scenario_id: str, code: str) -> tuple[str, World, list]:  # type: ignore[no-untyped-def]
    s = load_all()[scenario_id]
    world = initial_world(s, code)
    schedule = ""
    seen_violations: list = []
    while len(schedule) < MAX_STEPS:
        en = enabled(world)
        if not en:
            break
        cpu = data.draw(st.sampled_from(en), label=f"cpu@{len(schedule)}")
        before = len(world.violations)
        world = step(world, cpu)
        schedule += str(cpu)
        seen_violations.extend(world.violations[before:])
        sane(world)
    return schedule, world, seen_violations


PROFILE = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=False)


@pytest.mark.parametrize("scenario_id", SCENARIOS)
@PROFILE
@given(data=st.data())
def test_new_code_never_goes_wrong(scenario_id: str, data) -> None:  # type: ignore[no-untyped-def]
    schedule, world, along = _draw_run(data, scenario_id, "new")
    assert along == [], f"{scenario_id} new {schedule}: {along}"
    assert not enabled(world), f"schedule hit the {MAX_STEPS}-step bound: {schedule}"
    final = all_violations(world)
    assert final == [], f"{scenario_id} new {schedule}: {final}"
    assert all(c.state == "done" for c in world.cpus if c.actor != "io")  # the I/O completion never finishes
    again = replay(load_all()[scenario_id], "new", schedule).world
    assert again == world and hash(again) == hash(world)


@pytest.mark.parametrize("scenario_id", SCENARIOS)
@PROFILE
@given(data=st.data())
def test_old_code_weaker_invariants(scenario_id: str, data) -> None:  # type: ignore[no-untyped-def]
    schedule, world, along = _draw_run(data, scenario_id, "old")
    final = all_violations(world)
    for v in final:
        assert v.kind not in ("double-free", "stale-writeback", "null-deref", "sleep-in-atomic", "leak"), (schedule, v)
        assert v.kind != "deadlock", (schedule, v)
        if v.kind == "use-after-free":
            obj = world.heap_object(v.object)
            assert obj.kind == "trees", f"old code dereferenced a freed {obj.kind}: {schedule} {v}"
            assert obj.free.function == "zswap_swapoff"
            assert line_of(v.step_id).function == "shrink_memcg_cb"
            # shrink_worker()'s old code, or a memcg shrinker running its very steps (issue 18)
            assert v.cpu is not None and ACTORS[world.cpu(v.cpu).actor].program == "writeback-old"
            assert world.cpu(v.cpu).state == "crashed"
    # A UAF needs swapoff: without it the old code is as safe as the new.
    if not any(c.actor == "swapoff" for c in world.cpus):
        assert [v for v in final if v.kind in MEMORY] == []
    again = replay(load_all()[scenario_id], "old", schedule).world
    assert again == world and hash(again) == hash(world)
