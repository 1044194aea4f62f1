"""Spec 6.7, the outcome table: each scenario under old and new code.

Schedules are built by *where each CPU is* (Driver.until / finish), then
checked to replay to the same world, so they do not depend on digit counts.
"""
from __future__ import annotations

from app.model.kernel.engine import Blocked
from app.model.scenarios.replay import all_violations, replay
from app.model.scenarios.loader import load_all


def _final(d):  # type: ignore[no-untyped-def]
    """The run is over: no CPU can move; the schedule replays to the same world."""
    from app.model.kernel.engine import enabled

    assert enabled(d.world) == [], d.schedule
    d.check_replay()
    return d.world


# --- writeback-vs-invalidate (spec 6.4) ---------------------------------------


def test_invalidate_old_code_skips_the_entry(Drv) -> None:  # type: ignore[no-untyped-def]
    d = Drv.of("writeback-vs-invalidate", "old")
    d.until(1, "O6")  # isolated, LRU lock dropped
    d.finish(2)  # process A exits: slot freed, E invalidated and freed
    assert d.world.cpu(2).result == "slot freed"
    entry = d.world.cpu(1).local("entry")
    assert d.world.heap_object(entry).freed
    d.finish(1)
    w = _final(d)
    assert all_violations(w) == []
    assert "LRU_REMOVED_RETRY" in w.cpu(1).result and "skipped" in w.cpu(1).result
    assert "O8" in d.steps_of(1)  # the pointer compare mismatched
    assert "O9" not in d.steps_of(1)  # E was never dereferenced after the free
    assert d.world.heap_object(d.world.zswap_trees) is not None and not d.world.heap_object(d.world.zswap_trees).freed


def test_invalidate_new_code_enomem_lru_retry(Drv) -> None:  # type: ignore[no-untyped-def]
    d = Drv.of("writeback-vs-invalidate", "new")
    d.until(1, "N5")
    d.finish(2)
    entry = d.world.cpu(1).local("entry")
    assert d.world.heap_object(entry).freed
    assert entry not in d.world.lru.order  # zswap_lru_del really unlinked the rotated entry
    d.finish(1)
    w = _final(d)
    assert all_violations(w) == []
    assert "LRU_RETRY" in w.cpu(1).result and "-ENOMEM" in w.cpu(1).result
    steps = d.steps_of(1)
    assert "R3" in steps and "R4" not in steps  # swap count 0: no folio (R3)
    assert not {"N8", "N9", "N10", "N11"} & set(steps)  # the tree was never touched


def test_invalidate_tours(get_tour) -> None:  # type: ignore[no-untyped-def]
    s = load_all()["writeback-vs-invalidate"]
    old = replay(s, "old", get_tour("writeback-vs-invalidate", "old-skips").schedule).world
    assert "skipped" in old.cpu(1).result and all_violations(old) == []
    new = replay(s, "new", get_tour("writeback-vs-invalidate", "new-enomem").schedule).world
    assert "-ENOMEM" in new.cpu(1).result and "LRU_RETRY" in new.cpu(1).result and all_violations(new) == []


# --- writeback-vs-swapin (spec 6.5) -------------------------------------------


def test_swapin_first_old_code_eexist_and_putback(get_tour) -> None:  # type: ignore[no-untyped-def]
    s = load_all()["writeback-vs-swapin"]
    run = replay(s, "old", get_tour("writeback-vs-swapin", "old-swapin-first").schedule)
    w = run.world
    assert all_violations(w) == []
    assert "-EEXIST" in w.cpu(1).result and "LRU_RETRY" in w.cpu(1).result
    assert w.cpu(2).result == "page faulted in"
    ids = [(c, sid) for c, sid, _ in run.steps]
    entry = run.worlds[0].entries[0].addr
    o4 = ids.index((1, "O4"))
    o19 = ids.index((1, "O19"))
    assert not run.worlds[o4 + 1].entry(entry).on_lru  # isolated ...
    assert not run.worlds[o19].entry(entry).on_lru  # ... until CPU1's putback
    assert run.worlds[o19 + 1].entry(entry).on_lru  # zswap_lru_putback: back on the LRU
    assert (2, "L8") not in ids[: o19]  # the load's relink came later, so the putback is CPU1's
    # Non-exclusive load: E stays in the tree and on the LRU; the folio stays in the swap cache.
    assert w.entry(entry).in_tree and w.entry(entry).on_lru and not w.heap_object(entry).freed


def test_swapin_first_new_code_eexist_without_touching_the_tree(Drv) -> None:  # type: ignore[no-untyped-def]
    d = Drv.of("writeback-vs-swapin", "new")
    d.until(1, "N5")
    d.until(2, "L3b")  # the fault's folio is allocated, locked and in the swap cache
    assert d.world.swapcache_folio(3).locked_by == 2
    d.finish(1)
    assert "-EEXIST" in d.world.cpu(1).result and "LRU_RETRY" in d.world.cpu(1).result
    steps = d.steps_of(1)
    assert "N7" in steps and not {"N8", "N9"} & set(steps)
    d.finish(2)
    w = _final(d)
    assert all_violations(w) == []
    assert w.cpu(2).result == "page faulted in"


def _writeback_first(Drv, code: str, got_folio: str):  # type: ignore[no-untyped-def]
    d = Drv.of("writeback-vs-swapin", code)
    d.until(1, got_folio)  # __read_swap_cache_async returned CPU1's new, locked folio
    wb_folio = d.world.cpu(1).local("folio")
    assert d.world.folio(wb_folio).locked_by == 1
    d.run(2)
    blocked = d.blocked(2)
    assert isinstance(blocked, Blocked) and blocked.kind == "sleeping"
    assert "folio_lock" in blocked.text and "CPU1" in blocked.text
    assert "L4" not in d.steps_of(2)  # found in the swap cache: no zswap_load
    d.finish(1)
    d.finish(2)
    w = _final(d)
    assert all_violations(w) == []
    assert "written back" in w.cpu(1).result and "LRU_REMOVED_RETRY" in w.cpu(1).result
    assert w.cpu(2).result == "page faulted in"
    (pte,) = w.ptes
    assert pte.offset is None and pte.folio == wb_folio  # the fault mapped CPU1's folio
    assert w.folio(wb_folio).uptodate and w.folio(wb_folio).data == "page A#1"
    entry = next(o.addr for o in w.heap if o.name == "E")  # a finished CPU keeps no locals
    assert w.heap_object(entry).freed and w.heap_object(entry).free.cpu == 1
    return d


def test_writeback_first_old_code_fault_sleeps_and_maps_the_folio(Drv) -> None:  # type: ignore[no-untyped-def]
    _writeback_first(Drv, "old", "O13")


def test_writeback_first_new_code_fault_sleeps_and_maps_the_folio(Drv) -> None:  # type: ignore[no-untyped-def]
    d = _writeback_first(Drv, "new", "N6")
    # In the new code E is freed at N17, before the unlock at N20 (checklist 18).
    entry = next(o.addr for o in d.world.heap if o.name == "E")
    assert d.world.heap_object(entry).free.step == d.position_of(1, "N17")


def test_writeback_first_tour(get_tour) -> None:  # type: ignore[no-untyped-def]
    s = load_all()["writeback-vs-swapin"]
    w = replay(s, "new", get_tour("writeback-vs-swapin", "new-writeback-first").schedule).world
    assert all_violations(w) == [] and "written back" in w.cpu(1).result and w.cpu(2).result == "page faulted in"


# --- two-shrinkers (spec 6.6) ---------------------------------------------------


def test_two_shrinkers_old_second_finds_the_lru_empty(Drv, get_tour) -> None:  # type: ignore[no-untyped-def]
    d = Drv.of("two-shrinkers", "old")
    d.until(1, "O6")
    d.finish(2)
    assert d.world.cpu(2).result == "nothing to write back (LRU empty)"
    assert not {"O1", "O6"} & set(d.steps_of(2))
    d.finish(1)
    w = _final(d)
    assert all_violations(w) == []
    assert "written back" in w.cpu(1).result
    t = get_tour("two-shrinkers", "old-isolated")
    w = replay(load_all()["two-shrinkers"], "old", t.schedule).world
    assert "LRU empty" in w.cpu(2).result and "written back" in w.cpu(1).result and all_violations(w) == []


def test_two_shrinkers_new_loser_eexist(get_tour) -> None:  # type: ignore[no-untyped-def]
    run = replay(load_all()["two-shrinkers"], "new", get_tour("two-shrinkers", "new-loser-eexist").schedule)
    w = run.world
    assert all_violations(w) == []
    assert "written back" in w.cpu(1).result
    assert "-EEXIST" in w.cpu(2).result and "LRU_RETRY" in w.cpu(2).result
    cpu2 = [sid for c, sid, _ in run.steps if c == 2]
    assert "N1" in cpu2  # both picked E: it stayed on the LRU
    assert not {"N8", "N9"} & set(cpu2)  # the loser never touched the tree


def test_two_shrinkers_new_loser_enomem_in_the_swapcache_prepare_window(Drv) -> None:  # type: ignore[no-untyped-def]
    d = Drv.of("two-shrinkers", "new")
    d.until(1, "R6")  # R5 done: SWAP_HAS_CACHE set, folio not inserted yet
    assert d.world.swap.slots[0].has_cache and d.world.swapcache_folio(3) is None
    d.finish(2)
    assert "-ENOMEM" in d.world.cpu(2).result and "LRU_RETRY" in d.world.cpu(2).result
    assert "R5" in d.steps_of(2) and "N8" not in d.steps_of(2)
    d.finish(1)
    w = _final(d)
    assert all_violations(w) == []
    assert "written back" in w.cpu(1).result


# --- slot-reuse (spec 6.4, 04fc7816089c) -----------------------------------------


def _check_reuse_backed_out(run, code: str) -> None:  # type: ignore[no-untyped-def]
    w = run.world
    assert all_violations(w) == []
    assert not [v for v in all_violations(w) if v.kind == "stale-writeback"]
    assert "-ENOMEM" in w.cpu(1).result and "LRU_RETRY" in w.cpu(1).result
    cpu1 = [sid for c, sid, _ in run.steps if c == 1]
    assert ("O15x" if code == "old" else "N10x") in cpu1
    assert "O17b" not in cpu1 and "N20" not in cpu1  # nothing was written
    slot = w.swap.slots[0]
    assert slot.owner == "B" and slot.disk == ""  # B owns slot 3 and its data was never overwritten
    e = run.worlds[0].entries[0].addr  # a finished CPU keeps no locals: take E and E2 from the heap
    e2 = next(o.addr for o in w.heap if o.name == "E2")
    assert e != e2
    assert w.heap_object(e).freed
    assert not w.heap_object(e2).freed and w.entry(e2).in_tree and w.entry(e2).on_lru
    assert w.entry(e2).data == "page B#2"


def test_slot_reuse_old_backs_out_at_o15(get_tour) -> None:  # type: ignore[no-untyped-def]
    run = replay(load_all()["slot-reuse"], "old", get_tour("slot-reuse", "old-recheck").schedule)
    _check_reuse_backed_out(run, "old")


def test_slot_reuse_new_backs_out_at_n10(get_tour) -> None:  # type: ignore[no-untyped-def]
    run = replay(load_all()["slot-reuse"], "new", get_tour("slot-reuse", "new-recheck").schedule)
    _check_reuse_backed_out(run, "new")


# --- ABA: slot-reuse-same-address (spec 6.4 step 5: must not be flagged) ----------


def _check_aba(w, d=None) -> None:  # type: ignore[no-untyped-def]
    assert all_violations(w) == []
    assert "written back" in w.cpu(1).result and "LRU_REMOVED_RETRY" in w.cpu(1).result
    assert w.cpu(1).local("entry") == w.cpu(3).local("new_entry")  # same address: ABA
    assert w.swap.slots[0].owner == "B"
    assert w.swap.slots[0].disk == "page B#2"  # the live entry's data: correct


def test_aba_new_code_tour_is_not_flagged(get_tour) -> None:  # type: ignore[no-untyped-def]
    t = get_tour("slot-reuse-same-address", "aba-is-fine")
    run = replay(load_all()["slot-reuse-same-address"], t.code, t.schedule)
    assert t.code == "new"
    _check_aba(run.world)
    assert "N11" in [sid for c, sid, _ in run.steps if c == 1]  # the recheck matched


def test_aba_old_code_is_not_flagged_either(Drv) -> None:  # type: ignore[no-untyped-def]
    d = Drv.of("slot-reuse-same-address", "old")
    d.until(1, "O6")
    d.finish(2)
    d.finish(3)
    d.finish(1)
    w = _final(d)
    _check_aba(w)
    assert "O9" in d.steps_of(1)  # O7 matched E2 at E's address


# --- break-the-fix variants ----------------------------------------------------------


def test_variant_tree_before_folio_uaf_at_v2(get_tour) -> None:  # type: ignore[no-untyped-def]
    t = get_tour("lru-writeback-vs-swapoff", "variant-tree-before-folio")
    w = replay(load_all()["lru-writeback-vs-swapoff"], t.code, t.schedule).world
    (v,) = all_violations(w)
    assert (v.kind, v.step_id, v.cpu) == ("use-after-free", "V2", 1)
    assert w.heap_object(v.object).kind == "trees"
    assert w.heap_object(v.object).free.function == "zswap_swapoff"


def test_variant_no_recheck_uaf_at_n11_on_the_entry(get_tour) -> None:  # type: ignore[no-untyped-def]
    t = get_tour("slot-reuse", "variant-no-recheck")
    w = replay(load_all()["slot-reuse"], t.code, t.schedule).world
    (v,) = all_violations(w)
    assert (v.kind, v.step_id, v.cpu) == ("use-after-free", "N11", 1)
    obj = w.heap_object(v.object)
    assert obj.kind == "entry" and obj.type == "struct zswap_entry"
    assert obj.free.cpu == 2  # freed by the exiting process's invalidation


def test_variant_no_rotate_leaks_the_entry(get_tour) -> None:  # type: ignore[no-untyped-def]
    t = get_tour("writeback-vs-swapin", "variant-no-rotate-leaks")
    w = replay(load_all()["writeback-vs-swapin"], t.code, t.schedule).world
    vs = all_violations(w)
    assert [v.kind for v in vs] == ["leak"]
    entry = w.entry(vs[0].object)
    assert entry.in_tree and not entry.on_lru and not w.heap_object(entry.addr).freed
    # The same schedule with the real fix leaks nothing.
    assert all_violations(replay(load_all()["writeback-vs-swapin"], "new", t.schedule).world) == []
