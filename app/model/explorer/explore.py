"""Exhaustive exploration of every interleaving of a scenario (a small model checker).

Breadth-first search over the state graph, with states de-duplicated by value
(World compares kernel state only, never history; the search keeps each world as a
tuple of small ints, one per part, interned by value: interned.py). For every
violation group (kind + code location) it keeps the shortest schedule that
reaches it (BFS order) and counts how many complete runs reach it by dynamic
programming over the state graph, without enumerating paths.

Liveness: a run may also never end. When some reachable states have no path to a final state
(every run from them stays in a cycle for ever: swapoff's try_to_unuse() retrying, a CPU that
can never finish), the search reports a "livelock" group of its own, with the shortest schedule
into such a cycle, so a search without a complete run never reads as "no violation". A search
its budget stopped is never called a livelock: its unexplored states have no successors yet.

A run ends when no CPU can move, or at the first memory error: a CPU that
hits a use-after-free, double free or NULL dereference stops, and the search
treats the kernel as dead there (as with KASAN and panic_on_warn), so
"k of N" counts runs that end in that error. Replay and the web UI still let
the other CPUs go on after a crash, to show what they would have done.

Reduction (off by default, on for the large scaled scenario): a step that
touched no shared state at all (only the CPU's own pc and locals) commutes
with every step of every other CPU and cannot be blocked by them, so when a
CPU's next step is such a local step the search takes it and nothing else
from that state. This is the classic "invisible local action" partial-order
reduction: it cannot hide a violation, a deadlock or a leak, because local
steps neither record violations nor change what any other CPU can do. It
does change what a "schedule" is for the counts: with it on, the counts are
of schedules in which local steps are taken as soon as they are reached.

With the reduction on, the search also uses symmetry between interchangeable CPUs
(symmetry.py: the two shrinkers of two-shrinkers-vs-swapoff): it keeps one world per
relabelling of them and reports the counts of every world, and real schedules.
"""
from __future__ import annotations

import gc
import json
from array import array
import sys
import time
from dataclasses import dataclass, field
from operator import itemgetter
from typing import Any, Callable

from app.model.actors.programs import PROGRAMS
from app.model.kernel.engine import ACTORS, PART_INDEX, Blocked, run_step
from app.model.scenarios.initial import blob_of, initial_world
from app.model.explorer.interned import CRASHED, Interner, Key, KeyCanon
from app.model.explorer.storage import Graph, Parents, Visited
from app.model.scenarios.replay import final_violations, replay
from app.model.scenarios.scenario import Scenario, all_codes
from app.model.scenarios.loader import load_all, load_one, scenario_ids
from app.model.kernel.lines import line_of
from app.model.kernel.state import MEMORY_ERRORS, World
from app.model.explorer.symmetry import Canon, Perm, classes, compose, inverse, relabel_schedule, relabel_text

DEFAULT_MAX_STATES = 2_000_000


@dataclass
class Group:
    kind: str
    step_id: str | None
    first_state: int
    detail: str
    count: int = 0
    shortest: str = ""  # the shortest schedule that reaches it (a real one: relabelled back)

    @property
    def key(self) -> tuple[str, str | None]:
        return (self.kind, self.step_id)


@dataclass
class Exploration:
    scenario: str
    code: str
    states: int
    transitions: int
    depth: int
    complete_runs: int | None  # None when the graph has a cycle or the search stopped
    terminal_states: int
    deadlock_states: int
    seconds: float
    reduction: bool
    complete: bool  # False when the state budget stopped the search
    stopped_reason: str | None
    groups: list[Group] = field(default_factory=list)
    schedules: dict[int, str] = field(default_factory=dict)
    searched: int = 0  # worlds the search kept (representatives under symmetry; else ``states``)
    livelock_states: int = 0  # states from which no run can end (0 unless there is a livelock group)
    symmetric: tuple[tuple[int, ...], ...] = ()  # the interchangeable CPUs it used
    # Per CPU that can crash the kernel (a memory error, MEMORY_ERRORS): its shortest crashing
    # schedule, shortest first, then by CPU number (see _crashes).
    crashes: list[dict[str, Any]] = field(default_factory=list)

    def _count_of(self, g: Group) -> tuple[int | None, str | None]:
        """A group's count, or None and why it is not known: runs are counted only over a whole
        graph without a cycle (a livelock's count is of states, known whenever it is found)."""
        if self.complete_runs is not None or g.kind == "livelock":
            return g.count, None
        if not self.complete:
            return None, f"the search stopped after {self.states:,} states"
        return None, "the states form a cycle, so runs cannot be counted"

    def to_dict(self) -> dict[str, Any]:
        violations = [_violation_dict(g.kind, g.step_id, g.detail, *self._count_of(g),
                                      g.shortest or self.schedules[g.first_state], blob_of(self.code))
                      for g in self.groups]
        return {
            "scenario": self.scenario,
            "code": self.code,
            "states": self.states,
            "transitions": self.transitions,
            "depth": self.depth,
            "complete_runs": self.complete_runs,
            "terminal_states": self.terminal_states,
            "deadlocks": self.deadlock_states,
            "livelock_states": self.livelock_states,
            "seconds": round(self.seconds, 4),
            "reduction": "local-steps" if self.reduction else "none",
            "complete": self.complete,
            "stopped_reason": self.stopped_reason,
            "violations": violations,
            # Worlds the search kept: fewer than "states" when it kept one per relabelling of
            # interchangeable CPUs ("symmetric", each a list of CPU numbers).
            "states_searched": self.searched or self.states,
            "symmetric": [list(ids) for ids in self.symmetric],
            "crashes": self.crashes,
        }


def _picker(indexes: tuple[int, ...]) -> Callable[[tuple[Any, ...]], Any]:
    """The elements at ``indexes`` of a tuple, as one value (a tuple but for one index)."""
    return itemgetter(*indexes) if indexes else (lambda _values: ())


class Transitions:
    """try_step with a memo, on interned worlds (interned.py): a step's outcome depends only on its
    CPU's own state and on the parts of the world the step read (the transaction records which).

    Most (CPU state, parts read) pairs recur across many global states that differ
    only in other CPUs or in parts this step never looks at, so the explorer runs
    each such step once and re-applies its written parts elsewhere. The memo is keyed by the
    interned ints of the CPU's record and of the parts read, and interning is by value, so a hit
    is exactly what running the step would give. A step that looks at other CPUs (swapoff's
    synchronize_rcu) is memoised with every CPU's record among the parts it read. History (alloc/free step
    numbers, narration) of a re-applied step is the first run's: the explorer
    does not use it, and replays of its schedules recompute everything.
    """

    def __init__(self, interner: Interner, enabled: bool = True) -> None:
        self.interner = interner
        self.enabled = enabled
        # Per CPU slot: the CPU record's int -> a list of (parts read (slots), their picker, the ints
        # of those parts -> outcome: () when blocked, else (the CPU's new record, the other slots
        # written with their new ints, whether the step was CPU-local)). A list, not a dict by parts read:
        # every hit walks it (most records have one or two), and only a miss searches it by reads.
        self.memo: list[dict[int, list[tuple[tuple[int, ...], Callable[[Key], Any], dict[Any, tuple[Any, ...]]]]]] = [
            {} for _ in range(interner.cpus)
        ]
        self._key: Key | None = None  # the world last built from a key: every CPU of a state shares it
        self._world: World | None = None

    def world(self, key: Key, steps: int) -> World:
        if key is not self._key:
            self._world = self.interner.world(key, steps)
            self._key = key
        return self._world  # type: ignore[return-value]

    def step(self, key: Key, cpu_id: int, steps: int) -> tuple[Key | None, bool]:
        """(the next world's key or None when blocked, whether the step was CPU-local)."""
        # The hit path runs for almost every move of a search (97% on the scaled scenarios): it
        # costs a lookup per parts-read set of the CPU's record and one tuple built.
        if self.enabled:
            by_reads = self.memo[cpu_id - 1].get(key[cpu_id - 1])
            if by_reads is not None:
                for _read, pick, table in by_reads:
                    hit = table.get(pick(key))
                    if hit is not None:
                        if not hit:
                            return _BLOCKED
                        new_cpu, written, local = hit
                        child = list(key)
                        child[cpu_id - 1] = new_cpu
                        for written_slot, number in written:
                            child[written_slot] = number
                        return tuple(child), local
        return self._run(key, cpu_id, steps)

    def _run(self, key: Key, cpu_id: int, steps: int) -> tuple[Key | None, bool]:
        """The step run for real (a memo miss), its outcome memoised."""
        slot = cpu_id - 1
        world = self.world(key, steps)
        result, ctx = run_step(world, cpu_id)
        if isinstance(result, Blocked):
            answer: tuple[Key | None, bool] = _BLOCKED
            outcome: tuple[Any, ...] = ()
        else:
            new = self.interner.child_key(world, key, result.world)
            answer = (new, result.local)
            first = self.interner.cpus
            written = tuple((i, new[i]) for i in range(first, len(key)) if new[i] != key[i])
            outcome = (new[slot], written, result.local)
        if not self.enabled:
            return answer
        read = tuple(self.interner.slot_of(i) for i in ctx.parts_fetched())
        if ctx.read_cpus:
            read = tuple(range(self.interner.cpus)) + read
        by_reads = self.memo[slot].setdefault(key[slot], [])
        for known, pick, table in by_reads:
            if known == read:
                break
        else:
            pick, table = _picker(read), {}
            by_reads.append((read, pick, table))
        table[pick(key)] = outcome
        return answer


_BLOCKED: tuple[None, bool] = (None, False)


def explore(
    scenario: Scenario,
    code: str,
    max_states: int = DEFAULT_MAX_STATES,
    reduction: bool = False,
    prefix: str = "",
    memo: bool = True,
    max_seconds: float | None = None,
    should_stop: Callable[[], bool] | None = None,
    symmetry: bool | None = None,
    on_progress: Callable[[int, dict[str, Any] | None], None] | None = None,
    compact: bool = True,
) -> Exploration:
    """Explore every interleaving from the initial world, or from the state after ``prefix``.

    ``symmetry`` (by default: with ``reduction``) keeps one world per relabelling of
    interchangeable CPUs (symmetry.py); every count stays that of all the worlds.

    ``memo=False`` runs every step for real (slow; tests compare the two). ``max_seconds`` is a
    time budget and ``should_stop`` is asked now and then whether anyone still wants the answer;
    either stops the search like the state budget does (``complete`` False, the reason said).
    ``should_stop`` may return a string: the reason the search gives for stopping.

    ``compact`` (the default) keeps visited worlds by their keys' 64-bit hashes (hash compaction,
    as SPIN's -DHC) and each key only until its world is expanded: two distinct worlds with the
    same hash would make the search take the second for the first (an omission). Python's tuple
    hash mixes the slots' ints as xxHash does, so for n worlds the chance of any such omission is
    about n * n / 2**65: 1e-7 for 2 million worlds. ``compact=False`` keeps the keys (exact; the
    tests check both give the same verdicts, counts included, on the shipped scenarios).

    ``on_progress(worlds kept so far, first)`` is called as often as ``should_stop`` is asked, with
    ``first`` None, and once as soon as the first violation is found, with ``first`` as a violation
    of the verdict's dict (kind, step_id, function, line_label, detail, shortest): breadth first, its
    schedule is already a shortest one for its group.
    """
    # The search allocates hundreds of thousands of long-lived records (every world it keeps)
    # and makes no reference cycles that need collecting before it ends: the cyclic garbage
    # collector's full passes over them took 60-75% of a three-CPU search (9 s -> 2.4 s).
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _explore(scenario, code, max_states, reduction, prefix, memo, max_seconds, should_stop,
                        reduction if symmetry is None else symmetry, on_progress, compact)
    finally:
        if collecting:
            gc.enable()


def _path(parents: Parents, state: int) -> tuple[str, Perm]:
    """The real schedule to ``state``'s representative's class, and the relabelling from the
    representative to the world that schedule reaches (symmetry.py; {} without symmetry).

    Each edge is (parent, CPU, sigma): the parent's representative R_p stepped by CPU gave a world
    that sigma relabelled into this representative. The real world on the path is tau(R), with
    tau the identity at the root and tau = tau_p after the inverse of sigma; the real CPU is
    tau_p(CPU)."""
    edges = []
    while state:
        parent, cpu, sigma = parents[state]
        edges.append((cpu, sigma))
        state = parent
    tau: Perm = {}
    digits = []
    for cpu, sigma in reversed(edges):
        digits.append(str(tau.get(cpu, cpu)))
        if sigma:
            tau = compose(tau, inverse(sigma))
    return "".join(digits), tau


def _real_schedule(parents: Parents, state: int, extra: Perm | None,
                   detail: str) -> tuple[str, str]:
    """(the real schedule to a group's first state, the group's detail as that schedule's world
    words it). ``extra``: for a final violation seen on the world extra(R) that the representative R
    stands for, the relabelling from R to it (symmetry.py), else None."""
    path, tau = _path(parents, state)
    if extra is None:  # seen on the representative R: the real schedule reaches tau(R)
        return path, relabel_text(detail, tau)
    # a final violation seen on the world extra(R): relabel the schedule to reach it
    return relabel_schedule(path, compose(extra, inverse(tau))), detail


def _violation_dict(kind: str, step_id: str | None, detail: str, count: int | None, count_unknown: str | None,
                    shortest: str, blob: str = "") -> dict[str, Any]:
    """One violation group as the verdict's dict has it; ``blob``: the mm/zswap.c its lines are read in.
    ``count`` None (never a 0 that reads as "no run") with ``count_unknown`` saying why."""
    line = line_of(step_id, blob) if step_id else None
    return {
        "kind": kind,
        "step_id": step_id,
        "function": line.function if line else "",
        "file": line.file if line else "",
        "line": line.line if line else None,
        "line_label": line.label if line else "",
        "detail": detail,
        "count": count,
        "count_unknown": count_unknown,
        "shortest": shortest,
    }


def _explore(
    scenario: Scenario,
    code: str,
    max_states: int,
    reduction: bool,
    prefix: str,
    memo: bool,
    max_seconds: float | None,
    should_stop: Callable[[], bool] | None,
    symmetry: bool,
    on_progress: Callable[[int, dict[str, Any] | None], None] | None = None,
    compact: bool = True,
) -> Exploration:
    started = time.perf_counter()
    deadline = None if max_seconds is None else started + max_seconds
    root = replay(scenario, code, prefix).world if prefix else initial_world(scenario, code)
    cpu_classes = classes(root) if symmetry else ()
    interner = Interner(len(root.cpus))  # this search's tables: they go when it returns
    canon = KeyCanon(Canon(cpu_classes), interner) if cpu_classes else None
    root_key = interner.key(root)
    # Visited worlds: by their keys' 64-bit hashes (hash compaction), or by the keys themselves.
    index: Visited | dict[Key, int] = Visited() if compact else {}
    index.setdefault(hash(root_key) if compact else root_key, 0)  # type: ignore[arg-type]
    # The BFS queue: each state's key until it is expanded (then None: the key is not kept).
    state_keys: list[Key | None] = [root_key]
    parents = Parents()
    depth = array("i", [0])
    sizes = array("b", [1 if canon is None else canon.size(root_key)])
    succ = Graph()
    transitions = 0
    stopped: str | None = None
    groups: dict[tuple[str, str | None], Group] = {}
    # Per group found on another world than the representative itself (a final violation under
    # symmetry): the relabelling from the representative to that world.
    group_perm: dict[tuple[str, str | None], Perm] = {}
    transitions_memo = Transitions(interner, enabled=memo)
    # Final states: for each distinct world the representative stands for, its violations' keys.
    terminal_keys: dict[int, list[set[tuple[str, str | None]]]] = {}
    cpu_slots = range(interner.cpus)
    status, step = interner.status, transitions_memo.step
    violations_slot = interner.slot_of(PART_INDEX["violations"])
    # The violations parts already noted: every group in one has been found, at an earlier state.
    noted: set[int] = set()
    # (CPU as the world it was seen on names it, seen on an orbit member) -> the shallowest state
    # where that CPU made a memory error, the violation, and the orbit member's relabelling.
    crashed: dict[tuple[int, bool], tuple[int, Any, Perm | None]] = {}

    def note(state: int, world_violations: Any, extra: list[Any], perm: Perm | None = None) -> set[tuple[str, str | None]]:
        keys: set[tuple[str, str | None]] = set()
        for v in list(world_violations) + extra:
            key = (v.kind, v.step_id)
            keys.add(key)
            if v.kind in MEMORY_ERRORS and v.cpu is not None:
                seen = crashed.get((v.cpu, perm is not None))
                if seen is None or depth[state] < depth[seen[0]]:
                    crashed[(v.cpu, perm is not None)] = (state, v, perm or None)
            if key not in groups:
                groups[key] = Group(v.kind, v.step_id, state, v.detail)
                if perm:
                    group_perm[key] = perm
                if on_progress is not None and len(groups) == 1:
                    first = groups[key]
                    schedule, detail = _real_schedule(parents, first.first_state, perm or None, first.detail)
                    on_progress(len(state_keys), _violation_dict(first.kind, first.step_id, detail, None,
                                                                  "the search is still running", prefix + schedule,
                                                                  blob_of(code)))
        return keys

    def note_violations(state: int, key: Key) -> None:
        number = key[violations_slot]
        if number not in noted:
            noted.add(number)
            note(state, interner.value(violations_slot, number), [])

    # Breadth-first: states are numbered as they are found and expanded in that order, so the
    # queue is the list of keys itself (a list's iterator takes in what is appended behind it).
    for s, key in enumerate(state_keys):
        if s & 255 == 0 and s:  # every 256 states: 5-10 ms of search on an idle machine
            if deadline is not None and time.perf_counter() > deadline:
                stopped = f"stopped at the time budget of {max_seconds:g} s"
                succ.append([])
                break
            if should_stop is not None:
                reason = should_stop()
                if reason:
                    stopped = reason if isinstance(reason, str) else "cancelled: nobody was waiting for the answer"
                    succ.append([])
                    break
            if on_progress is not None:
                on_progress(len(state_keys), None)
        steps = root.steps + depth[s]
        children: list[int] = []
        moves: list[tuple[int, Key]] = []
        movers = []
        for i in cpu_slots:
            moving = status[i][key[i]]
            if moving:
                if moving == CRASHED:  # the kernel is dead: no CPU moves
                    movers = []
                    break
                movers.append(i + 1)
        for cpu_id in movers:
            child_key, local = step(key, cpu_id, steps)
            if child_key is None:
                continue
            if reduction and local:
                moves = [(cpu_id, child_key)]
                break
            moves.append((cpu_id, child_key))
        for cpu_id, child in moves:
            transitions += 1
            sigma: Perm | None = None
            if canon is not None:
                child, sigma = canon.canonical(child)
            fresh = len(state_keys)
            c = index.setdefault(hash(child) if compact else child, fresh)  # one lookup, new or not
            if c == fresh:
                if fresh >= max_states:  # (the index is not used after a stop)
                    stopped = f"stopped at the state budget of {max_states} states"
                    break
                state_keys.append(child)
                parents.append(s, cpu_id, sigma)
                depth.append(depth[s] + 1)
                if canon is not None:
                    sizes.append(canon.size(child))
                if child[violations_slot] not in noted:
                    note_violations(c, child)
            children.append(c)
        if stopped:
            succ.append(children)
            break
        succ.append(children)
        if not moves:
            # A final violation may name one CPU (a deadlock's site is the first stuck CPU's line):
            # under symmetry, look at every world this representative stands for.
            members = [(key, {})] if canon is None else canon.orbit(key)
            terminal_keys[s] = [
                note(s, interner.value(violations_slot, k[violations_slot]),
                     final_violations(transitions_memo.world(k, steps)), p)
                for k, p in members
            ]
        elif key[violations_slot] not in noted:  # (only the root's are not noted yet)
            note_violations(s, key)
        if compact:
            state_keys[s] = None  # expanded: its key is not needed again (see key_of)
    del index  # not needed after the search: its memory goes back before the counting pass
    while len(succ) < len(state_keys):
        succ.append([])
    if canon is None:
        sizes = array("b", bytes([1])) * len(state_keys)

    def key_of(state: int) -> Key:
        """The key of a state, rebuilt along the edges from the root when it was not kept."""
        kept = state_keys[state]
        if kept is not None:
            return kept
        path = []
        while state:
            parent, cpu, _sigma = parents[state]
            path.append(cpu)
            state = parent
        key = root_key
        for n, cpu in enumerate(reversed(path)):
            child, _local = step(key, cpu, root.steps + n)
            assert child is not None
            key = child if canon is None else canon.canonical(child)[0]
        return key

    # Under symmetry a representative stands for a class of worlds that the search without it
    # counts one by one: the counts below are of every world (the class sizes). Paths are
    # counted over the representatives' edges: every world of a class has the same moves,
    # relabelled, so the paths into a class are the paths into its representative's class
    # summed over the edges that enter it, as without symmetry.
    complete_runs: int | None = None
    livelock_states = 0
    if stopped is None:
        paths = _count_paths(succ)
        if paths is None:  # a cycle: is there one that no run leaves?
            found = _livelock(succ, terminal_keys, key_of, depth, transitions_memo, canon, root.steps)
            if found is not None:
                group, doomed = found
                livelock_states = sum(sizes[d] for d in doomed)
                group.count = livelock_states
                groups[group.key] = group
        else:
            complete_runs = sum(paths[t] for t in terminal_keys)
            for t, members in terminal_keys.items():
                for keys in members:
                    for key in keys:
                        groups[key].count += paths[t] // len(members)
    deadlocks = sum(
        sizes[t] // len(members) * sum(1 for keys in members if any(k[0] == "deadlock" for k in keys))
        for t, members in terminal_keys.items()
    )
    ordered = sorted(groups.values(), key=lambda g: (depth[g.first_state], g.kind, g.step_id or ""))
    schedules: dict[int, str] = {}
    for g in ordered:
        path, g.detail = _real_schedule(parents, g.first_state, group_perm.get(g.key), g.detail)
        g.shortest = prefix + path
        schedules.setdefault(g.first_state, g.shortest)
    return Exploration(
        scenario=scenario.id,
        code=code,
        states=sum(sizes),
        transitions=transitions if canon is None else succ.weighted_edges(sizes),
        depth=max(depth),
        complete_runs=complete_runs,
        terminal_states=sum(sizes[t] for t in terminal_keys),
        deadlock_states=deadlocks,
        seconds=time.perf_counter() - started,
        reduction=reduction,
        complete=stopped is None,
        stopped_reason=stopped,
        groups=ordered,
        schedules=schedules,
        searched=len(state_keys),
        symmetric=cpu_classes,
        livelock_states=livelock_states,
        crashes=_crashes(crashed, parents, prefix, cpu_classes, code),
    )


def _crashes(crashed: dict[tuple[int, bool], tuple[int, Any, Perm | None]], parents: Parents, prefix: str,
             cpu_classes: tuple[tuple[int, ...], ...], code: str) -> list[dict[str, Any]]:
    """Per real CPU that can crash: the shortest schedule (from the root, ``prefix`` included) in
    which that CPU makes a memory error, with the error's kind and line; shortest first, ties by
    CPU number. Breadth first, each CPU's first crash found is its shortest. Under symmetry a CPU
    interchangeable with a crashing one crashes as soon, by the same schedule relabelled."""
    best: dict[int, tuple[str, Any]] = {}
    for (cpu, _), (state, v, perm) in crashed.items():
        path, tau = _path(parents, state)
        if perm is None:  # seen on the representative R: the real world is tau(R)
            real = tau.get(cpu, cpu)
        else:  # seen on the orbit member perm(R): the schedule relabelled to reach it
            path, real = relabel_schedule(path, compose(perm, inverse(tau))), cpu
        if real not in best or len(path) < len(best[real][0]):
            best[real] = (path, v)
    for cpu, (path, v) in sorted(best.items(), key=lambda kv: len(kv[1][0])):
        for ids in cpu_classes:
            for other in ids if cpu in ids else ():
                if other not in best or len(path) < len(best[other][0]):
                    best[other] = (relabel_schedule(path, {cpu: other, other: cpu}), v)
    out = []
    for cpu, (path, v) in sorted(best.items(), key=lambda kv: (len(kv[1][0]), kv[0])):
        d = _violation_dict(v.kind, v.step_id, "", 0, prefix + path, blob_of(code))
        out.append({"cpu": cpu, "kind": v.kind, "step_id": v.step_id, "function": d["function"], "file": d["file"],
                    "line": d["line"], "line_label": d["line_label"], "shortest": prefix + path,
                    "steps": len(path)})
    return out


def _doomed(succ: list[list[int]], finals: Any) -> list[int]:
    """The states with no path to a final state (``finals``), in BFS order."""
    preds: list[list[int]] = [[] for _ in succ]
    for s, children in enumerate(succ):
        for c in children:
            preds[c].append(s)
    can_end = [False] * len(succ)
    todo = list(finals)
    for t in todo:
        can_end[t] = True
    while todo:
        for p in preds[todo.pop()]:
            if not can_end[p]:
                can_end[p] = True
                todo.append(p)
    return [s for s, ok in enumerate(can_end) if not ok]


def _cycles(succ: list[list[int]], inside: set[int]) -> list[list[int]]:
    """The strongly connected components of the graph restricted to ``inside`` that hold a cycle
    (Tarjan's algorithm, iterative: the graphs have hundreds of thousands of states)."""
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    stack: list[int] = []
    on_stack: set[int] = set()
    found: list[list[int]] = []
    for root in sorted(inside):
        if root in index:
            continue
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        work = [(root, iter(succ[root]))]
        while work:
            v, children = work[-1]
            for w in children:
                if w not in inside:
                    continue
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(succ[w])))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    u = work[-1][0]
                    low[u] = min(low[u], low[v])
                if low[v] == index[v]:
                    component = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        component.append(w)
                        if w == v:
                            break
                    if len(component) > 1 or v in succ[v]:
                        found.append(sorted(component))
    return found


def _livelock(succ: Graph, finals: Any, key_of: Callable[[int], Key], depth: Any,
              transitions_memo: Transitions, canon: KeyCanon | None, steps: int) -> tuple[Group, list[int]] | None:
    """A "livelock" group when some states cannot reach a final state: its site is where the
    first CPU that loops in the earliest such cycle (by BFS order: the shortest schedule into it)
    is at the cycle's outermost level; with every such state (the group's count is theirs)."""
    doomed = _doomed(succ, finals)
    if not doomed:
        return None
    cycles = _cycles(succ, set(doomed))
    component = min(cycles, key=lambda c: c[0])  # every doomed region holds a cycle: it never ends
    entry = component[0]
    members = {key_of(s): s for s in component}
    looping: set[int] = set()
    # CPU -> the (step, next step) moves it makes inside the cycle
    moves: dict[int, set[tuple[str, str]]] = {}
    for s in component:
        key = key_of(s)
        world = transitions_memo.world(key, steps + depth[s])
        for cpu in world.cpus:
            if cpu.state != "run" or cpu.pc is None:
                continue
            child, _ = transitions_memo.step(key, cpu.id, steps + depth[s])
            if child is None:
                continue
            after = transitions_memo.interner.value(cpu.id - 1, child[cpu.id - 1]).pc
            if canon is not None:
                child, _perm = canon.canonical(child)
            if child in members:
                looping.add(cpu.id)
                moves.setdefault(cpu.id, set()).add((cpu.pc, after or ""))
    world = transitions_memo.world(key_of(entry), steps + depth[entry])
    running = [c for c in world.cpus if c.state == "run" and c.pc is not None]
    spinners = sorted(looping, key=lambda i: (world.cpu(i).actor == "io", i))
    cpu = world.cpu(spinners[0]) if spinners else running[0]
    site = _loop_site(ACTORS[cpu.actor].program, moves.get(cpu.id, set())) or cpu.pc or ""
    task = ACTORS[cpu.actor].task_on(cpu.id)
    stuck = [c.id for c in running if c.id not in looping and c.actor != "io"]  # an idle I/O completion waits for nothing
    detail = (f"{task} never finishes: CPU{cpu.id} loops in {line_of(site).function}() and no run from here ends"
              + (f"; {', '.join(f'CPU{i}' for i in stuck)} never move{'s' if len(stuck) == 1 else ''} again" if stuck else "")
              + f" ({len(doomed)} state{'' if len(doomed) == 1 else 's'} from which no run ends)")
    return Group("livelock", site, entry, detail), doomed


def _loop_site(program: str, moves: set[tuple[str, str]]) -> str | None:
    """Where a loop goes back: of a CPU's moves inside a cycle, the step that jumps farthest back
    in its program's listing (try_to_unuse()'s "goto retry", not an inner loop's); None without one."""
    order = {step_id: n for n, (step_id, _) in enumerate(PROGRAMS.get(program, ()))}
    back = [(order[a] - order[b], a) for a, b in moves if a in order and b in order and order[b] <= order[a]]
    return max(back, key=lambda x: (x[0], x[1]))[1] if back else None


def _count_paths(succ: Graph) -> list[int] | None:
    """Number of distinct paths from state 0 to each state; None if the graph has a cycle.
    Kahn's topological order, read straight from the graph's flat arrays (no generator per state)."""
    n = len(succ)
    edges, offsets = succ.edges, succ.offsets
    indegree = [0] * n
    for c in edges:
        indegree[c] += 1
    paths = [0] * n
    paths[0] = 1
    ready = [s for s in range(n) if indegree[s] == 0]
    done = 0
    while ready:
        s = ready.pop()
        done += 1
        p = paths[s]
        for c in edges[offsets[s]:offsets[s + 1]]:
            paths[c] += p
            indegree[c] -= 1
            if indegree[c] == 0:
                ready.append(c)
    return paths if done == n else None


# Scenarios large enough that the search uses the local-step reduction (and symmetry): these, and
# any scenario with three CPUs or more besides the I/O completion, one of them swapoff (reduced()).
REDUCED = {"writeback-vs-swapin-vs-swapoff", "two-shrinkers-vs-swapoff"}


def reduced(scenario: Scenario) -> bool:
    """Whether the product's search of ``scenario`` uses the reductions (``check --exact`` never
    does): three CPUs or more with a swapoff run to 10^5-10^6 states, where every interleaving
    counted one by one would take tens of seconds; the smaller scenarios keep exact counts."""
    running = [c.actor for c in scenario.cpus if c.actor != "io"]
    return scenario.id in REDUCED or (len(running) >= 3 and "swapoff" in running)


def stored_name(scenario: Scenario, code: str, prefix: str, reduction: bool) -> str:
    """The verdict's key in the disk cache (verdict_store.py)."""
    from app.model.explorer import verdict_store

    return verdict_store.key(scenario.source_sha, code, prefix, "local-steps" if reduction else "none")


def verdict(scenario: Scenario, code: str, prefix: str = "", exact: bool = False, cached: bool = False,
            max_states: int = DEFAULT_MAX_STATES) -> dict[str, Any]:
    """The explorer's verdict as a dict (Exploration.to_dict, with ``prefix``). The scenario's own
    reduction unless ``exact``; with ``cached``, read from the disk cache when it is there, and a
    complete search is stored there (verdict_store.py)."""
    from app.model.explorer import verdict_store

    reduction = not exact and reduced(scenario)
    name = stored_name(scenario, code, prefix, reduction)
    if cached:
        hit = verdict_store.get(name)
        if hit is not None:
            return hit
    result = explore(scenario, code, max_states=max_states, reduction=reduction, prefix=prefix).to_dict()
    result["prefix"] = prefix
    if cached:
        verdict_store.put(name, result)
    return result



def check_command(scenario_id: str | None, code: str | None, all_: bool, as_json: bool, max_states: int,
                  exact: bool = False, cached: bool = False,
                  annotate: Callable[[dict[str, Any]], dict[str, Any]] | None = None) -> int:
    """`python -m app check`. ``annotate``: what the caller adds to each verdict (the CLI: each
    violation group's story, app/model/api.py with_stories; the views sit beside this module)."""
    from app.model.errors import UnknownCode, UnknownScenario

    codes = all_codes()
    if all_:
        if scenario_id:
            sys.stderr.write("error: give either a scenario or --all, not both\n")
            return 2
        scenarios = load_all()
        targets = [(s, c) for s in scenarios for c in ([code] if code else codes)]
    else:
        if not scenario_id:
            sys.stderr.write("error: name a scenario (or use --all); scenarios: " + ", ".join(scenario_ids()) + "\n")
            return 2
        # Only this scenario's file is read (and its tours replayed), not every file.
        one = load_one(scenario_id)
        if one is None:
            raise UnknownScenario(scenario_id, scenario_ids())
        scenarios = {scenario_id: one}
        targets = [(scenario_id, c) for c in ([code] if code else ["old", "new"])]
    if max_states < 1:
        sys.stderr.write("error: --max-states must be at least 1\n")
        return 2
    for s, c in targets:
        if s not in scenarios:
            raise UnknownScenario(s, sorted(scenarios))
        if c not in codes:
            raise UnknownCode(c, codes)
    results = [verdict(scenarios[s], c, exact=exact, cached=cached, max_states=max_states) for s, c in targets]
    if annotate is not None:
        results = [annotate(r) for r in results]
    if as_json:
        print(json.dumps(results[0] if len(results) == 1 else results, indent=2))
    else:
        _print_table(results)
    if any(r["violations"] for r in results):
        return 1  # a livelock too: a search without a complete run is never "no violation"
    # No violation found, but a search stopped at the budget: no verdict (3).
    return 3 if any(not r["complete"] for r in results) else 0


def _print_table(results: list[dict[str, Any]]) -> None:
    header = f"{'scenario':32} {'code':22} {'states':>8} {'runs':>10} {'secs':>6}  verdict"
    print(header)
    print("-" * len(header))
    for r in results:
        runs = r["complete_runs"]
        if not r["violations"]:
            verdict = r["stopped_reason"] if not r["complete"] else "no violation in any interleaving"
        else:
            parts = [] if r["complete"] else [r["stopped_reason"]]
            for v in r["violations"]:
                if v["function"]:
                    where = f"at {v['function']} {v['line_label'] or v['step_id']}"
                else:
                    where = f"({v['detail']})"
                if v["kind"] == "livelock":  # counted in states: no run through them ends
                    parts.append(f"livelock {where}: {v['detail']}; shortest schedule into the loop "
                                 f"{len(v['shortest'])} steps")
                elif v["count"] is None:  # found, not counted: never "0 of ..."
                    parts.append(f"{v['kind']} {where}: found, count unknown ({v['count_unknown']}), "
                                 f"shortest {len(v['shortest'])} steps")
                else:
                    parts.append(f"{v['kind']} {where}: {v['count']} of {runs} runs, shortest {len(v['shortest'])} steps")
            verdict = "; ".join(parts)
        shown = "?" if runs is None else str(runs)
        print(f"{r['scenario']:32} {r['code']:22} {r['states']:>8} {shown:>10} {r['seconds']:>6.2f}  {verdict}")
        for v in r["violations"]:  # each group's story, when the caller added it (annotate)
            if v.get("story"):
                print("\n".join(f"    {line}".rstrip() for line in v["story"]["text"].splitlines()) + "\n")
        if r["reduction"] != "none":
            print(f"{'':32} (local-step reduction: runs are representative schedules, CPU-local steps taken "
                  "as soon as reached; --exact counts every interleaving)")
        if r.get("symmetric"):
            same = " and ".join("/".join(f"CPU{i}" for i in ids) for ids in r["symmetric"])
            print(f"{'':32} (symmetry: {same} are interchangeable; {r['states_searched']} worlds searched, "
                  "one per relabelling of them; every count is as without symmetry)")
