"""Every tour of every scenario replays, runs to the end, and narrates every step."""
from __future__ import annotations

import pytest

from app.model.kernel.engine import enabled
from app.model.scenarios.replay import all_violations, replay
from app.model.scenarios.scenario import all_codes
from app.model.scenarios.loader import load_all

TOURS = [(s.id, t.name) for s in load_all().values() for t in s.tours]

# What each shipped tour is for: the kinds of violation it must end with (empty: none).
EXPECTED = {
    ("lru-writeback-vs-swapoff", "uaf-a"): ["use-after-free"],
    ("lru-writeback-vs-swapoff", "uaf-b"): ["use-after-free"],
    ("lru-writeback-vs-swapoff", "fixed-swapoff-sleeps"): [],
    ("lru-writeback-vs-swapoff", "fixed-enomem"): [],
    ("lru-writeback-vs-swapoff", "variant-tree-before-folio"): ["use-after-free"],
    ("slot-reuse-same-address", "aba-is-fine"): [],
    ("slot-reuse", "new-recheck"): [],
    ("slot-reuse", "old-recheck"): [],
    ("slot-reuse", "variant-no-recheck"): ["use-after-free"],
    ("two-shrinkers", "old-isolated"): [],
    ("two-shrinkers", "new-loser-eexist"): [],
    ("writeback-vs-invalidate", "old-skips"): [],
    ("writeback-vs-invalidate", "new-enomem"): [],
    ("writeback-vs-swapin", "old-swapin-first"): [],
    ("writeback-vs-swapin", "new-writeback-first"): [],
    ("writeback-vs-swapin", "variant-no-rotate-leaks"): ["leak"],
    ("two-shrinkers-vs-swapoff", "old-relinked-null-deref"): ["null-deref", "use-after-free"],
    ("two-shrinkers-vs-swapoff", "fixed-one-folio"): [],
    ("writeback-vs-swapin-vs-swapoff", "old-fault-first-eexist"): ["use-after-free"],
    ("writeback-vs-swapin-vs-swapoff", "fixed-two-sleepers"): [],
    ("walker-cursor-vs-exit", "pre-skip-reads-freed-entry"): ["use-after-free"],
    ("walker-cursor-vs-exit", "old-retry-restarts"): [],
    ("walker-cursor-vs-exit", "fixed-retry-restarts"): [],
}


def test_the_required_scenarios_and_tours_ship() -> None:
    ids = set(load_all())
    assert {
        "lru-writeback-vs-swapoff",
        "writeback-vs-invalidate",
        "writeback-vs-swapin",
        "two-shrinkers",
        "slot-reuse",
        "slot-reuse-same-address",
    } <= ids
    seed = {t.name: t.code for t in load_all()["lru-writeback-vs-swapoff"].tours}
    assert seed["uaf-a"] == "old" and seed["uaf-b"] == "old" and seed["fixed-swapoff-sleeps"] == "new"


def test_the_pinned_tours_ship() -> None:
    assert set(EXPECTED) <= set(TOURS)


@pytest.mark.parametrize("scenario_id,name", TOURS)
def test_tour_replays_to_the_end(scenario_id: str, name: str) -> None:
    s = load_all()[scenario_id]
    t = next(t for t in s.tours if t.name == name)
    assert t.code in all_codes()
    assert len(t.steps) == len(t.schedule) > 0
    assert all(note.strip() for note in t.steps)
    run = replay(s, t.code, t.schedule)
    assert len(run.worlds) == len(t.schedule) + 1
    assert len(run.steps) == len(t.schedule)
    assert enabled(run.world) == [], "a tour should end where nothing can move"
    if (scenario_id, name) in EXPECTED:
        assert sorted(v.kind for v in all_violations(run.world)) == EXPECTED[scenario_id, name]
    for cpu, _, result in run.steps:
        assert result.narration, f"a step of CPU{cpu} has no narration"


@pytest.mark.parametrize("scenario_id", sorted(load_all()))
@pytest.mark.parametrize("code", ["old", "new"])
def test_every_scenario_runs_under_both_codes(scenario_id: str, code: str) -> None:
    """Round-robin until nothing can move: both codes are runnable on every scenario."""
    s = load_all()[scenario_id]
    from app.model.scenarios.initial import initial_world
    from app.model.kernel.engine import step

    w = initial_world(s, code)
    schedule = ""
    while en := enabled(w):
        cpu = en[len(schedule) % len(en)]
        w = step(w, cpu)
        schedule += str(cpu)
        assert len(schedule) <= 500
    assert replay(s, code, schedule).world == w


def test_program_ticks_land_under_the_caller_that_ran_the_helper() -> None:
    """The exit actor lists zswap_invalidate under both of its callers (X2 and X3); a run through
    X2 ticks only the block under X2, and the crash line of uaf-a is marked exactly once."""
    from app.model.api import build_view

    view = build_view("slot-reuse", "new", "1111111" + "222222222")
    program = view["cpus"][1]["program"]
    blocks = [i for i, line in enumerate(program) if line["step"] == "I1"]
    assert len(blocks) == 2
    assert program[blocks[0]]["executed"] and not program[blocks[1]]["executed"]
    uaf = next(t for t in load_all()["lru-writeback-vs-swapoff"].tours if t.name == "uaf-a")
    cpu1 = build_view("lru-writeback-vs-swapoff", "old", uaf.schedule)["cpus"][0]["program"]
    assert [line["step"] for line in cpu1 if line["is_crash"]] == ["O6"]
    assert [line["line"] for line in cpu1 if line["is_crash"]] == [883]


def test_step_over_runs_until_the_current_kernel_function_returns() -> None:
    """From O6 (shrink_memcg_cb) it runs through zswap_writeback_entry, a plain C call, and stops
    when shrink_memcg_cb returns to the walker (K4); from O11 it stops back in shrink_memcg_cb (O18)."""
    from app.model.api import build_view

    seed = "lru-writeback-vs-swapoff"
    at_o6 = build_view(seed, "old", "1" * 8)["cpus"][0]
    after = build_view(seed, "old", "1" * 8 + at_o6["step_over"])["cpus"][0]
    assert at_o6["next"]["step"] == "O6" and after["next"]["step"] == "K4"
    at_o11 = build_view(seed, "old", "1" * 12)["cpus"][0]
    after = build_view(seed, "old", "1" * 12 + at_o11["step_over"])["cpus"][0]
    assert at_o11["next"]["step"] == "O11" and after["next"]["step"] == "O18"
    assert len(at_o11["step_over"]) < len(at_o11["run_until_blocked"])


# --- the three-CPU tours: what the third CPU adds, checked on the replayed model ----------------


def _tour_run(scenario_id: str, name: str):  # type: ignore[no-untyped-def]
    s = load_all()[scenario_id]
    t = next(t for t in s.tours if t.name == name)
    return t, replay(s, t.code, t.schedule)


def _at(run, cpu: int, step_id: str) -> int:  # type: ignore[no-untyped-def]
    """Schedule index at which ``cpu`` first executed ``step_id``."""
    return next(i for i, (c, sid, _) in enumerate(run.steps) if c == cpu and sid == step_id)


def _steps_of(run, cpu: int) -> list[str]:  # type: ignore[no-untyped-def]
    return [sid for c, sid, _ in run.steps if c == cpu]


def _sleeping(world, cpu: int) -> bool:  # type: ignore[no-untyped-def]
    from app.model.kernel.engine import Blocked, try_step

    r = try_step(world, cpu)
    return isinstance(r, Blocked) and r.kind == "sleeping"


def test_two_shrinkers_old_tour_swapoffs_load_relinks_e_and_cpu2_dereferences_null() -> None:
    from app.model.kernel.lines import line_of

    t, run = _tour_run("two-shrinkers-vs-swapoff", "old-relinked-null-deref")
    assert t.code == "old" and len({c for c in t.schedule}) == 3
    w = run.world
    e = run.worlds[_at(run, 1, "O1") + 1].cpu(1).local("entry")
    # CPU1 isolates E; swapoff's own (non-exclusive) zswap_load puts it back on the LRU while
    # CPU1 still holds it and is still inside zswap_writeback_entry.
    o4, l8 = _at(run, 1, "O4"), _at(run, 3, "L8")
    assert not run.worlds[o4 + 1].entry(e).on_lru
    assert o4 < l8 and run.worlds[l8].cpu(1).pc == "O11"
    assert not run.worlds[l8].entry(e).on_lru and run.worlds[l8 + 1].entry(e).on_lru
    # swapoff finishes: E is erased from the tree but alive (CPU1's reference) and on the LRU.
    s8, s9 = _at(run, 3, "S8"), _at(run, 3, "S9")
    after = run.worlds[s9 + 1]
    assert after.cpu(3).state == "done" and after.zswap_trees is None
    assert not after.heap_object(e).freed and after.entry(e).refcount == 1
    assert after.entry(e).on_lru and not after.entry(e).in_tree
    # The second shrinker, which could not see the isolated E, now picks that same E ...
    k1 = _at(run, 2, "K1")
    assert k1 > s9
    assert run.worlds[_at(run, 2, "O1") + 1].cpu(2).local("entry") == e
    assert run.worlds[_at(run, 2, "O3") + 1].cpu(2).local("tree") == 0  # NULL-based
    # ... and its first violation is a NULL dereference at b:883; CPU1's UAF at b:893 comes after.
    null, uaf = sorted(all_violations(w), key=lambda v: v.at)
    assert (null.kind, null.cpu, null.step_id) == ("null-deref", 2, "O6")
    assert (line_of("O6").function, line_of("O6").line) == ("shrink_memcg_cb", 883)
    assert (uaf.kind, uaf.cpu, uaf.step_id) == ("use-after-free", 1, "O18")
    assert (line_of("O18").function, line_of("O18").line) == ("shrink_memcg_cb", 893)
    assert s8 < null.at < uaf.at == len(t.schedule) - 1
    trees = w.heap_object(uaf.object)
    assert trees.kind == "trees" and trees.freed
    assert (trees.free.cpu, trees.free.step, trees.free.function) == (3, s8, "zswap_swapoff")
    assert w.cpu(1).local("wb") == "-ENOMEM"  # get_swap_device() failed after swapoff
    assert [w.cpu(c).state for c in (1, 2, 3)] == ["crashed", "crashed", "done"]


def test_two_shrinkers_fixed_tour_one_folio_turns_cpu2_away_and_holds_swapoff_off() -> None:
    t, run = _tour_run("two-shrinkers-vs-swapoff", "fixed-one-folio")
    assert t.code == "new" and len({c for c in t.schedule}) == 4  # three CPUs and the I/O completion
    w = run.world
    assert all_violations(w) == []
    assert [w.cpu(c).state for c in (1, 2, 3)] == ["done", "done", "done"]
    e = run.worlds[_at(run, 1, "N1") + 1].cpu(1).local("entry")
    # Both shrinkers pick E (rotated, still on the LRU) before either asks for a folio.
    n5 = _at(run, 1, "N5")
    assert _at(run, 2, "N4") < n5
    assert run.worlds[_at(run, 2, "N1") + 1].cpu(2).local("entry") == e
    # CPU1 owns the locked folio; swapoff sleeps on it.
    s3c = _at(run, 3, "S3c")
    folio = run.worlds[s3c + 1].swapcache_folio(3)
    assert folio is not None and folio.locked_by == 1
    assert run.worlds[s3c + 1].cpu(3).pc == "S3f" and _sleeping(run.worlds[s3c + 1], 3)
    # CPU2 finds CPU1's folio: -EEXIST, never locks a folio, never touches the tree or E.
    cpu2 = _steps_of(run, 2)
    assert "N7" in cpu2 and "R6" not in cpu2
    assert not {"N8", "N9", "N10", "N11", "N15", "N16", "N17"} & set(cpu2)
    assert run.worlds[_at(run, 2, "N22")].cpu(2).local("wb") == "-EEXIST"
    # CPU1 frees E while it still holds the folio; after the unlock (N20) it touches no tree.
    n17, n20 = _at(run, 1, "N17"), _at(run, 1, "N20")
    assert w.heap_object(e).freed and (w.heap_object(e).free.cpu, w.heap_object(e).free.step) == (1, n17)
    assert n17 < n20 < _at(run, 3, "S3f") < _at(run, 3, "S8")
    assert not {"N8", "N9", "N15"} & set(sid for c, sid, _ in run.steps[n20:] if c == 1)
    assert w.heap_object(run.worlds[0].zswap_trees).freed and w.zswap_trees is None


def test_fault_old_tour_eexist_leaves_no_folio_lock_and_swapoff_frees_the_trees() -> None:
    from app.model.kernel.lines import line_of

    t, run = _tour_run("writeback-vs-swapin-vs-swapoff", "old-fault-first-eexist")
    assert t.code == "old" and len({c for c in t.schedule}) == 3
    w = run.world
    # The fault's folio is in the swap cache before CPU1 asks for one: CPU1 gets -EEXIST and
    # never locks a folio.
    assert _at(run, 2, "R7") < _at(run, 1, "R2")
    cpu1 = _steps_of(run, 1)
    assert "O14" in cpu1 and not {"R6", "O15", "O16", "O17b"} & set(cpu1)
    assert w.cpu(1).local("wb") == "-EEXIST"
    # The fault maps the page and finishes before swapoff starts; swapoff swaps nothing in
    # itself and frees slot 3 from its sweep of the swap map (the fault's folio).
    assert _at(run, 2, "L11c") < _at(run, 3, "S1")
    cpu3 = _steps_of(run, 3)
    assert "S3d" not in cpu3 and "S3k4" in cpu3
    # The only violation: CPU1's use-after-free at b:893 on the trees array swapoff freed.
    (v,) = all_violations(w)
    assert (v.kind, v.cpu, v.step_id, v.at) == ("use-after-free", 1, "O18", len(t.schedule) - 1)
    assert (line_of("O18").function, line_of("O18").line) == ("shrink_memcg_cb", 893)
    trees = w.heap_object(v.object)
    assert trees.kind == "trees" and trees.freed
    assert (trees.free.cpu, trees.free.step) == (3, _at(run, 3, "S8"))
    e = w.cpu(1).local("entry")
    assert not w.heap_object(e).freed and w.entry(e).refcount == 1 and not w.entry(e).in_tree
    assert [w.cpu(c).state for c in (1, 2, 3)] == ["crashed", "done", "done"]


def test_fault_fixed_tour_the_fault_and_swapoff_both_sleep_on_the_writeback_folio() -> None:
    t, run = _tour_run("writeback-vs-swapin-vs-swapoff", "fixed-two-sleepers")
    assert t.code == "new" and len({c for c in t.schedule}) == 4  # three CPUs and the I/O completion
    w = run.world
    assert all_violations(w) == []
    assert [w.cpu(c).state for c in (1, 2, 3)] == ["done", "done", "done"]
    # Just before CPU1 unlocks its folio, the fault and swapoff both sleep on it.
    n20 = _at(run, 1, "N20")
    before = run.worlds[n20]
    folio = before.swapcache_folio(3)
    assert folio is not None and folio.locked_by == 1
    assert (before.cpu(2).pc, before.cpu(3).pc) == ("L11a", "S3f")
    assert _sleeping(before, 2) and _sleeping(before, 3)
    # swapoff gets the lock first and then sleeps on the write I/O; the fault waits for the lock.
    s3f = _at(run, 3, "S3f")
    assert n20 < s3f < _at(run, 4, "W1")  # the write completes on the I/O completion (CPU4)
    locked = run.worlds[s3f + 1]
    assert locked.swapcache_folio(3).locked_by == 3 and locked.swapcache_folio(3).writeback
    assert _sleeping(locked, 2) and _sleeping(locked, 3) and locked.cpu(3).pc == "S3g"
    # CPU1 has validated, written back and freed E before it unlocked the folio.
    e = run.worlds[_at(run, 1, "N1") + 1].cpu(1).local("entry")
    assert (w.heap_object(e).free.cpu, w.heap_object(e).free.step) == (1, _at(run, 1, "N17"))
    assert _at(run, 1, "N17") < n20
    assert not {"N8", "N9", "N15"} & set(sid for c, sid, _ in run.steps[n20:] if c == 1)
    # swapoff maps the page; the fault's device pin holds swapoff in wait_for_completion until
    # the fault, finding its PTE already resolved, finishes.
    assert _at(run, 3, "S3h") < _at(run, 2, "L11b")
    assert "L4" not in _steps_of(run, 2)  # the fault never loaded from zswap
    s5b = _at(run, 3, "S5b")
    assert 2 in run.worlds[s5b + 1].swap.refs and _sleeping(run.worlds[s5b + 1], 3)
    assert s5b < _at(run, 2, "L11c") < _at(run, 3, "S5c") < _at(run, 3, "S8")
    assert w.ptes[0].folio == folio.addr  # process A maps the written-back folio
    assert w.heap_object(run.worlds[0].zswap_trees).freed and w.zswap_trees is None
