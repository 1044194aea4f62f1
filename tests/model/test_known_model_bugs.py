"""Model bugs found by exhaustive exploration, pinned as strict xfails with exact reproductions.

When the model is fixed these XPASS and fail: remove the marker here and the
matching filter in test_properties.known_model_bug.
"""
from __future__ import annotations

import pytest

from app.model.engine import enabled
from app.model.replay import all_violations, replay
from app.model.scenario import load_all

# writeback-vs-swapin-vs-swapoff, code=new: CPU2's fault maps slot 3 (L11b: count 1 -> 0) while
# CPU3's swapoff already picked the same PTE at S3c and sleeps in S3f; after the fault unlocks,
# swapoff's unuse_pte (S3h) maps the PTE again without the kernel's pte_same check and swap_free()s
# the slot a second time: count -1. inuse_pages never reaches 0 and try_to_unuse loops forever,
# reported as a "deadlock" of the fixed code.
PTE_SAME = "111111111222222222211111111122222222222333332233333333"

# slot-reuse, code=new: CPU1 writes E back while process A exits (CPU2): the exit's folio_trylock
# fails on CPU1's folio, so slot 3 stays with SWAP_HAS_CACHE and no user. Nothing ever drops that
# clean folio from the swap cache, the store actor (CPU3) is pinned to slot 3 and waits at T1 forever:
# reported as a "deadlock" of the fixed code although no kernel lock is involved.
ORPHAN_FOLIO = "111111111111111111111111111111112221111111"


@pytest.mark.xfail(strict=True, reason="model bug: S3h (unuse_pte) lacks the pte_same re-check; swap count goes to -1")
def test_swapoff_does_not_free_a_pte_the_fault_already_mapped() -> None:
    run = replay(load_all()["writeback-vs-swapin-vs-swapoff"], "new", PTE_SAME)
    assert all(slot.count >= 0 for w in run.worlds for slot in w.swap.slots)


@pytest.mark.xfail(strict=True, reason="model bug: S3h double swap_free leaves swapoff looping: false deadlock in new code")
def test_swapoff_completes_after_a_concurrent_fault() -> None:
    run = replay(load_all()["writeback-vs-swapin-vs-swapoff"], "new", PTE_SAME)
    assert enabled(run.world) == []
    assert all_violations(run.world) == []
    assert run.world.cpu(3).result == "swapoff returned 0"


def test_pte_same_repro_is_what_it_says() -> None:
    """Guard for the xfails above: the schedule still reaches the buggy state (not some other failure)."""
    run = replay(load_all()["writeback-vs-swapin-vs-swapoff"], "new", PTE_SAME)
    steps = [(c, sid) for c, sid, _ in run.steps]
    assert steps.index((2, "L11b")) < steps.index((3, "S3h"))
    assert steps.index((3, "S3c")) < steps.index((2, "L11b"))
    assert [v.kind for v in all_violations(run.world)] == ["deadlock"]
    assert run.world.cpu(3).pc == "S3l"


@pytest.mark.xfail(strict=True, reason="model bug: store waits forever at T1 for a slot held by an orphaned clean swap-cache folio")
def test_slot_reuse_never_deadlocks_in_the_fixed_code() -> None:
    run = replay(load_all()["slot-reuse"], "new", ORPHAN_FOLIO)
    assert enabled(run.world) == []
    assert [v for v in all_violations(run.world) if v.kind == "deadlock"] == []


def test_orphan_folio_repro_is_what_it_says() -> None:
    run = replay(load_all()["slot-reuse"], "new", ORPHAN_FOLIO)
    w = run.world
    assert "written back" in w.cpu(1).result
    assert "not freed" in w.cpu(2).result
    assert w.cpu(3).pc == "T1"
    slot = w.swap.slots[0]
    assert slot.count == 0 and slot.has_cache
    assert [v.kind for v in all_violations(w)] == ["deadlock"]
