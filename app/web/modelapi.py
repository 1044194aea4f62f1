"""The one door from the web layer into the model.

Everything the web shows comes from app.model.api; this module only picks it up, memoises the
scenario list and says whether the explorer (`check`) exists yet.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable

from app.model import api

ModelInputError = api.ModelInputError
UnknownScenario = api.UnknownScenario
UnknownCode = api.UnknownCode
ScheduleError = api.ScheduleError
build_view: Callable[[str, str, str], dict[str, Any]] = api.build_view
check: Callable[[str, str], dict[str, Any]] | None = getattr(api, "check", None)

# The model refuses schedules longer than this; the web passes at most one step more so that a
# huge query string costs no more than a too-long one.
MAX_STEPS = 500


@lru_cache(maxsize=1)
def scenarios() -> tuple[dict[str, Any], ...]:
    """The scenarios, loaded once: they come from files that do not change while serving."""
    return tuple(api.list_scenarios())


def scenario(scenario_id: str) -> dict[str, Any] | None:
    """The scenario with this id, or None."""
    return next((s for s in scenarios() if s["id"] == scenario_id), None)


def scenario_ids() -> list[str]:
    return [s["id"] for s in scenarios()]


def replay(scenario_id: str, code: str, schedule: str) -> dict[str, Any]:
    """build_view with the schedule cut one past the limit (the error position is the same).

    A too-long schedule may also hold an earlier impossible step; report the first error, so
    that `valid_prefix` is always a schedule that replays.
    """
    try:
        return build_view(scenario_id, code, schedule[: MAX_STEPS + 1])
    except ScheduleError as e:
        if len(schedule) > MAX_STEPS and e.position >= MAX_STEPS:
            build_view(scenario_id, code, schedule[:MAX_STEPS])  # raises the earlier error, if any
        raise


@lru_cache(maxsize=64)
def _check_cached(scenario_id: str, code: str) -> dict[str, Any]:
    assert check is not None
    return check(scenario_id, code)


def verdict(scenario_id: str, code: str) -> dict[str, Any] | None:
    """The explorer's result for this scenario and code (memoised: it is deterministic), or None
    while the explorer does not exist."""
    if check is None:
        return None
    return _check_cached(scenario_id, code)
