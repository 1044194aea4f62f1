"""Challenges: a goal on a scenario and a code, checked by the model on the states of a run.

A goal is a predicate on a world plus, for the ABA goal, a little of the run's history (which
CPUs held an entry pointer while its object was freed): a "monitor" carried along the run, so
that the shortest schedule can be searched breadth-first over (world, monitor) pairs, exactly as
the explorer searches worlds. Nothing compares narration or any other text.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from functools import lru_cache

from app.model import api
from app.model.kernel.engine import Blocked, try_step
from app.model.scenarios.initial import initial_world
from app.model.scenarios.replay import final_violations
from app.model.scenarios.scenario import BlockedGoal, ChallengeSpec, ReusedAddressGoal, Scenario, ViolationGoal
from app.model.kernel.state import World

Monitor = frozenset[int]  # CPUs whose `entry` object was freed while they held the pointer
EMPTY: Monitor = frozenset()
# The same state budget as the web's explorer searches (app/web/http/searches.py): about 0.3 GB at most.
MAX_STATES = 300_000


class UnknownChallenge(api.ModelInputError):
    def __init__(self, scenario_id: str, name: str, valid: list[str]) -> None:
        super().__init__(f"scenario {scenario_id!r} has no challenge {name!r}"
                         + (f"; its challenges are: {', '.join(valid)}" if valid else "; it has none"))
        self.name, self.valid = name, valid


def challenge(scenario_id: str, name: str) -> tuple[Scenario, ChallengeSpec]:
    s = api.scenario(scenario_id)
    found = next((c for c in s.challenges if c.name == name), None)
    if found is None:
        raise UnknownChallenge(scenario_id, name, [c.name for c in s.challenges])
    return s, found


def _entry(world: World, cpu_id: int) -> int | None:
    value = world.cpu(cpu_id).local("entry")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _live(world: World, addr: int) -> bool:
    obj = world.heap_object(addr)
    return obj is not None and not obj.freed


def advance(goal: ChallengeSpec, before: World, after: World, m: Monitor) -> Monitor:
    """The monitor after one step from `before` to `after`."""
    if not isinstance(goal.goal, ReusedAddressGoal):
        return EMPTY
    out = set()
    for cpu in after.cpus:
        addr = _entry(after, cpu.id)
        if addr is None or addr != _entry(before, cpu.id):
            continue  # a new pointer (or none): whatever happened to the old one no longer counts
        if cpu.id in m or (_live(before, addr) and not _live(after, addr)):
            out.add(cpu.id)
    return frozenset(out)


def met(goal: ChallengeSpec, world: World, m: Monitor) -> bool:
    g = goal.goal
    if isinstance(g, ViolationGoal):
        found = list(world.violations) + final_violations(world)
        return any(v.kind == g.violation and (g.cpu is None or v.cpu == g.cpu) for v in found)
    if isinstance(g, BlockedGoal):
        cpu = world.cpu(g.cpu)
        if cpu.state != "run" or cpu.pc is None:
            return False
        result = try_step(world, g.cpu)
        return isinstance(result, Blocked) and result.on == g.on
    assert isinstance(g, ReusedAddressGoal)
    for cpu_id in m:
        addr = _entry(world, cpu_id)
        if (g.cpu is None or cpu_id == g.cpu) and addr is not None and _live(world, addr):
            return True
    return False


@dataclass(frozen=True)
class Attempt:
    steps: int  # steps taken
    met_at: int | None  # after how many steps the goal was first met (None: not yet)
    over: bool  # no CPU can move (or one crashed): this run can go no further


def attempt(scenario_id: str, name: str, schedule: str) -> Attempt:
    """How a schedule fares on a challenge (ScheduleError when it does not replay)."""
    _, ch = challenge(scenario_id, name)
    run = api.run(scenario_id, ch.code, schedule)
    m, met_at = EMPTY, None
    for i, world in enumerate(run.worlds):
        if i:
            m = advance(ch, run.worlds[i - 1], world, m)
        if met(ch, world, m):
            met_at = i
            break
    final = run.world
    crashed = any(c.state == "crashed" for c in final.cpus)
    can_move = any(c.state == "run" and c.pc is not None and not isinstance(try_step(final, c.id), Blocked)
                   for c in final.cpus)
    return Attempt(len(schedule), met_at, crashed or not can_move)


@dataclass(frozen=True)
class Shortest:
    schedule: str | None  # a shortest schedule that meets the goal; None: none found
    complete: bool  # the search covered every state (False: cut by the state budget)
    states: int  # (world, monitor) states visited


@lru_cache(maxsize=64)
def shortest(scenario_id: str, name: str, max_states: int = MAX_STATES) -> Shortest:
    """Breadth-first over (world, monitor): the first state that meets the goal is reached by a
    shortest schedule. Like the explorer, a crashed CPU ends a run (the kernel is dead there)."""
    s, ch = challenge(scenario_id, name)
    root = (initial_world(s, ch.code), EMPTY)
    if met(ch, *root):
        return Shortest("", True, 1)
    parents: dict[tuple[World, Monitor], tuple[tuple[World, Monitor], int] | None] = {root: None}
    queue = deque([root])
    while queue:
        world, m = state = queue.popleft()
        if any(c.state == "crashed" for c in world.cpus):
            continue
        for cpu in world.cpus:
            if cpu.state != "run" or cpu.pc is None:
                continue
            result = try_step(world, cpu.id)
            if isinstance(result, Blocked):
                continue
            child = (result.world, advance(ch, world, result.world, m))
            if child in parents:
                continue
            parents[child] = (state, cpu.id)
            if met(ch, *child):
                path = []
                node: tuple[World, Monitor] | None = child
                while parents[node] is not None:  # type: ignore[index]
                    node, digit = parents[node]  # type: ignore[index,misc]
                    path.append(str(digit))
                return Shortest("".join(reversed(path)), True, len(parents))
            if len(parents) >= max_states:
                return Shortest(None, False, len(parents))
            queue.append(child)
    return Shortest(None, True, len(parents))
