"""Building the initial World of a scenario for a given code."""
from __future__ import annotations

from app.model.actors.common import data_tag
from app.model.kernel.memory_ops import CACHES
from app.model.scenarios.scenario import Scenario, SlotSpec
from app.model.kernel.state import Config, Cpu, Entry, Folio, HeapObject, Lru, Origin, Pte, Slot, SwapDevice, Tree, World

SWAP_TYPE = 0
ZSWAP_TREE_SIZE = 16  # struct zswap_tree: rb_root (8) + spinlock_t (4) + padding


def actor_for(kind: str, code: str) -> str:
    # shrink_worker(), or the memcg shrinker from kswapd0 or from a task's direct reclaim
    if kind in ("writeback", "shrinker", "reclaim"):
        return f"{kind}-{code}"
    return kind


def blob_of(code: str) -> str:
    """The mm/zswap.c blob the code's "b:" lines are read in (kernel/lines.py): its writeback's."""
    from app.model.kernel.engine import ACTORS

    return ACTORS[actor_for("writeback", code)].blob


def _ptes(slots: list[SlotSpec], folios: dict[int, int] | None = None) -> list[Pte]:
    """One PTE per swapped page: a process owning several slots has several pages, numbered in
    the order of their slots' offsets. ``folios``: offset -> the folio a faulted-in page's PTE maps."""
    pages: dict[str, int] = {}
    out = []
    for slot in sorted(slots, key=lambda s: s.offset):
        page = pages.get(slot.owner, 0)
        pages[slot.owner] = page + 1
        folio = (folios or {}).get(slot.offset)
        out.append(Pte(slot.owner, None if folio else slot.offset, folio, page))
    return out


def _faulted_in(spec: list[SlotSpec], swapin: Origin) -> tuple[list[HeapObject], list[Folio], dict[int, int]]:
    """The folios of pages faulted back in before the schedule starts (SlotSpec.in_swapcache): as a
    finished fault leaves them, uptodate, unlocked, in the swap cache and mapped (two references)."""
    base, stride = CACHES["page"]
    heap, folios, at = [], [], {}
    for i, s in enumerate(sorted((s for s in spec if s.in_swapcache), key=lambda s: s.offset)):
        addr = base + i * stride
        heap.append(HeapObject(addr, "folio", "struct folio", "page", 64, False, "F_sw", swapin))
        folios.append(Folio(addr, s.offset, True, None, True, False, data_tag(s.owner, 1), 2))
        at[s.offset] = addr
    return heap, folios, at


def page_of(scenario: Scenario, process: str, offset: int) -> int:
    """The page of ``process`` whose PTE holds swp_entry(0, ``offset``) in the initial world."""
    return next(p.page for p in _ptes(scenario.world.slots) if p.process == process and p.offset == offset)


def initial_world(scenario: Scenario, code: str) -> World:
    spec = scenario.world
    swapon = Origin(None, None, "zswap_swapon", "swapon")
    store = Origin(None, None, "zswap_store", "kswapd0")

    trees_addr = CACHES["kmalloc-16"][0]
    heap: list[HeapObject] = [
        HeapObject(trees_addr, "trees", "struct zswap_tree[1]", "kmalloc-16", ZSWAP_TREE_SIZE, False, "trees", swapon)
    ]
    entry_base, stride = CACHES["zswap_entry"]
    entries: list[Entry] = []
    addr_of: dict[str, int] = {}
    owner_of = {s.offset: s.owner for s in spec.slots}
    lru_names = set(spec.lru)
    for i, e in enumerate(spec.entries):
        addr = entry_base + i * stride
        addr_of[e.name] = addr
        heap.append(HeapObject(addr, "entry", "struct zswap_entry", "zswap_entry", 80, False, e.name, store))
        length = 0 if e.same_filled else 2048  # same-filled: no compressed copy, just entry->value
        entries.append(Entry(addr, e.slot, 1, length, True, e.name in lru_names, data_tag(owner_of[e.slot], 1)))
    tree = Tree(trees_addr, trees_addr, 0, None, tuple(sorted((e.offset, e.addr) for e in entries)))
    # A faulted-in page: swap_free() dropped the PTE's count, SWAP_HAS_CACHE keeps the slot in use.
    slots = tuple(Slot(s.offset, 0 if s.in_swapcache else 1, s.in_swapcache, s.owner, 1, "")
                  for s in sorted(spec.slots, key=lambda s: s.offset))
    swap = SwapDevice(SWAP_TYPE, True, True, len(slots), True, slots, ())
    folio_heap, folios, folio_at = _faulted_in(spec.slots, Origin(None, None, "__read_swap_cache_async", "fault"))
    heap += folio_heap
    ptes = tuple(sorted(_ptes(spec.slots, folio_at), key=lambda p: p.key))
    from app.model.kernel.engine import ACTORS

    cpus = []
    for c in scenario.cpus:
        actor = actor_for(c.actor, code)
        params: list[tuple[str, object]] = []
        if c.process is not None:
            params.append(("process", c.process))
        if c.slot is not None and c.actor == "swapin":  # the page it touches: the one in this slot
            page = page_of(scenario, c.process or "", c.slot)
            if page:
                params.append(("page", page))
        elif c.slot is not None:
            params.append(("slot", c.slot))
        cpus.append(Cpu(c.id, actor, ACTORS[actor].entry, (), tuple(sorted(params))))
    return World(
        cpus=tuple(cpus),
        heap=tuple(sorted(heap, key=lambda o: o.addr)),
        entries=tuple(entries),
        trees=(tree,),
        folios=tuple(folios),
        swap=swap,
        zswap_trees=trees_addr,
        lru=Lru(tuple(addr_of[n] for n in spec.lru), None),
        ptes=ptes,
        violations=(),
        free_lists=(),
        next_addr=tuple(sorted([("zswap_entry", entry_base + len(entries) * stride)]
                               + ([("page", CACHES["page"][0] + len(folios) * CACHES["page"][1])] if folios else []))),
        config=Config(exclusive_loads=spec.exclusive_loads, slab_reuse=spec.slab_reuse),
    )
