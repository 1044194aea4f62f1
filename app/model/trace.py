"""Trace files: one replayed run written out as JSON, and read back.

A trace file carries the scenario, the code and the schedule (which alone define the run, the
URL's three parts) and, for a reader without this program, every step and every violation as the
model printed them. Reading one back checks all of it against the model: a file edited by hand, or
written by an older model whose steps or reports differ, is refused with the first step (or
violation) that differs, so that "it opens" always means "it is the run the file describes".
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from app.model import api
from app.model.explorer.counterpart import MEMORY_ERRORS

__all__ = ["FORMAT", "MAX_TRACE_BYTES", "MEMORY_ERRORS", "SCHEMA_VERSION", "TraceError", "TraceTarget",
           "kasan_text", "read", "trace_of", "trace_text"]
from app.model.scenarios.replay import MAX_STEPS
from app.model.views.viewtypes import RunView

FORMAT = "zswap-race-trace"
SCHEMA_VERSION = 1
# A 500-step trace of the largest scenario is about 250 kB; twice that bounds what a reader parses.
MAX_TRACE_BYTES = 512 * 1024

# What each step and violation of the file holds: (key in the file, key in the model's view).
STEP_FIELDS = (("index", "index"), ("cpu", "cpu"), ("step_id", "step"), ("function", "function"),
               ("file", "file"), ("line", "line"), ("line_label", "line_label"), ("kernel_line", "text"),
               ("narration", "narration"))
VIOLATION_FIELDS = ("kind", "cpu", "step", "step_id", "function", "file", "line", "line_label", "object",
                    "object_name", "detail", "report")


class TraceError(api.ModelInputError):
    """A trace file that cannot be opened: ``error`` names the kind (a stable id for the API),
    ``position`` the 0-based step concerned and ``field`` the file's field, when there are;
    ``target`` the state its scenario, code and schedule name, once they are known to replay
    (or to replay up to ``position``)."""

    def __init__(self, error: str, message: str, position: int | None = None, field: str | None = None,
                 target: "TraceTarget | None" = None) -> None:
        super().__init__(message)
        self.error, self.position, self.field, self.target = error, position, field, target


@dataclass(frozen=True)
class TraceTarget:
    """The state a valid trace file describes: the URL's three parts."""

    scenario: str
    code: str
    schedule: str


# -- writing -----------------------------------------------------------------------------------

def trace_of(view: RunView) -> dict[str, Any]:
    """The trace file of a replayed run, as JSON-ready data."""
    return {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "scenario": view["scenario"],
        "code": view["code"],
        "schedule": view["schedule"],
        "steps": [{k: e[m] for k, m in STEP_FIELDS} for e in view["events"]],  # type: ignore[literal-required]
        "violations": [{k: v[k] for k in VIOLATION_FIELDS} for v in view["violations"]],  # type: ignore[literal-required]
    }


def trace_text(view: RunView) -> str:
    return json.dumps(trace_of(view), ensure_ascii=False, indent=1) + "\n"


def kasan_text(view: RunView) -> str | None:
    """The memory-error reports of a run (KASAN's, or the oops of a NULL dereference) in the
    kernel's format, one after the other, each followed by the model's notes on what is
    illustrative (None when the run has none: a deadlock or a leak prints no such report)."""
    reports = [v["report"] for v in view["violations"] if v["kind"] in MEMORY_ERRORS]
    return "\n".join(r.rstrip("\n") + "\n" for r in reports) or None


# -- reading -----------------------------------------------------------------------------------

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _Step(_Strict):
    index: int
    cpu: int
    step_id: str
    function: str
    file: str
    line: int | None
    line_label: str
    kernel_line: str
    narration: str


class _Violation(_Strict):
    kind: str
    cpu: int | None
    step: int | None
    step_id: str | None
    function: str
    file: str
    line: int | None
    line_label: str
    object: str | None
    object_name: str | None
    detail: str
    report: str


class _Trace(_Strict):
    format: str
    schema_version: int
    scenario: str = Field(max_length=200)
    code: str = Field(max_length=200)
    schedule: str = Field(max_length=MAX_STEPS)
    steps: list[_Step] = Field(max_length=MAX_STEPS)
    violations: list[_Violation] = Field(max_length=MAX_STEPS)


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse(text: str | bytes) -> _Trace:
    """The file's structure checked: JSON, our format, this schema version, every field's type."""
    if len(text) > MAX_TRACE_BYTES:
        raise TraceError("trace-too-large", f"The trace file has {len(text):,} bytes; at most "
                                            f"{MAX_TRACE_BYTES:,} are read.")
    if not text.strip():
        raise TraceError("trace-empty", "No trace file was given: choose a file or paste its text.")
    try:
        data = json.loads(text)
    except UnicodeDecodeError:
        raise TraceError("trace-not-json", "The trace file is not UTF-8 text.") from None
    except json.JSONDecodeError as e:
        raise TraceError("trace-not-json", f"The trace file is not JSON: line {e.lineno}, column {e.colno}: "
                                           f"{e.msg}.") from None
    except RecursionError:
        raise TraceError("trace-not-json", "The trace file is nested too deeply to be a trace.") from None
    except ValueError as e:  # an integer of more than sys.get_int_max_str_digits() digits
        raise TraceError("trace-not-json", f"The trace file holds a number too long to read: {str(e)[:120]}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise TraceError("trace-not-a-trace", f"This is not a trace file of this program: its \"format\" "
                                              f"is not \"{FORMAT}\".")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise TraceError("trace-version", f"The trace file has schema version {version!r}; this program "
                                          f"reads version {SCHEMA_VERSION}.")
    try:
        return _Trace.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = _where(tuple(first["loc"]))
        raise TraceError("trace-field", f"The trace file's field {where} is wrong: {first['msg']}.",
                         field=where) from None


def _differs(what: str, field: str, in_file: Any, in_model: Any) -> str:
    return f"{what} differs from the model: its {field} is {_short(in_file)} in the file and {_short(in_model)} in the model"


def _short(value: Any, room: int = 160) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= room else text[: room - 1] + "…"


def read(text: str | bytes) -> TraceTarget:
    """Check a trace file against the model and return the state it describes.

    Raises TraceError naming the kind of problem and, where the file disagrees with the model,
    the first step (or violation) that differs and the field."""
    trace = parse(text)
    try:
        api.scenario(trace.scenario)
    except api.UnknownScenario as e:
        raise TraceError("trace-unknown-scenario", f"The trace file's scenario {trace.scenario!r} is not one "
                                                   f"of this program's: {', '.join(e.valid)}.") from None
    try:
        api.check_code(trace.code)
    except api.UnknownCode as e:
        raise TraceError("trace-unknown-code", f"The trace file's code {trace.code!r} is not one of "
                                               f"{', '.join(e.valid)}.") from None
    try:
        view = api.shared_view(trace.scenario, trace.code, trace.schedule)
    except api.ScheduleError as e:
        raise TraceError("trace-bad-schedule", f"The trace file's schedule does not replay: step {e.position + 1} "
                                               f"is impossible: {e.reason}", position=e.position,
                         target=TraceTarget(trace.scenario, trace.code, e.valid_prefix)) from None
    target = TraceTarget(trace.scenario, trace.code, trace.schedule)
    expected = trace_of(view)
    for i, (mine, theirs) in enumerate(zip(expected["steps"], trace.steps)):
        got = theirs.model_dump()
        for key, _ in STEP_FIELDS:
            if got[key] != mine[key]:
                raise TraceError("trace-mismatch", _differs(f"Step {i + 1} (CPU{trace.schedule[i]})", key,
                                                            got[key], mine[key]) + ".", position=i, field=key, target=target)
    if len(trace.steps) != len(expected["steps"]):
        n = min(len(trace.steps), len(expected["steps"]))
        raise TraceError("trace-mismatch", f"Step {n + 1} differs from the model: the file lists "
                                           f"{len(trace.steps)} steps, its schedule has {len(expected['steps'])}.",
                         position=n, field="steps", target=target)
    for i, (mine, theirs) in enumerate(zip(expected["violations"], trace.violations)):
        got = theirs.model_dump()
        for key in VIOLATION_FIELDS:
            if got[key] != mine[key]:
                at = mine["step"]
                raise TraceError("trace-mismatch", _differs(f"Violation {i + 1} ({mine['kind']})", key, got[key],
                                                            mine[key]) + ".",
                                 position=at, field=f"violations[{i}].{key}", target=target)
    if len(trace.violations) != len(expected["violations"]):
        raise TraceError("trace-mismatch", f"The file lists {len(trace.violations)} violations; the model finds "
                                           f"{len(expected['violations'])} on this schedule.",
                         field="violations", target=target)
    return target
