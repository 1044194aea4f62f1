"""Interned worlds (app/model/explorer/interned.py): the explorer's keys stand for exactly the worlds they
were made from, its symmetry over keys picks the representatives symmetry.Canon picks, its memo
(now also of the steps that look at other CPUs) changes nothing but speed on the three-CPU
scenarios, and every search's tables go with it."""
from __future__ import annotations

import gc
import random
import weakref

import pytest

import app.model.explorer.explore as explore_module
from app.model.kernel.engine import Blocked, try_step
from app.model.explorer.explore import explore
from app.model.scenarios.initial import initial_world
from app.model.explorer.interned import Interner, KeyCanon
from app.model.scenarios.loader import load_all
from app.model.kernel.state import World, evolve
from app.model.explorer.symmetry import Canon, classes, relabel


def _random_runs(scenario_id: str, code: str, runs: int, seed: int) -> list[tuple[World, World]]:
    """(world, the world one step later) along random runs, every CPU stepped now and then."""
    root = initial_world(load_all()[scenario_id], code)
    rng = random.Random(seed)
    pairs = []
    for _ in range(runs):
        world = root
        while True:
            if any(c.state == "crashed" for c in world.cpus):
                break
            moves = [c.id for c in world.cpus if c.state == "run" and c.pc is not None]
            stepped = [r for r in (try_step(world, cpu) for cpu in moves) if not isinstance(r, Blocked)]
            if not stepped:
                break
            child = rng.choice(stepped).world
            pairs.append((world, child))
            world = child
    return pairs


@pytest.mark.parametrize(("scenario", "code"), [("writeback-vs-swapin-vs-swapoff", "old"),
                                                ("two-shrinkers-vs-swapoff", "new")])
def test_a_key_stands_for_exactly_its_world(scenario: str, code: str) -> None:
    pairs = _random_runs(scenario, code, runs=30, seed=12)
    interner = Interner(len(pairs[0][0].cpus))
    keys: dict[tuple[int, ...], World] = {}
    for world, child in pairs:
        key = interner.key(world)
        rebuilt = interner.world(key, world.steps)
        assert rebuilt == world and hash(rebuilt) == hash(world)
        assert rebuilt.part_hashes == tuple(hash(part) for part in world.parts())
        # A step's child: the parts it shares with its parent keep the parent's ints.
        assert interner.child_key(world, key, child) == interner.key(child)
        assert keys.setdefault(key, world) == world  # equal keys: equal worlds
    worlds = list(keys.values())
    assert len(set(worlds)) == len(worlds)  # and distinct keys: distinct worlds


def test_symmetry_over_keys_picks_canons_representatives() -> None:
    pairs = _random_runs("two-shrinkers-vs-swapoff", "old", runs=40, seed=7)
    root = pairs[0][0]
    canon = Canon(classes(root))
    interner = Interner(len(root.cpus))
    keyed = KeyCanon(canon, interner)
    relabelled = 0
    for _, world in pairs:
        representative, perm = canon.canonical(world)
        key, key_perm = keyed.canonical(interner.key(world))
        assert interner.world(key, world.steps) == representative and key_perm == perm
        assert key == interner.key(representative)
        assert keyed.size(key) == canon.orbit_size(representative)
        assert [(interner.world(k, world.steps), p) for k, p in keyed.orbit(interner.key(world))] == canon.orbit(world)
        relabelled += perm is not None
    assert relabelled > 50  # the relabelling path was taken, not only the identity


def test_shrinkers_in_the_same_state_are_told_apart_by_what_they_hold_on_keys_too() -> None:
    """The rare tie: both shrinkers in the same state, a lock held by one (a made-up world, as in
    test_symmetry.py); both relabellings get Canon's one representative."""
    world = initial_world(load_all()["two-shrinkers-vs-swapoff"], "old")
    held = object.__new__(World)
    held.__dict__.update({k: v for k, v in world.__dict__.items() if k in World.__dataclass_fields__})
    held.__dict__["trees"] = (evolve(world.trees[0], lock=2),)
    held.__dict__["part_hashes"] = ()
    canon = Canon(((1, 2),))
    interner = Interner(len(world.cpus))
    keyed = KeyCanon(canon, interner)
    for one in (held, relabel(held, {1: 2, 2: 1})):
        representative, perm = canon.canonical(one)
        key, key_perm = keyed.canonical(interner.key(one))
        assert interner.world(key, 0) == representative and key_perm == perm
        assert representative.trees[0].lock == 1 and keyed.size(key) == 2


@pytest.mark.parametrize("scenario", ["two-shrinkers-vs-swapoff", "writeback-vs-swapin-vs-swapoff"])
def test_the_memo_changes_nothing_but_speed_on_the_three_cpu_scenarios(scenario: str) -> None:
    """swapoff's synchronize_rcu looks at every CPU: memoised with all their records as its reads."""
    prefix = "3" * 20  # swapoff alone up to the folio it allocates: about 20,000-28,000 worlds after it
    s = load_all()[scenario]
    fast = explore(s, "old", reduction=True, prefix=prefix)
    slow = explore(s, "old", reduction=True, prefix=prefix, memo=False)
    assert fast.searched > 10_000 and fast.groups
    fast_dict, slow_dict = fast.to_dict(), slow.to_dict()
    fast_dict.pop("seconds"), slow_dict.pop("seconds")
    assert fast_dict == slow_dict


def test_every_search_has_its_own_tables_and_they_go_with_it(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[weakref.ref[Interner]] = []

    class Recorded(Interner):
        __slots__ = ()

        def __init__(self, cpus: int) -> None:
            super().__init__(cpus)
            made.append(weakref.ref(self))

    monkeypatch.setattr(explore_module, "Interner", Recorded)
    scenario = load_all()["two-shrinkers-vs-swapoff"]
    first = explore(scenario, "old", reduction=True, prefix="3" * 30)
    second = explore(scenario, "old", reduction=True, prefix="3" * 30)
    assert first.to_dict()["violations"] == second.to_dict()["violations"]
    gc.collect()
    assert len(made) == 2 and all(ref() is None for ref in made)


@pytest.mark.parametrize("scenario", ["two-shrinkers-vs-swapoff", "writeback-vs-swapin", "lru-writeback-vs-swapoff"])
@pytest.mark.parametrize("code", ["old", "new", "new-no-rotate"])
def test_hash_compaction_changes_no_verdict_and_no_count(scenario: str, code: str) -> None:
    """The search keeps visited worlds by their 64-bit hashes and drops each key once expanded
    (storage.py); against the search that keeps every key, every field of the verdict is the same."""
    s = load_all()[scenario]
    for reduction in (False, True):
        compact = explore(s, code, reduction=reduction).to_dict()
        exact = explore(s, code, reduction=reduction, compact=False).to_dict()
        compact.pop("seconds"), exact.pop("seconds")
        assert compact == exact
