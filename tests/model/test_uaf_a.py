"""Spec 6.1 / checklist 1: the seed's shortest old-code path ends in UAF-A at b:883 on the trees array."""
from __future__ import annotations

import pytest

from app.model.api import build_view
from app.model.scenarios.replay import all_violations, replay
from app.model.scenarios.loader import load_all
from app.model.kernel.lines import line_of

SCENARIO = "lru-writeback-vs-swapoff"


@pytest.fixture(scope="module")
def run():  # type: ignore[no-untyped-def]
    s = load_all()[SCENARIO]
    t = next(t for t in s.tours if t.name == "uaf-a")
    assert t.code == "old"
    return replay(s, "old", t.schedule)


def test_step_o6_is_base_line_883_in_shrink_memcg_cb() -> None:
    line = line_of("O6")
    assert (line.function, line.line) == ("shrink_memcg_cb", 883)
    assert "spin_lock(&tree->lock)" in line.text


def test_exactly_one_violation_a_uaf_write_at_o6_on_the_last_step(run) -> None:  # type: ignore[no-untyped-def]
    violations = all_violations(run.world)
    assert len(violations) == 1
    v = violations[0]
    assert v.kind == "use-after-free"
    assert v.cpu == 1
    assert v.step_id == "O6"
    assert v.at == len(run.schedule) - 1
    assert v.detail.startswith("Write of size 4")
    assert "tree->lock" in v.detail
    assert run.world.cpu(1).state == "crashed"
    assert run.world.cpu(1).pc == "O6"  # a crashed CPU stays on the line that crashed


def test_the_freed_object_is_the_trees_array_not_the_entry(run) -> None:  # type: ignore[no-untyped-def]
    w = run.world
    v = all_violations(w)[0]
    obj = w.heap_object(v.object)
    assert obj is not None and obj.freed
    assert obj.kind == "trees"
    assert obj.kind != "entry" and w.entry(v.object) is None
    assert v.object == run.worlds[0].zswap_trees  # the array swapon allocated
    assert obj.free is not None
    assert obj.free.function == "zswap_swapoff"
    assert obj.free.cpu == 2
    s8 = [i for i, (cpu, step_id, _) in enumerate(run.steps) if step_id == "S8"]
    assert s8 and run.steps[s8[0]][0] == 2
    assert obj.free.step == s8[0]
    # zswap_swapoff left zswap_trees[T] NULL and the pointer CPU1 cached dangles.
    assert w.zswap_trees is None
    assert w.cpu(1).local("tree") == v.object


def test_the_entry_was_freed_earlier_and_cpu1_never_dereferenced_it(run) -> None:  # type: ignore[no-untyped-def]
    w = run.world
    entry_addr = w.cpu(1).local("entry")
    entry_obj = w.heap_object(entry_addr)
    assert entry_obj is not None and entry_obj.kind == "entry" and entry_obj.freed
    assert entry_obj.free.cpu == 2  # invalidated by swapoff's try_to_unuse, not by swapoff's teardown
    # checklist 2: swapoff does not free entries itself: E was freed via zswap_invalidate / zswap_free_entry
    assert entry_obj.free.function == "zswap_free_entry"
    # Every violation is on the trees array.
    assert all(w.heap_object(v.object).kind == "trees" for v in all_violations(w))


def test_kasan_report_text() -> None:
    s = load_all()[SCENARIO]
    t = next(t for t in s.tours if t.name == "uaf-a")
    view = build_view(SCENARIO, "old", t.schedule)
    assert len(view["violations"]) == 1
    v = view["violations"][0]
    assert v["kind"] == "use-after-free"
    assert (v["function"], v["line"], v["file"]) == ("shrink_memcg_cb", 883, "mm/zswap.c")
    assert v["cpu"] == 1
    assert v["step"] == len(t.schedule) - 1
    run = replay(s, "old", t.schedule)
    s8 = next(i for i, (cpu, step_id, _) in enumerate(run.steps) if cpu == 2 and step_id == "S8")
    assert v["free_step"] == s8
    assert v["alloc_step"] is None  # allocated by swapon, before the schedule
    report = v["report"]
    assert "BUG: KASAN: slab-use-after-free in _raw_spin_lock+0x" in report
    assert "Write of size 4" in report
    assert "Allocated by" in report
    assert "Freed by" in report
    assert "zswap_swapoff" in report
    assert report.index("Allocated by") < report.index("Freed by")
    freed_block = report[report.index("Freed by"):]
    assert "zswap_swapoff" in freed_block and "Freed by CPU2 (swapoff)" in freed_block
    assert f"at step {s8 + 1} of the schedule" in freed_block  # reports count steps from 1; JSON from 0
    assert " shrink_memcg_cb+0x" in report and "mm/zswap.c:883" in report  # the crashing line
    assert "struct zswap_tree" in report
    assert "cache zswap_entry" not in report  # the object is not a zswap_entry


def test_every_prefix_before_the_last_step_is_clean(run) -> None:  # type: ignore[no-untyped-def]
    for world in run.worlds[:-1]:
        assert world.violations == ()
