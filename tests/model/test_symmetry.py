"""Symmetry between interchangeable CPUs (app/model/explorer/symmetry.py).

What the reduction rests on: relabelling the two shrinkers commutes with every step (a step of
CPU n from a relabelled world is the relabelled step, blocked or not). Checked on every world of
`two-shrinkers` and along random runs of `two-shrinkers-vs-swapoff`, for every code. What it
keeps: every count of the search without it (states, transitions, runs, final states, deadlocks,
each group's k and shortest length), with real schedules that replay to their violation.
"""
from __future__ import annotations

import random
from collections import deque

import pytest

from app.model.kernel.engine import Blocked, try_step
from app.model.explorer.explore import Exploration, explore
from app.model.scenarios.initial import initial_world
from app.model.scenarios.replay import all_violations, replay
from app.model.scenarios.scenario import all_codes
from app.model.scenarios.loader import load_all
from app.model.kernel.state import World
from app.model.explorer.symmetry import Canon, classes, compose, inverse, relabel, relabel_schedule

SWAP = {1: 2, 2: 1}
# The codes whose two shrinkers are twins. Before patch 1/3 the memcg shrinker's -EEXIST returns
# LRU_SKIP and shrink_worker()'s does not: no symmetry there (tests/model/test_series.py).
TWIN_CODES = [c for c in all_codes() if c != "pre-lru-skip-fix"]


def _moves(world: World) -> list[int]:
    if any(c.state == "crashed" for c in world.cpus):
        return []
    return [c.id for c in world.cpus if c.state == "run" and c.pc is not None]


def _check_commutes(world: World, cpu: int) -> World | None:
    """Step ``cpu`` in ``world`` and ``SWAP(cpu)`` in the relabelled world: the same, relabelled."""
    there = try_step(world, cpu)
    mirrored = try_step(relabel(world, SWAP), SWAP.get(cpu, cpu))
    assert isinstance(there, Blocked) == isinstance(mirrored, Blocked), (world, cpu)
    if isinstance(there, Blocked) or isinstance(mirrored, Blocked):
        return None
    assert relabel(there.world, SWAP) == mirrored.world, (world, cpu)
    return there.world


def test_the_shrinkers_are_the_interchangeable_cpus() -> None:
    scenarios = load_all()
    assert classes(initial_world(scenarios["two-shrinkers-vs-swapoff"], "old")) == ((1, 2),)
    assert classes(initial_world(scenarios["two-shrinkers"], "new")) == ((1, 2),)
    for sid in ("lru-writeback-vs-swapoff", "writeback-vs-swapin-vs-swapoff", "slot-reuse"):
        assert classes(initial_world(scenarios[sid], "old")) == ()


@pytest.mark.parametrize("code", TWIN_CODES)
def test_relabelling_commutes_with_every_step_of_two_shrinkers(code: str) -> None:
    root = initial_world(load_all()["two-shrinkers"], code)
    seen = {root}
    queue = deque([root])
    while queue:
        world = queue.popleft()
        for cpu in _moves(world):
            child = _check_commutes(world, cpu)
            if child is not None and child not in seen:
                seen.add(child)
                queue.append(child)
    assert len(seen) > 300


@pytest.mark.parametrize("code", TWIN_CODES)
def test_relabelling_commutes_along_random_runs_of_two_shrinkers_vs_swapoff(code: str) -> None:
    rng = random.Random(12)
    root = initial_world(load_all()["two-shrinkers-vs-swapoff"], code)
    steps = 0
    for _ in range(60):
        world: World | None = root
        while world is not None:
            moves = _moves(world)
            nxt = None
            for cpu in rng.sample(moves, len(moves)):
                nxt = _check_commutes(world, cpu)
                steps += 1
                if nxt is not None:
                    break
            world = nxt
    assert steps > 3000


def test_relabelling_helpers() -> None:
    p = {1: 2, 2: 3, 3: 1}
    assert compose(p, inverse(p)) == {} and compose(inverse(p), p) == {}
    assert relabel_schedule("1123", p) == "2231"
    world = initial_world(load_all()["two-shrinkers-vs-swapoff"], "old")
    canon = Canon(((1, 2),))
    assert canon.orbit_size(world) == 1 and canon.canonical(world) == (world, None)
    one, two = try_step(world, 1), try_step(world, 2)
    assert not isinstance(one, Blocked) and not isinstance(two, Blocked) and one.world != two.world
    # Either shrinker taking its first step: one class, one representative, two worlds.
    (rep1, perm1), (rep2, perm2) = canon.canonical(one.world), canon.canonical(two.world)
    assert rep1 == rep2 and canon.orbit_size(rep1) == 2
    assert sorted([perm1 or {}, perm2 or {}], key=len) == [{}, SWAP]


def _summary(result: Exploration) -> tuple[object, ...]:
    assert result.complete
    groups = sorted((g.key, g.count, len(g.shortest)) for g in result.groups)
    return (result.states, result.transitions, result.depth, result.complete_runs, result.terminal_states,
            result.deadlock_states, groups)


def _replays(scenario_id: str, code: str, result: Exploration) -> None:
    scenario = load_all()[scenario_id]
    for group in result.to_dict()["violations"]:
        world = replay(scenario, code, group["shortest"]).world
        assert (group["kind"], group["step_id"]) in {(v.kind, v.step_id) for v in all_violations(world)}
        found = [v for v in all_violations(world) if (v.kind, v.step_id) == (group["kind"], group["step_id"])]
        assert group["detail"] in {v.detail for v in found}


@pytest.mark.parametrize("code", TWIN_CODES)
def test_symmetry_keeps_every_count_of_two_shrinkers(code: str) -> None:
    scenario = load_all()["two-shrinkers"]
    plain, symmetric = explore(scenario, code), explore(scenario, code, symmetry=True)
    assert _summary(symmetric) == _summary(plain)
    assert symmetric.searched < 0.55 * plain.states and symmetric.symmetric == ((1, 2),)
    _replays("two-shrinkers", code, symmetric)


@pytest.mark.parametrize("code", ["old", "new"])
def test_symmetry_keeps_every_count_of_two_shrinkers_vs_swapoff(code: str) -> None:
    scenario = load_all()["two-shrinkers-vs-swapoff"]
    plain = explore(scenario, code, reduction=True, symmetry=False)
    symmetric = explore(scenario, code, reduction=True)
    assert _summary(symmetric) == _summary(plain)
    assert symmetric.searched < 0.55 * plain.states
    _replays("two-shrinkers-vs-swapoff", code, symmetric)


def test_a_prefix_that_tells_the_shrinkers_apart_turns_symmetry_off() -> None:
    scenario = load_all()["two-shrinkers"]
    result = explore(scenario, "new", prefix="1", symmetry=True)
    assert result.symmetric == () and result.searched == result.states
    assert _summary(result) == _summary(explore(scenario, "new", prefix="1"))


def test_a_prefix_that_leaves_the_shrinkers_alike_keeps_symmetry_and_its_schedules_start_with_it() -> None:
    scenario = load_all()["two-shrinkers-vs-swapoff"]
    prefix = "3" * 20  # swapoff alone, up to the folio it allocates for slot 3
    for code in ("old", "new"):
        symmetric = explore(scenario, code, prefix=prefix, reduction=True)
        plain = explore(scenario, code, prefix=prefix, reduction=True, symmetry=False)
        assert symmetric.symmetric == ((1, 2),) and symmetric.searched < 0.55 * plain.states
        assert _summary(symmetric) == _summary(plain)
        assert all(g.shortest.startswith(prefix) for g in symmetric.groups)
        _replays("two-shrinkers-vs-swapoff", code, symmetric)


def test_shrinkers_in_the_same_state_told_apart_by_what_they_hold_get_one_representative() -> None:
    """A true canonical form: both relabellings of a world give the same representative, also
    when the two CPUs' own states are equal (only a lock holder differs), so no class is counted
    twice. (A made-up world: the tree lock held by an idle shrinker.)"""
    from app.model.kernel.state import evolve

    world = initial_world(load_all()["two-shrinkers-vs-swapoff"], "old")
    held = object.__new__(World)
    held.__dict__.update({k: v for k, v in world.__dict__.items() if k in World.__dataclass_fields__})
    held.__dict__["trees"] = (evolve(world.trees[0], lock=2),)
    held.__dict__["part_hashes"] = ()
    mirrored = relabel(held, SWAP)
    assert mirrored != held and mirrored.trees[0].lock == 1
    canon = Canon(((1, 2),))
    (a, pa), (b, pb) = canon.canonical(held), canon.canonical(mirrored)
    assert a == b and a.trees[0].lock == 1 and canon.orbit_size(a) == 2
    assert (pa, pb) == (SWAP, None)
