"""Building the one view model (viewtypes.RunView) from a replayed Run.

The JSON API and every HTML pane render this very dict.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.model.cache import BoundedCache, share
from app.model.views.changes import pane_changes
from app.model.kernel.engine import ACTORS, Blocked, StepResult, run_step, try_step
from app.model.views.lanes import lane_rows
from app.model.scenarios.replay import Run, all_violations
from app.model.views.reports import free_chain, report
from app.model.scenarios.scenario import Scenario, cpu_label  # noqa: F401 - cpu_label: re-exported for the web layer
from app.model.actors.programs import PROGRAMS
from app.model.kernel.lines import KernelLine, line_of
from app.model.kernel.state import Cpu, Violation, World
from app.model.views.stepfacts import containing, step_facts
from app.model.views.story import story
from app.model.views.viewtypes import (
    CpuView,
    EntryView,
    Event,
    FolioView,
    HeapObjectView,
    Local,
    LockView,
    LruView,
    ProgramLine,
    PteView,
    RunView,
    SlotView,
    SourceLine,
    SwapView,
    TreeView,
    Violation as ViolationView,
    WorldView,
)

RUN_LIMIT = 200

# Calls the model runs in the caller's frame (no stack push): "step over" goes through them and
# stops when the function it started in returns.
PLAIN_CALLS: dict[str, tuple[str, ...]] = {
    "shrink_memcg_cb": ("zswap_writeback_entry",),
    "zswap_writeback_entry": ("end_swap_bio_write",),
    "sys_swapoff": ("try_to_unuse", "zswap_swapoff"),
    "try_to_unuse": ("unuse_pte_range",),
    "swap_read_folio": ("zswap_load",),
    "zap_pte_range": ("free_swap_and_cache",),
    "free_swap_and_cache": ("__try_to_reclaim_swap",),
}
_HIDDEN_LOCALS = {"item", "r_off", "inv_offset"}  # walker/internal copies of what 'entry' shows  # steps "run until blocked" / "step over" may append at once

# Locals worth showing, in order, with the name the kernel source uses.
_SHOWN_LOCALS: tuple[tuple[str, str, str], ...] = (
    # (model name, shown name, kind: ptr | swp | off | text)
    ("entry", "entry", "ptr"),
    ("tree", "tree", "ptr"),
    ("swpoffset", "swpoffset", "off"),
    ("swpentry", "swpentry", "swp"),
    ("uo_off", "entry", "swp"),
    ("x_off", "entry", "swp"),
    ("fault_off", "entry", "swp"),
    ("folio", "folio", "ptr"),
    ("new_folio", "folio (new)", "ptr"),
    ("new_entry", "entry", "ptr"),
    ("inv_entry", "entry (zswap_invalidate)", "ptr"),
    ("load_entry", "entry (zswap_load)", "ptr"),
    ("wb", "writeback_result", "text"),
    ("ret", "ret", "text"),
    ("n", "n", "ptr"),  # the LRU walker's cursor (list_for_each_safe): &entry->lru of the next entry
)
# Model local -> kernel name, for the locals that hold pointers (Event.pointers).
_POINTER_LOCALS = {model: shown for model, shown, kind in _SHOWN_LOCALS if kind == "ptr"}


def source_line(step_id: str, blob: str = "") -> SourceLine:
    """The step's quoted line, read in ``blob`` (the running actor's ActorDef.blob)."""
    line: KernelLine = line_of(step_id, blob)
    return {
        "step": step_id,
        "function": line.function,
        "file": line.file,
        "line": line.line,
        "line_label": line.label,
        "text": line.text,
        "verified": line.verified,
        "variant": line.file.startswith("variant"),
    }


def _hex(addr: int | None) -> str | None:
    return None if addr is None else f"{addr:#x}"


Probe = dict[int, "StepResult | Blocked"]


def probe(world: World) -> Probe:
    """try_step of every runnable CPU, once per state: its status, the lock waiters, the enabled
    list and the first step of "step over" / "run until blocked" all read this one result."""
    return {c.id: try_step(world, c.id) for c in world.cpus if c.state == "run" and c.pc is not None}


def cpu_status(world: World, cpu: Cpu, first: "StepResult | Blocked | None" = None) -> tuple[str, str, str | None]:
    """(status, status_text, blocked_on). `first`: try_step(world, cpu.id) if already known."""
    if cpu.state == "crashed":
        return "crashed", f"crashed in {line_of(cpu.pc).function}" if cpu.pc else "crashed", None
    if cpu.state == "done" or cpu.pc is None:
        return "done", f"done: {cpu.result}", None
    result = first if first is not None else try_step(world, cpu.id)
    if isinstance(result, Blocked):
        return result.kind, result.text, result.text
    return "runnable", "runnable", None


# (actor, local) pairs that the code only ever compares once the object may be gone, never
# dereferences: the fixed writeback's `entry` after the LRU lock is dropped is only checked by
# `zswap_rb_search(...) != entry` under tree->lock (f:1436), which is the point of the fix.
# A freed object behind such a pointer is not a use-after-free waiting to happen.
COMPARE_ONLY = {("writeback-new", "entry")}


def _locals(world: World, cpu: Cpu) -> list[Local]:
    out: list[Local] = []
    values = dict(cpu.locals)
    for model_name, shown, kind in _SHOWN_LOCALS:
        if model_name not in values or values[model_name] is None:
            continue
        value = values[model_name]
        ref = None
        dangling = False
        if kind == "ptr" and isinstance(value, int):
            obj = containing(world, value)
            text = f"{value:#x}"
            if obj is not None:
                ref = f"{obj.addr:#x}"
                dangling = obj.freed
                text += f" ({obj.name})" if obj.name else ""
        elif kind == "swp":
            text = f"swp(0, {value})"
        else:
            text = str(value)
        out.append({"name": shown, "value": text, "ref": ref, "dangling": dangling,
                    "compare_only": dangling and (ACTORS[cpu.actor].program, model_name) in COMPARE_ONLY})
    return out


@dataclass(frozen=True)
class _Walk:
    """A CPU running alone from a world until it blocks or is done (at most RUN_LIMIT steps):
    its (stack depth, function) at each state it reached still running, and the steps it took.
    ``reads``: the shared parts of the world (indices into World.parts()) any of its steps
    touched, and ``values`` what they were in the world it started from; None when a step looked
    at other CPUs (such a walk is never reused for another world)."""

    frames: tuple[tuple[int, str], ...]
    steps: int
    reads: tuple[int, ...] | None = None
    values: tuple[Any, ...] = ()


# Walks by (world, CPU). A step's page continues its parent page's walk (the CPU runs alone, and
# a step is a function of the CPU's record and the parts of the world it touches):
# - when the CPU that took the step is the one walking, its walk from the new world is the old
#   walk less its first step;
# - when another CPU took the step, the old walk is still right if the walker's record is the
#   same and the step left every part the walk touched as it was (checked, not assumed: a step
#   that takes a lock the walker would wait for changes the part holding that lock).
# Only a walk that fails both checks runs the CPU again (each of its steps is a model step).
_walks = BoundedCache(2048, share(0.02), lambda walk: 4096 + 64 * len(walk.frames))


def clear() -> None:
    _walks.clear()
    _programs.clear()


def _walk(world: World, cpu_id: int) -> _Walk:
    """Run ``cpu_id`` alone from ``world``, noting what its steps touched."""
    frames: list[tuple[int, str]] = []
    touched: set[int] = set()
    others = False
    steps, w = 0, world
    while steps < RUN_LIMIT:
        c = w.cpu(cpu_id)
        if c.state != "run" or c.pc is None:
            break
        frames.append((len(c.stack), line_of(c.pc).function))
        result, ctx = run_step(w, cpu_id)
        others = others or ctx.read_cpus
        touched.update(ctx.parts_fetched())
        if isinstance(result, Blocked):
            break
        w, steps = result.world, steps + 1
    return _noted(world, tuple(frames), steps, None if others else tuple(sorted(touched)))


def _noted(world: World, frames: tuple[tuple[int, str], ...], steps: int, reads: tuple[int, ...] | None) -> _Walk:
    """A walk from ``world`` that touched the parts ``reads``, with their values there."""
    if reads is None:
        return _Walk(frames, steps)
    parts = world.parts()
    return _Walk(frames, steps, reads, tuple(parts[i] for i in reads))


def _still_valid(walk: _Walk, world: World) -> bool:
    """Whether ``walk`` (from another world, with the walker's same record) holds in ``world``."""
    if walk.reads is None:
        return False
    parts = world.parts()
    return all(parts[i] is v or parts[i] == v for i, v in zip(walk.reads, walk.values))


def _cached_walk(run: Run, world: World, cpu_id: int) -> _Walk:
    found, walk = _walks.get((world, cpu_id))
    if found:
        return walk  # type: ignore[no-any-return]
    walk = None
    if run.steps and len(run.worlds) >= 2:
        before = run.worlds[-2]
        found, parent = _walks.get((before, cpu_id))
        if found and run.steps[-1][0] == cpu_id:
            # A walk cut at RUN_LIMIT may go one step further from here: walk that one anew.
            if 1 <= parent.steps < RUN_LIMIT:
                walk = _noted(world, parent.frames[1:], parent.steps - 1, parent.reads)
        elif found and before.cpu(cpu_id) == world.cpu(cpu_id) and _still_valid(parent, world):
            walk = _noted(world, parent.frames, parent.steps, parent.reads)
    if walk is None:
        walk = _walk(world, cpu_id)
    _walks.put((world, cpu_id), walk)
    return walk


def _run_alone(run: Run, world: World, cpu_id: int) -> tuple[str, str]:
    """Digits to append for ("step over", "run until blocked"): run ``cpu_id`` alone until it
    blocks or is done; "step over" is the prefix that ends where its current function returns.
    One walk for both (the CPU runs alone, so the shorter walk is a prefix of the longer)."""
    cpu = world.cpu(cpu_id)
    if cpu.state != "run" or cpu.pc is None:
        return "", ""
    walk = _cached_walk(run, world, cpu_id)
    depth0, function0 = walk.frames[0]
    frames = [function0]  # kernel calls the model makes without a stack frame
    over: int | None = None
    for n, (depth, function) in enumerate(walk.frames[1:], start=1):
        if depth < depth0:
            over = n  # returned through a model call
            break
        if depth == depth0 and function != frames[-1]:
            if function in PLAIN_CALLS.get(frames[-1], ()):
                frames.append(function)  # a plain C call: step over it
            elif len(frames) > 1 and function == frames[-2]:
                frames.pop()  # back from that call
            else:
                over = n  # the current function returned
                break
    digit = str(cpu_id)
    return digit * (walk.steps if over is None else over), digit * walk.steps


def _listing_positions(listing: tuple[tuple[str, int], ...], history: list[str], pc: str | None) -> tuple[set[int], int | None]:
    """Which lines of a program listing were executed, and which one is next.

    A helper called from two places (zswap_invalidate after a slot free in X2 and in X3, say)
    is listed under each caller; an executed step belongs to the first listing of it after the
    line executed before it (wrapping around for loops), so the ticks land under the right caller.
    """
    where: dict[str, list[int]] = {}
    for i, (step_id, _) in enumerate(listing):
        where.setdefault(step_id, []).append(i)

    def place(step_id: str, after: int) -> int | None:
        spots = where.get(step_id)
        if not spots:
            return None
        return next((i for i in spots if i > after), spots[0])

    done: set[int] = set()
    last = -1
    for step_id in history:
        i = place(step_id, last)
        if i is not None:
            done.add(i)
            last = i
    return done, (place(pc, last) if pc else None)


# A CPU's listing with its ticks, by what decides them: a CPU that did not take the step keeps
# its listing, so a step's view builds one listing, not one per CPU. Shared between cached views,
# which are read-only (build_view hands out deep copies).
_programs = BoundedCache(4096, share(0.01), lambda program: 500 * len(program))  # tracemalloc: ~500 B a line


def _program(actor: str, done: frozenset[int], here: int | None, crashed: bool, crash_step: str | None) -> list[ProgramLine]:
    key = (actor, done, here, crashed, crash_step)
    found, program = _programs.get(key)
    if found:
        return program  # type: ignore[no-any-return]
    program = []
    for i, (step_id, depth) in enumerate(PROGRAMS[actor]):
        program.append(
            {
                **source_line(step_id, ACTORS[actor].blob),  # type: ignore[typeddict-item]
                "depth": depth,
                "is_next": not crashed and i == here,
                "is_crash": crash_step == step_id and i == here,
                "executed": i in done,
            }
        )
    _programs.put(key, program)
    return program


def _cpu_view(run: Run, world: World, cpu: Cpu, executed: list[str], crash_step: str | None,
              first: "StepResult | Blocked | None") -> CpuView:
    actor = ACTORS[cpu.actor]
    status, text, blocked_on = cpu_status(world, cpu, first)
    listing = PROGRAMS[cpu.actor]
    done, here = _listing_positions(listing, executed, cpu.pc)
    program = _program(cpu.actor, frozenset(done), here, status == "crashed", crash_step)
    step_over, run_until_blocked = _run_alone(run, world, cpu.id) if status == "runnable" else ("", "")
    return {
        "id": cpu.id,
        "actor": cpu.actor,
        "actor_title": actor.title,
        "label": cpu_label(cpu.id, cpu.actor),
        "status": status,  # type: ignore[typeddict-item]
        "status_text": text,
        "blocked_on": blocked_on,
        "next": source_line(cpu.pc, actor.blob) if cpu.pc and cpu.state == "run" else None,
        "locals": _locals(world, cpu),
        "program": program,
        "result": cpu.result,
        "step_over": step_over,
        "run_until_blocked": run_until_blocked,
    }


def _violation_view(world: World, v: Violation) -> ViolationView:
    blob = ACTORS[world.cpu(v.cpu).actor].blob if v.cpu else ""
    line = line_of(v.step_id, blob) if v.step_id else None
    obj = world.heap_object(v.object) if v.object is not None else None
    return {
        "kind": v.kind,
        "cpu": v.cpu,
        "function": line.function if line else "",
        "file": line.file if line else "",
        "line": line.line if line else None,
        "line_label": line.label if line else "",
        "step_id": v.step_id,
        "object": _hex(v.object),
        "object_name": obj.name if obj else None,
        "object_type": obj.type if obj else None,
        "free_cpu": obj.free.cpu if obj and obj.free else None,
        "free_function": obj.free.function if obj and obj.free else None,
        "free_chain": free_chain(obj.free.function) if obj and obj.free else [],
        "step": v.at,
        "alloc_step": obj.alloc.step if obj and obj.alloc else None,
        "free_step": obj.free.step if obj and obj.free else None,
        "detail": v.detail,
        "report": report(world, v),
    }


def _world_view(world: World, probed: Probe) -> WorldView:
    dev = world.swap
    slots: list[SlotView] = []
    for s in dev.slots:
        parts = [str(s.count)] if s.count else []
        if s.has_cache:
            parts.append("SWAP_HAS_CACHE")
        slots.append(
            {"offset": s.offset, "count": s.count, "has_cache": s.has_cache, "map_text": "|".join(parts) or "0",
             "owner": s.owner, "disk": s.disk}
        )
    swap: SwapView = {
        "type": dev.type,
        "writeok": dev.writeok,
        "users": "live" if dev.users_live else "killed",
        "inuse_pages": dev.inuse_pages,
        "slot_cache_enabled": dev.slot_cache_enabled,
        "slots": slots,
        "device_refs": list(dev.refs),
    }
    waiters = _waiters(world, probed)
    trees: list[TreeView] = []
    for t in world.trees:
        obj = world.heap_object(t.array)
        trees.append(
            {
                "addr": f"{t.addr:#x}",
                "array": f"{t.array:#x}",
                "index": t.index,
                "freed": bool(obj and obj.freed),
                "lock_holder": t.lock,
                "lock_waiters": waiters.get(f"tree:{t.addr:#x}", []),
                "entries": [{"offset": off, "entry": f"{addr:#x}", "name": _name(world, addr)} for off, addr in t.rb],
            }
        )
    entries: list[EntryView] = []
    for e in world.entries:
        obj = world.heap_object(e.addr)
        entries.append(
            {
                "addr": f"{e.addr:#x}",
                "name": obj.name if obj else "",
                "offset": e.offset,
                "refcount": e.refcount,
                "length": e.length,
                "in_tree": e.in_tree,
                "on_lru": e.on_lru,
                "freed": bool(obj and obj.freed),
                "data": e.data,
            }
        )
    lru: LruView = {
        "order": [f"{a:#x}" for a in world.lru.order],
        "names": [_name(world, a) for a in world.lru.order],
        "nr_items": len(world.lru.order),
        "lock_holder": world.lru.lock,
        "lock_waiters": waiters.get("lru", []),
    }
    folios: list[FolioView] = []
    for f in world.folios:
        obj = world.heap_object(f.addr)
        folios.append(
            {
                "addr": f"{f.addr:#x}",
                "name": obj.name if obj else "",
                "offset": f.offset,
                "in_swapcache": f.in_swapcache,
                "locked_by": f.locked_by,
                "uptodate": f.uptodate,
                "writeback": f.writeback,
                "data": f.data,
                "waiters": waiters.get(f"folio:{f.addr:#x}", []),
                "freed": bool(obj and obj.freed),
            }
        )
    locks: list[LockView] = [
        {
            "name": "LRU lock (nlru->lock)",
            "key": "lock:lru",
            "kind": "spinlock",
            "object": None,
            "holder": world.lru.lock,
            "waiters": waiters.get("lru", []),
        }
    ]
    for t in world.trees:
        locks.append(
            {
                "name": f"tree->lock (trees[{t.index}])",
                "key": f"lock:tree:{t.addr:#x}",
                "kind": "spinlock",
                "object": f"{t.array:#x}",
                "holder": t.lock,
                "waiters": waiters.get(f"tree:{t.addr:#x}", []),
            }
        )
    for f in world.folios:
        key = f"folio:{f.addr:#x}"
        if f.locked_by is not None or waiters.get(key):
            obj = world.heap_object(f.addr)
            locks.append(
                {
                    "name": f"folio lock ({obj.name if obj and obj.name else f'{f.addr:#x}'})",
                    "key": f"lock:folio:{f.addr:#x}",
                    "kind": "sleeping",
                    "object": f"{f.addr:#x}",
                    "holder": f.locked_by,
                    "waiters": waiters.get(key, []),
                }
            )
    heap: list[HeapObjectView] = []
    for o in world.heap:
        dangling: list[str] = []
        compared: list[str] = []
        if o.freed:
            for c in world.cpus:
                if c.state == "done":
                    continue
                for name, value in c.locals:
                    if name in _HIDDEN_LOCALS:
                        continue
                    if isinstance(value, int) and not isinstance(value, bool) and o.addr <= value < o.addr + o.size:
                        # A pointer the code only compares is not a use-after-free waiting to happen.
                        (compared if (ACTORS[c.actor].program, name) in COMPARE_ONLY else dangling).append(f"CPU{c.id} {name}")
            if world.zswap_trees is not None and o.addr <= world.zswap_trees < o.addr + o.size:
                dangling.append("zswap_trees[0]")
        heap.append(
            {
                "addr": f"{o.addr:#x}",
                "type": o.type,
                "cache": o.cache,
                "name": o.name,
                "freed": o.freed,
                "alloc_cpu": o.alloc.cpu if o.alloc else None,
                "alloc_step": o.alloc.step if o.alloc else None,
                "alloc_function": o.alloc.function if o.alloc else "",
                "free_cpu": o.free.cpu if o.free else None,
                "free_step": o.free.step if o.free else None,
                "free_function": o.free.function if o.free else None,
                "dangling_from": dangling,
                "compared_from": compared,
            }
        )
    ptes: list[PteView] = []
    several = {p.process for p in world.ptes if p.page}
    for p in world.ptes:
        if p.offset is not None:
            value, ref = f"swp(0, {p.offset})", None
        elif p.folio is not None:
            value, ref = f"present -> folio {p.folio:#x}", f"{p.folio:#x}"
        else:
            value, ref = "none", None
        name = f"process {p.process}" + (f", page {p.page}" if p.process in several else "")
        ptes.append({"name": name, "key": f"pte:{p.label}", "value": value, "ref": ref})
    return {
        "swap": swap,
        "zswap_trees": _hex(world.zswap_trees),
        "trees": trees,
        "entries": entries,
        "lru": lru,
        "swapcache": folios,
        "locks": locks,
        "heap": heap,
        "ptes": ptes,
    }


def _name(world: World, addr: int) -> str:
    obj = world.heap_object(addr)
    return obj.name if obj else ""


def _waiters(world: World, probed: Probe) -> dict[str, list[int]]:
    """Which CPUs wait on which lock or folio, derived from their blocked reasons."""
    out: dict[str, list[int]] = {}
    for c in world.cpus:
        if c.state != "run" or c.pc is None:
            continue
        r = probed[c.id]
        if not isinstance(r, Blocked):
            continue
        if "LRU lock" in r.text:
            out.setdefault("lru", []).append(c.id)
        elif "tree->lock" in r.text:
            for t in world.trees:
                out.setdefault(f"tree:{t.addr:#x}", []).append(c.id)
        else:
            for f in world.folios:
                if f"{f.addr:#x}" in r.text:
                    out.setdefault(f"folio:{f.addr:#x}", []).append(c.id)
    return out


def build_run_view(run: Run) -> RunView:
    world = run.world
    violations = all_violations(world)
    crash_steps = {v.cpu: v.step_id for v in violations if v.cpu is not None and world.cpu(v.cpu).state == "crashed"}
    executed: dict[int, list[str]] = {c.id: [] for c in world.cpus}
    events: list[Event] = []
    for index, (cpu_id, step_id, result) in enumerate(run.steps):
        executed[cpu_id].append(step_id)
        line = source_line(step_id, ACTORS[world.cpu(cpu_id).actor].blob)
        events.append(
            {
                "index": index,
                "cpu": cpu_id,
                "step": step_id,
                "function": line["function"],
                "file": line["file"],
                "line": line["line"],
                "line_label": line["line_label"],
                "text": line["text"],
                "narration": " ".join(result.narration),
                "changed": list(result.changed),
                **step_facts(run.worlds[index], run.worlds[index + 1], cpu_id, result, _POINTER_LOCALS),
            }
        )
    scenario: Scenario = run.scenario
    probed = probe(world)
    enabled = [cpu_id for cpu_id, r in probed.items() if not isinstance(r, Blocked)]  # engine.enabled, once
    view: RunView = {  # type: ignore[typeddict-item]  # "lanes" is derived from it below
        "scenario": scenario.id,
        "title": scenario.title,
        "code": run.code,
        "schedule": run.schedule,
        "enabled": enabled,
        "done": not enabled,
        "cpus": [_cpu_view(run, world, c, executed[c.id], crash_steps.get(c.id), probed.get(c.id)) for c in world.cpus],
        "violations": [_violation_view(world, v) for v in violations],
        "events": events,
        "world": _world_view(world, probed),
        "changed": list(run.steps[-1][2].changed) if run.steps else [],
        "changes": pane_changes(list(run.steps[-1][2].changed), run.worlds[-2], run.worlds[-1]) if run.steps else {},
    }
    view["story"] = story(view) if violations else None
    view["lanes"] = lane_rows(view)
    return view
