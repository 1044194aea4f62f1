"""What one step did to shared state, by diffing the worlds before and after it.

The event log, the lane diagram and the commit-message diagram all need the same few facts per
step (which locks it took or dropped, what it freed or allocated, which heap object a local now
points into). They are derived here once, from the two immutable worlds around the step and its
StepResult, so that no renderer has to guess them from narration text. The diff is cheap: worlds
share every part a step did not write, so most comparisons stop at an identity check.
"""
from __future__ import annotations

from typing import Mapping

from app.model.kernel.engine import StepResult
from app.model.kernel.state import HeapObject, World
from app.model.views.viewtypes import HeapRef, LocalPointer, StepFacts

LRU_LOCK = "nlru->lock"
TREE_LOCK = "tree->lock"


def _heap(world: World) -> dict[int, HeapObject]:
    return world.index("heap")


def _ref(world: World, addr: int) -> HeapRef:
    obj = _heap(world).get(addr)
    return {"addr": f"{addr:#x}", "name": obj.name if obj else "", "type": obj.type if obj else ""}


def folio_lock_name(world: World, addr: int) -> str:
    """ "folio lock F_sw": a folio's lock as a kernel developer names it (its heap label)."""
    obj = _heap(world).get(addr)
    return f"folio lock {obj.name if obj and obj.name else f'{addr:#x}'}"


def lock_changes(before: World, after: World) -> list[tuple[str, str, int | None, int | None]]:
    """(row key, lock name, holder before, holder after) of every lock whose holder changed.
    The key is the lock's row id in the view ("lock:lru", "lock:tree:<addr>", "lock:folio:<addr>")."""
    out: list[tuple[str, str, int | None, int | None]] = []
    if before.lru is not after.lru and before.lru.lock != after.lru.lock:
        out.append(("lock:lru", LRU_LOCK, before.lru.lock, after.lru.lock))
    if before.trees is not after.trees:
        old = {t.addr: t.lock for t in before.trees}
        for t in after.trees:
            if old.get(t.addr) != t.lock:
                out.append((f"lock:tree:{t.addr:#x}", TREE_LOCK, old.get(t.addr), t.lock))
    if before.folios is not after.folios:
        old = {f.addr: f.locked_by for f in before.folios}
        for f in after.folios:
            if old.get(f.addr) != f.locked_by:
                out.append((f"lock:folio:{f.addr:#x}", folio_lock_name(after, f.addr), old.get(f.addr), f.locked_by))
    return out


def containing(world: World, value: int) -> HeapObject | None:
    """The heap object whose memory holds address ``value`` (a pointer into an array, say)."""
    for obj in world.heap:
        if obj.addr <= value < obj.addr + obj.size:
            return obj
    return None


def _pointers(before: World, after: World, cpu_id: int, shown: Mapping[str, str]) -> list[LocalPointer]:
    """Locals of the stepping CPU that this step set to point into a heap object (CPU1 caching
    `tree` at b:874 is the race's first half). ``shown``: model local name -> kernel name."""
    old_cpu, new_cpu = before.cpu(cpu_id), after.cpu(cpu_id)
    if old_cpu.locals is new_cpu.locals:
        return []
    out: list[LocalPointer] = []
    for name, value in sorted(set(new_cpu.locals) - set(old_cpu.locals)):  # set or changed by this step
        if name in shown and isinstance(value, int) and not isinstance(value, bool):
            obj = containing(after, value)
            if obj is not None:
                out.append({"local": shown[name], **_ref(after, obj.addr)})  # type: ignore[typeddict-item]
    return out


def step_facts(before: World, after: World, cpu_id: int, result: StepResult,
               pointer_locals: Mapping[str, str]) -> StepFacts:
    """The shared-state facts of one step of ``cpu_id`` (see viewtypes.StepFacts)."""
    taken: list[str] = []
    released: list[str] = []
    for _key, name, was, now in lock_changes(before, after):
        if was is not None:
            released.append(name)
        if now is not None:
            taken.append(name)
    return {
        "locks_taken": taken,
        "locks_released": released,
        "freed": [_ref(after, a) for a in result.freed],
        "allocated": [_ref(after, a) for a in result.allocated],
        "pointers": _pointers(before, after, cpu_id, pointer_locals),
        "shared": not result.local,
    }
