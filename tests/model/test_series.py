"""The whole series (issue 25): the code before patch 1/3, the walker's cursor, walker-cursor-vs-exit.

Patch 1/3 (27d3969b47cc, mm/zswap.c 00e90b9b5417..81cb3790e0dd, one hunk @@ -901,10 +901,8 @@)
removed `ret = LRU_SKIP;` from the -EEXIST branch the memcg shrinker takes: with the LRU lock
dropped, __list_lru_walk_one() went on from the cursor n that list_for_each_safe() read before
the callback. Before 1/3 the explorer finds that read on a freed entry; after 1/3 (old) and after
2/3 (new) nothing reaches it.
"""
from __future__ import annotations

import pytest

from app.model.explorer.explore import explore, verdict
from app.model.explorer.symmetry import classes
from app.model.kernel.engine import ACTORS, step
from app.model.kernel.lines import line_of
from app.model.kernel.state import evolve
from app.model.scenarios.initial import initial_world
from app.model.scenarios.loader import load_all
from app.model.scenarios.replay import all_violations, replay
from app.model.scenarios.scenario import SERIES, ScenarioFileError, all_codes, parse_scenario
from app.model.views.reports import report

SCENARIO = "walker-cursor-vs-exit"
PRE = "pre-lru-skip-fix"
LRU_NEXT = 64  # offsetof(struct zswap_entry, lru), and list_head.next is its first word


@pytest.fixture(scope="module")
def scenario():  # type: ignore[no-untyped-def]
    return load_all()[SCENARIO]


def _entry(world, name):  # type: ignore[no-untyped-def]
    return next(o for o in world.heap if o.name == name)


def test_the_series_is_three_kernel_codes() -> None:
    assert SERIES == (PRE, "old", "new")
    assert set(SERIES) <= set(all_codes())


def test_before_1_3_the_walker_reads_the_freed_entry_f(scenario) -> None:  # type: ignore[no-untyped-def]
    """The explorer's one group: a use-after-free in __list_lru_walk_one at K2 (the loop's
    increment), a read of F's lru.next; its shortest schedule replays to exactly that."""
    r = verdict(scenario, PRE)
    assert r["complete"]
    assert [(v["kind"], v["step_id"], v["function"], v["file"]) for v in r["violations"]] == [
        ("use-after-free", "K2", "__list_lru_walk_one", "mm/list_lru.c")]
    group = r["violations"][0]
    assert group["detail"].startswith("Read of size 8 at ") and group["detail"].endswith(
        ": entry->lru.next (struct zswap_entry)")
    run = replay(scenario, PRE, group["shortest"])
    [v] = all_violations(run.world)
    f = _entry(run.world, "F")
    assert (v.kind, v.cpu, v.step_id, v.object) == ("use-after-free", 1, "K2", f.addr)
    assert f.freed and f.free.cpu == 2 and f.free.function == "zswap_free_entry"
    assert v.detail.startswith(f"Read of size 8 at {f.addr + LRU_NEXT:#x}")
    # it got there through LRU_SKIP, returned by the step 1/3 removed
    cpu1 = [sid for cpu, sid, _ in run.steps if cpu == 1]
    assert cpu1[-4:] == ["O22", "O23", "K4", "K2"] and "O19s" in cpu1


@pytest.mark.parametrize("code", ["old", "new"])
def test_after_1_3_and_after_2_3_no_schedule_reads_a_freed_entry(scenario, code) -> None:  # type: ignore[no-untyped-def]
    r = verdict(scenario, code)
    assert r["complete"] and r["complete_runs"] > 0
    assert r["violations"] == []


def test_the_report_is_a_kasan_slab_use_after_free_in_the_walker(scenario) -> None:  # type: ignore[no-untyped-def]
    t = next(t for t in scenario.tours if t.name == "pre-skip-reads-freed-entry")
    run = replay(scenario, t.code, t.schedule)
    [v] = all_violations(run.world)
    text = report(run.world, v)
    lines = text.splitlines()
    f = _entry(run.world, "F")
    assert lines[1] == "BUG: KASAN: slab-use-after-free in __list_lru_walk_one+0x?/0x? mm/list_lru.c:?"
    assert lines[2] == f"Read of size 8 at addr {f.addr + LRU_NEXT:016x} by task kswapd0/77"
    trace = text.split("Call Trace:")[1].split("</TASK>")[0]
    assert trace.index("__list_lru_walk_one") < trace.index("list_lru_walk_one+") < trace.index("zswap_shrinker_scan")
    assert "shrink_memcg_cb" not in trace  # the callback has returned: the walker itself reads
    assert "which belongs to the cache zswap_entry of size 80" in text
    assert "The buggy address is located 64 bytes inside of" in text
    assert "zswap_invalidate" in text.split("Freed by task")[1]


def test_the_cursor_is_read_before_the_callback_and_dropped_at_restart(scenario) -> None:  # type: ignore[no-untyped-def]
    w = initial_world(scenario, "old")
    e, f = _entry(w, "E"), _entry(w, "F")
    w = step(step(w, 1), 1)  # K1, K2
    assert w.cpu(1).pc == "K3"
    assert (w.cpu(1).local("item"), w.cpu(1).local("n")) == (e.addr, f.addr + LRU_NEXT)
    t = next(t for t in scenario.tours if t.name == "old-retry-restarts")
    run = replay(scenario, "old", t.schedule)
    k4 = [i for i, (cpu, sid, _) in enumerate(run.steps) if cpu == 1 and sid == "K4"]
    after_restart = run.worlds[k4[0] + 1].cpu(1)
    assert after_restart.local("n") is None  # goto restart: the old cursor is dead


def test_the_cursor_read_at_the_start_is_a_checked_access(scenario) -> None:  # type: ignore[no-untyped-def]
    """`n = item->next` at the loop's start reads the head entry: on a live entry (under the LRU
    lock, always, in the shipped code) it is silent; on freed memory KASAN would report it. A world
    the kernel cannot reach (E freed but still listed) shows the read is checked."""
    w = initial_world(scenario, "old")
    assert all_violations(step(step(w, 1), 1)) == []
    fresh = initial_world(scenario, "old")  # no index cached on it yet
    e = _entry(fresh, "E")
    heap = tuple(evolve(o, freed=True) if o.addr == e.addr else o for o in fresh.heap)
    broken = evolve(fresh, heap=heap, part_hashes=())
    after = step(step(broken, 1), 1)
    [v] = all_violations(after)
    assert (v.kind, v.step_id, v.object) == ("use-after-free", "K2", e.addr)
    assert v.detail == f"Read of size 8 at {e.addr + LRU_NEXT:#x}: entry->lru.next (struct zswap_entry)"


def test_before_1_3_shrink_worker_runs_the_old_code() -> None:
    """shrink_memcg() passes NULL: only the memcg shrinker takes the LRU_SKIP branch, and the
    shrink_worker path is the old code's, with its lines renumbered (the seed's verdict moves from
    b:925-926 to p:927-928 and keeps every count)."""
    pre = ACTORS[f"writeback-{PRE}"]
    assert (pre.overrides, pre.callback, pre.blob) == ((), "O1", "p")
    assert dict(ACTORS[f"shrinker-{PRE}"].overrides) == {"O19": "O19p"}
    s = load_all()["lru-writeback-vs-swapoff"]
    old, before = verdict(s, "old"), verdict(s, PRE)
    assert before["states"] == old["states"] and before["complete_runs"] == old["complete_runs"]
    relabel = {"b:883": "p:883", "b:884": "p:884", "b:893": "p:893", "b:925-926": "p:927-928"}
    assert sorted((v["kind"], v["step_id"], relabel[v["line_label"]], v["count"]) for v in old["violations"]) == \
        sorted((v["kind"], v["step_id"], v["line_label"], v["count"]) for v in before["violations"])


def test_before_1_3_the_two_shrinkers_are_not_interchangeable() -> None:
    """The memcg shrinker's callback gets an arg and runs a step of its own: no symmetry."""
    s = load_all()["two-shrinkers"]
    assert classes(initial_world(s, "old")) != ()
    assert classes(initial_world(s, PRE)) == ()
    assert explore(s, PRE).symmetric == ()


def test_lines_before_1_3_are_renumbered_through_the_hunk() -> None:
    """@@ -901,10 +901,8 @@: the same before the hunk, two higher after it."""
    assert line_of("O6", "p").label == "p:883" and line_of("O6", "p").line == 883
    assert line_of("O19", "p").label == "p:894-909"
    assert (line_of("O22", "p").label, line_of("O22", "p").line) == ("p:927-928", 928)
    assert (line_of("O11", "p").label, line_of("O11", "p").line) == ("p:1415", 1415)
    assert line_of("O22").label == "b:925-926"  # the base is untouched
    assert line_of("N10", "p").label == "f:1418"  # only b: lines belong to that blob
    skip = line_of("O19s", "p")
    assert (skip.text, skip.line, skip.label, skip.verified) == ("ret = LRU_SKIP;", 905, "p:905-909", True)


def test_a_faulted_in_slot_needs_non_exclusive_loads(scenario) -> None:  # type: ignore[no-untyped-def]
    text = scenario.source.replace("[world]", "[world]\nexclusive_loads = true")
    with pytest.raises(ScenarioFileError, match=r"world.entries\[0\]: slot 3 was faulted in"):
        parse_scenario(text, "x.toml")


def test_a_faulted_in_slot_starts_in_the_swap_cache(scenario) -> None:  # type: ignore[no-untyped-def]
    w = initial_world(scenario, "old")
    [folio] = w.folios
    assert (folio.offset, folio.in_swapcache, folio.locked_by, folio.uptodate, folio.refs) == (3, True, None, True, 2)
    assert (w.slot(3).count, w.slot(3).has_cache, w.slot(5).count) == (0, True, 1)
    assert [(p.process, p.offset, p.folio) for p in w.ptes] == [("A", None, folio.addr), ("B", 5, None)]
    assert w.swap.inuse_pages == 2


def test_the_new_violation_has_its_story_and_diagram(scenario) -> None:  # type: ignore[no-untyped-def]
    """The story (app/model/views/story.py) of the walker's read: the cursor cached by K2, F freed
    by process B's exit in zswap_invalidate(), the read of F's lru.next as the UAF line."""
    from app.model.api import build_view
    from app.model.views.diagram import commit_diagram

    t = next(t for t in scenario.tours if t.name == "pre-skip-reads-freed-entry")
    view = build_view(SCENARIO, PRE, t.schedule)
    told = view["story"]
    crash = max(i for i, e in enumerate(view["events"]) if e["cpu"] == 1)  # CPU1's read; CPU2 goes on after it
    assert told["title"] == f"use-after-free of F in __list_lru_walk_one, step {crash + 1}"
    assert told["legend"].startswith("n cached at __list_lru_walk_one()")
    roles = {int(i): role for i, role in told["roles"].items()}
    steps = [e["step"] for e in view["events"]]
    assert roles[1] == "cache" and steps[1] == "K2"  # n = item->next, before the callback
    assert roles[crash] == "access" and steps[crash] == "K2"
    freed = [i for i, role in roles.items() if role == "free"]
    assert [steps[i] for i in freed] == ["I4"] and view["events"][freed[0]]["cpu"] == 2
    rows = [(r["cpu"], r["role"], r["text"]) for r in told["rows"]]
    assert rows[-2:] == [(1, "comment", "// UAF"), (1, "access", "list_for_each_safe(item, n, &l->list)")]
    assert (2, "call", "zswap_invalidate") in rows
    text = commit_diagram(view)
    assert text.splitlines()[0] == told["title"]
    assert "// UAF" in text and "list_for_each_safe(item, n, &l->list)" in text and "zswap_invalidate" in text
