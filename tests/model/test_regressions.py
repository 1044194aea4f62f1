"""Regressions for model bugs found by exhaustive exploration of every interleaving (fixed in c8b52b9).

Both used to end in a false "deadlock" of the *fixed* code.
"""
from __future__ import annotations

from app.model.kernel.engine import enabled, step
from app.model.scenarios.replay import all_violations, replay
from app.model.scenarios.loader import load_all

# writeback-vs-swapin-vs-swapoff, code=new: CPU3's swapoff picks process A's PTE at S3c and then
# sleeps in S3f on the fault's folio; CPU2's fault maps the PTE (L11b: count 1 -> 0) and unlocks.
# unuse_pte (S3h) must see that the PTE no longer holds the swap entry (pte_same) and not
# swap_free the slot a second time (count -1 made try_to_unuse loop forever).
PTE_SAME = "111111111222222222211111111122222222222333332233333333"

# slot-reuse, code=new: CPU1 writes E back while process A exits (CPU2): the exit's folio_trylock
# fails on CPU1's folio, so slot 3 stays with SWAP_HAS_CACHE and no user. The store actor (CPU3),
# pinned to slot 3, used to wait at T1 forever.
ORPHAN_FOLIO = "111111111111111111111111111111112224111111"  # CPU4: the write I/O completes


def _finish(world):  # type: ignore[no-untyped-def]
    worlds = [world]
    while en := enabled(world):
        world = step(world, en[0])
        worlds.append(world)
    return worlds


def test_swapoff_does_not_swap_free_a_pte_the_fault_already_mapped() -> None:
    run = replay(load_all()["writeback-vs-swapin-vs-swapoff"], "new", PTE_SAME)
    steps = [(c, sid) for c, sid, _ in run.steps]
    assert steps.index((3, "S3c")) < steps.index((2, "L11b")) < steps.index((3, "S3h"))
    worlds = list(run.worlds) + _finish(run.world)[1:]
    assert all(slot.count >= 0 for w in worlds for slot in w.swap.slots)
    final = worlds[-1]
    assert all_violations(final) == []
    assert final.cpu(3).result == "swapoff returned 0"
    assert final.swap.inuse_pages == 0
    (pte,) = final.ptes
    assert pte.offset is None and pte.folio is not None  # mapped once, by the fault


def test_store_does_not_wait_forever_on_an_orphaned_swapcache_folio() -> None:
    run = replay(load_all()["slot-reuse"], "new", ORPHAN_FOLIO)
    assert "written back" in run.world.cpu(1).result
    assert "not freed" in run.world.cpu(2).result
    final = _finish(run.world)[-1]
    assert all_violations(final) == []
    assert all(c.state == "done" for c in final.cpus if c.actor != "io")  # the I/O completion never finishes
