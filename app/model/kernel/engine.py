"""Executing one atomic step of one CPU.

A step is a small Python function over a ``Ctx``: a transaction on the
immutable World. The step reads and writes through the context, which checks
every memory access against the heap (KASAN), every lock against its holder
(blocking) and every sleep against held spinlocks. A step that would block
raises ``Blocked`` before the transaction commits, so "can this CPU move?" is
answered by the very code that moves it.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.model.kernel.liveness import DEAD_AFTER
from app.model.kernel.lock_ops import LockOps
from app.model.kernel.memory_ops import CACHES, MemoryOps
from app.model.kernel.record_ops import RecordOps
from app.model.kernel.records import frozen, mutable
from app.model.kernel.state import PARTS, Cpu, Origin, World
from app.model.kernel.stops import Blocked, BlockedOn, BlockKind, Stop

__all__ = ["ACTORS", "CACHES", "STEPS", "Blocked", "BlockedOn", "BlockKind", "Ctx", "StepResult", "enabled", "run_step",
           "step", "try_step"]  # Blocked & co. live in stops.py, CACHES in memory_ops.py: importers keep these names

@frozen
class StepDef:
    id: str
    run: Callable[[Ctx], None]
    src: str = ""  # key of the quoted kernel line; defaults to the id

    @property
    def source_key(self) -> str:
        return self.src or self.id


@frozen
class ActorDef:
    id: str
    title: str
    entry: str  # first step id
    task: str  # task name for reports ("swapoff", "kworker/{cpu}:1": {cpu} is the CPU it runs on)
    pid: int
    params: tuple[str, ...] = ()  # scenario parameters it takes
    callback: str = ""  # first step of the LRU isolate callback (writeback actors)
    # "Break the fix" variants: run step B wherever the code would go to step A.
    overrides: tuple[tuple[str, str], ...] = ()
    # A twin of another actor (its id): the same steps, told apart only by who runs them (title,
    # task, PID, the callers below its first frame). The explorer treats twins as interchangeable.
    same_as: str = ""
    # Callers of the actor's outermost function that differ from the usual ones (reports.py's
    # _CALLERS), innermost first as (function, its caller) pairs.
    callers: tuple[tuple[str, str], ...] = ()
    # Steps that differ when the isolate callback gets a non-NULL arg: zswap_shrinker_scan() passes
    # &encountered_page_in_swapcache, shrink_memcg() NULL. Its memcg-shrinker twin runs them too.
    scan_overrides: tuple[tuple[str, str], ...] = ()
    # The mm/zswap.c blob its "b:" lines are read in (kernel_lines.toml): "" for the base
    # 81cb3790e0dd, "p" for 00e90b9b5417, the blob before patch 1/3.
    blob: str = ""
    # One task per CPU (direct reclaim runs in whichever task allocates): its PID is pid + the CPU.
    pid_per_cpu: bool = False

    @property
    def program(self) -> str:
        """The actor whose steps this one runs: its twin's id, else its own."""
        return self.same_as or self.id

    def task_on(self, cpu_id: int) -> str:
        """The task name on CPU ``cpu_id`` (a bound kworker carries its CPU in its name)."""
        return self.task.replace("{cpu}", str(cpu_id))

    def pid_on(self, cpu_id: int | None) -> int:
        """The PID of the task on CPU ``cpu_id``. A bound kworker ("kworker/{cpu}:1") is a task of
        its own on each CPU, so it has a PID of its own there too (pid + the CPU); the idle tasks
        ("swapper/{cpu}", PID 0) all share PID 0, as in the kernel."""
        per_cpu = self.pid_per_cpu or ("{cpu}" in self.task and self.pid != 0)
        return self.pid + cpu_id if per_cpu and cpu_id is not None else self.pid

    def route(self, pc: str) -> str:
        for old, new in self.overrides:
            if old == pc:
                return new
        return pc


STEPS: dict[str, StepDef] = {}
ACTORS: dict[str, ActorDef] = {}


def step_def(step_id: str, src: str = "") -> Callable[[Callable[[Ctx], None]], Callable[[Ctx], None]]:
    """Register a step function under its spec id."""

    def register(fn: Callable[[Ctx], None]) -> Callable[[Ctx], None]:
        if step_id in STEPS:
            raise ValueError(f"step {step_id} defined twice")
        STEPS[step_id] = StepDef(step_id, fn, src)
        return fn

    return register


def actor_def(actor: ActorDef) -> None:
    ACTORS[actor.id] = actor


@mutable
class StepResult:
    world: World
    narration: list[str]
    changed: list[str]
    allocated: list[int]
    freed: list[int]
    local: bool = False  # touched no shared state: commutes with every other CPU's steps


_KEYED = ("heap", "entries", "trees", "folios", "ptes")
_VALUES = ("swap", "lru", "zswap_trees")
SHARED_PARTS = _KEYED + _VALUES + ("violations", "free_lists", "next_addr")


class Part:
    """A copy-on-write view of one keyed part of the world (heap, folios, ...).

    Reads go to the previous world's cached index; the first write copies it.
    Only written parts are rebuilt, re-sorted and re-hashed at commit.
    """

    __slots__ = ("base", "dirty")

    def __init__(self, base: dict[Any, Any]) -> None:
        self.base = base
        self.dirty = False

    def __getitem__(self, key: Any) -> Any:
        return self.base[key]

    def get(self, key: Any, default: Any = None) -> Any:
        return self.base.get(key, default)

    def __contains__(self, key: Any) -> bool:
        return key in self.base

    def values(self) -> Any:
        return self.base.values()

    def items(self) -> Any:
        return self.base.items()

    def __setitem__(self, key: Any, value: Any) -> None:
        if not self.dirty:
            self.base = dict(self.base)
            self.dirty = True
        self.base[key] = value


class Ctx(MemoryOps, LockOps, RecordOps):
    """A transaction over a World for one step of one CPU: its own state (program counter, stack,
    locals), the parts of the world it fetched, and what it said and changed. The kernel
    primitives a step calls live in the mixins, one concern each: memory (memory_ops.py), locks
    (lock_ops.py), records (record_ops.py)."""

    def __init__(self, world: World, cpu_id: int, step_index: int) -> None:
        self.w0 = world
        self.cpu_id = cpu_id
        self.index = step_index
        cpu = world.cpu(cpu_id)
        self.pc: str | None = cpu.pc
        self.stack = list(cpu.stack)
        self.locals = dict(cpu.locals)
        self.cpu_state = cpu.state
        self.result = cpu.result
        self.shared_touched = False  # shared parts are fetched lazily (__getattr__)
        self.read_cpus = False  # read other CPUs' state (not just this one's)
        self.narration: list[str] = []
        self.afterwords: list[str] = []
        self.changed: list[str] = []
        self.allocated: list[int] = []
        self.freed: list[int] = []
        self.step_id = cpu.pc or ""
        self._jumped = False


    # -- lazily copied shared state -------------------------------------------
    # The first access to a part of the world (heap, lru, swap, ...) lands in
    # __getattr__, which takes it from the previous world, marks the step as
    # touching shared state and caches it as a plain attribute: keyed parts as
    # copy-on-write views, value parts as the old value (steps assign new ones).
    def __getattr__(self, name: str) -> Any:
        w = self.__dict__["w0"]
        if name in _KEYED:
            value: Any = Part(w.index(name))
        elif name in _VALUES:
            value = getattr(w, name)
        elif name == "violations":
            value = list(w.violations)
        elif name == "free_lists":
            value = {k: list(v) for k, v in w.free_lists}
        elif name == "next_addr":
            value = dict(w.next_addr)
        else:
            raise AttributeError(name)
        self.shared_touched = True
        self.__dict__[name] = value
        return value

    def parts_fetched(self) -> tuple[int, ...]:
        """The shared parts of the world the step looked at, as indices into World.parts(): with
        its own CPU's record, all its outcome depends on (the explorer's memo and the view's
        walks key on them; ``read_cpus`` says when it also looked at the other CPUs)."""
        mine = self.__dict__
        return tuple(PART_INDEX[name] for name in SHARED_PARTS if name in mine)

    def other_cpus(self) -> tuple[Cpu, ...]:
        """Every CPU's state (swapoff's synchronize_rcu looks at who is in a critical section)."""
        self.shared_touched = True
        self.read_cpus = True
        return self.w0.cpus

    def peek(self, name: str) -> Any:
        """Read a keyed part (or the swap device, the LRU) for narration only: not an access, so
        the step may stay local. What the step itself has written so far is seen."""
        part = self.__dict__.get(name)
        if name in _VALUES:
            return part if part is not None else getattr(self.w0, name)
        return part.base if part is not None else self.w0.index(name)

    # -- identity -------------------------------------------------------------
    @property
    def actor(self) -> ActorDef:
        return ACTORS[self.w0.cpu(self.cpu_id).actor]

    @property
    def me(self) -> str:
        return f"CPU{self.cpu_id}"

    def origin(self, function: str) -> Origin:
        where = (self.step_id, *reversed(self.stack))
        return Origin(self.cpu_id, self.index, function, self.actor.task_on(self.cpu_id), where)

    # -- control flow ---------------------------------------------------------
    def get(self, name: str, default: object = None) -> object:
        return self.locals.get(name, default)

    def set(self, name: str, value: object) -> None:
        self.locals[name] = value

    def goto(self, pc: str) -> None:
        self.pc = self.actor.route(pc)
        self._jumped = True

    def call(self, first: str, returns_to: str) -> None:
        self.stack.append(returns_to)
        self.goto(first)

    def ret(self) -> None:
        self.goto(self.stack.pop())

    def finish(self, result: str) -> None:
        self.pc = None
        self.cpu_state = "done"
        self.result = result
        self._jumped = True

    def say(self, text: str) -> None:
        self.narration.append(text)

    def say_after(self, text: str) -> None:
        """A consequence, told after what the step itself says (e.g. "that pointer now dangles")."""
        self.afterwords.append(text)

    def mark(self, key: str) -> None:
        if key not in self.changed:
            self.changed.append(key)

    # -- commit ---------------------------------------------------------------
    def commit(self) -> World:
        """The new World: untouched parts (and their hashes) are shared with the old one."""
        w = self.w0
        old = w.cpus[self.cpu_id - 1]
        if self.cpu_state == "done":
            self.locals.clear()  # the CPU's frames are gone; only its result stays
            self.stack.clear()
        else:
            for name in DEAD_AFTER.get(self.step_id, ()):
                self.locals.pop(name, None)
        items = [kv for kv in self.locals.items() if kv[1] is not None]
        items.sort()
        locals_ = tuple(items)
        cpu = Cpu(old.id, old.actor, self.pc, tuple(self.stack), locals_, self.cpu_state, self.result)  # type: ignore[arg-type]
        cpus = list(w.cpus)
        cpus[self.cpu_id - 1] = cpu
        values = list(w.parts())
        values[0] = tuple(cpus)
        hashes = list(w.part_hashes or tuple(hash(v) for v in w.parts()))
        hashes[0] = hash(values[0])
        mine = self.__dict__
        for name in SHARED_PARTS:
            if name not in mine:
                continue
            part = mine[name]
            i = PART_INDEX[name]
            if name in _KEYED:
                if not part.dirty:
                    continue
                key = _SORT_KEYS[name]
                value: Any = tuple(sorted(part.base.values(), key=key))
            elif name == "violations":
                value = tuple(part)
            elif name == "free_lists":
                value = tuple(sorted((k, tuple(v)) for k, v in part.items()))
            elif name == "next_addr":
                value = tuple(sorted(part.items()))
            else:
                value = part
            if value is values[i]:
                continue
            values[i] = value
            hashes[i] = hash(value)
        world = object.__new__(World)
        world.__dict__.update(zip(PARTS, values))
        world.__dict__["steps"] = w.steps + 1
        world.__dict__["part_hashes"] = tuple(hashes)
        return world


PART_INDEX = {name: i for i, name in enumerate(PARTS)}
_SORT_KEYS: dict[str, Callable[[Any], Any]] = {
    "heap": lambda o: o.addr,
    "entries": lambda e: e.addr,
    "trees": lambda t: t.addr,
    "folios": lambda f: f.addr,
    "ptes": lambda p: p.key,
}


def try_step(world: World, cpu_id: int) -> StepResult | Blocked:
    """Run the next step of ``cpu_id``; a ``Blocked`` value when it cannot move."""
    return run_step(world, cpu_id)[0]


def run_step(world: World, cpu_id: int) -> tuple[StepResult | Blocked, Ctx]:
    """try_step, also handing back the transaction (what the step read: see explore.py)."""
    cpu = world.cpu(cpu_id)
    if cpu.state != "run" or cpu.pc is None:
        raise ValueError(f"CPU{cpu_id} has no next step")
    ctx = Ctx(world, cpu_id, world.steps)
    step = STEPS[cpu.pc]
    try:
        step.run(ctx)
    except Blocked as blocked:
        blocked.__traceback__ = None  # no frame -> exception -> frame cycle left for the collector
        return blocked, ctx
    except Stop:
        pass
    if ctx.cpu_state == "crashed":
        ctx.pc = cpu.pc  # a crashed CPU stays on the line that crashed
    elif not ctx._jumped:
        raise AssertionError(f"step {cpu.pc} did not say where to go next")
    ctx.mark(f"cpu:{cpu_id}")
    ctx.narration.extend(ctx.afterwords)
    result = StepResult(ctx.commit(), ctx.narration, ctx.changed, ctx.allocated, ctx.freed, not ctx.shared_touched)
    return result, ctx


def runnable(world: World) -> list[int]:
    return [c.id for c in world.cpus if c.state == "run" and c.pc is not None]


def enabled(world: World) -> list[int]:
    """CPUs that can take a step now."""
    return [cpu_id for cpu_id in runnable(world) if not isinstance(try_step(world, cpu_id), Blocked)]


def step(world: World, cpu_id: int) -> World:
    result = try_step(world, cpu_id)
    if isinstance(result, Blocked):
        raise ValueError(f"CPU{cpu_id} is blocked: {result.text}")
    return result.world
