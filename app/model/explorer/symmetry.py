"""Symmetry between identical CPUs: one world stands for every relabelling of them.

Two CPUs are interchangeable when they run the same steps from the same initial state (the two
shrinkers of `two-shrinkers-vs-swapoff`: shrink_worker() and the memcg shrinker, twins that run
the same callback and differ only in who runs them, which stays with the CPU number). The model treats CPU numbers as names only: a step
never orders CPUs by number, so relabelling interchangeable CPUs in a world and in a schedule
gives a world and a schedule that are just as reachable, with the same violations at the same
sites (tests/model/test_symmetry.py checks that on every reachable world). The explorer keeps
one representative per class of relabelled worlds (the canonical one: interchangeable CPUs
sorted by their own state) and maps every schedule it reports back to a real one.

A CPU number appears in a world in these places, and nowhere else (locals hold addresses,
offsets and flags, never CPU numbers): each CPU's own record, the holder of a tree lock, of the
LRU lock and of a folio lock, the swap device's get_swap_device() holders, and a violation's
CPU (and the "CPUn" its text may name).
"""
from __future__ import annotations

import re
from itertools import permutations
from typing import Any, Callable

from app.model.kernel.engine import ACTORS
from app.model.kernel.state import PARTS, Cpu, World, evolve

Perm = dict[int, int]  # CPU number -> CPU number; the identity on CPUs outside the classes

_CPU_NAME = re.compile(r"CPU(\d+)")

TIE = object()  # Canon.sorting(): interchangeable CPUs in the same state


def classes(world: World) -> tuple[tuple[int, ...], ...]:
    """The classes of interchangeable CPUs in ``world`` (each of two or more CPUs): the same actor,
    the same next step, return stack, locals and state, and no CPU number of theirs anywhere in the
    shared state. Meant for the initial world, where such CPUs have not started yet."""
    by_state: dict[tuple[Any, ...], list[int]] = {}
    for cpu in world.cpus:
        if cpu.actor == "io":
            continue
        # Twins (the memcg shrinker and shrink_worker) run the same steps: interchangeable too.
        program = ACTORS[cpu.actor].program
        by_state.setdefault((program, cpu.pc, cpu.stack, cpu.locals, cpu.state, cpu.result), []).append(cpu.id)
    found = tuple(tuple(ids) for ids in by_state.values() if len(ids) > 1)
    for ids in found:
        for cpu_id in ids:
            swapped = {cpu_id: ids[0], ids[0]: cpu_id}
            if cpu_id != ids[0] and relabel(world, swapped) != world:
                return ()  # the shared state tells them apart: no symmetry to use
    return found


def _sort_key(cpu: Cpu) -> tuple[str, ...]:
    """A deterministic order of CPU states (repr: locals mix ints, strings and booleans)."""
    return (cpu.pc or "", cpu.state, repr(cpu.stack), repr(cpu.locals), cpu.result or "")


class Canon:
    """Canonical representatives of worlds under relabelling of interchangeable CPUs (a true
    canonical form: the counts rely on no two representatives standing for the same world)."""

    def __init__(self, cpu_classes: tuple[tuple[int, ...], ...]) -> None:
        self.classes = cpu_classes
        self._keys: dict[Cpu, tuple[str, ...]] = {}

    def key(self, cpu: Cpu) -> tuple[str, ...]:
        # By the record's value without its number (CPU records hash their id too: two
        # interchangeable CPUs in the same state are two entries here, with one key).
        try:
            return self._keys[cpu]
        except KeyError:
            k = self._keys[cpu] = _sort_key(cpu)
            return k

    def canonical(self, world: World) -> tuple[World, Perm | None]:
        """(the representative, the relabelling that turned ``world`` into it, None for none).

        The representative is the least world of the class in one total order: interchangeable
        CPUs sorted by their own state, then, when some are in the same state, by which of them
        holds what (lock holders, get_swap_device() holders, a violation's CPU). Every world of a
        class gets the same one, so no class is counted twice."""
        cpus = world.cpus
        perm = self.sorting(lambda cpu_id: self.key(cpus[cpu_id - 1]))
        if perm is TIE:
            return self._least(world)
        if perm is None:
            return world, None
        return relabel(world, perm), perm

    def sorting(self, key_of: Callable[[int], tuple[str, ...]]) -> Perm | None | object:
        """The relabelling that sorts interchangeable CPUs by their own state (``key_of`` a CPU
        number), None when they are sorted already, TIE when some are in the same state (then
        only what they hold tells the relabellings apart: see _least). Shared by canonical() and
        the explorer's interned worlds (interned.py), which keep CPU states as small ints."""
        perm: Perm | None = None
        for ids in self.classes:
            if len(ids) == 2:  # the common case, without sorting (this runs for every move)
                a, b = ids
                ka, kb = key_of(a), key_of(b)
                if ka < kb:
                    continue
                if ka == kb:
                    return TIE
                perm = perm or {}
                perm[a], perm[b] = b, a
                continue
            keys = [key_of(i) for i in ids]
            if len(set(keys)) < len(keys):
                return TIE
            order = sorted(range(len(ids)), key=keys.__getitem__)
            if order == list(range(len(ids))):
                continue
            perm = perm or {}
            for position, j in enumerate(order):
                perm[ids[j]] = ids[position]
        return perm

    def _least(self, world: World) -> tuple[World, Perm | None]:
        """The least relabelling of ``world`` when interchangeable CPUs are in the same state (rare:
        then only what they hold tells the relabellings apart, and that decides)."""
        def order(w: World) -> tuple[Any, ...]:
            return self.rank(lambda cpu_id: self.key(w.cpus[cpu_id - 1]), holders(w))

        best, perm = min(self.orbit(world), key=lambda member: order(member[0]))
        return best, (perm or None)

    def rank(self, key_of: Callable[[int], tuple[str, ...]], held: tuple[Any, ...]) -> tuple[Any, ...]:
        """A world's place in the order _least takes the least of: its interchangeable CPUs' own
        states (``key_of`` a CPU number), then what they hold (``held``: holders_of)."""
        return (tuple(key_of(i) for ids in self.classes for i in ids), held)

    def orbit(self, world: World) -> list[tuple[World, Perm]]:
        """Every distinct world ``world`` stands for, each with the relabelling that gives it."""
        seen: dict[World, Perm] = {}
        for perm in self.perms():
            other = relabel(world, perm) if perm else world
            seen.setdefault(other, perm)
        return [(w, p) for w, p in seen.items()]

    def orbit_size(self, world: World) -> int:
        """How many distinct worlds ``world`` stands for: every relabelling, unless some
        interchangeable CPUs are in the same state (then count them for real)."""
        cpus = world.cpus
        size = self.size(lambda cpu_id: self.key(cpus[cpu_id - 1]))
        return len(self.orbit(world)) if size is None else size

    def size(self, key_of: Callable[[int], tuple[str, ...]]) -> int | None:
        """The number of relabellings when no interchangeable CPUs are in the same state (``key_of``
        as for sorting()); None when some are (the caller counts the distinct worlds)."""
        size = 1
        for ids in self.classes:
            if len({key_of(i) for i in ids}) < len(ids):
                return None
            for n in range(2, len(ids) + 1):
                size *= n
        return size

    def perms(self) -> list[Perm]:
        result: list[Perm] = [{}]
        for ids in self.classes:
            result = [
                {**p, **{a: b for a, b in zip(ids, shuffled) if a != b}}
                for p in result
                for shuffled in permutations(ids)
            ]
        return result


def holders(world: World) -> tuple[Any, ...]:
    """Every place a CPU number stands in the shared state, in a fixed order (None as 0)."""
    return holders_of(world.trees, world.lru, world.folios, world.swap, world.violations)


def holders_of(trees: Any, lru: Any, folios: Any, swap: Any, violations: Any) -> tuple[Any, ...]:
    """holders() from the parts of a world (HOLDING_PARTS, in that order)."""
    return (
        tuple(t.lock or 0 for t in trees),
        lru.lock or 0,
        tuple(f.locked_by or 0 for f in folios),
        swap.refs,
        tuple((v.cpu or 0, v.detail) for v in violations),
    )


def relabel(world: World, perm: Perm) -> World:
    """``world`` with every CPU number ``n`` renamed ``perm.get(n, n)`` (parts without one shared)."""
    cpus: list[Any] = [None] * len(world.cpus)
    for cpu in world.cpus:
        new_id = perm.get(cpu.id, cpu.id)
        cpus[new_id - 1] = cpu if new_id == cpu.id else moved_cpu(cpu, new_id, world.cpus[new_id - 1].actor)
    old = world.parts()
    values = [relabel_part(i, value, perm) for i, value in enumerate(old)]
    values[_CPUS] = tuple(cpus)
    hashes = world.part_hashes or tuple(hash(v) for v in old)
    new = object.__new__(World)
    new.__dict__.update(zip(PARTS, values))
    new.__dict__["steps"] = world.steps
    new.__dict__["part_hashes"] = tuple(h if v is o else hash(v) for v, o, h in zip(values, old, hashes))
    return new


def moved_cpu(cpu: Cpu, new_id: int, actor: str) -> Cpu:
    """CPU ``cpu``'s state on CPU ``new_id``, which runs ``actor`` (``cpu``'s own or its twin's):
    who runs a CPU (kworker or kswapd0) stays with the CPU number, only the state moves."""
    return evolve(cpu, id=new_id, actor=actor) if actor != cpu.actor else evolve(cpu, id=new_id)


def relabel_part(index: int, value: Any, perm: Perm) -> Any:
    """Part ``index`` of a world (PARTS; not the CPUs) with its CPU numbers renamed by ``perm``:
    the same object when it holds none that ``perm`` moves."""

    def m(n: int | None) -> int | None:
        return n if n is None else perm.get(n, n)

    def renamed(records: tuple[Any, ...], field: str) -> tuple[Any, ...]:
        if all(m(getattr(r, field)) == getattr(r, field) for r in records):
            return records
        return tuple(r if m(getattr(r, field)) == getattr(r, field) else evolve(r, **{field: m(getattr(r, field))})
                     for r in records)

    if index == _TREES:
        return renamed(value, "lock")
    if index == _FOLIOS:
        return renamed(value, "locked_by")
    if index == _LRU:
        return evolve(value, lock=m(value.lock)) if m(value.lock) != value.lock else value
    if index == _SWAP:
        if value.refs:
            refs = tuple(sorted(m(r) for r in value.refs))  # type: ignore[type-var]
            if refs != value.refs:
                return evolve(value, refs=refs)
        return value
    if index == _VIOLATIONS and value:
        return tuple(evolve(v, cpu=m(v.cpu), detail=relabel_text(v.detail, perm)) for v in value)
    return value


# The parts in which a CPU number can stand besides the CPUs' own records (holders_of's order).
HOLDING_PARTS = tuple(PARTS.index(name) for name in ("trees", "lru", "folios", "swap", "violations"))

_CPUS, _TREES, _FOLIOS, _LRU, _SWAP, _VIOLATIONS = (
    PARTS.index(name) for name in ("cpus", "trees", "folios", "lru", "swap", "violations")
)


def compose(outer: Perm, inner: Perm) -> Perm:
    """outer after inner."""
    keys = set(outer) | set(inner)
    result = {k: outer.get(inner.get(k, k), inner.get(k, k)) for k in keys}
    return {k: v for k, v in result.items() if k != v}


def inverse(perm: Perm) -> Perm:
    return {v: k for k, v in perm.items()}


def relabel_text(text: str, perm: Perm) -> str:
    """Every "CPUn" in ``text`` renamed by ``perm``."""
    if not perm:
        return text
    return _CPU_NAME.sub(lambda x: f"CPU{perm.get(int(x.group(1)), int(x.group(1)))}", text)


def relabel_schedule(schedule: str, perm: Perm) -> str:
    return "".join(str(perm.get(int(d), int(d))) for d in schedule)
