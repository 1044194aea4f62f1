"""Pydantic-side types for the JSON API, so FastAPI's OpenAPI schema describes it.

The RunView contract lives in app/model/views/viewtypes.py as `typing.TypedDict`s, which pydantic
refuses on Python < 3.12; `openapi_typeddict` rebuilds the same shape with
`typing_extensions.TypedDict` (documentation only: responses are sent as the model built them).
"""
from __future__ import annotations

import types
import typing
from typing import Any, Literal

import typing_extensions
from pydantic import BaseModel, Field

from app.model.views import viewtypes

_cache: dict[type, Any] = {}


def _convert(tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if typing_extensions.is_typeddict(tp):
        return openapi_typeddict(tp)
    if origin is list:
        return list[_convert(typing.get_args(tp)[0])]
    if origin in (typing.Union, types.UnionType):
        args = tuple(_convert(a) for a in typing.get_args(tp))
        return typing.Union[args]  # type: ignore[valid-type]
    return tp


def openapi_typeddict(td: type) -> Any:
    """The same TypedDict, rebuilt with typing_extensions (recursively, memoised)."""
    if td not in _cache:
        hints = typing.get_type_hints(td)
        _cache[td] = typing_extensions.TypedDict(td.__name__, {k: _convert(v) for k, v in hints.items()})
    return _cache[td]


RunViewSchema = openapi_typeddict(viewtypes.RunView)
StorySchema = openapi_typeddict(viewtypes.Story)


class CodeInfo(BaseModel):
    id: str
    title: str
    description: str
    kernel: bool  # kernel code (before 1/3, old, new), not a "break the fix" variant
    series: int | None  # 0 before patch 1/3, 1 old (after 1/3), 2 new (after 2/3); None for a variant


class CpuInfo(BaseModel):
    id: int
    actor: str
    label: str
    actor_title: str


class PredictInfo(BaseModel):
    """A tour's "predict" stop: asked before step `step` (0-based) is taken."""

    step: int
    question: str
    choices: list[str]
    answer: int  # index into choices


class TourInfo(BaseModel):
    name: str
    title: str
    code: str
    schedule: str
    steps: list[str]
    predict: list[PredictInfo]


class ChallengeInfo(BaseModel):
    name: str
    title: str
    code: str
    prompt: str
    why: str
    goal: Literal["violation", "blocked", "reused-address"]
    violation: str | None  # the violation kind a "violation" goal asks for


class ScenarioInfo(BaseModel):
    id: str
    title: str
    summary: str
    codes: list[str]  # "old", "new" and the break-the-fix variants
    code_info: list[CodeInfo]  # the same codes, each with a title and a description
    cpus: list[CpuInfo]
    tours: list[TourInfo]
    challenges: list[ChallengeInfo]


class ErrorBody(BaseModel):
    """Every 4xx/5xx JSON answer. `position`, `reason` and `valid_prefix` are set for schedule
    errors; `valid` lists the accepted values for an unknown scenario, code or tour."""

    error: Literal["unknown-scenario", "unknown-code", "unknown-tour", "bad-schedule",
                   "bad-request", "not-found", "method-not-allowed", "busy", "internal", "no-report",
                   # live rooms (app/web/routes/live.py)
                   "unknown-room", "bad-room-code", "unknown-token", "missing-token", "bad-token",
                   "bad-state-url", "state-too-large", "body-too-large", "too-many-rooms", "rooms-full",
                   "room-full", "publish-rate", "store-unavailable", "too-many-lookups",
                   # request bodies (app/web/http/bodies.py)
                   "body-timeout", "too-many-uploads", "uploads-busy",
                   # trace files, challenges, predict stops and scenarios in a link
                   "trace-too-large", "trace-empty", "trace-not-json", "trace-not-a-trace", "trace-version",
                   "trace-field", "trace-unknown-scenario", "trace-unknown-code", "trace-bad-schedule",
                   "trace-mismatch", "unknown-challenge", "bad-pick", "scenario-link-corrupted",
                   "scenario-link-too-long", "scenario-too-large", "scenario-invalid", "scenario-too-deep"]
    message: str
    position: int | None = None
    reason: str | None = None
    valid_prefix: str | None = None
    valid_prefix_url: str | None = None
    valid: list[str] | None = None
    field: str | None = None  # a trace file's field that is wrong or differs from the model
    problems: list[dict[str, Any]] | None = None  # a user's scenario: each problem with its line


class TraceTarget(BaseModel):
    """The state a valid trace file describes, and its page."""

    scenario: str
    code: str
    schedule: str
    url: str


class Violation(BaseModel):
    """One violation group: a kind at one code location."""

    kind: str
    step_id: str | None
    function: str
    file: str
    line: int | None
    line_label: str
    detail: str
    # None when the runs were not counted (the search stopped early): count_unknown says why.
    count: int | None
    count_text: str | None
    count_unknown: str | None = None
    shortest: str
    # The race in a few lines, told from `shortest` (app/model/views/story.py, docs/story.md):
    # None when that schedule no longer replays.
    story: StorySchema | None = None  # type: ignore[valid-type]


class CheckResult(BaseModel):
    """The explorer's verdict (app.model.api.check) for one scenario under one code."""

    scenario: str
    code: str
    states: int
    transitions: int
    depth: int
    complete_runs: int | None
    complete_runs_text: str | None
    terminal_states: int
    deadlocks: int
    livelock_states: int = 0  # states from which no run can end (a "livelock" violation names them)
    seconds: float
    reduction: Literal["none", "local-steps"]
    complete: bool
    stopped_reason: str | None
    violations: list[Violation]


class SearchProgress(BaseModel):
    """A running search's progress (app.web.http.searches.Pool.progress)."""

    running: bool = Field(description="False when no such search runs in this worker (not started, or ended)")
    states: int = Field(description="worlds the search has kept so far")
    seconds: float = Field(description="seconds since the search started")
    per_second: float
    first: dict[str, Any] | None = Field(description="the first violation found, as in CheckResult.violations")
    cancelled: bool
