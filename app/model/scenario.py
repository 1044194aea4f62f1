"""Scenario files (scenarios/*.toml): schema, validation and loading.

A scenario names its CPUs and the actor each runs, the initial world, and
tours for workshops. Bad files are refused with the file, the field path and
what was expected.
"""
from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

import os

# The bundled scenarios; ZSWAP_SCENARIO_DIR points the CLI and the server at another folder.
SCENARIO_DIR = Path(os.environ.get("ZSWAP_SCENARIO_DIR") or Path(__file__).resolve().parents[2] / "scenarios")

ActorKind = Literal["writeback", "swapoff", "exit", "swapin", "store", "io"]  # io: the write I/O completion

CODES: dict[str, tuple[str, str]] = {
    "old": ("old code (before the fix)", "mm/zswap.c at 81cb3790e0dd, the base the patch applies to."),
    "new": ("fixed code (5878303c5353)", "mm/zswap.c at f5cb5a46e4d7, with the v2 patch applied."),
}

# Upper bounds on what a file can make the model and the server hold (the shipped files use at
# most 3 CPUs, 1 slot, 5 tours, 193-character notes and 22 k characters of narration). The
# explorer's state space grows with CPUs and slots; /api/scenarios carries every tour's sentence
# once per step, hence the bound on narration (note length times its steps, summed).
MAX_FILE_BYTES = 128 * 1024
MAX_CPUS = 4  # the web's lane colours run to 4
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


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class CpuSpec(_Strict):
    id: int = Field(ge=1, le=MAX_CPUS)
    actor: ActorKind
    process: str | None = Field(default=None, min_length=1, max_length=20)  # exit / swapin: whose PTE; store: whose page
    slot: int | None = Field(default=None, ge=0, le=1 << 20)  # store: the slot reused


class SlotSpec(_Strict):
    offset: int = Field(ge=0, le=1 << 20)
    owner: str = Field(min_length=1, max_length=20)  # the process whose PTE holds swp_entry(0, offset)


class EntrySpec(_Strict):
    name: str = Field(min_length=1, max_length=20)
    slot: int = Field(ge=0, le=1 << 20)


class WorldSpec(_Strict):
    slots: list[SlotSpec] = Field(min_length=1, max_length=MAX_SLOTS)
    entries: list[EntrySpec] = Field(max_length=MAX_ENTRIES)
    lru: list[str] = Field(max_length=MAX_ENTRIES)  # entry names, head first
    exclusive_loads: bool = False
    slab_reuse: bool = True


class PredictSpec(_Strict):
    """A "predict" stop: before the segment's first step the page asks what will happen and
    reveals the answer once a choice is made."""

    question: str = Field(min_length=1, max_length=MAX_NOTE)
    choices: list[Annotated[str, Field(min_length=1, max_length=MAX_TITLE)]] = Field(min_length=2, max_length=MAX_CHOICES)
    answer: int = Field(ge=0, lt=MAX_CHOICES)  # index into choices

    @model_validator(mode="after")
    def _answer_is_a_choice(self) -> "PredictSpec":
        if self.answer >= len(self.choices):
            raise ValueError(f"answer: {self.answer} is not the index of a choice (0-{len(self.choices) - 1})")
        return self


class SegmentSpec(_Strict):
    """A run of steps in a tour and the sentence a presenter says over each of them."""

    cpus: str = Field(pattern=r"^[1-9]+$", max_length=MAX_TOUR_STEPS)
    note: str = Field(min_length=1, max_length=MAX_NOTE)
    predict: PredictSpec | None = None


class TourSpec(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,40}$")
    title: str = Field(max_length=MAX_TITLE)
    code: str = Field(max_length=40)
    segments: list[SegmentSpec] = Field(min_length=1, max_length=MAX_TOUR_STEPS)

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


class ViolationGoal(_Strict):
    """Some CPU (or this one) hits a violation of this kind."""

    kind: Literal["violation"]
    violation: ViolationKind
    cpu: int | None = Field(default=None, ge=1, le=MAX_CPUS)


class BlockedGoal(_Strict):
    """This CPU cannot move: it sleeps or spins on this lock or wait."""

    kind: Literal["blocked"]
    cpu: int = Field(ge=1, le=MAX_CPUS)
    on: BlockedOn


class ReusedAddressGoal(_Strict):
    """ABA: a CPU (or this one) holds an entry pointer whose object was freed while it held it and
    whose address now holds a live, newly allocated object."""

    kind: Literal["reused-address"]
    cpu: int | None = Field(default=None, ge=1, le=MAX_CPUS)


class ChallengeSpec(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,40}$")
    title: str = Field(max_length=MAX_TITLE)
    code: str = Field(max_length=40)
    prompt: str = Field(min_length=1, max_length=MAX_NOTE)  # what the room is asked to do
    why: str = Field(min_length=1, max_length=MAX_NOTE)  # shown once it is done, or given up
    goal: Annotated[ViolationGoal | BlockedGoal | ReusedAddressGoal, Field(discriminator="kind")]


class Scenario(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,60}$")
    title: str = Field(max_length=MAX_TITLE)
    summary: str = Field(max_length=MAX_SUMMARY)
    cpus: list[CpuSpec] = Field(min_length=1, max_length=MAX_CPUS)
    world: WorldSpec
    tours: list[TourSpec] = Field(default=[], max_length=MAX_TOURS)
    challenges: list[ChallengeSpec] = Field(default=[], max_length=MAX_CHALLENGES)

    @model_validator(mode="after")
    def _references(self) -> "Scenario":
        ids = [c.id for c in self.cpus]
        if ids != list(range(1, len(ids) + 1)):
            raise ValueError(f"cpus: ids must be 1, 2, ... in order; got {ids}")
        # Sets, not lists: every check below is linear in the file's size.
        offsets = {s.offset for s in self.world.slots}
        if len(offsets) != len(self.world.slots):
            raise ValueError("world.slots: two slots share an offset")
        owners = {s.owner for s in self.world.slots}
        if len(owners) > MAX_PROCESSES:
            raise ValueError(f"world.slots: {len(owners)} processes own slots; at most {MAX_PROCESSES} are allowed")
        names = {e.name for e in self.world.entries}
        if len(names) != len(self.world.entries):
            raise ValueError("world.entries: two entries share a name")
        for i, entry in enumerate(self.world.entries):
            if entry.slot not in offsets:
                raise ValueError(f"world.entries[{i}].slot: no slot with offset {entry.slot}")
        for i, name in enumerate(self.world.lru):
            if name not in names:
                raise ValueError(f"world.lru[{i}]: no entry named {name!r}")
        for i, cpu in enumerate(self.cpus):
            if cpu.actor in ("exit", "swapin") and cpu.process not in owners:
                raise ValueError(f"cpus[{i}].process: {cpu.actor} needs a process that owns a slot; got {cpu.process!r}")
            if cpu.actor == "store":
                if cpu.slot not in offsets:
                    raise ValueError(f"cpus[{i}].slot: store needs an existing slot offset; got {cpu.slot!r}")
                if not cpu.process or cpu.process in owners:
                    raise ValueError(f"cpus[{i}].process: store needs a new process name; got {cpu.process!r}")
            if cpu.actor in ("writeback", "swapoff") and (cpu.process or cpu.slot is not None):
                raise ValueError(f"cpus[{i}]: {cpu.actor} takes no process or slot")
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
        return self


class ScenarioFileError(Exception):
    """A scenario file that cannot be used; the message, one line, names file, field and reason."""


def all_codes() -> list[str]:
    from .actors.variants import VARIANTS

    return list(CODES) + list(VARIANTS)


def code_info(code: str) -> tuple[str, str]:
    from .actors.variants import VARIANTS

    return CODES.get(code) or VARIANTS[code]


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_scenario(text: str, origin: str) -> Scenario:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ScenarioFileError(f"{origin}: not valid TOML: {_one_line(err)}") from None
    except RecursionError:
        raise ScenarioFileError(f"{origin}: not valid TOML: nested too deeply") from None
    except ValueError as err:  # e.g. an integer of more than 4300 digits
        raise ScenarioFileError(f"{origin}: not valid TOML: {_one_line(err)}") from None
    try:
        return Scenario.model_validate(raw)
    except ValidationError as err:
        problems = []
        for e in err.errors():
            path = ".".join(str(p) for p in e["loc"]) or "(top level)"
            problems.append(f"{path}: {_one_line(e['msg'])}")
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise ScenarioFileError(f"{origin}: {shown}") from None


def read_text(path: Path) -> str:
    """The file's text, refused (named) when it is not a regular file, too large or not UTF-8."""
    try:
        if not path.is_file():
            raise ScenarioFileError(f"{path}: not a regular file")
        with path.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        raise ScenarioFileError(f"{path}: cannot be read: {_one_line(err.strerror or err)}") from None
    if len(data) > MAX_FILE_BYTES:
        raise ScenarioFileError(f"{path}: larger than {MAX_FILE_BYTES // 1024} KiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ScenarioFileError(f"{path}: not UTF-8 text (byte {err.start})") from None


def check_tours(scenario: Scenario, origin: str) -> None:
    """Every tour must replay on its code: a tour that stops early would mislead a room."""
    from .replay import ScheduleError, replay

    for i, tour in enumerate(scenario.tours):
        try:
            replay(scenario, tour.code, tour.schedule)
        except ScheduleError as err:
            raise ScenarioFileError(f"{origin}: tours[{i}] ({tour.name}): step {err.position + 1} cannot be "
                                    f"replayed on {tour.code}: {_one_line(err.reason)}") from None


def load_file(path: Path) -> Scenario:
    scenario = parse_scenario(read_text(path), str(path))
    if scenario.id != path.stem:
        raise ScenarioFileError(f"{path}: id: expected {path.stem!r} (the file name); got {scenario.id!r}")
    check_tours(scenario, str(path))
    return scenario


@cache
def load_all(directory: Path = SCENARIO_DIR) -> dict[str, Scenario]:
    scenarios: dict[str, Scenario] = {}
    paths = sorted(directory.glob("*.toml"))
    if not paths:
        raise ScenarioFileError(f"{directory}: no scenario files (*.toml) found")
    for path in paths:
        scenario = load_file(path)
        scenarios[scenario.id] = scenario
    return scenarios
