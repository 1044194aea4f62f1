"""Reports for violations, in the kernel's own formats where there is one.

A memory error reads like a KASAN report as scripts/decode_stacktrace.sh (and syzbot) print
it: between the two ``====`` rules only KASAN's own lines: the header naming the function that
made the bad access, the access, the task, the call trace (``<TASK>`` ... ``</TASK>``, inlined
functions as ``[inline]`` frames), "Allocated by task", "Freed by task" and the object and cache.
Everything of ours (which step, the object's name in the model, the configuration the sizes
assume, what happens next) is printed after the closing rule.

How the frames are decided (docs/model.md says the same):

- The innermost frames come from the access (``Violation.frames``): ``spin_lock(&tree->lock)``
  is the atomic cmpxchg on the lock word inside ``_raw_spin_lock`` (a 4-byte write, checked by
  ``kasan_check_range``); ``spin_unlock`` is the release store to the 1-byte ``locked`` field
  inside ``_raw_spin_unlock`` (out of line on a preemptible kernel: CONFIG_PREEMPT_BUILD selects
  UNINLINE_SPIN_UNLOCK); walking the rbtree reads ``root->rb_node`` in ``zswap_rb_search``;
  erasing goes through ``rb_erase`` (lib/rbtree.c); ``entry->refcount++``/``--`` load the field in
  ``zswap_entry_get``/``zswap_entry_put``; any other field is read by the model's line itself.
- Then the model's own frames (the line's function and the CPU's return stack), with the
  callers the model does not step through filled in from ``_CALLERS`` (e.g. ``shrink_memcg_cb``
  between ``zswap_writeback_entry`` and ``__list_lru_walk_one``), down to the task's entry point
  (the workqueue worker, the syscall, the page fault).
- A ``static`` function is printed as inlined (``[inline]``), everything else (global or
  address-taken functions) out of line with an ``+0x../0x..`` offset; the header names the
  innermost out-of-line frame. A real build may inline differently: the frames stay the same,
  only which one the header names and the offsets move. Offsets are made up (stable per name).
"""
from __future__ import annotations

import zlib

from app.model.kernel.engine import ACTORS
from app.model.kernel.lines import line_of
from app.model.kernel.state import HeapObject, Origin, Violation, World

RULE = "=" * 66
VERSION = "6.8.0-rc1+ #1"  # the patch's base is mm-unstable on v6.8-rc1
CONFIG_NOTE = (
    "Sizes and offsets assume x86-64 without spinlock debugging (spinlock_t is a 4-byte qspinlock: "
    "spin_lock() writes the 4-byte word, spin_unlock() the 1-byte 'locked' field at its start), "
    "a preemptible kernel (CONFIG_PREEMPT: _raw_spin_unlock is out of line) and one zswap tree per "
    "swap device (a device of at most 64 MB: the trees array is one 16-byte struct zswap_tree from "
    "kmalloc-16); struct zswap_entry is laid out as at the patch's base (80 bytes)."
)
AFTER_NOTE = (
    "After the report: by default KASAN reports and the kernel carries on with the freed memory; "
    "the model stops this CPU here, as a kernel booted with kasan.fault=panic (or panic_on_warn) would stop."
)

# Who calls whom where the model does not step through the call. A name maps to its caller.
_CALLERS = {
    # the zswap shrinker, on the bound workqueue zswap-shrink
    "zswap_writeback_entry": "shrink_memcg_cb",
    "shrink_memcg_cb": "__list_lru_walk_one",
    "__list_lru_walk_one": "list_lru_walk_one",
    "list_lru_walk_one": "shrink_memcg",
    "shrink_memcg": "shrink_worker",
    "shrink_worker": "process_one_work",
    "process_one_work": "worker_thread",
    "worker_thread": "kthread",
    "kthread": "ret_from_fork",
    "ret_from_fork": "ret_from_fork_asm",
    # swapoff(2)
    "zswap_swapoff": "__do_sys_swapoff",
    "unuse_pte_range": "unuse_pmd_range",
    "unuse_pmd_range": "unuse_pud_range",
    "unuse_pud_range": "unuse_p4d_range",
    "unuse_p4d_range": "unuse_vma",
    "unuse_vma": "unuse_mm",
    "unuse_mm": "try_to_unuse",
    "try_to_unuse": "__do_sys_swapoff",
    "__do_sys_swapoff": "__se_sys_swapoff",
    "__se_sys_swapoff": "__x64_sys_swapoff",
    "__x64_sys_swapoff": "do_syscall_64",
    "zswap_swapon": "__do_sys_swapon",
    "__do_sys_swapon": "__se_sys_swapon",
    "__se_sys_swapon": "__x64_sys_swapon",
    "__x64_sys_swapon": "do_syscall_64",
    "do_syscall_64": "entry_SYSCALL_64_after_hwframe",
    # a freed slot
    "zswap_invalidate": "swap_range_free",
    # the page fault
    "zswap_load": "swap_read_folio",
    "swap_read_folio": "do_swap_page",
    "do_swap_page": "handle_pte_fault",
    "handle_pte_fault": "__handle_mm_fault",
    "__handle_mm_fault": "handle_mm_fault",
    "handle_mm_fault": "do_user_addr_fault",
    "do_user_addr_fault": "exc_page_fault",
    "exc_page_fault": "asm_exc_page_fault",
    # process exit
    "__try_to_reclaim_swap": "free_swap_and_cache",
    "free_swap_and_cache": "zap_pte_range",
    "zap_pte_range": "zap_pmd_range",
    "zap_pmd_range": "zap_pud_range",
    "zap_pud_range": "zap_p4d_range",
    "zap_p4d_range": "unmap_page_range",
    "unmap_page_range": "unmap_single_vma",
    "unmap_single_vma": "unmap_vmas",
    "unmap_vmas": "exit_mmap",
    "exit_mmap": "__mmput",
    "__mmput": "mmput",
    "mmput": "exit_mm",
    "exit_mm": "do_exit",
    "do_exit": "do_group_exit",
    "do_group_exit": "__do_sys_exit_group",
    "__do_sys_exit_group": "__se_sys_exit_group",
    "__se_sys_exit_group": "__x64_sys_exit_group",
    "__x64_sys_exit_group": "do_syscall_64",
    # reclaim (kswapd)
    "zswap_store": "swap_writepage",
    "swap_writepage": "pageout",
    "pageout": "shrink_folio_list",
    "add_to_swap": "shrink_folio_list",
    "__remove_mapping": "shrink_folio_list",
    "shrink_folio_list": "shrink_inactive_list",
    "shrink_inactive_list": "shrink_lruvec",
    "shrink_lruvec": "shrink_node_memcgs",
    "shrink_node_memcgs": "shrink_node",
    "shrink_node": "balance_pgdat",
    "balance_pgdat": "kswapd",
    "kswapd": "kthread",
}

# The model's function labels that are not the C function's name.
_RENAME = {"sys_swapoff": "__do_sys_swapoff"}

# static functions: printed as inlined into their caller (see the module docstring).
_INLINE = {
    "zswap_writeback_entry", "zswap_rb_search", "zswap_rb_insert", "zswap_rb_erase", "zswap_entry_get",
    "zswap_entry_put", "zswap_free_entry", "zswap_entry_cache_alloc", "shrink_memcg", "__list_lru_walk_one",
    "swap_range_free", "try_to_unuse", "unuse_mm", "unuse_vma", "unuse_p4d_range", "unuse_pud_range",
    "unuse_pmd_range", "unuse_pte_range", "__try_to_reclaim_swap", "zap_pte_range", "zap_pmd_range",
    "zap_pud_range", "zap_p4d_range", "unmap_single_vma", "exit_mm", "handle_pte_fault", "__handle_mm_fault",
    "do_user_addr_fault", "pageout", "shrink_folio_list", "shrink_inactive_list", "shrink_lruvec",
    "shrink_node_memcgs", "balance_pgdat", "__remove_mapping", "list_lru_shrink_walk", "shrink_slab_memcg",
    "kswapd_shrink_node", "shrink_zones", "do_try_to_free_pages", "__perform_reclaim", "__alloc_pages_direct_reclaim",
    "__alloc_pages_slowpath", "alloc_anon_folio", "do_anonymous_page",
    "__do_sys_swapoff", "__se_sys_swapoff", "__do_sys_swapon", "__se_sys_swapon", "__do_sys_exit_group",
    "__se_sys_exit_group",
    "queued_spin_lock", "do_raw_spin_lock", "__raw_spin_lock", "queued_spin_unlock", "do_raw_spin_unlock",
    "__raw_spin_unlock", "instrument_atomic_read_write", "atomic_try_cmpxchg_acquire",
}

_FILES = {
    "_raw_spin_lock": "kernel/locking/spinlock.c", "_raw_spin_unlock": "kernel/locking/spinlock.c",
    "__raw_spin_lock": "include/linux/spinlock_api_smp.h", "__raw_spin_unlock": "include/linux/spinlock_api_smp.h",
    "do_raw_spin_lock": "include/linux/spinlock.h", "do_raw_spin_unlock": "include/linux/spinlock.h",
    "queued_spin_lock": "include/asm-generic/qspinlock.h", "queued_spin_unlock": "include/asm-generic/qspinlock.h",
    "atomic_try_cmpxchg_acquire": "include/linux/atomic/atomic-instrumented.h",
    "instrument_atomic_read_write": "include/linux/instrumented.h",
    "kasan_check_range": "mm/kasan/generic.c", "kasan_report": "mm/kasan/report.c", "print_report": "mm/kasan/report.c",
    "dump_stack_lvl": "lib/dump_stack.c", "rb_erase": "lib/rbtree.c",
    "__list_lru_walk_one": "mm/list_lru.c", "list_lru_walk_one": "mm/list_lru.c",
    "process_one_work": "kernel/workqueue.c", "worker_thread": "kernel/workqueue.c", "kthread": "kernel/kthread.c",
    "ret_from_fork": "arch/x86/kernel/process.c", "ret_from_fork_asm": "arch/x86/entry/entry_64.S",
    "do_syscall_64": "arch/x86/entry/common.c", "entry_SYSCALL_64_after_hwframe": "arch/x86/entry/entry_64.S",
    "__read_swap_cache_async": "mm/swap_state.c", "swap_read_folio": "mm/page_io.c", "swap_writepage": "mm/page_io.c",
    "do_swap_page": "mm/memory.c", "handle_pte_fault": "mm/memory.c", "__handle_mm_fault": "mm/memory.c",
    "handle_mm_fault": "mm/memory.c", "do_user_addr_fault": "arch/x86/mm/fault.c", "exc_page_fault": "arch/x86/mm/fault.c",
    "asm_exc_page_fault": "arch/x86/include/asm/idtentry.h",
    "zap_pte_range": "mm/memory.c", "zap_pmd_range": "mm/memory.c", "zap_pud_range": "mm/memory.c",
    "zap_p4d_range": "mm/memory.c", "unmap_page_range": "mm/memory.c", "unmap_single_vma": "mm/memory.c",
    "unmap_vmas": "mm/memory.c", "exit_mmap": "mm/mmap.c", "__mmput": "kernel/fork.c", "mmput": "kernel/fork.c",
    "exit_mm": "kernel/exit.c", "do_exit": "kernel/exit.c", "do_group_exit": "kernel/exit.c",
    "__do_sys_exit_group": "kernel/exit.c", "__se_sys_exit_group": "kernel/exit.c", "__x64_sys_exit_group": "kernel/exit.c",
    "pageout": "mm/vmscan.c", "shrink_folio_list": "mm/vmscan.c", "shrink_inactive_list": "mm/vmscan.c",
    "shrink_lruvec": "mm/vmscan.c", "shrink_node_memcgs": "mm/vmscan.c", "shrink_node": "mm/vmscan.c",
    "balance_pgdat": "mm/vmscan.c", "kswapd": "mm/vmscan.c", "__remove_mapping": "mm/vmscan.c",
    "kswapd_shrink_node": "mm/vmscan.c", "do_shrink_slab": "mm/shrinker.c", "shrink_slab_memcg": "mm/shrinker.c",
    "shrink_slab": "mm/shrinker.c", "list_lru_shrink_walk": "include/linux/list_lru.h",
    "add_to_swap": "mm/swap_state.c",
    "shrink_zones": "mm/vmscan.c", "do_try_to_free_pages": "mm/vmscan.c", "try_to_free_pages": "mm/vmscan.c",
    "__perform_reclaim": "mm/page_alloc.c", "__alloc_pages_direct_reclaim": "mm/page_alloc.c",
    "__alloc_pages_slowpath": "mm/page_alloc.c", "__alloc_pages": "mm/page_alloc.c",
    "alloc_pages_mpol": "mm/mempolicy.c", "vma_alloc_folio": "mm/mempolicy.c", "alloc_anon_folio": "mm/memory.c",
    "do_anonymous_page": "mm/memory.c",
    "kasan_save_stack": "mm/kasan/common.c", "kasan_save_track": "mm/kasan/common.c",
    "__kasan_kmalloc": "mm/kasan/common.c", "__kasan_slab_alloc": "mm/kasan/common.c",
    "kasan_save_free_info": "mm/kasan/generic.c", "poison_slab_object": "mm/kasan/common.c",
    "__kasan_slab_free": "mm/kasan/common.c", "__kmalloc_node": "mm/slub.c", "kvmalloc_node": "mm/util.c",
    "kfree": "mm/slub.c", "kvfree": "mm/util.c", "kmem_cache_free": "mm/slub.c", "kmem_cache_alloc_node": "mm/slub.c",
    "folio_alloc": "mm/mempolicy.c", "folio_put": "include/linux/mm.h", "free_unref_page": "mm/page_alloc.c",
}
for _name in ("__do_sys_swapoff", "__se_sys_swapoff", "__x64_sys_swapoff", "__do_sys_swapon", "__se_sys_swapon",
              "__x64_sys_swapon", "try_to_unuse", "unuse_mm", "unuse_vma", "unuse_p4d_range", "unuse_pud_range",
              "unuse_pmd_range", "unuse_pte_range", "swap_range_free", "free_swap_and_cache", "__try_to_reclaim_swap"):
    _FILES[_name] = "mm/swapfile.c"

# The allocator's and KASAN's own frames of "Allocated by" / "Freed by", innermost first,
# then the model's function and its callers (_CALLERS). kvcalloc() and kvmalloc() are inline
# and never appear: the out-of-line frames are kvmalloc_node() and __kmalloc_node().
_ALLOC_TOP = {
    "zswap_swapon": ["kasan_save_stack", "kasan_save_track", "__kasan_kmalloc", "__kmalloc_node", "kvmalloc_node"],
    "zswap_store": ["kasan_save_stack", "kasan_save_track", "__kasan_slab_alloc", "kmem_cache_alloc_node",
                    "zswap_entry_cache_alloc"],
    "__read_swap_cache_async": ["folio_alloc"],
    "add_to_swap": ["folio_alloc"],
}
_FREE_TOP = {
    "zswap_swapoff": ["kasan_save_stack", "kasan_save_track", "kasan_save_free_info", "poison_slab_object",
                      "__kasan_slab_free", "kfree", "kvfree"],
    "zswap_free_entry": ["kasan_save_stack", "kasan_save_track", "kasan_save_free_info", "poison_slab_object",
                         "__kasan_slab_free", "kmem_cache_free"],
    "folio_put": ["free_unref_page"],
}
# What the model's step is in when it frees: the caller chain below the allocator's frames.
_FREE_CALLERS = {
    "zswap_swapoff": ["zswap_swapoff"],
    "zswap_free_entry": ["zswap_free_entry", "zswap_entry_put"],
    "folio_put": ["folio_put"],
    "__remove_mapping": ["__remove_mapping"],
}
_KASAN_FRAMES = ("kasan_save_stack", "kasan_save_track", "__kasan_kmalloc", "__kasan_slab_alloc", "kasan_save_free_info",
                 "poison_slab_object", "__kasan_slab_free")


def free_chain(function: str) -> list[str]:
    """The frames of a free, innermost first, from the allocator's entry point down to the
    syscall or task that asked for it (``kfree``, ``kvfree``, ``zswap_swapoff``,
    ``__do_sys_swapoff``): the "Freed by" stack without KASAN's own frames. The stage's crash
    banner names the same frames."""
    top = [f for f in _FREE_TOP.get(function, []) if f not in _KASAN_FRAMES]
    chain = top + list(_FREE_CALLERS.get(function, [function]))
    nxt = _CALLERS.get(chain[-1])
    if function == "zswap_swapoff" and nxt:
        chain.append(nxt)  # __do_sys_swapoff: the syscall that freed it
    return chain


def _offset(name: str, line: int | None = None) -> str:
    """An illustrative but KASAN-shaped "+0x1a4/0x6c0" for an out-of-line function: the size is
    stable per function, the offset per function and line."""
    h = zlib.crc32(name.encode())
    size = 0x60 + (h % 0x70) * 0x10
    at = zlib.crc32(f"{name}:{line}".encode()) if line else h >> 12
    return f"+{0x8 + at % (size - 0x10):#x}/{size:#x}"


def _frame(name: str, line: int | None = None) -> str:
    file = _FILES.get(name, "mm/zswap.c" if name.startswith(("zswap_", "shrink_memcg", "shrink_worker")) else "")
    where = f"{file}:{line}" if file and line else file
    if name in _INLINE:
        return f" {name} {where} [inline]".replace("  ", " ")
    return f" {name}{_offset(name, line)} {where}".rstrip()


def _callers(name: str, stop: str | None = None, own: dict[str, str] | None = None) -> list[str]:
    """The callers of ``name`` up to (not including) ``stop``; all of them when ``stop`` is None.
    [] when ``stop`` is given but not on the chain (the model's own stack knows better). ``own``:
    the task's own callers where they differ from _CALLERS (ActorDef.callers)."""
    chain = {**_CALLERS, **own} if own else _CALLERS
    out: list[str] = []
    seen = {name}
    while name in chain:
        name = chain[name]
        if name == stop:
            return out
        if name in seen:
            break
        seen.add(name)
        out.append(name)
    return out if stop is None else []


def _fn(step_id: str) -> str:
    name = line_of(step_id).function
    return _RENAME.get(name, name)


def call_trace(world: World, cpu_id: int, extra: tuple[str, ...] = ()) -> list[tuple[str, int | None]]:
    """The crashing CPU's stack, innermost first, as (function, line or None)."""
    cpu = world.cpu(cpu_id)
    own = dict(ACTORS[cpu.actor].callers)
    return _trace(((cpu.pc,) if cpu.pc else ()) + tuple(reversed(cpu.stack)), extra, own=own)


def _own_callers(task: str) -> dict[str, str]:
    """The callers of the actors that run as ``task`` (an Origin names its task, not its actor):
    kswapd0's memcg shrinker calls list_lru_walk_one() from zswap_shrinker_scan()."""
    own: dict[str, str] = {}
    for actor in ACTORS.values():
        if actor.task == task:
            own.update(actor.callers)
    return own


def _trace(where: tuple[str, ...], extra: tuple[str, ...] = (), line: bool = True,
           own: dict[str, str] | None = None) -> list[tuple[str, int | None]]:
    """Frames for a line (``where[0]``) and its return stack (``where[1:]``), callers filled in."""
    model: list[tuple[str, int | None]] = []
    for i, step_id in enumerate(where):
        name = _fn(step_id)
        if model and model[-1][0] == name:
            continue
        model.append((name, line_of(step_id).line if i == 0 and line else None))
    frames: list[tuple[str, int | None]] = [(f, None) for f in extra]
    for i, (name, line) in enumerate(model):
        frames.append((name, line))
        if i + 1 < len(model):
            frames += [(f, None) for f in _callers(name, model[i + 1][0], own)]
        else:
            frames += [(f, None) for f in _callers(name, own=own)]
    return frames


def call_chain(world: World, cpu_id: int) -> list[str]:
    """Function names of the CPU's stack, innermost first (the model's frames and their callers)."""
    return [name for name, _ in call_trace(world, cpu_id)]


_PIDS = {"swapon": 1100, "kswapd0": 77}


def _pid(task: str, cpu_id: int | None) -> int:
    for actor in ACTORS.values():
        if actor.task == task or (actor.task.startswith("kworker/") and task.startswith("kworker/")):
            return actor.pid_on(cpu_id)
    return _PIDS.get(task, 0)


def _origin_stack(origin: Origin, top: dict[str, list[str]], free: bool) -> list[str]:
    frames = list(top.get(origin.function, []))
    chain = list(_FREE_CALLERS.get(origin.function, [origin.function])) if free else [origin.function]
    if origin.where:  # the allocating / freeing CPU's own stack at that step
        model = [name for name, _ in _trace(origin.where, line=False, own=_own_callers(origin.task))]
        chain += model[1:] if model and model[0] == chain[-1] else model
    else:
        chain += _callers(chain[-1])
    return [_frame(f) for f in frames + chain]


def _header_function(trace: list[tuple[str, int | None]]) -> str:
    """The innermost out-of-line frame, with its offset as the trace prints it."""
    line_of_inline: int | None = None
    for name, line in trace:
        if name not in _INLINE:
            return f"{name}{_offset(name, line or line_of_inline)}"
        line_of_inline = line_of_inline or line
    return trace[0][0] if trace else "?"


def _trace_lines(trace: list[tuple[str, int | None]], kasan: tuple[str, ...]) -> list[str]:
    out = ["Call Trace:", " <TASK>"]
    out += [_frame(f) for f in kasan]
    pending: int | None = None  # a line inside inlined code moves the offset of the function it is inlined into
    for name, line in trace:
        if name in _INLINE:
            out.append(_frame(name, line))
            pending = pending or line
        else:
            out.append(_frame(name, line) if line or not pending else _frame(name, None).replace(_offset(name), _offset(name, pending), 1))
            pending = None
    out.append(" </TASK>")
    return out


def _cpu_lines(world: World, cpu_id: int, trace: list[tuple[str, int | None]]) -> list[str]:
    actor = ACTORS[world.cpu(cpu_id).actor]
    task = actor.task_on(cpu_id)
    lines = [f"CPU: {cpu_id} PID: {actor.pid_on(cpu_id)} Comm: {task} Not tainted {VERSION}"]
    if any(name == "process_one_work" for name, _ in trace):
        lines.append("Workqueue: zswap-shrink shrink_worker")
    return lines


def kasan_report(world: World, violation: Violation) -> str:
    obj: HeapObject | None = world.heap_object(violation.object) if violation.object is not None else None
    cpu = world.cpu(violation.cpu) if violation.cpu else None
    slab = obj is not None and obj.cache != "page"
    kind = ("slab-" if slab and violation.kind == "use-after-free" else "") + violation.kind
    access, _, rest = violation.detail.partition(" at ")
    addr_text, _, what = rest.partition(": ")
    addr = int(addr_text, 16) if addr_text.startswith("0x") else None
    lines = [RULE]
    ours: list[str] = []
    if cpu is not None:
        actor = ACTORS[cpu.actor]
        trace = call_trace(world, cpu.id, violation.frames)
        atomic = bool(violation.frames) and violation.frames[0] == "queued_spin_lock"
        kasan = ("dump_stack_lvl", "print_report", "kasan_report")
        if atomic:  # instrumented atomics are checked out of line by kasan_check_range()
            kasan += ("kasan_check_range",)
            trace = [("instrument_atomic_read_write", None), ("atomic_try_cmpxchg_acquire", None)] + trace
        header = _header_function(trace)
        lines.append(f"BUG: KASAN: {kind} in {header}")
        if violation.kind == "use-after-free" and addr is not None:
            lines.append(f"{access} at addr {addr:016x} by task {actor.task_on(cpu.id)}/{actor.pid_on(cpu.id)}")
        else:
            lines.append(f"by task {actor.task_on(cpu.id)}/{actor.pid_on(cpu.id)}")
        lines.append("")
        lines += _cpu_lines(world, cpu.id, trace)
        lines += _trace_lines(trace, kasan)
        lines.append("")
        step = violation.at
        ours.append(
            f"Model: CPU{cpu.id} ({actor.title}) at step {step + 1 if step is not None else '?'} of the schedule, "
            f"{line_of(violation.step_id).label or line_of(violation.step_id).file} "
            f"'{line_of(violation.step_id).text}': {what or violation.detail}."
        )
    else:
        lines.append(f"BUG: KASAN: {kind}")
        lines.append("")
    if obj is not None:
        for title, origin, top, free in (("Allocated", obj.alloc, _ALLOC_TOP, False), ("Freed", obj.free, _FREE_TOP, True)):
            if origin is None:
                continue
            lines.append(f"{title} by task {_pid(origin.task, origin.cpu)}:")
            lines += _origin_stack(origin, top, free)
            lines.append("")
            if origin.cpu is None:
                ours.append(f"{title} by {origin.task} before the schedule starts (the scenario's initial state).")
            else:
                ours.append(f"{title} by CPU{origin.cpu} ({origin.task}) at step {origin.step + 1 if origin.step is not None else '?'} of the schedule.")
        lines.append(f"The buggy address belongs to the object at {obj.addr:016x}")
        lines.append(f" which belongs to the cache {obj.cache} of size {obj.size}")
        if addr is not None:
            lines.append(f"The buggy address is located {addr - obj.addr} bytes inside of")
            lines.append(f" freed {obj.size}-byte region [{obj.addr:016x}, {obj.addr + obj.size:016x})")
        ours.append(f"The object is {obj.type} '{obj.name}' in the model.")
    lines.append(RULE)
    ours.append("Omitted: the hardware line, the physical page and the shadow-memory dump.")
    ours.append(CONFIG_NOTE)
    ours.append(AFTER_NOTE)
    ours.append(
        "(Generated by the model in KASAN's format, as scripts/decode_stacktrace.sh prints it: static functions "
        "are shown [inline]; addresses, offsets, PIDs and the kernel version are illustrative; CPU numbers are the model's.)"
    )
    return "\n".join(lines + ours)


def null_deref_report(world: World, violation: Violation) -> str:
    """The x86 page-fault oops for an access near address 0, as the kernel prints it."""
    cpu = world.cpu(violation.cpu) if violation.cpu else None
    access, _, rest = violation.detail.partition(" at ")
    addr_text, _, what = rest.partition(": ")
    addr = int(addr_text, 16) if addr_text.startswith("0x") else 0
    write = access.startswith("Write")
    code = 0x0002 if write else 0x0000
    lines = [
        f"BUG: kernel NULL pointer dereference, address: {addr:016x}",
        f"#PF: supervisor {'write' if write else 'read'} access in kernel mode",
        f"#PF: error_code({code:#06x}) - not-present page",
        "PGD 0 P4D 0 ",
        f"Oops: {code:04x} [#1] PREEMPT SMP KASAN",
    ]
    ours: list[str] = []
    if cpu is not None:
        actor = ACTORS[cpu.actor]
        trace = call_trace(world, cpu.id, violation.frames)
        rip = _header_function(trace)
        lines += _cpu_lines(world, cpu.id, trace)
        lines.append(f"RIP: 0010:{rip}")
        # The oops's trace starts at RIP's caller: RIP itself and its inlined frames are in the RIP line.
        names = [n for n, _ in trace]
        rip_name = rip.split("+")[0]
        after = trace[names.index(rip_name) + 1:] if rip_name in names else trace
        lines += _trace_lines(after, ())
        ours.append(
            f"Model: CPU{cpu.id} ({actor.title}) at step {violation.at + 1 if violation.at is not None else '?'} "
            f"of the schedule, {line_of(violation.step_id).label or line_of(violation.step_id).file} "
            f"'{line_of(violation.step_id).text}': {what}: zswap_trees[type] was already NULL, "
            "so the cached tree pointer is NULL-based."
        )
    ours.append(
        "On a KASAN kernel the instrumented access is caught first and reported as "
        "'BUG: KASAN: null-ptr-deref'; this is the oops of a kernel without KASAN's check there. "
        "The register dump and the code bytes are omitted; the model stops this CPU (an oops kills the task)."
    )
    ours.append(CONFIG_NOTE)
    return "\n".join(lines + ours)


def _where(step_id: str | None) -> str:
    if step_id is None:
        return ""
    line = line_of(step_id)
    place = f"{line.file}:{line.line}" if line.line else line.file
    return f"{line.function} ({place})"


def report(world: World, violation: Violation) -> str:
    if violation.kind in ("use-after-free", "double-free"):
        return kasan_report(world, violation)
    where = _where(violation.step_id)
    if violation.kind == "sleep-in-atomic":
        return f"BUG: sleeping function called from invalid context at {where}\n{violation.detail}"
    if violation.kind == "null-deref":
        return null_deref_report(world, violation)
    if violation.kind == "stale-writeback":
        return f"Data corruption: stale writeback in {where}\n{violation.detail}"
    if violation.kind == "deadlock":
        stuck = []
        from app.model.kernel.engine import Blocked, try_step

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
