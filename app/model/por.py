"""Partial-order reduction: dynamic (DPOR, Flanagan and Godefroid 2005) with state caching.

Two steps of different CPUs that touch disjoint parts of the world (footprint.py) commute:
both orders reach the same world, and neither enables or disables the other. Schedules that
differ only in the order of commuting steps are one "trace"; DPOR explores at least one
schedule of every trace that ends somewhere (a crash, a deadlock or a finished run), usually
very few per trace.

How: a depth-first search that, from each state, first takes one CPU only. Whenever the next
step of some CPU p (enabled or blocked) conflicts with a step earlier on the current path that
does not happen-before p (vector clocks), the two could have run in the other order, so the
state before that earlier step also explores p (or every enabled CPU, when p could not move
there). A state reached again is not searched again (state caching); instead its summary, the
union of the footprints of every step looked at in the part of the graph below it, is checked
against the whole current path as if its steps came next, conservatively (every conflicting
step on the path gets the CPU, not only the last one, and happens-before is not used). A
reached-again state still on the path (a cycle) stops the reduction: the caller falls back to
the exact search.

What it preserves: every final state of the full search (crash, deadlock, finished with or
without a leak) is reached, and by a schedule that is a reordering of commuting steps of a
shortest one, hence of the same length; so every violation group (kind and site), its shortest
length, every deadlock and every leak. Violations are never erased from a world, so a
violation met mid-run is still there in the final state its run ends in. What it changes: the
states and transitions visited, the number of complete runs N and each group's k (they count
the representative schedules explored, not every interleaving). A test compares it with the
exact search on every scenario and code.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

from .footprint import dependent
from .state import World


class CycleFound(Exception):
    """A state on the current path was reached again: the reduction does not handle cycles."""


class Stopped(Exception):
    """The state budget, the time budget or a cancellation stopped the search."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Graph:
    """The reduced state graph: worlds by id (0 is the root), and each state's explored edges."""

    worlds: list[World]
    index: dict[World, int]
    edges: list[list[tuple[int, int]]] = field(default_factory=list)  # (cpu, child id), cpu order


Step = Callable[[World, int], tuple["World | None", bool, int, int]]


def reduced_graph(
    root: World,
    step: Step,
    max_states: int,
    deadline: float | None = None,
    should_stop: Callable[[], bool] | None = None,
    budget_text: str = "",
) -> Graph:
    """The DPOR-reduced graph from ``root``; ``step(world, cpu)`` is Transitions.step_footprint."""
    worlds = [root]
    index = {root: 0}
    nexts: list[dict[int, tuple[World | None, int, int]]] = []  # cpu -> (child or None, reads, writes)
    enabled: list[frozenset[int]] = []
    backtrack: list[set[int]] = []
    done: list[set[int]] = []
    summary: list[dict[int, list[int]]] = []  # cpu -> [reads, writes]: every step looked at below
    finished: list[bool] = []
    edges: list[list[tuple[int, int]]] = []
    # The current path: trans[i] is the step from path[i] to path[i + 1]: (cpu, reads, writes, clock).
    path: list[int] = []
    trans: list[tuple[int, int, int, tuple[int, ...]]] = []
    ncpu = len(root.cpus) + 1

    def add_backtrack(i: int, cpu: int) -> None:
        pre = path[i]
        if cpu in enabled[pre]:
            backtrack[pre].add(cpu)
        else:
            backtrack[pre].update(enabled[pre])

    def happens_before(i: int, cpu: int) -> bool:
        """Whether step i of the path happens-before CPU ``cpu``'s next step."""
        for j in range(len(trans) - 1, i - 1, -1):
            if trans[j][0] == cpu:
                return j == i or trans[j][3][trans[i][0]] >= i + 1
        return False

    def races(cpu: int, reads: int, writes: int) -> None:
        """The next step of ``cpu`` against the path: the last conflicting step it does not follow."""
        for i in range(len(trans) - 1, -1, -1):
            p, r, w, _clock = trans[i]
            if p != cpu and dependent(r, w, reads, writes) and not happens_before(i, cpu):
                add_backtrack(i, cpu)
                return

    def races_below(state: int) -> None:
        """A state searched before: every step below it against every step of the path."""
        for cpu, (reads, writes) in summary[state].items():
            for i, (p, r, w, _clock) in enumerate(trans):
                if p != cpu and dependent(r, w, reads, writes) and not happens_before(i, cpu):
                    add_backtrack(i, cpu)

    def clock_of(cpu: int, reads: int, writes: int) -> tuple[int, ...]:
        clock = [0] * ncpu
        for j, (p, r, w, c) in enumerate(trans):
            if p == cpu or dependent(r, w, reads, writes):
                clock = [a if a >= b else b for a, b in zip(clock, c)]
        clock[cpu] = len(trans) + 1
        return tuple(clock)

    def expand(s: int) -> None:
        world = worlds[s]
        moves: dict[int, tuple[World | None, int, int]] = {}
        # After a crash no CPU moves (the kernel is dead), but each one's next step still counts
        # for the races: it reads ALIVE, which the crash wrote, so the search also tries the
        # orders in which that CPU went first (and perhaps crashed elsewhere).
        crashed = any(c.state == "crashed" for c in world.cpus)
        for cpu in world.cpus:
            if cpu.state == "run" and cpu.pc is not None:
                child, _local, reads, writes = step(world, cpu.id)
                moves[cpu.id] = (None if crashed else child, reads, 0 if crashed or child is None else writes)
        nexts.append(moves)
        can = frozenset(c for c, (child, _r, _w) in moves.items() if child is not None)
        enabled.append(can)
        backtrack.append({min(can)} if can else set())
        done.append(set())
        summary.append({c: [r, w] for c, (_child, r, w) in moves.items()})
        finished.append(False)
        edges.append([])
        for c, (_child, r, w) in moves.items():
            races(c, r, w)

    def merge(into: int, below: int) -> None:
        mine = summary[into]
        for cpu, (r, w) in summary[below].items():
            got = mine.get(cpu)
            if got is None:
                mine[cpu] = [r, w]
            else:
                got[0] |= r
                got[1] |= w

    expand(0)
    path.append(0)
    visited = 0
    while path:
        s = path[-1]
        todo = backtrack[s] - done[s]
        if not todo:
            finished[s] = True
            path.pop()
            if trans:
                trans.pop()
            if path:
                merge(path[-1], s)
            continue
        visited += 1
        if visited & 255 == 0:
            if deadline is not None and time.perf_counter() > deadline:
                raise Stopped(f"stopped at the time budget of {budget_text} s")
            if should_stop is not None and should_stop():
                raise Stopped("cancelled: nobody was waiting for the answer")
        cpu = min(todo)
        done[s].add(cpu)
        child, reads, writes = nexts[s][cpu]
        assert child is not None
        c = index.get(child)
        trans.append((cpu, reads, writes, clock_of(cpu, reads, writes)))
        if c is None:
            if len(worlds) >= max_states:
                raise Stopped(f"stopped at the state budget of {max_states} states")
            c = len(worlds)
            index[child] = c
            worlds.append(child)
            edges[s].append((cpu, c))
            path.append(c)
            expand(c)
            continue
        edges[s].append((cpu, c))
        if not finished[c]:
            raise CycleFound()
        races_below(c)
        trans.pop()
        merge(s, c)
    for e in edges:
        e.sort()
    return Graph(worlds, index, edges)
