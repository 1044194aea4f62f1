"""Spec 6.3 (b') and checklist 3/4/5/7: in the fixed code swapoff sleeps on the writeback folio.

CPU2 (swapoff) sleeps in folio_lock on the folio CPU1 allocated and locked,
stays asleep until CPU1's __swap_writepage (N20) unlocks it, then sleeps in
folio_wait_writeback until the I/O completes (W1, on the I/O completion CPU3). Before N20, CPU2 cannot
reach S8 (kvfree(trees)) whatever is scheduled.
"""
from __future__ import annotations

from collections import deque

import pytest

from app.model.kernel.engine import Blocked, enabled, step, try_step
from app.model.scenarios.initial import initial_world
from app.model.scenarios.replay import all_violations, replay
from app.model.scenarios.loader import load_all

SCENARIO = "lru-writeback-vs-swapoff"

# Steps of W-new during which CPU1 may touch the tree or the entry (spec 5: N8..N18).
TREE_WINDOW = {"N8", "N9", "N10", "N10x", "N11", "N12", "N13", "N14", "N15", "N16", "N17", "N18"}


@pytest.fixture(scope="module")
def run():  # type: ignore[no-untyped-def]
    s = load_all()[SCENARIO]
    t = next(t for t in s.tours if t.name == "fixed-swapoff-sleeps")
    assert t.code == "new"
    return replay(s, "new", t.schedule)


def _first(run, cpu, step_id):  # type: ignore[no-untyped-def]
    return next(i for i, (c, sid, _) in enumerate(run.steps) if c == cpu and sid == step_id)


def test_swapoff_sleeps_in_folio_lock_on_cpu1s_folio_until_n20(run) -> None:  # type: ignore[no-untyped-def]
    n20 = _first(run, 1, "N20")
    asleep = []
    for k in range(n20 + 1):  # worlds[k] = state before schedule position k
        w = run.worlds[k]
        if w.cpu(2).pc != "S3f":
            continue
        r = try_step(w, 2)
        assert isinstance(r, Blocked), f"CPU2 could lock the folio at prefix {k}, before N20 at {n20}"
        assert r.kind == "sleeping"
        assert "folio_lock" in r.text and "CPU1" in r.text
        folio = w.cpu(2).local("folio")
        assert f"{folio:#x}" in r.text
        assert w.folio(folio).locked_by == 1
        assert w.folio(folio) == w.swapcache_folio(3)  # the swap-cache folio CPU1 allocated for slot 3
        assert folio == w.cpu(1).local("folio")
        assert 2 not in enabled(w)
        asleep.append(k)
    assert asleep, "the tour never puts CPU2 to sleep on the folio lock"
    # CPU2 stays asleep from the moment it reaches S3f until N20: every prefix in between.
    assert asleep == list(range(asleep[0], n20 + 1))
    # Right after N20 the folio is unlocked and under writeback: CPU2 can lock it.
    after = run.worlds[n20 + 1]
    folio = after.cpu(2).local("folio")
    assert after.folio(folio).locked_by is None and after.folio(folio).writeback
    assert 2 in enabled(after)


def test_then_swapoff_sleeps_in_folio_wait_writeback_until_the_io_completes(run) -> None:  # type: ignore[no-untyped-def]
    n20, n20w = _first(run, 1, "N20"), _first(run, 3, "W1")
    s3f = _first(run, 2, "S3f")
    assert n20 < s3f < n20w
    for k in range(s3f + 1, n20w + 1):
        w = run.worlds[k]
        assert w.cpu(2).pc == "S3g"
        r = try_step(w, 2)
        assert isinstance(r, Blocked) and r.kind == "sleeping"
        assert "folio_wait_writeback" in r.text
    assert 2 in enabled(run.worlds[n20w + 1])
    assert _first(run, 2, "S3g") > n20w


def test_run_ends_safely_written_back_and_swapoff_returns_0(run) -> None:  # type: ignore[no-untyped-def]
    w = run.world
    assert enabled(w) == []
    assert all_violations(w) == []
    assert "LRU_REMOVED_RETRY" in w.cpu(1).result and "written back" in w.cpu(1).result
    assert w.cpu(2).result == "swapoff returned 0"
    # CPU1 freed E itself at N17, before unlocking the folio at N20 (checklist 18).
    entry = run.worlds[0].entries[0]
    assert w.heap_object(entry.addr).free.cpu == 1
    assert w.heap_object(entry.addr).free.step < _first(run, 1, "N20")
    # The trees were freed only after CPU1's last tree access.
    s8 = _first(run, 2, "S8")
    last_tree = max(i for i, (c, sid, _) in enumerate(run.steps) if c == 1 and sid in TREE_WINDOW)
    assert s8 > _first(run, 1, "N20") > last_tree
    # The data written to the slot is process A's page, and swapoff mapped the written-back folio.
    wb_folio = next(o.addr for o in w.heap if o.kind == "folio" and o.alloc is not None and o.alloc.cpu == 1)
    assert w.ptes[0].folio == wb_folio
    assert w.folio(w.ptes[0].folio).data == "page A#1"


def test_cpu2_cannot_reach_s8_before_n20_whatever_is_scheduled(run) -> None:  # type: ignore[no-untyped-def]
    """Exhaustive: from the state where CPU1 holds its new folio locked, explore every schedule in which CPU1
    has not yet executed N20. CPU2 is never enabled at S8 there, and the trees stay allocated."""
    r8 = _first(run, 1, "R8")
    start = run.worlds[r8 + 1]
    assert start.folio(start.cpu(1).local("folio")).locked_by == 1
    seen = {start}
    queue = deque([start])
    while queue:
        w = queue.popleft()
        assert w.zswap_trees is not None and not w.heap_object(run.worlds[0].zswap_trees).freed
        assert w.cpu(2).pc not in ("S4", "S5", "S5b", "S5c", "S6", "S8", "S9")
        assert w.violations == ()
        for cpu in enabled(w):
            if cpu == 1 and w.cpu(1).pc == "N20":
                continue  # N20 unlocks the folio: outside the window
            nxt = step(w, cpu)
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    assert len(seen) > 10


def test_whole_state_space_new_code_tree_is_alive_during_the_tree_window() -> None:
    """Exhaustive over every interleaving of the seed scenario under the fixed code."""
    s = load_all()[SCENARIO]
    w0 = initial_world(s, "new")
    trees = w0.zswap_trees
    seen = {w0}
    queue = deque([w0])
    finals = 0
    while queue:
        w = queue.popleft()
        assert w.violations == ()
        if w.cpu(1).pc in TREE_WINDOW or w.cpu(1).pc == "N20":
            assert w.zswap_trees == trees and not w.heap_object(trees).freed
            assert w.folio(w.cpu(1).local("folio")).locked_by == 1
        en = enabled(w)
        if not en:
            finals += 1
            assert all_violations(w) == []
            assert w.cpu(2).result == "swapoff returned 0"
            continue
        for cpu in en:
            nxt = step(w, cpu)
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    assert finals >= 5
