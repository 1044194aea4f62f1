"""Helpers for the model tests: build schedules by *where a CPU is*, not by counting digits.

A ``Driver`` steps CPUs one at a time from a scenario's initial world and records
the schedule string it produced, so a test can say "run CPU1 until it is about
to execute N5" and then check that ``replay()`` of that string gives the very
same world. That keeps the tests meaningful if a step is split or merged later.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from app.model.kernel.engine import Blocked, enabled, try_step
from app.model.scenarios.initial import initial_world
from app.model.scenarios.replay import replay
from app.model.scenarios.scenario import Scenario
from app.model.scenarios.loader import load_all
from app.model.kernel.state import World


class DriverError(AssertionError):
    pass


@dataclass
class Driver:
    scenario: Scenario
    code: str
    world: World = field(init=False)
    schedule: str = ""
    executed: list[tuple[int, str]] = field(default_factory=list)  # (cpu, step id) per schedule position

    def __post_init__(self) -> None:
        self.world = initial_world(self.scenario, self.code)

    @classmethod
    def of(cls, scenario_id: str, code: str) -> "Driver":
        return cls(load_all()[scenario_id], code)

    def pc(self, cpu: int) -> str | None:
        return self.world.cpu(cpu).pc

    def blocked(self, cpu: int) -> Blocked | None:
        c = self.world.cpu(cpu)
        if c.state != "run":
            return None
        r = try_step(self.world, cpu)
        return r if isinstance(r, Blocked) else None

    def step(self, cpu: int) -> "Driver":
        c = self.world.cpu(cpu)
        if c.state != "run":
            raise DriverError(f"CPU{cpu} is {c.state} after {self.schedule!r}")
        r = try_step(self.world, cpu)
        if isinstance(r, Blocked):
            raise DriverError(f"CPU{cpu} is blocked at {c.pc} after {self.schedule!r}: {r.text}")
        self.executed.append((cpu, c.pc))  # type: ignore[arg-type]
        self.world = r.world
        self.schedule += str(cpu)
        return self

    def until(self, cpu: int, pc: str, limit: int = 200) -> "Driver":
        """Step ``cpu`` until its next step is ``pc`` (not executed)."""
        for _ in range(limit):
            if self.pc(cpu) == pc:
                return self
            self.step(cpu)
        raise DriverError(f"CPU{cpu} never reached {pc} after {self.schedule!r}")

    def through(self, cpu: int, pc: str) -> "Driver":
        """Step ``cpu`` until it has executed ``pc``."""
        return self.until(cpu, pc).step(cpu)

    def run(self, cpu: int, limit: int = 300) -> "Driver":
        """Step ``cpu`` alone while it can (to its end, a crash, or until it blocks)."""
        for _ in range(limit):
            c = self.world.cpu(cpu)
            if c.state != "run" or self.blocked(cpu) is not None:
                return self
            self.step(cpu)
        raise DriverError(f"CPU{cpu} did not stop within {limit} steps")

    def io_cpu(self) -> int | None:
        """The I/O completion pseudo-CPU's digit, if the scenario has one."""
        return next((c.id for c in self.scenario.cpus if c.actor == "io"), None)

    def finish(self, *cpus: int) -> "Driver":
        """Run the given CPUs, in order, each as far as it can, until none of them can move.
        The I/O completion runs after them whenever a write is in flight (a write completes)."""
        io = self.io_cpu()
        order = cpus + ((io,) if io is not None and io not in cpus else ())
        while True:
            before = self.schedule
            for cpu in order:
                self.run(cpu)
            if self.schedule == before:
                return self

    def steps_of(self, cpu: int) -> list[str]:
        return [s for c, s in self.executed if c == cpu]

    def position_of(self, cpu: int, step_id: str) -> int:
        """Schedule index at which ``cpu`` executed ``step_id`` (the first time)."""
        for i, (c, s) in enumerate(self.executed):
            if c == cpu and s == step_id:
                return i
        raise DriverError(f"CPU{cpu} never executed {step_id} in {self.schedule!r}")

    def check_replay(self) -> None:
        """The recorded schedule replays to the same world."""
        assert replay(self.scenario, self.code, self.schedule).world == self.world


def tour(scenario_id: str, name: str):  # type: ignore[no-untyped-def]
    for t in load_all()[scenario_id].tours:
        if t.name == name:
            return t
    raise KeyError(f"{scenario_id} has no tour {name!r}")


def executed_steps(run) -> list[tuple[int, str]]:  # type: ignore[no-untyped-def]
    return [(cpu, step_id) for cpu, step_id, _ in run.steps]


def no_cpu_enabled(world: World) -> bool:
    return not enabled(world)


@pytest.fixture()
def Drv():  # type: ignore[no-untyped-def]
    """The Driver class (test modules cannot import conftest under --import-mode=importlib)."""
    return Driver


@pytest.fixture()
def get_tour():  # type: ignore[no-untyped-def]
    return tour
