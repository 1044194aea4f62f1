"""How far any persistent-set partial-order reduction could cut a scenario's states (issue 12).

    .venv/bin/python bench/bench_por_bound.py [SCENARIO ...] [--codes old,new]

An upper bound, not a reduction to ship: it first runs the exact search, noting what every step
read and wrote, record by record (each heap object, entry, tree, folio and PTE, the swap device,
the LRU, the allocator, the violations, a CPU's own state, and whether a CPU is running, which
swapoff's synchronize_rcu() reads of every CPU). From that graph it knows, for every CPU in every
state of its own (its step, stack and locals), everything it can still touch in the rest of its
program: the union over the states of its own it can reach, which is exact for this scenario and
code, more precise than any analysis of the program text. Then it searches again, taking a step
alone whenever nothing any other CPU can still do conflicts with it (a persistent set of one, the
best a static "what can the others still touch" analysis could find: transaction/Lipton
reductions, locks as left and right movers), and again with the smallest persistent set of any
size it can grow from each CPU (stubborn sets). It prints the states of the three searches and
whether every violation group keeps its shortest length.

A crash ends a run, but a step is not made to conflict with a later crash of another CPU: taking
it first still reaches the crash, so the violation is kept (only the shortest length may grow).
The run replaces the model's copy-on-write view with one that records keys (the product's search
does not pay for that).
"""
from __future__ import annotations

import argparse
import gc
import sys
import time
from collections import defaultdict, deque
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.model.kernel import engine  # noqa: E402
from app.model.kernel.engine import _KEYED, _VALUES, Blocked, run_step  # noqa: E402
from app.model.scenarios.initial import initial_world  # noqa: E402
from app.model.scenarios.replay import final_violations  # noqa: E402
from app.model.scenarios.loader import load_all  # noqa: E402
from app.model.kernel.state import World  # noqa: E402

THREE_CPUS = ["two-shrinkers-vs-swapoff", "writeback-vs-swapin-vs-swapoff"]


class RecordingPart(engine.Part):
    """engine.Part that also notes the keys a step read and wrote (``read_all``: it scanned)."""

    __slots__ = ("read", "written", "read_all")

    def __init__(self, base: dict[Any, Any]) -> None:
        super().__init__(base)
        self.read: set[Any] = set()
        self.written: set[Any] = set()
        self.read_all = False

    def __getitem__(self, key: Any) -> Any:
        self.read.add(key)
        return self.base[key]

    def get(self, key: Any, default: Any = None) -> Any:
        self.read.add(key)
        return self.base.get(key, default)

    def __contains__(self, key: Any) -> bool:
        self.read.add(key)
        return key in self.base

    def values(self) -> Any:
        self.read_all = True
        return self.base.values()

    def items(self) -> Any:
        self.read_all = True
        return self.base.items()

    def __setitem__(self, key: Any, value: Any) -> None:
        self.written.add(key)
        super().__setitem__(key, value)


_BITS: dict[Any, int] = {}


def bit(resource: Any) -> int:
    b = _BITS.get(resource)
    if b is None:
        b = _BITS[resource] = 1 << len(_BITS)
    return b


def footprint(ctx: Any, blocked: bool, cpus: int) -> tuple[int, int]:
    """(reads, writes) of one step as bit masks; a blocked attempt reads what would unblock it."""
    reads = bit(("cpu", ctx.cpu_id))
    writes = 0 if blocked else bit(("cpu", ctx.cpu_id))
    if not blocked and ctx.cpu_state != ctx.w0.cpus[ctx.cpu_id - 1].state:
        writes |= bit(("running", ctx.cpu_id))
    if ctx.read_cpus:
        for n in range(1, cpus + 1):
            reads |= bit(("running", n))
    mine = ctx.__dict__
    for name in _KEYED:
        part = mine.get(name)
        if part is None:
            continue
        if part.read_all:
            reads |= bit((name, "*"))
        for key in part.read:
            reads |= bit((name, key))
        for key in part.written:
            if blocked:
                reads |= bit((name, key))
            else:
                writes |= bit((name, key)) | bit((name, "*"))
    w0 = ctx.w0
    for name in (*_VALUES, "violations", "free_lists", "next_addr"):
        if name not in mine:
            continue
        reads |= bit(name)
        if blocked:
            continue
        value = mine[name]
        if name == "violations":
            changed = len(value) != len(w0.violations)
        elif name == "free_lists":
            changed = tuple(sorted((k, tuple(v)) for k, v in value.items())) != w0.free_lists
        elif name == "next_addr":
            changed = tuple(sorted(value.items())) != w0.next_addr
        else:
            changed = value is not getattr(w0, name)
        if changed:
            writes |= bit(name)
    return reads, writes


def exact_graph(scenario: Any, code: str) -> tuple[list[World], dict[tuple[int, int], tuple[int | None, int, int]]]:
    root = initial_world(scenario, code)
    index = {root: 0}
    worlds = [root]
    queue = deque([0])
    steps: dict[tuple[int, int], tuple[int | None, int, int]] = {}
    while queue:
        s = queue.popleft()
        world = worlds[s]
        if any(c.state == "crashed" for c in world.cpus):
            continue
        for cpu in world.cpus:
            if cpu.state != "run" or cpu.pc is None:
                continue
            result, ctx = run_step(world, cpu.id)
            blocked = isinstance(result, Blocked)
            reads, writes = footprint(ctx, blocked, len(world.cpus))
            child = None
            if not isinstance(result, Blocked):
                child = index.get(result.world)
                if child is None:
                    child = index[result.world] = len(worlds)
                    worlds.append(result.world)
                    queue.append(child)
            steps[(s, cpu.id)] = (child, reads, writes)
    return worlds, steps


def futures(worlds: list[World], steps: dict[tuple[int, int], tuple[int | None, int, int]]) -> dict[int, dict[Any, list[int]]]:
    """Per CPU, per state of its own: everything it can still read and write (a fixpoint)."""
    result: dict[int, dict[Any, list[int]]] = {}
    for cpu in range(1, len(worlds[0].cpus) + 1):
        reach: dict[Any, list[int]] = defaultdict(lambda: [0, 0])
        edges: dict[Any, set[Any]] = defaultdict(set)
        for (s, c), (child, reads, writes) in steps.items():
            if c != cpu:
                continue
            own = worlds[s].cpus[cpu - 1]
            reach[own][0] |= reads
            reach[own][1] |= writes
            if child is not None and worlds[child].cpus[cpu - 1] != own:
                edges[own].add(worlds[child].cpus[cpu - 1])
        changed = True
        while changed:
            changed = False
            for own, nexts in edges.items():
                mine = reach[own]
                for n in nexts:
                    if n in reach:
                        r, w = mine[0] | reach[n][0], mine[1] | reach[n][1]
                        if (r, w) != (mine[0], mine[1]):
                            mine[0], mine[1] = r, w
                            changed = True
        result[cpu] = dict(reach)
    return result


def shortest(worlds: list[World], moves: dict[int, list[int]]) -> tuple[int, dict[tuple[str, str | None], int]]:
    """States reached from the root over ``moves`` and each violation group's BFS depth."""
    depth = {0: 0}
    queue = deque([0])
    groups: dict[tuple[str, str | None], int] = {}
    while queue:
        s = queue.popleft()
        world = worlds[s]
        found = list(world.violations) + (final_violations(world) if not moves.get(s) else [])
        for v in found:
            groups.setdefault((v.kind, v.step_id), depth[s])
        for c in moves.get(s, []):
            if c not in depth:
                depth[c] = depth[s] + 1
                queue.append(c)
    return len(depth), groups


def _conflicts(step: tuple[int | None, int, int], future: list[int]) -> bool:
    _child, reads, writes = step
    return bool(writes & (future[0] | future[1]) or reads & future[1])


def persistent(world: World, s: int, steps: dict[tuple[int, int], tuple[int | None, int, int]],
               future: dict[int, dict[Any, list[int]]], size_one: bool) -> list[int]:
    """The CPUs of the smallest persistent set found at ``s`` (all enabled CPUs when none is smaller).

    A set of enabled CPUs E is persistent when no CPU outside it can, in the rest of its program,
    touch what E's next steps touch: a path that avoids E's steps runs only the others' steps, so
    all of them commute with E's. Grown from each enabled CPU, adding every enabled CPU whose
    future conflicts (a disabled one that conflicts makes the set fail); ``size_one``: only sets of
    one."""
    live = [c for c in world.cpus if (s, c.id) in steps]
    enabled = [c.id for c in live if steps[(s, c.id)][0] is not None]
    best = enabled
    for start in enabled:
        chosen = {start}
        grown = True
        while grown:
            grown = False
            for other in live:
                if other.id in chosen:
                    continue
                fut = future[other.id].get(other)
                if fut is None or any(_conflicts(steps[(s, p)], fut) for p in chosen):
                    if other.id not in enabled or size_one:
                        chosen = set(enabled)
                        grown = False
                        break
                    chosen.add(other.id)
                    grown = True
        if len(chosen) < len(best):
            best = sorted(chosen)
    return best


def bound(scenario: Any, code: str) -> tuple[int, int, bool, int, bool]:
    """(exact states, states with persistent sets of one, same groups and lengths, states with the
    smallest persistent sets, same groups and lengths)."""
    worlds, steps = exact_graph(scenario, code)
    future = futures(worlds, steps)
    full: dict[int, list[int]] = defaultdict(list)
    for (s, _cpu), (child, _r, _w) in sorted(steps.items()):
        if child is not None:
            full[s].append(child)
    n_full, groups_full = shortest(worlds, full)
    found = []
    for size_one in (True, False):
        reduced = {s: [steps[(s, c)][0] for c in persistent(world, s, steps, future, size_one)]  # type: ignore[misc]
                   for s, world in enumerate(worlds)}
        n, groups = shortest(worlds, reduced)
        found += [n, groups == groups_full]
    return (n_full, *found)  # type: ignore[return-value]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("scenarios", nargs="*", default=THREE_CPUS)
    parser.add_argument("--codes", default="old,new")
    args = parser.parse_args()
    engine.Part = RecordingPart  # type: ignore[misc]
    gc.disable()
    scenarios = load_all()
    print(f"{'scenario':32} {'code':8} {'exact':>8} {'sets of 1':>9} {'cut':>5} {'same':>5} {'any size':>9} {'cut':>5} "
          f"{'same':>5}   (same: the same violation groups, each with its shortest length)")
    for sid in args.scenarios:
        for code in args.codes.split(","):
            started = time.perf_counter()
            n_full, one, same_one, any_size, same_any = bound(scenarios[sid], code)
            print(f"{sid:32} {code:8} {n_full:>8} {one:>9} {1 - one / n_full:>5.0%} {str(same_one):>5} {any_size:>9} "
                  f"{1 - any_size / n_full:>5.0%} {str(same_any):>5}   ({time.perf_counter() - started:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
