"""Worlds as tuples of small ints, for the explorer's inner loop.

The explorer meets every world many times (once per edge into it) and each time it has to build
the successor, hash it and compare it with the world it finds in its visited table. As Worlds
those are Python objects with a dozen parts, hashed part by part and compared field by field. A
search keeps a table per part instead: every distinct value of a part (one CPU's record, the
heap, the swap device, ...) gets a small int the first time it is met, so a world is a tuple of
ints, its hash and its equality are the tuple's, and a memoised step's outcome is a few ints to
put in place. Interning is by value (the records' own == and hash), so two keys are equal
exactly when the worlds are equal, as the explorer's de-duplication by value needs.

A key holds one slot per CPU record (CPU n at slot n - 1, so a memoised step replaces one slot)
followed by every other part of the World in PARTS order. The tables belong to one search and go
with it (explore.py makes one per search); they grow with the distinct part values the search
meets, at most one per part of each world it keeps, so the state budget bounds them.

A World is built again from a key (``world``) only where the real step has to run: a memo miss,
a step that looks at other CPUs, a final state's leak and deadlock checks, a tie under symmetry.
History fields (who allocated an object, at which step) are those of the first equal value met:
like the transition memo's re-applied parts, the explorer never reads them, and the schedules it
reports are replayed for real.
"""
from __future__ import annotations

from operator import itemgetter
from typing import Any, Callable

from app.model.kernel.state import PARTS, World
from app.model.explorer.symmetry import HOLDING_PARTS, TIE, Canon, Perm, holders_of, moved_cpu, relabel_part

Key = tuple[int, ...]
MOVES, CRASHED = 1, 2  # Interner.status


class Interner:
    """One search's tables: part value <-> small int, per slot of a key."""

    __slots__ = ("cpus", "ids", "values", "hashes", "status", "__weakref__")

    def __init__(self, cpus: int) -> None:
        self.cpus = cpus
        slots = cpus + len(PARTS) - 1
        self.ids: list[dict[Any, int]] = [{} for _ in range(slots)]
        self.values: list[list[Any]] = [[] for _ in range(slots)]
        self.hashes: list[list[int]] = [[] for _ in range(slots)]  # each value's hash: World.part_hashes
        # Per CPU slot and interned record: MOVES when the CPU can be asked for a step (running, with
        # a next line), CRASHED when it crashed (then no CPU moves), else 0. Asked for every CPU of
        # every world.
        self.status: list[list[int]] = [[] for _ in range(cpus)]

    def intern(self, slot: int, value: Any) -> int:
        ids = self.ids[slot]
        number = ids.get(value)
        if number is None:
            number = ids[value] = len(ids)
            self.values[slot].append(value)
            self.hashes[slot].append(hash(value))
            if slot < self.cpus:
                moves = value.state == "run" and value.pc is not None
                self.status[slot].append(CRASHED if value.state == "crashed" else MOVES if moves else 0)
        return number

    def key(self, world: World) -> Key:
        """The key of ``world``, interning every part."""
        intern = self.intern
        cpus = [intern(slot, cpu) for slot, cpu in enumerate(world.cpus)]
        others = [intern(self.cpus + i - 1, value) for i, value in enumerate(world.parts()) if i]
        return tuple(cpus + others)

    def child_key(self, parent: World, parent_key: Key, child: World) -> Key:
        """The key of ``child``, a step from ``parent``: the parts it shares with its parent (by
        identity: a step's commit shares every part it did not write) keep the parent's ints."""
        key = list(parent_key)
        for slot, (new, old) in enumerate(zip(child.cpus, parent.cpus)):
            if new is not old:
                key[slot] = self.intern(slot, new)
        for i, (new, old) in enumerate(zip(child.parts(), parent.parts())):
            if i and new is not old:
                slot = self.cpus + i - 1
                key[slot] = self.intern(slot, new)
        return tuple(key)

    def world(self, key: Key, steps: int) -> World:
        """The World ``key`` stands for, ``steps`` steps into its schedule (history only)."""
        values, hashes = self.values, self.hashes
        n = self.cpus
        cpus = tuple([values[slot][key[slot]] for slot in range(n)])
        parts = [cpus] + [values[slot][key[slot]] for slot in range(n, len(key))]
        world = object.__new__(World)
        world.__dict__.update(zip(PARTS, parts))
        world.__dict__["steps"] = steps
        world.__dict__["part_hashes"] = (hash(cpus), *[hashes[slot][key[slot]] for slot in range(n, len(key))])
        return world

    def value(self, slot: int, number: int) -> Any:
        return self.values[slot][number]

    def slot_of(self, part: int) -> int:
        """The slot of a key that holds part ``part`` (an index in PARTS, not the CPUs)."""
        return self.cpus + part - 1


class KeyCanon:
    """symmetry.Canon over keys: the same representatives, chosen and built from the interned
    parts. Which relabelling a world needs is decided once per combination of the interchangeable
    CPUs' records, and a relabelled part is built once per part value and relabelling: a move
    costs a few lookups."""

    def __init__(self, canon: Canon, interner: Interner) -> None:
        self.canon = canon
        self.interner = interner
        # Which relabelling a world needs depends only on its interchangeable CPUs' own records:
        # their ints in a key (picked by _classed) -> Canon.sorting's / Canon.size's answer for them
        classed = [cpu_id - 1 for ids in canon.classes for cpu_id in ids]
        self._classed = itemgetter(*classed)  # a tuple: every class has two CPUs or more
        self._sorting: dict[Key, Perm | None | object] = {}
        self._sizes: dict[Key, int | None] = {}
        self._perms = canon.perms()
        self._shared: dict[tuple[tuple[int, int], ...], Perm] = {tuple(sorted(p.items())): p for p in self._perms if p}
        self._holders_slots = [interner.slot_of(part) for part in HOLDING_PARTS]
        self._part_of = {interner.slot_of(part): part for part in HOLDING_PARTS}  # slot -> index in PARTS
        # A relabelling (as sorted pairs) -> the slots it rewrites, each with the slot it goes to
        self._moves: dict[tuple[tuple[int, int], ...], list[tuple[int, int]]] = {}
        # (slot, part value's int, the relabelling as sorted pairs) -> the relabelled value's int
        self._relabelled: dict[tuple[int, int, tuple[tuple[int, int], ...]], int] = {}

    def _key_of(self, key: Key) -> Callable[[int], tuple[str, ...]]:
        """Canon.key of a CPU (by number) of ``key``'s world."""
        value, cpu_key = self.interner.value, self.canon.key
        return lambda cpu_id: cpu_key(value(cpu_id - 1, key[cpu_id - 1]))

    def canonical(self, key: Key) -> tuple[Key, Perm | None]:
        """As Canon.canonical: (the representative's key, the relabelling that gave it, or None).
        The relabelling returned may be shared with other calls: never change it."""
        classed = self._classed(key)
        try:
            perm = self._sorting[classed]
        except KeyError:
            perm = self.canon.sorting(self._key_of(key))
            if isinstance(perm, dict):  # one object per distinct relabelling (Parents numbers them by identity)
                perm = self._shared.setdefault(tuple(sorted(perm.items())), perm)
            self._sorting[classed] = perm
        if perm is None:
            return key, None
        if perm is TIE:  # rare: decided by what the CPUs hold
            return self._least(key)
        return self.relabel(key, perm), perm  # type: ignore[arg-type]

    def _least(self, key: Key) -> tuple[Key, Perm | None]:
        """As Canon._least, on keys."""
        value, slots = self.interner.value, self._holders_slots

        def order(k: Key) -> tuple[Any, ...]:
            return self.canon.rank(self._key_of(k), holders_of(*[value(slot, k[slot]) for slot in slots]))

        best, perm = min(self.orbit(key), key=lambda member: order(member[0]))
        return best, (perm or None)

    def relabel(self, key: Key, perm: Perm) -> Key:
        """symmetry.relabel on a key."""
        pairs = tuple(sorted(perm.items()))
        moves = self._moves.get(pairs)
        if moves is None:  # once per relabelling: the slots it rewrites, each with where it goes
            cpus = [(slot, perm[slot + 1] - 1) for slot in range(self.interner.cpus) if perm.get(slot + 1, slot + 1) != slot + 1]
            moves = self._moves[pairs] = cpus + [(slot, slot) for slot in self._holders_slots]
        relabelled = self._relabelled
        new = list(key)
        for slot, to in moves:
            try:  # a relabelled part is built once per part value and relabelling
                new[to] = relabelled[(slot, key[slot], pairs)]
            except KeyError:
                new[to] = self._moved(key, slot, to, perm, pairs)
        return tuple(new)

    def _moved(self, key: Key, slot: int, to: int, perm: Perm, pairs: tuple[tuple[int, int], ...]) -> int:
        """Slot ``slot``'s part of ``key`` relabelled by ``perm``, interned in slot ``to``."""
        value = self.interner.value(slot, key[slot])
        if slot < self.interner.cpus:  # a CPU's state moves to CPU `to`, whose actor stays
            actor = self.interner.value(to, key[to]).actor
            renamed = moved_cpu(value, to + 1, actor)
        else:
            renamed = relabel_part(self._part_of[slot], value, perm)
        moved = self._relabelled[(slot, key[slot], pairs)] = self.interner.intern(to, renamed)
        return moved

    def size(self, key: Key) -> int:
        """As Canon.orbit_size: how many distinct worlds ``key`` stands for."""
        classed = self._classed(key)
        try:
            size = self._sizes[classed]
        except KeyError:
            size = self._sizes[classed] = self.canon.size(self._key_of(key))
        return len(self.orbit(key)) if size is None else size

    def orbit(self, key: Key) -> list[tuple[Key, Perm]]:
        """As Canon.orbit: every distinct world ``key`` stands for, each with the relabelling that
        gives it (in the same order)."""
        seen: dict[Key, Perm] = {}
        for perm in self._perms:
            seen.setdefault(self.relabel(key, perm) if perm else key, perm)
        return list(seen.items())
