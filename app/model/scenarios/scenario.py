"""Scenario files (scenarios/*.toml): their records, schema and parsing (loader.py reads them).

A scenario names its CPUs and the actor each runs, the initial world, and
tours for workshops. Bad files are refused with the file, the field path and
what was expected.
"""
from __future__ import annotations

from typing import Literal

from app.model.kernel.records import field, frozen, replace

# writeback: shrink_worker() on the zswap-shrink workqueue; shrinker: the memcg shrinker
# zswap_shrinker_scan() from kswapd0's reclaim (the same callback); reclaim: the same memcg shrinker
# from a task's direct reclaim (one task per CPU, so a file may have several); io: the write I/O
# completion.
ActorKind = Literal["writeback", "shrinker", "reclaim", "swapoff", "exit", "swapin", "store", "io"]

CODES: dict[str, tuple[str, str]] = {
    "old": ("old code (before the fix)", "mm/zswap.c at 81cb3790e0dd, the base the patch applies to."),
    "new": ("fixed code (5878303c5353)", "mm/zswap.c at f5cb5a46e4d7, with the v2 patch applied."),
    "pre-lru-skip-fix": (
        "before patch 1/3 (27d3969b47cc)",
        "mm/zswap.c at 00e90b9b5417, before patch 1/3 of the series (\"mm/zswap: don't return LRU_SKIP if we have "
        "dropped lru lock\"): the memcg shrinker's -EEXIST returns LRU_SKIP after the LRU lock was dropped, and the "
        "walker goes on from a cursor another CPU may have freed.",
    ),
}
# The kernel codes in the order of the patch series: before 1/3, after 1/3 (old, the base of 2/3),
# after 2/3 (the fix).
SERIES = ("pre-lru-skip-fix", "old", "new")

# Upper bounds on what a file can make the model and the server hold (the shipped files use at
# most 3 CPUs, 1 slot, 5 tours, 193-character notes and 22 k characters of narration). The
# explorer's state space grows with CPUs and slots; /api/scenarios carries every tour's sentence
# once per step, hence the bound on narration (note length times its steps, summed).
MAX_FILE_BYTES = 128 * 1024
MAX_CPUS = 5  # four CPUs and the I/O completion: the web's lane colours run to 5
MAX_KERNEL_CPUS = 4  # of which CPUs that run a kernel path (not the I/O completion)
MAX_SLOTS = 64
MAX_ENTRIES = 64
MAX_PROCESSES = 64  # one a slot at most
MAX_TOURS = 32
MAX_TOUR_STEPS = 500  # as many as a replayed schedule may have
MAX_NOTE = 600
MAX_TITLE = 200
MAX_SUMMARY = 4000
MAX_NARRATION = 300_000
MAX_CHOICES = 5  # of a tour's "predict" stop


@frozen
class CpuSpec:
    id: int
    actor: ActorKind
    process: str | None = None  # exit / swapin: whose PTEs; store: whose page
    slot: int | None = None  # store: the slot reused; swapin: the slot of the page it touches (default: the first)


@frozen
class SlotSpec:
    offset: int
    owner: str  # the process whose PTE holds swp_entry(0, offset)
    # The owner already faulted this page back in (do_swap_page with a non-exclusive zswap_load):
    # its PTE maps a clean, unlocked folio that is still in the swap cache (the slot's swap_map is
    # SWAP_HAS_CACHE alone), and the slot's zswap entry stays in the tree and on the LRU.
    in_swapcache: bool = False


@frozen
class EntrySpec:
    name: str
    slot: int
    # A same-filled page (zswap_is_page_same_filled): entry->length is 0 and entry->value holds the
    # repeated word; zswap_store never puts such an entry on the LRU, and zswap_load fills the page
    # from the value and does not relink it.
    same_filled: bool = False


@frozen
class WorldSpec:
    slots: list[SlotSpec]
    entries: list[EntrySpec]
    lru: list[str]  # entry names, head first
    exclusive_loads: bool = False
    slab_reuse: bool = True


@frozen
class PredictSpec:
    """A "predict" stop: before the segment's first step the page asks what will happen and
    reveals the answer once a choice is made."""

    question: str
    choices: list[str]
    answer: int  # index into choices

    def invalid(self) -> str | None:
        """What is wrong across the fields (schema_check reports it at the record), or None."""
        if self.answer >= len(self.choices):
            return f"answer: {self.answer} is not the index of a choice (0-{len(self.choices) - 1})"
        return None


@frozen
class SegmentSpec:
    """A run of steps in a tour and the sentence a presenter says over each of them."""

    cpus: str
    note: str
    predict: PredictSpec | None = None


@frozen
class TourSpec:
    name: str
    title: str
    code: str
    segments: list[SegmentSpec]

    @property
    def schedule(self) -> str:
        return "".join(s.cpus for s in self.segments)

    @property
    def steps(self) -> list[str]:
        """One sentence per schedule step."""
        return [s.note for s in self.segments for _ in s.cpus]

    @property
    def predicts(self) -> list[tuple[int, PredictSpec]]:
        """(index of the step the question is asked before, the question), in schedule order."""
        out, at = [], 0
        for seg in self.segments:
            if seg.predict is not None:
                out.append((at, seg.predict))
            at += len(seg.cpus)
        return out


# Challenges: a scenario, a code and a goal the model checks on the states of a run
# (app/model/challenges.py). The kinds a goal can name:
ViolationKind = Literal["use-after-free", "double-free", "null-deref", "leak", "stale-writeback",
                        "sleep-in-atomic", "deadlock"]
BlockedOn = Literal["lru-lock", "tree-lock", "folio-lock", "writeback", "completion"]  # engine.BlockedOn
MAX_CHALLENGES = 32


@frozen
class ViolationGoal:
    """Some CPU (or this one) hits a violation of this kind."""

    kind: Literal["violation"]
    violation: ViolationKind
    cpu: int | None = None


@frozen
class BlockedGoal:
    """This CPU cannot move: it sleeps or spins on this lock or wait."""

    kind: Literal["blocked"]
    cpu: int
    on: BlockedOn


@frozen
class ReusedAddressGoal:
    """ABA: a CPU (or this one) holds an entry pointer whose object was freed while it held it and
    whose address now holds a live, newly allocated object."""

    kind: Literal["reused-address"]
    cpu: int | None = None


@frozen
class ChallengeSpec:
    name: str
    title: str
    code: str
    prompt: str  # what the room is asked to do
    why: str  # shown once it is done, or given up
    goal: ViolationGoal | BlockedGoal | ReusedAddressGoal


@frozen
class Scenario:
    id: str
    title: str
    summary: str
    cpus: list[CpuSpec]
    world: WorldSpec
    tours: list[TourSpec] = field(default_factory=list)
    challenges: list[ChallengeSpec] = field(default_factory=list)
    # The file's text as parsed (not a field of the file): the disk cache of verdicts keys on
    # its hash (source_sha), so an edited file never gets an old verdict.
    source: str = field(default="", repr=False, compare=False)

    @property
    def source_sha(self) -> str:
        import hashlib  # only when the disk cache is used: hashlib loads OpenSSL (6 ms)

        return hashlib.sha256(self.source.encode()).hexdigest()


# The schema of a file, one table per record: field -> (type, required, constraints). Checked by
# app/model/scenarios/schema_check.py (strict: no coercion, unknown fields refused), which names each
# problem by its field path, as pydantic would; the classes above are what the model uses.
_TEXT20 = {"min_length": 1, "max_length": 20}
_OFFSET = {"ge": 0, "le": 1 << 20}
SCHEMA: dict[type, dict[str, tuple[object, bool, dict[str, object]]]] = {
    CpuSpec: {
        "id": (int, True, {"ge": 1, "le": MAX_CPUS}),
        "actor": (ActorKind, True, {}),
        "process": (str, False, _TEXT20),
        "slot": (int, False, _OFFSET),
    },
    SlotSpec: {"offset": (int, True, _OFFSET), "owner": (str, True, _TEXT20), "in_swapcache": (bool, False, {})},
    EntrySpec: {"name": (str, True, _TEXT20), "slot": (int, True, _OFFSET), "same_filled": (bool, False, {})},
    WorldSpec: {
        "slots": (list[SlotSpec], True, {"min_length": 1, "max_length": MAX_SLOTS}),
        "entries": (list[EntrySpec], True, {"max_length": MAX_ENTRIES}),
        "lru": (list[str], True, {"max_length": MAX_ENTRIES}),
        "exclusive_loads": (bool, False, {}),
        "slab_reuse": (bool, False, {}),
    },
    PredictSpec: {
        "question": (str, True, {"min_length": 1, "max_length": MAX_NOTE}),
        "choices": (list[str], True, {"min_length": 2, "max_length": MAX_CHOICES,
                                      "items": {"min_length": 1, "max_length": MAX_TITLE}}),
        "answer": (int, True, {"ge": 0, "lt": MAX_CHOICES}),
    },
    SegmentSpec: {
        "cpus": (str, True, {"pattern": r"^[1-9]+$", "max_length": MAX_TOUR_STEPS}),
        "note": (str, True, {"min_length": 1, "max_length": MAX_NOTE}),
        "predict": (PredictSpec, False, {}),
    },
    TourSpec: {
        "name": (str, True, {"pattern": r"^[a-z0-9][a-z0-9-]{0,40}$"}),
        "title": (str, True, {"max_length": MAX_TITLE}),
        "code": (str, True, {"max_length": 40}),
        "segments": (list[SegmentSpec], True, {"min_length": 1, "max_length": MAX_TOUR_STEPS}),
    },
    ViolationGoal: {
        "kind": (Literal["violation"], True, {}),
        "violation": (ViolationKind, True, {}),
        "cpu": (int, False, {"ge": 1, "le": MAX_CPUS}),
    },
    BlockedGoal: {
        "kind": (Literal["blocked"], True, {}),
        "cpu": (int, True, {"ge": 1, "le": MAX_CPUS}),
        "on": (BlockedOn, True, {}),
    },
    ReusedAddressGoal: {
        "kind": (Literal["reused-address"], True, {}),
        "cpu": (int, False, {"ge": 1, "le": MAX_CPUS}),
    },
    ChallengeSpec: {
        "name": (str, True, {"pattern": r"^[a-z0-9][a-z0-9-]{0,40}$"}),
        "title": (str, True, {"max_length": MAX_TITLE}),
        "code": (str, True, {"max_length": 40}),
        "prompt": (str, True, {"min_length": 1, "max_length": MAX_NOTE}),
        "why": (str, True, {"min_length": 1, "max_length": MAX_NOTE}),
        # One of the goals, told apart by its "kind" (schema_check: a union of records).
        "goal": (ViolationGoal | BlockedGoal | ReusedAddressGoal, True, {}),
    },
    Scenario: {
        "id": (str, True, {"pattern": r"^[a-z0-9][a-z0-9-]{0,60}$"}),
        "title": (str, True, {"max_length": MAX_TITLE}),
        "summary": (str, True, {"max_length": MAX_SUMMARY}),
        "cpus": (list[CpuSpec], True, {"min_length": 1, "max_length": MAX_CPUS}),
        "world": (WorldSpec, True, {}),
        "tours": (list[TourSpec], False, {"max_length": MAX_TOURS}),
        "challenges": (list[ChallengeSpec], False, {"max_length": MAX_CHALLENGES}),
    },
}


def _references(self: Scenario) -> None:
    """What the per-field schema cannot say: references between fields, and totals."""
    ids = [c.id for c in self.cpus]
    if ids != list(range(1, len(ids) + 1)):
        raise ValueError(f"cpus: ids must be 1, 2, ... in order; got {ids}")
    # Sets, not lists: every check below is linear in the file's size.
    offsets = {s.offset for s in self.world.slots}
    if len(offsets) != len(self.world.slots):
        raise ValueError("world.slots: two slots share an offset")
    owners = {s.owner for s in self.world.slots}
    owned = {(s.offset, s.owner) for s in self.world.slots}
    if len(owners) > MAX_PROCESSES:
        raise ValueError(f"world.slots: {len(owners)} processes own slots; at most {MAX_PROCESSES} are allowed")
    names = {e.name for e in self.world.entries}
    if len(names) != len(self.world.entries):
        raise ValueError("world.entries: two entries share a name")
    for i, entry in enumerate(self.world.entries):
        if entry.slot not in offsets:
            raise ValueError(f"world.entries[{i}].slot: no slot with offset {entry.slot}")
    cached = {s.offset for s in self.world.slots if s.in_swapcache}
    if self.world.exclusive_loads:
        for i, entry in enumerate(self.world.entries):
            if entry.slot in cached:
                raise ValueError(f"world.entries[{i}]: slot {entry.slot} was faulted in (in_swapcache), and with "
                                 "exclusive_loads that load would have invalidated and freed the entry")
    same_filled = {e.name for e in self.world.entries if e.same_filled}
    for i, name in enumerate(self.world.lru):
        if name not in names:
            raise ValueError(f"world.lru[{i}]: no entry named {name!r}")
        if name in same_filled:
            raise ValueError(f"world.lru[{i}]: entry {name!r} is same-filled (length 0), and zswap_store() never "
                             "puts a same-filled entry on the LRU")
    for i, cpu in enumerate(self.cpus):
        if cpu.actor in ("exit", "swapin") and cpu.process not in owners:
            raise ValueError(f"cpus[{i}].process: {cpu.actor} needs a process that owns a slot; got {cpu.process!r}")
        if cpu.actor == "exit" and cpu.slot is not None:
            raise ValueError(f"cpus[{i}].slot: exit takes no slot (the process's exit frees every page it has)")
        if cpu.actor == "swapin" and cpu.slot is not None and (cpu.slot, cpu.process) not in owned:
            raise ValueError(f"cpus[{i}].slot: swapin touches a page of process {cpu.process}; "
                             f"slot {cpu.slot} is not one of its slots")
        if cpu.actor == "store":
            if cpu.slot not in offsets:
                raise ValueError(f"cpus[{i}].slot: store needs an existing slot offset; got {cpu.slot!r}")
            if not cpu.process or cpu.process in owners:
                raise ValueError(f"cpus[{i}].process: store needs a new process name; got {cpu.process!r}")
        if cpu.actor in ("writeback", "shrinker", "reclaim", "swapoff") and (cpu.process or cpu.slot is not None):
            raise ValueError(f"cpus[{i}]: {cpu.actor} takes no process or slot")
    kinds = [c.actor for c in self.cpus]
    running = [n for n, k in enumerate(kinds) if k != "io"]
    if len(running) > MAX_KERNEL_CPUS:
        raise ValueError(f"cpus[{running[MAX_KERNEL_CPUS]}]: at most {MAX_KERNEL_CPUS} CPUs besides the I/O completion "
                         f"(\"io\"); this file has {len(running)}")
    if kinds.count("writeback") > 1:
        i = [n for n, k in enumerate(kinds) if k == "writeback"][1]
        raise ValueError(f'cpus[{i}].actor: a second "writeback": the zswap pool has one shrink_work and a work item '
                         'never runs on two workers at once, so two shrink_worker() runs cannot overlap; '
                         'use "shrinker" (zswap_shrinker_scan() from kswapd0) for a second writeback path')
    reclaim = [n for n, k in enumerate(kinds) if k in ("shrinker", "store")]
    if len(reclaim) > 1:
        raise ValueError(f'cpus[{reclaim[1]}].actor: "shrinker" and "store" run in kswapd0, one task, which cannot '
                         "be on two CPUs at once; at most one of them per scenario")
    n = len(self.cpus)
    for i, tour in enumerate(self.tours):
        if tour.code not in all_codes():
            raise ValueError(f"tours[{i}].code: expected one of {all_codes()}; got {tour.code!r}")
        bad = [ch for ch in tour.schedule if int(ch) > n]
        if bad:
            raise ValueError(f"tours[{i}].segments: CPU{bad[0]} does not exist (CPUs are 1-{n})")
        if len(tour.schedule) > MAX_TOUR_STEPS:
            raise ValueError(f"tours[{i}].segments: the tour has more than {MAX_TOUR_STEPS} steps")
    if len({c.name for c in self.challenges}) != len(self.challenges):
        raise ValueError("challenges: two challenges share a name")
    for i, ch in enumerate(self.challenges):
        if ch.code not in all_codes():
            raise ValueError(f"challenges[{i}].code: expected one of {all_codes()}; got {ch.code!r}")
        if ch.goal.cpu is not None and ch.goal.cpu > n:
            raise ValueError(f"challenges[{i}].goal.cpu: CPU{ch.goal.cpu} does not exist (CPUs are 1-{n})")
    narration = sum(len(seg.note) * len(seg.cpus) for tour in self.tours for seg in tour.segments)
    if narration > MAX_NARRATION:
        raise ValueError(f"tours: {narration} characters of narration (each note times its steps); "
                         f"at most {MAX_NARRATION} are allowed")


class ScenarioFileError(Exception):
    """A scenario file that cannot be used; the message, one line, names file, field and reason."""


def all_codes() -> list[str]:
    from app.model.actors.variants import VARIANTS

    return list(CODES) + list(VARIANTS)


def code_info(code: str) -> tuple[str, str]:
    from app.model.actors.variants import VARIANTS

    return CODES.get(code) or VARIANTS[code]


def cpu_label(cpu_id: int, actor: str) -> str:
    """How the product names a schedulable actor: "CPU1", "CPU2", ...; the write I/O completion
    of the model's device (no SWP_SYNCHRONOUS_IO) runs apart from the writer, usually in interrupt
    context on whichever CPU takes it, so it is named "I/O", not CPUn (its digit still steps it)."""
    return "I/O" if actor == "io" else f"CPU{cpu_id}"


def one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_schema(raw: object) -> tuple[Scenario | None, list[tuple[tuple[str | int, ...], str]]]:
    """(the scenario, []) when parsed TOML fits the schema and its cross-field rules, else (None,
    each problem as (field path, pydantic's words)); a cross-field problem has an empty path and
    a message that starts with the path."""
    from app.model.scenarios.schema_check import validate

    scenario, errors = validate(Scenario, raw, SCHEMA)
    if scenario is not None and not errors:
        try:
            _references(scenario)
        except ValueError as err:
            return None, [((), f"Value error, {err}")]
    return (scenario if not errors else None), errors


def parse_scenario(text: str, origin: str) -> Scenario:
    import tomllib  # only when a file is read: `import app.model.scenarios.scenario` stays cheap

    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ScenarioFileError(f"{origin}: not valid TOML: {one_line(err)}") from None
    except RecursionError:
        raise ScenarioFileError(f"{origin}: not valid TOML: nested too deeply") from None
    except ValueError as err:  # e.g. an integer of more than 4300 digits
        raise ScenarioFileError(f"{origin}: not valid TOML: {one_line(err)}") from None
    scenario, errors = check_schema(raw)
    if errors:
        problems = [f"{'.'.join(str(p) for p in loc) or '(top level)'}: {one_line(msg)}" for loc, msg in errors]
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise ScenarioFileError(f"{origin}: {shown}")
    assert scenario is not None
    return replace(scenario, source=text)
