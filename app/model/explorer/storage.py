"""Compact storage of a search's graph: what the explorer keeps per world, in flat arrays.

A search keeps, for every world it meets, the edge that first reached it (parent, CPU, the
relabelling symmetry applied), its depth, its class size under symmetry and its successors (for
counting paths and finding livelocks). As Python lists of tuples and lists that cost about 300
bytes a world; in typed arrays it is about 20 (4 bytes a successor). The worlds' keys themselves
are not kept once expanded: the visited table holds their 64-bit hashes (hash compaction, see
explore.py), and a key that is needed again (a livelock's states) is rebuilt along its edges.
"""
from __future__ import annotations

from array import array
from collections.abc import Iterator

from app.model.explorer.symmetry import Perm


class Parents:
    """state -> (parent state, CPU that stepped, the relabelling applied or None), in arrays."""

    __slots__ = ("parent", "cpu", "perm", "perms", "_perm_ids")

    def __init__(self) -> None:
        self.parent = array("i", [0])
        self.cpu = array("b", [0])
        self.perm = array("h", [0])
        self.perms: list[Perm | None] = [None]  # distinct relabellings, by number (a handful)
        self._perm_ids: dict[tuple[tuple[int, int], ...], int] = {}

    def append(self, parent: int, cpu: int, perm: Perm | None) -> None:
        self.parent.append(parent)
        self.cpu.append(cpu)
        if not perm:
            self.perm.append(0)
            return
        key = tuple(sorted(perm.items()))
        number = self._perm_ids.get(key)
        if number is None:
            number = self._perm_ids[key] = len(self.perms)
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
