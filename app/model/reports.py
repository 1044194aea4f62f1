"""Reports for violations, in the kernel's own formats where there is one.

Memory errors read like KASAN: "BUG: KASAN: slab-use-after-free in ...", the
access, the task, the call chain, "Allocated by task", "Freed by task", and the
object and cache. The model makes up no offsets: it prints function names with
the quoted file:line, and says that addresses and task ids are illustrative.
"""
from __future__ import annotations

from .engine import ACTORS
from .source import line_of
from .state import HeapObject, Origin, Violation, World

RULE = "=" * 66
NOTE = "(model-generated in KASAN's format; addresses, task ids and caches are illustrative)"

# Who calls whom where the model does not push a frame (a plain C call).
_CALLERS = {
    "zswap_writeback_entry": "shrink_memcg_cb",
    "shrink_memcg_cb": "__list_lru_walk_one",
    "__list_lru_walk_one": "shrink_memcg",
    "zswap_invalidate": "swap_range_free",
    "swap_range_free": "swapcache_free_entries / free_swap_and_cache",
    "unuse_pte_range": "try_to_unuse",
    "try_to_unuse": "__do_sys_swapoff",
    "zswap_load": "swap_read_folio",
}

_FREE_CHAINS = {
    "zswap_swapoff": ["kvfree", "zswap_swapoff", "__do_sys_swapoff"],
    "zswap_free_entry": ["kmem_cache_free", "zswap_free_entry", "zswap_entry_put"],
    "folio_put": ["folio_put"],
    "__remove_mapping": ["__remove_mapping", "shrink_folio_list"],
}
_ALLOC_CHAINS = {
    "zswap_swapon": ["kvcalloc", "zswap_swapon", "__do_sys_swapon"],
    "zswap_store": ["kmem_cache_alloc", "zswap_entry_cache_alloc", "zswap_store"],
    "__read_swap_cache_async": ["alloc_pages_mpol", "__read_swap_cache_async"],
    "add_to_swap": ["folio_alloc_swap", "add_to_swap"],
}


def free_chain(function: str) -> list[str]:
    """The innermost frames of a free, innermost first ("kvfree", "zswap_swapoff", ...), as the
    "Freed by" stack shows them; the stage's crash banner names the same frames."""
    return list(_FREE_CHAINS.get(function, [function]))


def _where(step_id: str | None) -> str:
    if step_id is None:
        return ""
    line = line_of(step_id)
    place = f"{line.file}:{line.line}" if line.line else line.file
    return f"{line.function} ({place})"


def call_chain(world: World, cpu_id: int) -> list[str]:
    cpu = world.cpu(cpu_id)
    chain = [_where(cpu.pc)]
    functions = [line_of(cpu.pc).function] if cpu.pc else []
    for ret in reversed(cpu.stack):
        chain.append(_where(ret))
        functions.append(line_of(ret).function)
    last = functions[-1] if functions else ""
    seen = set(functions)
    while last in _CALLERS and _CALLERS[last] not in seen:
        last = _CALLERS[last]
        seen.add(last)
        chain.append(last)
    return chain


def _origin_block(title: str, origin: Origin | None, chains: dict[str, list[str]]) -> list[str]:
    if origin is None:
        return [f"{title}: (unknown)"]
    if origin.cpu is None:
        head = f"{title} {origin.task} before the schedule starts (initial state):"
    else:
        pid = ACTORS_BY_TASK.get(origin.task, 0)
        head = f"{title} task {pid} ({origin.task}) on CPU{origin.cpu} at step {origin.step + 1} of the schedule:"
    return [head] + [f" {fn}" for fn in chains.get(origin.function, [origin.function])]


ACTORS_BY_TASK = {a.task: a.pid for a in ACTORS.values()}


def kasan_report(world: World, violation: Violation) -> str:
    obj: HeapObject | None = world.heap_object(violation.object) if violation.object is not None else None
    cpu = world.cpu(violation.cpu) if violation.cpu else None
    actor = ACTORS[cpu.actor] if cpu else None
    function = line_of(violation.step_id).function if violation.step_id else "?"
    slab = obj is not None and obj.cache != "page"
    kind = ("slab-" if slab else "") + violation.kind
    access, _, rest = violation.detail.partition(" at ")
    addr_text = rest.split(":")[0] if rest else ""
    lines = [RULE, f"BUG: KASAN: {kind} in {function}"]
    if violation.kind == "use-after-free" and actor:
        lines.append(f"{access} at addr {addr_text[2:] if addr_text.startswith('0x') else addr_text} by task {actor.task}/{actor.pid}")
    elif actor:
        lines.append(f"by task {actor.task}/{actor.pid}")
    lines.append("")
    if cpu:
        lines.append(f"CPU: {cpu.id} (model)")
        lines.append("Call Trace (model):")
        lines += [f" {frame}" for frame in call_chain(world, cpu.id)]
        lines.append("")
    if obj is not None:
        lines += _origin_block("Allocated by", obj.alloc, _ALLOC_CHAINS)
        lines.append("")
        lines += _origin_block("Freed by", obj.free, _FREE_CHAINS)
        lines.append("")
        lines.append(f"The buggy address belongs to the object at {obj.addr:x}")
        lines.append(f" which belongs to the cache {obj.cache} of size {obj.size}")
        if addr_text.startswith("0x"):
            offset = int(addr_text, 16) - obj.addr
            lines.append(f"The buggy address is located {offset} bytes inside of")
            lines.append(f" freed {obj.size}-byte region [{obj.addr:x}, {obj.addr + obj.size:x})")
        lines.append(f"The object is {obj.type} '{obj.name}'.")
    lines.append(RULE)
    lines.append(NOTE)
    return "\n".join(lines)


def report(world: World, violation: Violation) -> str:
    if violation.kind in ("use-after-free", "double-free"):
        return kasan_report(world, violation)
    where = _where(violation.step_id)
    if violation.kind == "sleep-in-atomic":
        return f"BUG: sleeping function called from invalid context at {where}\n{violation.detail}"
    if violation.kind == "null-deref":
        return f"BUG: kernel NULL pointer dereference in {where}\n{violation.detail}"
    if violation.kind == "stale-writeback":
        return f"Data corruption: stale writeback in {where}\n{violation.detail}"
    if violation.kind == "deadlock":
        stuck = []
        from .engine import Blocked, try_step

        for c in world.cpus:
            if c.state == "run":
                r = try_step(world, c.id)
                if isinstance(r, Blocked):
                    stuck.append(f" CPU{c.id} at {_where(c.pc)}: {r.text}")
        return "Deadlock: no CPU can make progress\n" + "\n".join(stuck)
    if violation.kind == "leak":
        obj = world.heap_object(violation.object) if violation.object is not None else None
        name = f"{obj.type} '{obj.name}' at {obj.addr:#x}" if obj else "an object"
        return f"Leak: {name}: {violation.detail}"
    return f"{violation.kind}: {violation.detail}"
