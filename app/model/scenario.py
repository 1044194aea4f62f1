"""Scenario files (scenarios/*.toml): schema, validation and loading.

A scenario names its CPUs and the actor each runs, the initial world, and
tours for workshops. Bad files are refused with the file, the field path and
what was expected.
"""
from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

import os

# The bundled scenarios; ZSWAP_SCENARIO_DIR points the CLI and the server at another folder.
SCENARIO_DIR = Path(os.environ.get("ZSWAP_SCENARIO_DIR") or Path(__file__).resolve().parents[2] / "scenarios")

ActorKind = Literal["writeback", "swapoff", "exit", "swapin", "store"]

CODES: dict[str, tuple[str, str]] = {
    "old": ("old code (before the fix)", "mm/zswap.c at 81cb3790e0dd, the base the patch applies to."),
    "new": ("fixed code (5878303c5353)", "mm/zswap.c at f5cb5a46e4d7, with the v2 patch applied."),
}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class CpuSpec(_Strict):
    id: int = Field(ge=1, le=9)
    actor: ActorKind
    process: str | None = None  # exit / swapin: whose PTE; store: whose page
    slot: int | None = None  # store: the slot reused


class SlotSpec(_Strict):
    offset: int = Field(ge=0, le=1 << 20)
    owner: str = Field(min_length=1, max_length=20)  # the process whose PTE holds swp_entry(0, offset)


class EntrySpec(_Strict):
    name: str = Field(min_length=1, max_length=20)
    slot: int


class WorldSpec(_Strict):
    slots: list[SlotSpec] = Field(min_length=1)
    entries: list[EntrySpec]
    lru: list[str]  # entry names, head first
    exclusive_loads: bool = False
    slab_reuse: bool = True


class SegmentSpec(_Strict):
    """A run of steps in a tour and the sentence a presenter says over each of them."""

    cpus: str = Field(pattern=r"^[1-9]+$", max_length=500)
    note: str = Field(min_length=1)


class TourSpec(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,40}$")
    title: str
    code: str
    segments: list[SegmentSpec] = Field(min_length=1)

    @property
    def schedule(self) -> str:
        return "".join(s.cpus for s in self.segments)

    @property
    def steps(self) -> list[str]:
        """One sentence per schedule step."""
        return [s.note for s in self.segments for _ in s.cpus]


class Scenario(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,60}$")
    title: str
    summary: str
    cpus: list[CpuSpec] = Field(min_length=1, max_length=9)
    world: WorldSpec
    tours: list[TourSpec] = []

    @model_validator(mode="after")
    def _references(self) -> "Scenario":
        ids = [c.id for c in self.cpus]
        if ids != list(range(1, len(ids) + 1)):
            raise ValueError(f"cpus: ids must be 1, 2, ... in order; got {ids}")
        offsets = [s.offset for s in self.world.slots]
        if len(set(offsets)) != len(offsets):
            raise ValueError("world.slots: two slots share an offset")
        owners = {s.owner for s in self.world.slots}
        names = [e.name for e in self.world.entries]
        if len(set(names)) != len(names):
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
            if len(tour.schedule) > 500:
                raise ValueError(f"tours[{i}].segments: the tour has more than 500 steps")
        return self


class ScenarioFileError(Exception):
    """A scenario file that cannot be used; the message names file, field and reason."""


def all_codes() -> list[str]:
    from .actors.variants import VARIANTS

    return list(CODES) + list(VARIANTS)


def code_info(code: str) -> tuple[str, str]:
    from .actors.variants import VARIANTS

    return CODES.get(code) or VARIANTS[code]


def parse_scenario(text: str, origin: str) -> Scenario:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ScenarioFileError(f"{origin}: not valid TOML: {err}") from None
    try:
        return Scenario.model_validate(raw)
    except ValidationError as err:
        problems = []
        for e in err.errors():
            path = ".".join(str(p) for p in e["loc"]) or "(top level)"
            problems.append(f"{origin}: {path}: {e['msg']}")
        raise ScenarioFileError("\n".join(problems)) from None


def load_file(path: Path) -> Scenario:
    scenario = parse_scenario(path.read_text(), str(path))
    if scenario.id != path.stem:
        raise ScenarioFileError(f"{path}: id: expected {path.stem!r} (the file name); got {scenario.id!r}")
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
