"""Worlds are values: immutable, hashable, deterministic; equal kernel state compares equal."""
from __future__ import annotations

import copy
import dataclasses

import pytest

from app.model.kernel.engine import enabled, step, try_step
from app.model.scenarios.initial import initial_world
from app.model.scenarios.replay import replay
from app.model.scenarios.loader import load_all

SEED = "lru-writeback-vs-swapoff"


def _tour(scenario_id: str, name: str):  # type: ignore[no-untyped-def]
    return next(t for t in load_all()[scenario_id].tours if t.name == name)


@pytest.mark.parametrize("scenario_id,name", [(s.id, t.name) for s in load_all().values() for t in s.tours])
def test_replay_is_deterministic(scenario_id: str, name: str) -> None:
    t = _tour(scenario_id, name)
    s = load_all()[scenario_id]
    a = replay(s, t.code, t.schedule)
    b = replay(s, t.code, t.schedule)
    assert a.world == b.world
    assert hash(a.world) == hash(b.world)
    assert a.worlds == b.worlds
    assert [r.narration for _, _, r in a.steps] == [r.narration for _, _, r in b.steps]
    # History fields (compare=False) are deterministic too: same addresses, same origins.
    assert [(o.addr, o.alloc, o.free) for o in a.world.heap] == [(o.addr, o.alloc, o.free) for o in b.world.heap]


def test_worlds_are_hashable_and_usable_as_keys() -> None:
    run = replay(load_all()[SEED], "old", _tour(SEED, "uaf-a").schedule)
    table = {w: i for i, w in enumerate(run.worlds)}
    assert len(table) == len(run.worlds)  # every step changed the kernel state
    for i, w in enumerate(run.worlds):
        assert table[w] == i


def test_world_records_are_frozen() -> None:
    w = initial_world(load_all()[SEED], "old")
    with pytest.raises(dataclasses.FrozenInstanceError):
        w.zswap_trees = None  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        w.cpus[0].pc = "O6"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        w.entries[0].refcount = 9  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        w.swap.slots[0].count = 0  # type: ignore[misc]
    for name in ("cpus", "heap", "entries", "trees", "folios", "ptes", "violations"):
        assert isinstance(getattr(w, name), tuple)


@pytest.mark.parametrize("code", ["old", "new"])
def test_stepping_does_not_mutate_earlier_worlds(code: str) -> None:
    s = load_all()[SEED]
    w0 = initial_world(s, code)
    snapshot = copy.deepcopy(w0)
    tour = _tour(SEED, "uaf-a" if code == "old" else "fixed-swapoff-sleeps")
    run = replay(s, code, tour.schedule)
    snapshots = [copy.deepcopy(w) for w in run.worlds]
    # Step every world again on every CPU, blocked or not.
    for w in run.worlds:
        for c in w.cpus:
            if c.state == "run":
                try_step(w, c.id)
    assert w0 == snapshot and hash(w0) == hash(snapshot)
    assert initial_world(s, code) == w0
    assert all(a == b for a, b in zip(run.worlds, snapshots))
    # Deep equality on everything, history included.
    assert repr(run.worlds) == repr(tuple(snapshots))


def test_step_returns_a_new_world() -> None:
    w0 = initial_world(load_all()[SEED], "old")
    w1 = step(w0, 1)
    assert w1 is not w0 and w1 != w0
    assert w0.lru.lock is None and w1.lru.lock == 1
    assert w1.steps == w0.steps + 1


def test_different_states_differ() -> None:
    s = load_all()[SEED]
    assert replay(s, "old", "1").world != replay(s, "old", "2").world
    assert replay(s, "old", "").world != replay(s, "new", "").world  # CPU1 runs a different actor


def test_independent_steps_commute() -> None:
    """CPU1 K1 (takes the LRU lock) and CPU2 S1/S2 (SWP_WRITEOK, slot cache) touch different state."""
    s = load_all()[SEED]
    for a, b in [("12", "21"), ("1122", "2211"), ("1212", "2121"), ("11122", "22111")]:
        wa, wb = replay(s, "old", a).world, replay(s, "old", b).world
        assert wa == wb, (a, b)
        assert hash(wa) == hash(wb)


def test_independent_steps_commute_across_three_cpus() -> None:
    s = load_all()["slot-reuse"]
    # CPU1 walks the LRU while process A (CPU2) clears its PTE: X1 only touches the PTE.
    assert replay(s, "new", "1112").world == replay(s, "new", "2111").world


def test_same_kernel_state_by_different_histories_compares_equal(Drv) -> None:  # type: ignore[no-untyped-def]
    """Only history (the schedule index of an allocation) differs: the explorer must merge these states."""
    a = Drv.of("slot-reuse", "new")
    a.finish(2)  # process A exits: slot 3 freed, E freed
    a.step(1)  # K1 (before the exit it would make I4 spin on the LRU lock)
    a.step(3)  # T1: reclaim allocates folio Q for slot 3
    b = Drv.of("slot-reuse", "new")
    b.finish(2)
    b.step(3)
    b.step(1)
    assert a.schedule != b.schedule and sorted(a.schedule) == sorted(b.schedule)
    q = a.world.cpu(3).local("folio")
    assert q == b.world.cpu(3).local("folio")
    assert a.world.heap_object(q).alloc.step != b.world.heap_object(q).alloc.step  # different history ...
    assert a.world == b.world  # ... same kernel state
    assert hash(a.world) == hash(b.world)
    a.check_replay()
    b.check_replay()


def test_enabled_is_pure() -> None:
    s = load_all()[SEED]
    run = replay(s, "new", _tour(SEED, "fixed-swapoff-sleeps").schedule)
    for w in run.worlds:
        before = copy.deepcopy(w)
        assert enabled(w) == enabled(w)
        assert w == before
