"""The one door from the web layer into the model.

Everything the web shows comes from app.model.api; this module only picks it up, memoises the
scenario list and the explorer's verdicts, and says which verdicts are cheap enough for a page load.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from functools import lru_cache
from typing import Any, Callable

from starlette.requests import Request

from app.model.cache import deep_size
from app.model import api, challenges as _challenges, trace
from app.model.views import compare as _compare
from app.model.scenarios import userscenario
from app.web.http import searches

ModelInputError = api.ModelInputError
ScenarioFileError = api.ScenarioFileError
UnknownScenario = api.UnknownScenario
UnknownCode = api.UnknownCode
ScheduleError = api.ScheduleError
build_view: Callable[[str, str, str], dict[str, Any]] = api.build_view
# The pages and the JSON API only read the view: they take the model's cached one, uncopied.
shared_view: Callable[[str, str, str], dict[str, Any]] = api.shared_view
validate: Callable[[str, str, str], "api.ScheduleError | None"] = api.validate
check: Callable[..., dict[str, Any]] = api.check
# A user's scenario carried in a link (app.model.scenarios.userscenario): its id is "u~" + the link.
UserScenarioError = userscenario.UserScenarioError
is_user = userscenario.is_user
user_scenario_known = userscenario.known  # decoded and checked before (or refused before)
check_user_scenario = userscenario.check
user_scenario_id = userscenario.scenario_id
USER_LIMITS = userscenario.USER_LIMITS
USER_MAX_STATES = userscenario.USER_MAX_STATES

# Trace files (app.model.trace): written from a view, read back checked against the model.
TraceError = trace.TraceError
TraceTarget = trace.TraceTarget
MAX_TRACE_BYTES = trace.MAX_TRACE_BYTES
trace_text = trace.trace_text
kasan_text = trace.kasan_text
read_trace = trace.read
MEMORY_ERRORS = trace.MEMORY_ERRORS  # the violations the kernel prints a report for (KASAN, oops)
# Two runs side by side (app.model.views.compare): where they part, what differs pane by pane.
compare = _compare.compare
COMPARE_PANE_TITLES = _compare.PANE_TITLES
# Challenges (app.model.challenges): a goal per scenario and code, checked on a run's states.
UnknownChallenge = _challenges.UnknownChallenge
attempt = _challenges.attempt
shortest = _challenges.shortest
old_code_crash: Callable[[str, str, str], "dict[str, Any] | None"] = api.old_code_crash

# The model refuses schedules longer than this; the web passes at most one step more so that a
# huge query string costs no more than a too-long one.
MAX_STEPS = 500

# Codes whose verdicts the scenario page shows side by side; the variants are shown on request.
MAIN_CODES = ("old", "new")
# A scenario whose estimated search cost (app.model.api.search_cost: about 2,000 for the 2-CPU
# scenarios, 45,000-125,000 for the 3-CPU ones, whose verdicts take 1-20 s: cost_hint) is above this is never
# searched on a page load or at startup, only on an explicit request.
HEAVY_STATES = 20_000


@lru_cache(maxsize=1)
def scenarios() -> tuple[dict[str, Any], ...]:
    """The scenarios, loaded once: they come from files that do not change while serving."""
    return tuple(api.list_scenarios())


def scenario(scenario_id: str) -> dict[str, Any] | None:
    """The scenario with this id, or None; a user's scenario is carried by its id, a link
    (app.model.scenarios.userscenario), and a bad one raises UserScenarioError."""
    if is_user(scenario_id):
        return _user_scenario(scenario_id)
    return next((s for s in scenarios() if s["id"] == scenario_id), None)


@lru_cache(maxsize=64)
def _user_scenario(scenario_id: str) -> dict[str, Any]:
    return api.scenario_info(api.scenario(scenario_id))


def scenario_ids() -> list[str]:
    return [s["id"] for s in scenarios()]


def clear_model_caches() -> None:
    """The model forgets every state it replayed (benchmarks of never-seen states)."""
    api.clear_caches()


def replay(scenario_id: str, code: str, schedule: str) -> dict[str, Any]:
    """build_view with the schedule cut one past the limit (the error position is the same).

    A too-long schedule may also hold an earlier impossible step; report the first error, so
    that `valid_prefix` is always a schedule that replays.
    """
    try:
        return shared_view(scenario_id, code, schedule[: MAX_STEPS + 1])
    except ScheduleError as e:
        if len(schedule) > MAX_STEPS and e.position >= MAX_STEPS:
            shared_view(scenario_id, code, schedule[:MAX_STEPS])  # raises the earlier error, if any
        raise


# What a scenario's first search takes, by its estimated cost (the largest of its main codes'),
# from the whole-process CPU times of bench/bench_explore.py in docs/performance.md plus the web's
# own share: the 3-CPU scenarios of one entry (45,000-79,000) about a second, the two-entry one
# (about 125,000) 10-20 s, three shrinkers and swapoff (about 3,000,000) 15-40 s.
COST_HINTS = ((HEAVY_STATES, "under half a second"), (100_000, "1–3 s"), (1_000_000, "10–20 s"))
COST_HINT_LARGEST = "15–40 s"
COST_HINT_USER = "a second to a minute"  # a user's scenario: no estimate shown before it runs


@lru_cache(maxsize=256)  # user scenarios (their ids are links) come and go: bounded
def cost_hint(scenario_id: str) -> str:
    """How long the explorer's first search of this scenario takes, in words for the page."""
    if is_user(scenario_id) or scenario(scenario_id) is None:
        return COST_HINT_USER
    cost = max(api.search_cost(scenario_id, c) for c in MAIN_CODES)
    return next((hint for bound, hint in COST_HINTS if cost <= bound), COST_HINT_LARGEST)


@lru_cache(maxsize=256)  # user scenarios (their ids are links) come and go: bounded
def is_heavy(scenario_id: str) -> bool:
    """True when the explorer needs seconds, not a fraction of one, for this scenario (by its
    estimated cost, not its CPU count alone)."""
    if is_user(scenario_id):
        return True  # a user's scenario is searched on request only, never on a page load
    if scenario(scenario_id) is None:
        return False
    return max(api.search_cost(scenario_id, c) for c in MAIN_CODES) > HEAVY_STATES


# -- the explorer's verdicts ------------------------------------------------------------------
# Deterministic, so memoised for the life of the process. One lock per (scenario, code): two
# requests for the same slow verdict wait for one computation instead of running it twice.
_verdicts: dict[tuple[str, str], dict[str, Any]] = {}
_locks: dict[tuple[str, str], threading.Lock] = {}
_guard = threading.Lock()
# At most one explorer search at a time: each is pure CPU for up to a few seconds, and a second
# one in parallel would only slow both and every step request on a 2-core machine.
_explorer = threading.BoundedSemaphore(1)


def _check(scenario_id: str, code: str, t: str = "") -> dict[str, Any]:
    stored = api.stored_verdict(scenario_id, code, t)
    if stored is not None:
        return _with_texts(stored)
    with _explorer:
        result = check(scenario_id, code, t) if t else check(scenario_id, code)
    api.store_verdict(scenario_id, code, t, result)
    return _with_texts(result)


def _with_texts(result: dict[str, Any]) -> dict[str, Any]:
    """The model's verdict plus exact decimal strings of the counts (they exceed 2**53, which
    JavaScript numbers cannot hold), and each violation group's story (api.with_stories)."""
    result = api.with_stories(result)
    runs = result.get("complete_runs")
    out = dict(result, complete_runs_text=None if runs is None else str(runs))
    out["violations"] = [dict(v, count_text=None if v.get("count") is None else str(v["count"]))
                         for v in result.get("violations", [])]
    return out


def verdict(scenario_id: str, code: str, t: str = "") -> dict[str, Any]:
    """The explorer's verdict (may take many seconds the first time; raises ModelInputError).
    With `t`, the verdict from the state after that schedule (memoised by the model, bounded)."""
    if t:
        return _check(scenario_id, code, t)
    key = (scenario_id, code)
    done = _verdicts.get(key)
    if done is not None:
        return done
    with _guard:
        lock = _locks.setdefault(key, threading.Lock())
    with lock:
        if key not in _verdicts:
            _verdicts[key] = _check(scenario_id, code)
    return _verdicts[key]


def cached_verdict(scenario_id: str, code: str, t: str = "") -> dict[str, Any] | None:
    """The verdict if it was already computed in this process, else None (never computes)."""
    if not t and not is_user(scenario_id):
        return _verdicts.get((scenario_id, code))
    found = _here.get((scenario_id, code, t))
    if found is not None:
        _here.move_to_end((scenario_id, code, t))
        return found[0]
    return None


# "From this state" verdicts: bounded in entries and in bytes (what their objects hold).
_here: OrderedDict[tuple[str, str, str], tuple[dict[str, Any], int]] = OrderedDict()
HERE_ENTRIES, HERE_BYTES = 256, 4 << 20
_here_bytes = 0


def _remember(key: tuple[str, str, str], result: dict[str, Any]) -> None:
    """Cache a verdict unless it was cut by time (that depends on the machine's load, not the model)."""
    global _here_bytes
    if not result["complete"] and "state budget" not in (result.get("stopped_reason") or ""):
        return
    if not key[2] and not is_user(key[0]):  # a finite set: kept for good
        _verdicts[key[:2]] = result
        return
    size = deep_size(result)
    if key in _here or size > HERE_BYTES:
        return
    _here[key] = (result, size)
    _here_bytes += size
    while len(_here) > HERE_ENTRIES or _here_bytes > HERE_BYTES:
        _, (_, dropped) = _here.popitem(last=False)
        _here_bytes -= dropped


def check_input(scenario_id: str, code: str, t: str) -> None:
    """Raise the ModelInputError a search would raise (unknown scenario or code, a bad prefix)."""
    api.scenario(scenario_id)
    api.check_code(code)
    if t:
        api.run(scenario_id, code, t)


async def search(scenario_id: str, code: str, t: str = "", request: Request | None = None) -> dict[str, Any]:
    """The explorer's verdict, from the caches (this process's, then the disk's) or from the
    search processes (app.web.http.searches):
    raises ModelInputError for bad input, searches.Busy when the pool is full, searches.ClientGone
    when the request's client left first."""
    done = cached_verdict(scenario_id, code, t)
    if done is not None:
        return done
    check_input(scenario_id, code, t)
    # Computed before, by this server before a restart or by another worker (verdict_store.py).
    stored = api.stored_verdict(scenario_id, code, t)
    if stored is not None:
        result = _with_texts(stored)
        _remember((scenario_id, code, t), result)
        return result
    raw = await searches.pool.run((scenario_id, code, t), request)
    api.store_verdict(scenario_id, code, t, raw)  # only a complete search is stored
    result = _with_texts(raw)
    _remember((scenario_id, code, t), result)
    return result


def search_progress(scenario_id: str, code: str, t: str = "") -> dict[str, Any] | None:
    """A running search's progress (searches.Pool.progress), None when none runs in this worker."""
    return searches.pool.progress((scenario_id, code, t))


def cancel_search(scenario_id: str, code: str, t: str = "") -> bool:
    """Ask a running search to stop and answer with what it covered; False when none runs."""
    return searches.pool.cancel((scenario_id, code, t))


def page_verdicts_ready(scenario_id: str) -> bool:
    """Whether the scenario page can render without running the explorer."""
    return is_heavy(scenario_id) or all((scenario_id, c) in _verdicts for c in MAIN_CODES)


async def precompute_light() -> None:
    """Compute old and new verdicts of every light scenario (a few seconds of CPU in all, in the
    search process)."""
    for s in scenarios():
        await verdict_pane_inputs(s["id"])


async def verdict_pane_inputs(scenario_id: str) -> None:
    """Compute what the scenario page's verdict pane shows by itself (old and new, if light)."""
    if not is_heavy(scenario_id):
        for c in MAIN_CODES:
            await search(scenario_id, c)
