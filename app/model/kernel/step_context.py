"""What the kernel primitives (memory_ops, lock_ops, record_ops) need of the step they run in.

The primitives are mixins of engine.Ctx, and each calls the others and the context's own methods
through ``self``. They are typed against this protocol, which sits below the engine, so that the
engine imports its mixins and no mixin imports the engine (the pattern mypy documents for mixins).
"""
from __future__ import annotations

from typing import Any, Protocol

from app.model.kernel.state import HeapObject, Lru, Origin, SwapDevice, Violation, World


class StepContext(Protocol):
    # The step: its world before it ran, its CPU and that CPU's state.
    w0: World
    cpu_id: int
    index: int  # the step's index in the schedule
    step_id: str
    cpu_state: str
    allocated: list[int]
    freed: list[int]
    # The shared parts, fetched from w0 on first use (engine.Ctx.__getattr__): keyed parts are
    # copy-on-write mappings (engine.Part), value parts are replaced whole.
    heap: Any
    entries: Any
    trees: Any
    folios: Any
    lru: Lru
    swap: SwapDevice
    violations: list[Violation]
    free_lists: dict[str, list[int]]
    next_addr: dict[str, int]

    @property
    def me(self) -> str: ...

    def origin(self, function: str) -> Origin: ...
    def say(self, text: str) -> None: ...
    def say_after(self, text: str) -> None: ...
    def mark(self, key: str) -> None: ...

    # memory_ops
    def touch(self, addr: int | None, what: str, write: bool, size: int, frames: tuple[str, ...] = (),
              base: int | None = None) -> None: ...
    def _containing(self, addr: int) -> HeapObject | None: ...
    def _reported(self) -> str | None: ...
    def crash(self) -> None: ...
    def violate(self, kind: str, obj: int | None, detail: str, stop: bool = False) -> None: ...

    # lock_ops
    def holds_spinlock(self) -> bool: ...
    def might_sleep(self, what: str) -> None: ...

    # record_ops
    def set_folio(self, addr: int, **changes: object) -> None: ...
