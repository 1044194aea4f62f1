"""The checkers fire: each "never happens" in test_properties could fail.

These build worlds the shipped scenarios cannot reach (by dataclasses.replace on
a real world) and check the engine reports the right violation.
"""
from __future__ import annotations

from dataclasses import replace

from app.model.kernel.engine import Blocked, try_step
from app.model.scenarios.replay import final_violations


def test_stale_writeback_is_detected(Drv) -> None:  # type: ignore[no-untyped-def]
    d = Drv.of("writeback-vs-invalidate", "new")
    d.until(1, "N20")  # the folio holds A's page, about to be written to slot 3
    w = d.world
    (slot,) = w.swap.slots
    reused = replace(w, swap=replace(w.swap, slots=(replace(slot, owner="B", gen=slot.gen + 1),)))
    r = try_step(reused, 1)
    assert not isinstance(r, Blocked)
    (v,) = r.world.violations
    assert v.kind == "stale-writeback" and v.step_id == "N20" and v.cpu == 1
    assert "page A#1" in v.detail and "page B#2" in v.detail
    # The untouched world writes the right data without complaint.
    ok = try_step(w, 1)
    assert ok.world.violations == () and ok.world.swap.slots[0].disk == "page A#1"


def test_sleep_while_holding_a_spinlock_is_detected(Drv) -> None:  # type: ignore[no-untyped-def]
    d = Drv.of("writeback-vs-invalidate", "new")
    d.until(1, "N13")  # __zswap_load may sleep; normally tree->lock was released at N12
    w = d.world
    tree = w.trees[0]
    locked = replace(w, trees=(replace(tree, lock=1),))
    r = try_step(locked, 1)
    assert not isinstance(r, Blocked)
    (v,) = r.world.violations
    assert v.kind == "sleep-in-atomic" and v.step_id == "N13"
    assert r.world.cpu(1).state == "crashed"


def test_null_zswap_trees_is_detected_at_the_first_access(Drv) -> None:  # type: ignore[no-untyped-def]
    d = Drv.of("writeback-vs-invalidate", "old")
    d.until(1, "O3")
    w = replace(d.world, zswap_trees=None)
    for _ in ("O3", "O4", "O5"):  # computing &trees[i] from NULL is not an access
        r = try_step(w, 1)
        assert not isinstance(r, Blocked) and r.world.violations == ()
        w = r.world
    assert w.cpu(1).pc == "O6"
    r = try_step(w, 1)
    (v,) = r.world.violations
    assert v.kind == "null-deref" and v.step_id == "O6" and v.cpu == 1
    assert r.world.cpu(1).state == "crashed"


def test_deadlock_is_detected(Drv) -> None:  # type: ignore[no-untyped-def]
    d = Drv.of("two-shrinkers", "new")
    d.step(1)  # K1: CPU1 holds the LRU lock
    w = d.world
    gone = replace(w, cpus=(replace(w.cpu(1), state="done", pc=None), w.cpu(2)))  # ... and "finishes" holding it
    r = try_step(gone, 2)
    assert isinstance(r, Blocked) and r.kind == "waiting" and "LRU lock" in r.text
    (v,) = final_violations(gone)
    assert v.kind == "deadlock" and v.cpu == 2


def test_entry_leak_is_detected(Drv) -> None:  # type: ignore[no-untyped-def]
    d = Drv.of("writeback-vs-invalidate", "new")
    d.finish(2)  # slot freed, E freed: a clean end for CPU2
    d.finish(1)
    w = d.world
    assert final_violations(w) == []
    e = w.entries[0]
    obj = w.heap_object(e.addr)
    # Resurrect E as allocated but reachable from nothing.
    leaked = replace(
        w,
        heap=tuple(replace(o, freed=False) if o.addr == e.addr else o for o in w.heap),
        entries=(replace(e, in_tree=False, on_lru=False, refcount=1),),
    )
    assert obj.freed
    (v,) = final_violations(leaked)
    assert v.kind == "leak" and v.object == e.addr


def test_touching_freed_memory_stops_the_cpu(Drv) -> None:  # type: ignore[no-untyped-def]
    d = Drv.of("writeback-vs-invalidate", "new")
    d.until(1, "N11")  # entry validated under tree->lock
    w = d.world
    e = w.cpu(1).local("entry")
    freed = replace(w, heap=tuple(replace(o, freed=True) if o.addr == e else o for o in w.heap))
    r = try_step(freed, 1)
    (v,) = r.world.violations
    # entry->refcount++ loads the field first: a 4-byte read at offset 32, inside zswap_entry_get
    assert v.kind == "use-after-free" and v.object == e and v.detail.startswith(f"Read of size 4 at {e + 32:#x}")
    assert v.frames == ("zswap_entry_get",)
    assert r.world.cpu(1).state == "crashed" and r.world.cpu(1).pc == "N11"
