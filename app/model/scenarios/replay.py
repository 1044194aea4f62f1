"""Schedules and deterministic replay.

A schedule is a string of CPU digits, one per atomic step ("1112222221").
Replaying it from the scenario's initial world always gives the same run.
"""
from __future__ import annotations

from app.model.kernel.engine import Blocked, StepResult, enabled, try_step
from app.model.scenarios.initial import initial_world
from app.model.kernel.records import frozen
from app.model.scenarios.scenario import Scenario
from app.model.kernel.state import Violation, World

MAX_STEPS = 500


class ScheduleError(Exception):
    """A schedule that cannot be replayed, with the position (0-based) and the reason."""

    def __init__(self, position: int, reason: str, valid_prefix: str) -> None:
        super().__init__(f"position {position}: {reason}")
        self.position = position
        self.reason = reason
        self.valid_prefix = valid_prefix


@frozen
class Run:
    scenario: Scenario
    code: str
    schedule: str
    worlds: tuple[World, ...]  # worlds[0] is the initial world, worlds[k+1] after step k
    steps: tuple[tuple[int, str, StepResult], ...]  # (cpu, step id executed, result)

    @property
    def world(self) -> World:
        return self.worlds[-1]


def cpu_at(schedule: str, i: int, n_cpus: int) -> int:
    """The CPU number at position ``i``, or a ScheduleError saying why it is not one."""
    ch = schedule[i]
    if not ch.isdigit() or not ch.isascii():
        raise ScheduleError(i, f"{ch!r} is not a CPU number (expected a digit 1-{n_cpus})", schedule[:i])
    if not 1 <= int(ch) <= n_cpus:
        raise ScheduleError(i, f"there is no CPU{ch} in this scenario (CPUs are 1-{n_cpus})", schedule[:i])
    return int(ch)


def check_syntax(schedule: str, n_cpus: int) -> None:
    for i in range(min(len(schedule), MAX_STEPS)):
        cpu_at(schedule, i, n_cpus)


def replay(scenario: Scenario, code: str, schedule: str) -> Run:
    """Replay ``schedule``; a ScheduleError names the first position that cannot be taken.

    A schedule over the length limit is refused too, but only after its first
    MAX_STEPS steps replayed, so that ``valid_prefix`` always replays.
    """
    if len(schedule) > MAX_STEPS:
        replay(scenario, code, schedule[:MAX_STEPS])
        raise too_long(schedule)
    return extend(start(scenario, code), schedule)


def start(scenario: Scenario, code: str) -> Run:
    """The empty run: the scenario's initial world, no step taken."""
    return Run(scenario, code, "", (initial_world(scenario, code),), ())


def too_long(schedule: str) -> ScheduleError:
    return ScheduleError(MAX_STEPS, f"the schedule has {len(schedule)} steps; at most {MAX_STEPS} are allowed",
                         schedule[:MAX_STEPS])


def extend(run: Run, tail: str) -> Run:
    """``run`` continued by the steps of ``tail`` (positions in errors count from the start of
    the whole schedule). Worlds are values, so the continuation shares the run's worlds."""
    scenario, schedule = run.scenario, run.schedule + tail
    world = run.world
    worlds = list(run.worlds)
    steps = list(run.steps)
    for i in range(len(run.schedule), len(schedule)):
        # Each position is checked when it is reached, so the first error is the one reported.
        cpu_id = cpu_at(schedule, i, len(scenario.cpus))
        cpu = world.cpu(cpu_id)
        if cpu.state == "crashed":
            raise ScheduleError(i, f"CPU{cpu_id} has crashed and cannot step", schedule[:i])
        if cpu.state == "done" or cpu.pc is None:
            raise ScheduleError(i, f"CPU{cpu_id} has finished and has no step left", schedule[:i])
        result = try_step(world, cpu_id)
        if isinstance(result, Blocked):
            raise ScheduleError(i, f"CPU{cpu_id} cannot step: it is {result.text}", schedule[:i])
        steps.append((cpu_id, cpu.pc, result))
        world = result.world
        worlds.append(world)
    return Run(scenario, run.code, schedule, tuple(worlds), tuple(steps))


def final_violations(world: World) -> list[Violation]:
    """Violations only visible once no CPU can move: leaks and deadlocks."""
    if any(c.state == "crashed" for c in world.cpus):
        return []  # a dead kernel: neither a deadlock nor a leak is told (asked first: no step is run)
    if enabled(world):
        return []
    found: list[Violation] = []
    stuck = [c for c in world.cpus if c.state == "run" and c.actor != "io"]  # an idle I/O completion waits for nothing
    if stuck:
        found.append(
            Violation("deadlock", stuck[0].id, stuck[0].pc, None, "no CPU can move but " + ", ".join(f"CPU{c.id}" for c in stuck) + " are not done")
        )
    tree_alive = world.zswap_trees is not None
    for entry in world.entries:
        obj = world.heap_object(entry.addr)
        if obj is None or obj.freed:
            continue
        if not entry.in_tree and not entry.on_lru:
            found.append(Violation("leak", None, None, entry.addr, "entry is allocated but in no tree and on no LRU"))
        elif entry.in_tree and tree_alive and entry.length and not entry.on_lru:
            found.append(
                Violation("leak", None, None, entry.addr, "entry is in the tree but on no LRU: reclaim can never write it back")
            )
    return found


def all_violations(world: World) -> list[Violation]:
    return list(world.violations) + final_violations(world)
