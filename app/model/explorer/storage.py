"""Compact storage of a search's graph: what the explorer keeps per world, in flat arrays.

A search keeps, for every world it meets, the edge that first reached it (parent, CPU, the
relabelling symmetry applied), its depth, its class size under symmetry and its successors (for
counting paths and finding livelocks). As Python lists of tuples and lists that cost about 300
bytes a world; in typed arrays it is about 20 (4 bytes a successor). The worlds' keys themselves
are not kept once expanded: the visited table holds their 64-bit hashes (hash compaction, see
explore.py), and a key that is needed again (a livelock's states) is rebuilt along its edges.
The visited table is an array too (Visited): as a dict of Python ints it took about 96 bytes a
world, two thirds of a search's memory.
"""
from __future__ import annotations

from array import array
from collections.abc import Iterator
from operator import mul, sub

from app.model.explorer.symmetry import Perm


class Visited:
    """The visited table of hash compaction: a world's 64-bit hash -> its state number.

    Open addressing with linear probing in two typed arrays (8 bytes of hash and 4 of state per
    slot, at most 60% full: 20-40 bytes a world), where a dict of Python ints costs about 96 (a
    40-byte int for the hash, a 32-byte one for the number, the dict's own entry). The probe loop
    runs in Python, a few hundred nanoseconds a lookup; a dict's lookup is not much faster once
    its 600,000 entries no longer fit in the cache. -1 marks a free slot: Python never hashes
    anything to -1.
    """

    __slots__ = ("hashes", "states", "mask", "used", "limit")

    def __init__(self, size: int = 1 << 12) -> None:
        self.hashes = array("q", [-1]) * size
        self.states = array("i", [0]) * size
        self.mask = size - 1
        self.used = 0
        self.limit = size * 3 // 5

    def setdefault(self, hashed: int, state: int) -> int:
        """The state number stored for ``hashed``; ``state`` (stored) when there is none."""
        hashes, mask = self.hashes, self.mask
        i = hashed & mask
        while True:
            found = hashes[i]
            if found == hashed:
                return self.states[i]
            if found == -1:
                break
            i = (i + 1) & mask
        hashes[i] = hashed
        self.states[i] = state
        self.used += 1
        if self.used > self.limit:
            self._grow()
        return state

    def _grow(self) -> None:
        old = zip(self.hashes, self.states)
        size = (self.mask + 1) * 2
        self.__init__(size)  # type: ignore[misc]
        hashes, states, mask = self.hashes, self.states, self.mask
        for hashed, state in old:
            if hashed != -1:
                i = hashed & mask
                while hashes[i] != -1:
                    i = (i + 1) & mask
                hashes[i] = hashed
                states[i] = state
                self.used += 1

    def __len__(self) -> int:
        return self.used


class Parents:
    """state -> (parent state, CPU that stepped, the relabelling applied or None), in arrays."""

    __slots__ = ("parent", "cpu", "perm", "perms", "_perm_ids")

    def __init__(self) -> None:
        self.parent = array("i", [0])
        self.cpu = array("b", [0])
        self.perm = array("h", [0])
        self.perms: list[Perm | None] = [None]  # distinct relabellings, by number (a handful)
        self._perm_ids: dict[int, int] = {}  # id(relabelling) -> its number

    def append(self, parent: int, cpu: int, perm: Perm | None) -> None:
        self.parent.append(parent)
        self.cpu.append(cpu)
        if not perm:
            self.perm.append(0)
            return
        # By identity: the search hands the same few relabelling objects over and over
        # (KeyCanon's), and self.perms keeps each alive, so no id is reused while it is here.
        number = self._perm_ids.get(id(perm))
        if number is None:
            number = self._perm_ids[id(perm)] = len(self.perms)
            self.perms.append(perm)
        self.perm.append(number)

    def __getitem__(self, state: int) -> tuple[int, int, Perm | None]:
        return self.parent[state], self.cpu[state], self.perms[self.perm[state]]

    def __len__(self) -> int:
        return len(self.parent)


class Graph:
    """Each state's successors, in expansion order (state s's are added s-th): a flat array of
    successor numbers and each state's offset into it (compressed sparse rows)."""

    __slots__ = ("offsets", "edges")

    def __init__(self) -> None:
        self.offsets = array("l", [0])
        self.edges = array("i")

    def append(self, children: list[int]) -> None:
        self.edges.extend(children)
        self.offsets.append(len(self.edges))

    def __getitem__(self, state: int) -> array:  # type: ignore[type-arg]
        return self.edges[self.offsets[state]: self.offsets[state + 1]]

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __iter__(self) -> Iterator[array]:  # type: ignore[type-arg]
        for state in range(len(self)):
            yield self[state]

    def degree(self, state: int) -> int:
        return self.offsets[state + 1] - self.offsets[state]

    def weighted_edges(self, weights: array) -> int:  # type: ignore[type-arg]
        """The sum over states of weight * out-degree (under symmetry: the edges of every world the
        representatives stand for), without a Python-level loop per state."""
        offsets = self.offsets
        degrees = map(sub, offsets[1:], offsets[:-1])
        return sum(map(mul, weights, degrees))
