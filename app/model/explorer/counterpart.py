"""What the old code does on a schedule that the current (fixed or variant) code survived.

The stage shows a crash banner when a CPU touches freed memory. Switched to the fixed code on
the same schedule, the room should see the green counterpart: the step at which the old code
crashed, and what the fixed code did at that same step instead.
"""
from __future__ import annotations

from typing import Any, Callable

from app.model.kernel.state import MEMORY_ERRORS

__all__ = ["MEMORY_ERRORS", "ViewOf", "old_code_crash"]


ViewOf = Callable[[str, str, str], dict[str, Any]]


def old_code_crash(view_of: ViewOf, scenario_id: str, code: str, schedule: str) -> dict[str, Any] | None:
    """If `schedule` (already replayed on `code`, which is not "old") replays on the old code and
    hits a memory error there that `code` did not hit, describe both sides; else None.

    `view_of(scenario, code, schedule)` builds a RunView and raises on a schedule that does not
    replay; the caller passes the cached builder.
    """
    if code == "old" or not schedule:
        return None
    here = view_of(scenario_id, code, schedule)
    if any(v["kind"] in MEMORY_ERRORS for v in here["violations"]):
        return None
    try:
        old = view_of(scenario_id, "old", schedule)
    except Exception:  # the schedule is impossible on the old code: nothing to compare
        return None
    crash = next((v for v in old["violations"] if v["kind"] in MEMORY_ERRORS and v["step"] is not None), None)
    if crash is None:
        return None
    at = crash["step"]
    cpu = crash["cpu"]
    instead = here["events"][at] if at < len(here["events"]) else None
    cpu_view = next((c for c in here["cpus"] if c["id"] == cpu), None)
    return {
        "old": crash,
        "old_event": old["events"][at],
        "instead": instead,  # the fixed code's event at the crash step (None: not reached)
        "cpu": cpu,
        "cpu_status": cpu_view["status"] if cpu_view else None,
        "cpu_result": cpu_view["result"] if cpu_view else None,
        # Did the CPU that crashed on old code take tree->lock on this code from that step on?
        # The step facts say which locks each step took (the fix takes it only with the locked
        # swap-cache folio in hand).
        "tree_locked": any(e["cpu"] == cpu and "tree->lock" in e["locks_taken"] for e in here["events"][at:]),
    }
