"""Immutable world state.

Every record is a frozen dataclass and every collection a tuple, so a World is
a value: hashable, comparable and cheap to share between undo, replay and the
explorer. Fields that only record *history* (who allocated an object, at which
step) are declared with ``compare=False`` so that two runs reaching the same
kernel state by different paths compare equal; the explorer relies on that.
"""
from __future__ import annotations

from typing import Any, Literal

from app.model.kernel.records import compared_tuple, field, frozen


def evolve(obj: Any, **changes: Any) -> Any:
    """dataclasses.replace for frozen records, without re-running __init__ (hot path)."""
    new = object.__new__(obj.__class__)
    values = obj.__dict__.copy()
    values.pop("_hash", None)
    values.update(changes)
    new.__dict__.update(values)
    return new


def hot_frozen(cls: Any) -> Any:
    """A frozen dataclass (records.frozen) compared by compiled code: the explorer compares
    worlds and their records hundreds of thousands of times a search."""
    return frozen(cls, compiled_eq=True)


def record(cls: Any) -> Any:
    """A frozen dataclass (records.frozen) whose hash is computed once, over the fields that take
    part in comparison: the explorer hashes every world it meets, and a world shares most
    records with its predecessor, so each record's hash is worked out once."""
    cls = hot_frozen(cls)
    compared = compared_tuple(cls)

    def __hash__(self: Any) -> int:
        d = self.__dict__
        try:
            return d["_hash"]  # type: ignore[no-any-return]
        except KeyError:
            h = d["_hash"] = hash(compared(self))
            return h

    __hash__.__qualname__ = f"{cls.__qualname__}.__hash__"
    cls.__hash__ = __hash__
    return cls

CpuState = Literal["run", "done", "crashed"]


@record
class Origin:
    """Where an object was allocated or freed: history, not state."""

    cpu: int | None  # None: the initial state of the scenario
    step: int | None  # index in the schedule
    function: str
    task: str
    # The step ids of the CPU's line and its return stack, innermost first: the model's part of
    # the "Allocated by" / "Freed by" stacks (reports.py).
    where: tuple[str, ...] = ()


@record
class HeapObject:
    addr: int
    kind: Literal["trees", "entry", "folio"]
    type: str  # C type as a kernel developer would name it
    cache: str  # allocator / slab cache
    size: int
    freed: bool = False
    name: str = field(default="", compare=False)
    alloc: Origin | None = field(default=None, compare=False)
    free: Origin | None = field(default=None, compare=False)


@record
class Entry:
    """The fields of one struct zswap_entry (kept after free: the stale bytes)."""

    addr: int
    offset: int  # swp_offset(entry->swpentry)
    refcount: int
    length: int
    in_tree: bool  # rbnode linked
    on_lru: bool  # lru list_head linked
    data: str  # whose page the compressed bytes hold, with its generation


@record
class Tree:
    """One struct zswap_tree: an rbroot and a spinlock, inside the trees array."""

    addr: int
    array: int  # the kvcalloc'd array this element lives in
    index: int
    lock: int | None  # CPU holding tree->lock
    rb: tuple[tuple[int, int], ...]  # (offset, entry addr), sorted by offset


@record
class Slot:
    offset: int
    count: int  # swap_map count without SWAP_HAS_CACHE
    has_cache: bool
    owner: str  # whose data the slot currently stands for ("" when free)
    gen: int  # bumped at every allocation of the slot: tells reuse apart
    disk: str = ""  # what the last write I/O put on the device for this slot


@record
class SwapDevice:
    type: int
    writeok: bool  # SWP_WRITEOK
    users_live: bool  # percpu_ref si->users alive (not killed)
    inuse_pages: int
    slot_cache_enabled: bool
    slots: tuple[Slot, ...]
    refs: tuple[int, ...]  # CPUs holding get_swap_device(), sorted, with repeats
    swap_map_freed: bool = False


@record
class Folio:
    addr: int
    offset: int | None  # folio->swap offset while it caches a slot
    in_swapcache: bool
    locked_by: int | None  # CPU holding PG_locked
    uptodate: bool
    writeback: bool
    data: str | None  # whose page the folio holds
    refs: int  # folio refcount (0 = freed)


@record
class Lru:
    order: tuple[int, ...]  # entry addresses, head first
    lock: int | None  # CPU holding nlru->lock


@record
class Pte:
    """One page table entry: page ``page`` (0, 1, ... in the order of its first slot) of a
    process's address space. A process owning several swapped pages has one PTE per page, each
    found by swapoff's unuse_pte_range() and cleared by the process's exit."""

    process: str
    offset: int | None  # swp_entry(T, offset) while swapped out
    folio: int | None  # present: maps this folio
    page: int = 0

    @property
    def key(self) -> tuple[str, int]:
        """Its key in World.index("ptes"): (process, page)."""
        return (self.process, self.page)

    @property
    def label(self) -> str:
        """How changes and views name it: "A" for a process's first page, "A.1" for the next."""
        return self.process if self.page == 0 else f"{self.process}.{self.page}"


@record
class Cpu:
    id: int
    actor: str
    pc: str | None  # next step id; None once done or crashed
    stack: tuple[str, ...]  # return step ids of called helpers
    locals: tuple[tuple[str, object], ...]  # sorted (name, value)
    state: CpuState = "run"
    result: str | None = None

    def local(self, name: str, default: object = None) -> object:
        for key, value in self.locals:
            if key == name:
                return value
        return default


# The violations the kernel prints a report for: KASAN's (a use-after-free, a double free, the
# null-ptr-deref of an instrumented access) and the oops that follows a NULL dereference.
MEMORY_ERRORS = ("use-after-free", "null-deref", "double-free")


@record
class Violation:
    kind: str  # use-after-free, double-free, leak, stale-writeback, sleep-in-atomic, deadlock, ...
    cpu: int | None
    step_id: str | None  # the model step where it happened
    object: int | None  # heap address involved
    detail: str  # short machine-stable description (access kind, field)
    at: int | None = field(default=None, compare=False)  # schedule index
    # The kernel functions between the model's line and the access, innermost first
    # (e.g. ("_raw_spin_lock",) for spin_lock(&tree->lock)): the report's call trace.
    frames: tuple[str, ...] = field(default=(), compare=False)


@record
class Config:
    """Scenario toggles: fixed for a run."""

    exclusive_loads: bool = False
    slab_reuse: bool = True  # a freed zswap_entry's address is handed out again (LIFO)


PARTS = (
    "cpus", "heap", "entries", "trees", "folios", "swap", "zswap_trees", "lru", "ptes",
    "violations", "free_lists", "next_addr", "config",
)


@hot_frozen
class World:
    cpus: tuple[Cpu, ...]
    heap: tuple[HeapObject, ...]
    entries: tuple[Entry, ...]
    trees: tuple[Tree, ...]
    folios: tuple[Folio, ...]
    swap: SwapDevice
    zswap_trees: int | None  # the global zswap_trees[T] pointer
    lru: Lru
    ptes: tuple[Pte, ...]
    violations: tuple[Violation, ...]
    free_lists: tuple[tuple[str, tuple[int, ...]], ...]  # per cache, LIFO of freed addrs
    next_addr: tuple[tuple[str, int], ...]  # per cache, next fresh address
    config: Config
    steps: int = field(default=0, compare=False)
    # Per-part hashes, reused from the previous world for the parts a step did
    # not touch (see engine.Ctx.commit): the explorer hashes every world.
    part_hashes: tuple[int, ...] = field(default=(), compare=False, repr=False)

    def __hash__(self) -> int:
        try:
            return self.__dict__["_hash"]  # type: ignore[no-any-return]
        except KeyError:
            parts = self.part_hashes or tuple(hash(getattr(self, n)) for n in PARTS)
            value = hash(parts)
            object.__setattr__(self, "_hash", value)
            return value

    def parts(self) -> tuple[Any, ...]:
        return (
            self.cpus, self.heap, self.entries, self.trees, self.folios, self.swap, self.zswap_trees,
            self.lru, self.ptes, self.violations, self.free_lists, self.next_addr, self.config,
        )

    def index(self, name: str) -> dict[Any, Any]:
        """addr (or, for PTEs, (process, page)) -> record for a keyed part; built once per world
        (never mutate it)."""
        key = "_index_" + name
        try:
            return self.__dict__[key]  # type: ignore[no-any-return]
        except KeyError:
            records = getattr(self, name)
            if name == "ptes":
                value = {r.key: r for r in records}
            else:
                value = {r.addr: r for r in records}
            object.__setattr__(self, key, value)
            return value

    def part_hash(self, index: int) -> int:
        if self.part_hashes:
            return self.part_hashes[index]
        return hash(getattr(self, PARTS[index]))

    def cpu(self, cpu_id: int) -> Cpu:
        return self.cpus[cpu_id - 1]

    def heap_object(self, addr: int) -> HeapObject | None:
        for obj in self.heap:
            if obj.addr == addr:
                return obj
        return None

    def entry(self, addr: int) -> Entry | None:
        for entry in self.entries:
            if entry.addr == addr:
                return entry
        return None

    def folio(self, addr: int) -> Folio | None:
        for folio in self.folios:
            if folio.addr == addr:
                return folio
        return None

    def slot(self, offset: int) -> Slot:
        for slot in self.swap.slots:
            if slot.offset == offset:
                return slot
        raise KeyError(offset)

    def swapcache_folio(self, offset: int) -> Folio | None:
        for folio in self.folios:
            if folio.in_swapcache and folio.offset == offset:
                return folio
        return None
