"""The view model: one plain-data description of a replayed run.

The JSON API serialises these dicts as they are and the HTML templates render
the very same dicts, so the two can never disagree. Everything here is plain
JSON data (str, int, bool, None, lists, dicts).
"""
from __future__ import annotations

from typing import Any, Literal, TypedDict

CpuStatus = Literal["runnable", "waiting", "sleeping", "idle", "done", "crashed"]  # idle: the I/O completion, nothing in flight


class SourceLine(TypedDict):
    """One kernel source line, quoted (GPL-2.0) with its place."""

    step: str  # the spec's step id, e.g. "O6", "N10", "S3f", "R5"
    function: str  # e.g. "shrink_memcg_cb"
    file: str  # e.g. "mm/zswap.c"
    line: int | None  # e.g. 883; None where the spec gives no verified number
    line_label: str  # e.g. "b:883" (base blob), "f:1417" (fixed blob), "" when unknown
    text: str  # the quoted source line
    verified: bool  # False where the spec marks the step [M] (from memory), or for a paraphrase
    variant: bool  # a line of a "break the fix" variant: not kernel code


class ProgramLine(SourceLine):
    depth: int  # nesting: 0 for the actor's own function, 1 inside a call it makes, ...
    is_next: bool  # this CPU's next step
    is_crash: bool  # the step where this CPU hit a memory error
    executed: bool  # this CPU has executed this step at least once


class Local(TypedDict):
    name: str  # "entry", "tree", "swpentry", "folio", "si"
    value: str  # "0xffff888004a1c000", "swp(0, 3)", "NULL", "-ENOMEM"
    ref: str | None  # heap address the value points at (links to the heap pane), else None
    dangling: bool  # points at a freed heap object
    compare_only: bool  # dangling, but this code only compares the pointer, never dereferences it


class CpuView(TypedDict):
    id: int  # 1-based CPU number, the digit used in schedules
    actor: str  # actor id, e.g. "writeback-old", "swapoff"
    actor_title: str  # e.g. "LRU writeback: shrink_memcg_cb (old code)"
    label: str  # "CPU1", ...; "I/O" for the write I/O completion (view.cpu_label)
    status: CpuStatus
    status_text: str  # e.g. "sleeping in folio_lock on folio 0x… held by CPU1"
    blocked_on: str | None  # same sentence when not runnable, else None
    next: SourceLine | None  # None when done or crashed
    locals: list[Local]
    program: list[ProgramLine]  # the actor's whole program in order
    result: str | None  # e.g. "LRU_RETRY (-ENOMEM)" once known
    step_over: str  # digits to append to t for "step over" ("" if cannot step)
    run_until_blocked: str  # digits to append to t for "run until blocked"


class HeapRef(TypedDict):
    addr: str  # heap address of the object
    name: str  # its short label: "trees", "E", "F_sw"
    type: str  # its C type: "struct zswap_tree[1]", "struct zswap_entry", "struct folio"


class LocalPointer(HeapRef):
    local: str  # the kernel's name of the local now pointing into the object: "tree", "entry"


class StepFacts(TypedDict):
    """What one step did to shared state (app/model/views/stepfacts.py), diffed from the worlds."""

    locks_taken: list[str]  # "nlru->lock", "tree->lock", "folio lock F_sw"
    locks_released: list[str]  # same names
    freed: list[HeapRef]  # heap objects this step freed
    allocated: list[HeapRef]  # heap objects this step allocated
    pointers: list[LocalPointer]  # locals this step set to point into a heap object
    shared: bool  # touched shared state (False: only its own CPU's pc and locals)


class Event(StepFacts):
    index: int  # 0-based position in the schedule
    cpu: int
    step: str
    function: str
    file: str
    line: int | None
    line_label: str
    text: str
    narration: str  # one plain-English sentence generated from what the step did
    changed: list[str]  # keys of world things this step changed (see World)


class Violation(TypedDict):
    kind: str  # use-after-free, double-free, null-deref, leak, stale-writeback, sleep-in-atomic, deadlock
    cpu: int | None
    function: str
    file: str
    line: int | None
    line_label: str
    step_id: str | None  # the model step (spec id) where it happened
    object: str | None  # heap address of the object involved
    object_name: str | None  # its short label ("trees", "E")
    object_type: str | None  # its C type ("struct zswap_tree[1]")
    free_cpu: int | None  # the CPU that freed it (None: not freed, or freed before the run)
    free_function: str | None  # the kernel function that freed it ("zswap_swapoff")
    free_chain: list[str]  # the free's innermost frames, innermost first ("kvfree", "zswap_swapoff", ...)
    detail: str  # one line: access kind and size, or what leaked
    step: int | None  # index in the schedule where it happened
    alloc_step: int | None  # schedule index that allocated the object (None: initial state)
    free_step: int | None  # schedule index that freed it
    report: str  # KASAN-style text for memory errors, a plain message otherwise


class SlotView(TypedDict):
    offset: int
    count: int  # swap_map count without the SWAP_HAS_CACHE bit
    has_cache: bool
    map_text: str  # e.g. "1", "SWAP_HAS_CACHE", "1|SWAP_HAS_CACHE", "0"
    owner: str  # whose page the slot stands for ("" when free)
    disk: str  # what the last write I/O put on the device for it


class SwapView(TypedDict):
    type: int
    writeok: bool  # SWP_WRITEOK
    users: Literal["live", "killed"]  # percpu_ref si->users
    inuse_pages: int
    slot_cache_enabled: bool
    slots: list[SlotView]
    device_refs: list[int]  # CPUs holding get_swap_device()


class TreeEntryView(TypedDict):
    offset: int
    entry: str  # entry address
    name: str


class TreeView(TypedDict):
    addr: str  # address of this struct zswap_tree (inside the trees array)
    array: str  # address of the kvcalloc'd trees array it lives in
    index: int
    freed: bool
    lock_holder: int | None
    lock_waiters: list[int]
    entries: list[TreeEntryView]  # rbtree contents, by offset


class EntryView(TypedDict):
    addr: str
    name: str
    offset: int  # swp_offset(entry->swpentry)
    refcount: int
    length: int
    in_tree: bool  # rbnode linked
    on_lru: bool  # lru list_head linked
    freed: bool
    data: str  # whose page the compressed data is, e.g. "page A"


class LruView(TypedDict):
    order: list[str]  # entry addresses, head first
    names: list[str]  # their short labels
    nr_items: int
    lock_holder: int | None
    lock_waiters: list[int]


class FolioView(TypedDict):
    addr: str
    name: str
    offset: int | None  # swap slot it caches (folio->swap)
    in_swapcache: bool
    locked_by: int | None
    uptodate: bool
    writeback: bool
    data: str | None  # e.g. "page A", None before anything was read into it
    waiters: list[int]  # CPUs sleeping on its lock or its writeback
    freed: bool


class LockView(TypedDict):
    name: str  # "LRU lock (nlru->lock)", "tree->lock (trees[0])", "folio lock (F_sw)"
    key: str  # "lock:lru", "lock:tree:<addr>", "lock:folio:<addr>" (the row ids of RunView.changes)
    kind: Literal["spinlock", "sleeping"]
    object: str | None  # heap address of the object the lock lives in
    holder: int | None
    waiters: list[int]


class HeapObjectView(TypedDict):
    addr: str
    type: str  # "struct zswap_tree[1]", "struct zswap_entry", "struct folio"
    cache: str  # "kvmalloc", "zswap_entry_cache", "page allocator"
    name: str  # short label: "trees", "E", "F_wb"
    freed: bool
    alloc_cpu: int | None  # None: part of the initial state
    alloc_step: int | None
    alloc_function: str
    free_cpu: int | None
    free_step: int | None
    free_function: str | None
    dangling_from: list[str]  # e.g. ["CPU1 tree"]: locals still pointing at a freed object
    compared_from: list[str]  # locals holding its address that the code only compares (COMPARE_ONLY)


class PteView(TypedDict):
    name: str  # "process A"
    key: str  # "pte:A" (the row id in RunView.changes)
    value: str  # "swp(0, 3)" or "present -> folio 0x…" or "none"
    ref: str | None  # folio address when present


class WorldView(TypedDict):
    swap: SwapView
    zswap_trees: str | None  # the global zswap_trees[T] pointer (None = NULL)
    trees: list[TreeView]
    entries: list[EntryView]
    lru: LruView
    swapcache: list[FolioView]  # every folio the run has seen, freed ones included
    locks: list[LockView]
    heap: list[HeapObjectView]
    ptes: list[PteView]


class CodeLine(TypedDict):
    """One kernel line of a step (app/model/views/codetext.py step_lines)."""

    text: str  # the kernel line, as diagrams print it (no `;`, no declaration type)
    inside: bool  # a line of a function the step's line calls (printed one level deeper)
    locks_taken: list[str]  # the locks this very line takes
    locks_released: list[str]  # ... and drops


class StoryRow(TypedDict):
    """One line of a story's diagram (app/model/views/story.py)."""

    cpu: int
    depth: int  # 0: the CPU's heading, 1: inside it, ...
    text: str
    step: int | None  # the event index it tells (None: a function heading or a comment)
    role: str  # "heading", "call", "unpin", "free", "access", "comment", "change", "hold"


class Story(TypedDict):
    """The story of a run's violation: the few steps it depends on (app/model/views/story.py)."""

    kind: str
    title: str  # one line: what went wrong where
    legend: str  # one line: the pointer, where it was cached, the lock dropped ("" when none)
    cpus: list[int]  # the CPUs the story shows, in column order
    rows: list[StoryRow]
    steps: list[int]  # event indices the story keeps, in order (the stage's story rows)
    roles: dict[str, str]  # event index (as a string, for JSON) -> "cache", "unpin", "free", "access", ...
    end: int | None  # the violating step's index (None: a livelock, or a leak nothing touched)
    text: str  # the diagram: title, columns, legend (<= 72 columns)


LaneMark = Literal["lock", "unlock", "free", "alloc", "pointer", "crash", "current"]


class LaneRow(TypedDict):
    """One row of the lane diagram: one step, or a collapsed block of one CPU's steps."""

    cpu: int
    first: int  # 0-based schedule index of its first step
    last: int  # ... and of its last step (== first for a single step)
    count: int  # steps in the row
    function: str  # kernel function
    line_label: str  # b:/f: label of the (last) step, "" when unknown
    text: str  # the quoted kernel line; for a block "try_to_unuse() ×5 steps"
    step_id: str  # the spec step id of the (last) step
    marks: list[LaneMark]
    lock_names: list[str]  # every lock taken or released (taken first)
    locks_taken: list[str]
    locks_released: list[str]
    freed_names: list[str]  # labels of the heap objects freed ("trees", "E")
    allocated_names: list[str]
    pointer_names: list[str]  # pointers to heap objects this step cached ("tree → trees")
    crash: str  # "use-after-free", "NULL dereference", "double free" on the crash row, else ""
    narration: str  # of the (last) step
    lines: list[CodeLine]  # a step's kernel lines, each with the locks it takes or drops ([] for a block)
    story: str  # the row's part in the violation's story ("cache", "unpin", "free", "access", ...), else ""
    fold: list[dict[str, Any]]  # a folded stretch around the story: the LaneRows it hides (opened on a click), else []


class LaneView(TypedDict):
    folded: bool  # the rows fold around the story of a violation (app/model/views/story.py)
    cpus: list[int]
    labels: list[str]  # the lanes' headings, in the order of cpus ("CPU1", ..., "I/O")
    rows: list[LaneRow]


class RunView(TypedDict):
    scenario: str
    title: str
    code: str  # "old", "new", or a break-the-fix variant
    schedule: str
    enabled: list[int]  # CPU numbers that can step now
    done: bool  # no CPU can step
    cpus: list[CpuView]
    violations: list[Violation]
    events: list[Event]
    world: WorldView
    changed: list[str]  # keys changed by the last step: "heap:<addr>", "tree:<addr>",
    #                     "entry:<addr>", "folio:<addr>", "lru", "swap", "locks", "pte:<name>"
    changes: dict[str, list[str]]  # the same, as pane -> changed row ids (app/model/views/changes.py)
    lanes: LaneView  # the schedule as a lane diagram (app/model/views/lanes.py)
    story: Story | None  # the story of the run's violation (app/model/views/story.py), None without one
