"""TEMPORARY stand-in for app.model.api, used only until the real model lands.

Returns data of exactly the RunView shape (app/model/viewtypes.py) for one scenario, the seed,
with a crude hand-written 2-CPU program. It holds no faithful kernel logic: delete it once
app/model/api.py exists.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field


class ModelInputError(Exception):
    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class UnknownScenario(ModelInputError):
    def __init__(self, scenario: str, valid: list[str]):
        super().__init__(f"unknown scenario {scenario!r}")
        self.scenario, self.valid = scenario, valid


class UnknownCode(ModelInputError):
    def __init__(self, code: str, valid: list[str]):
        super().__init__(f"unknown code {code!r}; valid: {', '.join(valid)}")
        self.code, self.valid = code, valid


class ScheduleError(ModelInputError):
    def __init__(self, position: int, reason: str, valid_prefix: str):
        super().__init__(f"step {position + 1}: {reason}")
        self.position, self.reason, self.valid_prefix = position, reason, valid_prefix


SEED = "lru-writeback-vs-swapoff"
TREES, ENTRY, FSW, FWB = "0xffff888003a10000", "0xffff888004a1c000", "0xffffea0000123400", "0xffffea0000125600"

# (step id, function, file, line, label, text)
_OLD = [
    ("O1", "shrink_memcg_cb", 861, "struct zswap_entry *entry = container_of(item, struct zswap_entry, lru);"),
    ("O2", "shrink_memcg_cb", 873, "swpoffset = swp_offset(entry->swpentry);"),
    ("O3", "shrink_memcg_cb", 874, "tree = swap_zswap_tree(entry->swpentry);"),
    ("O4", "shrink_memcg_cb", 875, "list_lru_isolate(l, item);"),
    ("O5", "shrink_memcg_cb", 880, "spin_unlock(lock);"),
    ("O6", "shrink_memcg_cb", 883, "spin_lock(&tree->lock);"),
    ("O7", "shrink_memcg_cb", 884, "if (entry != zswap_rb_search(&tree->rbroot, swpoffset))"),
    ("O8", "shrink_memcg_cb", 885, "goto unlock;"),
    ("O22", "shrink_memcg_cb", 926, "spin_unlock(&tree->lock);"),
    ("O23", "shrink_memcg_cb", 927, "spin_lock(lock);"),
]
_NEW = [
    ("N1", "shrink_memcg_cb", 840, "struct zswap_entry *entry = container_of(item, struct zswap_entry, lru);"),
    ("N2", "shrink_memcg_cb", 864, "list_move_tail(item, &l->list);"),
    ("N3", "shrink_memcg_cb", 871, "swpentry = entry->swpentry;"),
    ("N4", "shrink_memcg_cb", 877, "spin_unlock(lock);"),
    ("N5", "zswap_writeback_entry", 1392, "folio = __read_swap_cache_async(swpentry, GFP_KERNEL, mpol,"),
    ("N9", "zswap_writeback_entry", 1417, "spin_lock(&tree->lock);"),
    ("N17", "zswap_writeback_entry", 1438, "zswap_entry_put(entry);"),
    ("N20", "zswap_writeback_entry", 1448, "__swap_writepage(folio, &wbc);"),
    ("N23", "shrink_memcg_cb", 896, "spin_lock(lock);"),
]
_SWAPOFF = [
    ("S1", "swapoff", None, "p->flags &= ~SWP_WRITEOK;"),
    ("S3c", "unuse_pte_range", None, "folio = swap_cache_get_folio(entry, vma, addr);"),
    ("S3f", "unuse_pte_range", None, "folio_lock(folio);"),
    ("S3i", "unuse_pte_range", None, "folio_free_swap(folio);"),
    ("S5", "swapoff", None, "percpu_ref_kill(&p->users);"),
    ("S8", "zswap_swapoff", None, "kvfree(trees);"),
]


def _src(row, code_prefix):
    step, fn, line, text = row
    file = "mm/swapfile.c" if step.startswith("S") else "mm/zswap.c"
    if step == "S8":
        file = "mm/zswap.c"
    label = f"{code_prefix}:{line}" if line else ""
    return {"step": step, "function": fn, "file": file, "line": line, "line_label": label,
            "text": text, "verified": line is not None}


def list_scenarios() -> list[dict]:
    return [{
        "id": SEED,
        "title": "LRU writeback vs swapoff (stand-in)",
        "summary": "CPU1 writes a zswap entry back from the LRU while CPU2 runs swapoff and frees the trees array.",
        "codes": [{"id": "old", "title": "before 5878303c5353", "description": "base mm/zswap.c 81cb3790e0dd"},
                  {"id": "new", "title": "after 5878303c5353", "description": "fixed mm/zswap.c f5cb5a46e4d7"}],
        "cpus": [{"id": 1, "actor": "writeback", "actor_title": "LRU writeback: shrink_memcg_cb"},
                 {"id": 2, "actor": "swapoff", "actor_title": "swapoff: try_to_unuse, zswap_swapoff"}],
        "tours": [
            {"name": "uaf-a", "title": "Shortest path to UAF-A", "code": "old", "schedule": "11111222222" + "1",
             "steps": [f"Sentence for step {i + 1}." for i in range(12)]},
            {"name": "fixed-sleeps", "title": "New code: swapoff sleeps on the folio lock", "code": "new",
             "schedule": "11111" + "22" + "111" + "2222" + "1",
             "steps": [f"Sentence for step {i + 1}." for i in range(15)]},
        ],
    }]


@dataclass
class _St:
    pc: dict = field(default_factory=lambda: {1: 0, 2: 0})
    crashed: bool = False
    trees_freed_step: int | None = None
    entry_freed_step: int | None = None
    fwb_locked: bool = False
    fwb_alloc_step: int | None = None
    killed: bool = False
    events: list = field(default_factory=list)
    changed: list = field(default_factory=list)
    violations: list = field(default_factory=list)
    enomem: bool = False


def _programs(code):
    return {1: _OLD if code == "old" else _NEW, 2: _SWAPOFF}


def _blocked(st, code, cpu):
    prog = _programs(code)[cpu]
    if st.crashed and cpu == 1:
        return "crashed"
    if st.pc[cpu] >= len(prog):
        return "done"
    step = prog[st.pc[cpu]][0]
    if cpu == 2 and step == "S3f" and st.fwb_locked:
        return f"sleeping in folio_lock on folio {FWB} held by CPU1"
    return None


def build_view(scenario_id: str, code: str, schedule: str) -> dict:
    if scenario_id != SEED:
        raise UnknownScenario(scenario_id, [SEED])
    if code not in ("old", "new"):
        raise UnknownCode(code, ["old", "new"])
    st = _St()
    progs = _programs(code)
    for i, ch in enumerate(schedule):
        if i >= 500:
            raise ScheduleError(500, "more than 500 steps", schedule[:500])
        if ch not in "0123456789":
            raise ScheduleError(i, f"{ch!r} is not a CPU number", schedule[:i])
        cpu = int(ch)
        if cpu not in progs:
            raise ScheduleError(i, f"there is no CPU{cpu} (CPUs: 1, 2)", schedule[:i])
        why = _blocked(st, code, cpu)
        if why:
            raise ScheduleError(i, f"CPU{cpu} cannot step: {why}", schedule[:i])
        row = progs[cpu][st.pc[cpu]]
        st.changed = []
        narr = f"CPU{cpu} runs {row[3]}"
        step = row[0]
        if step in ("O6", "N9") and st.trees_freed_step is not None:
            st.crashed = True
            narr = f"CPU{cpu} writes tree->lock inside the trees array freed by CPU2 at step {st.trees_freed_step + 1}: use-after-free"
            st.violations.append({
                "kind": "use-after-free", "cpu": 1, "function": row[1], "file": "mm/zswap.c", "line": row[2],
                "line_label": f"b:{row[2]}", "object": TREES, "step": i,
                "alloc_step": None, "free_step": st.trees_freed_step,
                "report": ("BUG: KASAN: slab-use-after-free in shrink_memcg_cb+0x1a4/0x3c0\n"
                           f"Write of size 4 at addr {TREES} by task kswapd0/CPU1\n\n"
                           "Allocated by task swapon (initial state):\n kvcalloc\n zswap_swapon\n\n"
                           f"Freed by task swapoff/CPU2 at step {st.trees_freed_step + 1}:\n kvfree\n zswap_swapoff\n\n"
                           f"The buggy address belongs to the object at {TREES}\n which belongs to the cache kmalloc-64 of size 64"),
            })
            st.changed = [f"heap:{TREES}"]
        elif step == "N5":
            if st.killed:
                st.enomem = True
                narr = "CPU1 gets NULL from __read_swap_cache_async: the swap device ref was killed; -ENOMEM."
                st.pc[1] = len(progs[1]) - 2
            else:
                st.fwb_locked, st.fwb_alloc_step = True, i
                st.changed = [f"folio:{FWB}", f"heap:{FWB}", "locks", "swap"]
        elif step == "N17":
            st.entry_freed_step = i
            st.changed = [f"heap:{ENTRY}", f"entry:{ENTRY}", "lru"]
        elif step == "N20":
            st.fwb_locked = False
            st.changed = [f"folio:{FWB}", "locks"]
        elif step == "S3i" and st.entry_freed_step is None:
            st.entry_freed_step = i
            st.changed = [f"heap:{ENTRY}", f"entry:{ENTRY}", f"tree:{TREES}", "swap"]
        elif step == "S5":
            st.killed = True
            st.changed = ["swap"]
        elif step == "S8":
            st.trees_freed_step = i
            st.changed = [f"heap:{TREES}", f"tree:{TREES}"]
        elif step in ("O4", "N2"):
            st.changed = ["lru"]
        elif step in ("O5", "N4", "O23", "N23"):
            st.changed = ["locks", "lru"]
        st.pc[cpu] += 1
        src = _src(row, "b" if code == "old" or cpu == 2 else "f")
        st.events.append({"index": i, "cpu": cpu, **{k: src[k] for k in ("step", "function", "file", "line", "line_label", "text")},
                          "narration": narr, "changed": list(st.changed)})
    return _view(st, code, schedule)


def _view(st: _St, code: str, schedule: str) -> dict:
    progs = _programs(code)
    cpus, enabled = [], []
    for cpu in (1, 2):
        why = _blocked(st, code, cpu)
        if why is None:
            enabled.append(cpu)
        pre = "b" if code == "old" or cpu == 2 else "f"
        crash_pc = st.pc[1] - 1 if st.crashed and cpu == 1 else None
        program = [{**_src(r, pre), "is_next": why is None and n == st.pc[cpu], "is_crash": n == crash_pc,
                    "executed": n < st.pc[cpu]} for n, r in enumerate(progs[cpu])]
        status = "runnable" if why is None else ("crashed" if why == "crashed" else "done" if why == "done" else "sleeping")
        nxt = _src(progs[cpu][st.pc[cpu]], pre) if why is None or status == "sleeping" else None
        locs = []
        if cpu == 1:
            locs = [{"name": "entry", "value": ENTRY, "ref": ENTRY, "dangling": st.entry_freed_step is not None}]
            if code == "old" and st.pc[1] >= 3:
                locs.append({"name": "tree", "value": TREES, "ref": TREES, "dangling": st.trees_freed_step is not None})
            if code == "new" and st.pc[1] >= 5 and not st.enomem:
                locs.append({"name": "folio", "value": FWB, "ref": FWB, "dangling": False})
        status_text = {"runnable": "runnable", "crashed": "crashed: KASAN use-after-free", "done": "done"}.get(status, why)
        steps_left = "".join(str(cpu) for _ in range(3)) if why is None else ""
        cpus.append({"id": cpu, "actor": "writeback-" + code if cpu == 1 else "swapoff",
                     "actor_title": "LRU writeback: shrink_memcg_cb" if cpu == 1 else "swapoff",
                     "status": status, "status_text": status_text,
                     "blocked_on": None if why is None else status_text, "next": nxt, "locals": locs,
                     "program": program, "result": "LRU_RETRY (-ENOMEM)" if cpu == 1 and st.enomem else None,
                     "step_over": str(cpu) if why is None else "",
                     "run_until_blocked": steps_left[: len(progs[cpu]) - st.pc[cpu]]})
    heap = [
        {"addr": TREES, "type": "struct zswap_tree[1]", "cache": "kvmalloc", "name": "trees",
         "freed": st.trees_freed_step is not None, "alloc_cpu": None, "alloc_step": None, "alloc_function": "zswap_swapon",
         "free_cpu": 2 if st.trees_freed_step is not None else None, "free_step": st.trees_freed_step,
         "free_function": "zswap_swapoff" if st.trees_freed_step is not None else None,
         "dangling_from": ["CPU1 tree"] if st.trees_freed_step is not None and code == "old" and st.pc[1] >= 3 else []},
        {"addr": ENTRY, "type": "struct zswap_entry", "cache": "zswap_entry_cache", "name": "E",
         "freed": st.entry_freed_step is not None, "alloc_cpu": None, "alloc_step": None, "alloc_function": "zswap_store",
         "free_cpu": 2 if st.entry_freed_step is not None else None, "free_step": st.entry_freed_step,
         "free_function": "zswap_free_entry" if st.entry_freed_step is not None else None,
         "dangling_from": ["CPU1 entry"] if st.entry_freed_step is not None else []},
    ]
    swapcache = []
    if st.fwb_alloc_step is not None:
        heap.append({"addr": FWB, "type": "struct folio", "cache": "page allocator", "name": "F_wb", "freed": False,
                     "alloc_cpu": 1, "alloc_step": st.fwb_alloc_step, "alloc_function": "__read_swap_cache_async",
                     "free_cpu": None, "free_step": None, "free_function": None, "dangling_from": []})
        swapcache.append({"addr": FWB, "offset": 3, "in_swapcache": True, "locked_by": 1 if st.fwb_locked else None,
                          "uptodate": not st.fwb_locked, "writeback": False, "data": "page A",
                          "waiters": [2] if st.fwb_locked and st.pc[2] == 2 else [], "freed": False})
    tree_alive = st.trees_freed_step is None
    entry_alive = st.entry_freed_step is None
    locks = [{"name": "LRU lock (nlru->lock)", "kind": "spinlock", "object": None,
              "holder": 1 if 0 < st.pc[1] < 4 else None, "waiters": []},
             {"name": "tree->lock", "kind": "spinlock", "object": TREES, "holder": None, "waiters": []}]
    if st.fwb_alloc_step is not None:
        locks.append({"name": f"folio lock {FWB}", "kind": "sleeping", "object": FWB,
                      "holder": 1 if st.fwb_locked else None, "waiters": [2] if st.fwb_locked and st.pc[2] == 2 else []})
    world = {
        "swap": {"type": 0, "writeok": st.pc[2] < 1, "users": "killed" if st.killed else "live",
                 "inuse_pages": 1 if entry_alive else 0, "slot_cache_enabled": True,
                 "slots": [{"offset": 3, "count": 1 if entry_alive else 0, "has_cache": st.fwb_locked,
                            "map_text": "1|SWAP_HAS_CACHE" if st.fwb_locked else ("1" if entry_alive else "0")}],
                 "device_refs": []},
        "zswap_trees": TREES if tree_alive else None,
        "trees": [{"addr": TREES, "array": TREES, "index": 0, "freed": not tree_alive, "lock_holder": None,
                   "lock_waiters": [], "entries": [{"offset": 3, "entry": ENTRY}] if entry_alive else []}],
        "entries": [{"addr": ENTRY, "offset": 3, "refcount": 1 if entry_alive else 0, "length": 2048,
                     "in_tree": entry_alive, "on_lru": entry_alive and (code == "new" or st.pc[1] < 4),
                     "freed": not entry_alive, "data": "page A"}],
        "lru": {"order": [ENTRY] if entry_alive and (code == "new" or st.pc[1] < 4) else [],
                "nr_items": 1 if entry_alive and (code == "new" or st.pc[1] < 4) else 0,
                "lock_holder": 1 if 0 < st.pc[1] < 4 else None, "lock_waiters": []},
        "swapcache": swapcache,
        "locks": locks,
        "heap": heap,
        "ptes": [{"name": "process A", "value": "swp(0, 3)" if st.pc[2] < 4 else f"present -> folio {FSW}",
                  "ref": None}],
    }
    return copy.deepcopy({
        "scenario": SEED, "title": "LRU writeback vs swapoff (stand-in)", "code": code, "schedule": schedule,
        "enabled": enabled, "done": not enabled, "cpus": cpus, "violations": st.violations,
        "events": st.events, "world": world, "changed": st.changed,
    })
