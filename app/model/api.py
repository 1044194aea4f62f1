"""The model's public face: what the CLI and the web layer call.

Every input error is a ModelInputError with a message that names what was
wrong; nothing else escapes for bad input.
"""
from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Any

from app.model.actors.variants import VARIANTS
from app.model.kernel.engine import ACTORS
from app.model.scenarios.initial import actor_for
from app.model.scenarios.prefix import cached_replay
from app.model.scenarios.replay import MAX_STEPS
from app.model.scenarios.replay import ScheduleError as _ScheduleError
from app.model.cache import BoundedCache, bounded_cache, share
from app.model.errors import ModelInputError, ScheduleError, UnknownCode, UnknownScenario
from app.model.scenarios.scenario import CODES, SERIES, Scenario, ScenarioFileError, all_codes, code_info, cpu_label
from app.model.scenarios.loader import load_all

if TYPE_CHECKING:  # annotations only: `python -m app scenarios` does not need the view's types
    from app.model.views.viewtypes import RunView


def scenario(scenario_id: str) -> Scenario:
    """A shipped scenario, or a user's scenario carried by its id, a link (app/model/scenarios/userscenario.py:
    a bad link raises UserScenarioError, a ModelInputError)."""
    from app.model.scenarios import userscenario

    scenarios = load_all()
    if scenario_id in scenarios:
        return scenarios[scenario_id]
    if userscenario.is_user(scenario_id):
        return userscenario.load(scenario_id)
    raise UnknownScenario(scenario_id, sorted(scenarios))


def check_code(code: str) -> str:
    if code not in all_codes():
        raise UnknownCode(code, all_codes())
    return code


def codes() -> list[dict[str, Any]]:
    """Every code with its title and description; ``kernel``: kernel code (not a "break the fix"
    variant); ``series``: its place in the patch series (0 before 1/3, 1 old, 2 new), else None."""
    return [{"id": c, "title": code_info(c)[0], "description": code_info(c)[1], "kernel": c in CODES,
             "series": SERIES.index(c) if c in SERIES else None} for c in all_codes()]


def list_scenarios() -> list[dict[str, Any]]:
    return [scenario_info(s) for s in load_all().values()]


def scenario_info(s: Scenario) -> dict[str, Any]:
    """One scenario as the web and the JSON API list it."""
    return {
        "id": s.id,
        "title": s.title,
        "summary": " ".join(s.summary.split()),
        "codes": all_codes(),  # ids: "old", "new" and the variants
        "code_info": codes(),  # the same codes with a title and a description each
        "cpus": [
            {"id": c.id, "actor": c.actor, "label": cpu_label(c.id, c.actor),
             "actor_title": ACTORS[actor_for(c.actor, "new")].title.replace(" (fixed code)", "")}
            for c in s.cpus
        ],
        "tours": [
            {"name": t.name, "title": t.title, "code": t.code, "schedule": t.schedule, "steps": t.steps,
             "predict": [{"step": i, "question": p.question, "choices": list(p.choices), "answer": p.answer}
                         for i, p in t.predicts]}
            for t in s.tours
        ],
        "challenges": [
            {"name": c.name, "title": c.title, "code": c.code, "prompt": c.prompt, "why": c.why,
             "goal": c.goal.kind, "violation": getattr(c.goal, "violation", None)}
            for c in s.challenges
        ],
    }


def run(scenario_id: str, code: str, schedule: str):  # type: ignore[no-untyped-def]
    s = scenario(scenario_id)
    check_code(code)
    try:
        return cached_replay(s, code, schedule)
    except _ScheduleError as err:
        position, reason, prefix = err.position, err.reason, err.valid_prefix
    # Raised outside the handler: inside it, this frame would still hold the caught error, whose
    # traceback holds this frame, a reference cycle that only the cyclic collector frees once a
    # cached error (validate) is evicted.
    raise ScheduleError(position, reason, prefix)


def validate(scenario_id: str, code: str, schedule: str) -> ScheduleError | None:
    """The schedule's first error, or None when it replays (cheaper than build_view).

    A page validates its schedule on every other code (how far it stays valid there), and the
    next step's page the same schedule plus one step. A schedule that broke on a code breaks
    there at the same step whatever follows, so the parent's error is the answer; the replay
    cache does not keep failed replays, and redoing one cost a replay from the start, per code,
    per step."""
    key = (scenario_id, code, schedule)
    if schedule:
        hit, parent = _validated.get((scenario_id, code, schedule[:-1]))
        if hit and parent is not None and parent.position < MAX_STEPS:
            _validated.put(key, parent)
            return parent
    try:
        run(scenario_id, code, schedule)
    except ScheduleError as err:
        # A copy without the raised one's traceback and context: their frames held the replay's
        # every world alive (a cache counted at 0.7 MB held over 50 MB under random schedules).
        clean = ScheduleError(err.position, err.reason, err.valid_prefix)
        _validated.put(key, clean)
        return clean
    _validated.put(key, None)
    return None


# A schedule's first error on a code (or None): with its key, about 350 bytes an entry, and 1 kB
# with an error (tracemalloc).
_validated = BoundedCache(8192, share(0.01), lambda err: 48 if err is None else 700)


def clear_caches() -> None:
    """Forget every replay, view, walk and validation (benchmarks measure states nobody asked for)."""
    from app.model.scenarios import prefix
    from app.model.views import view

    prefix.clear()
    view.clear()
    _validated.clear()
    _cached_view.cache_clear()


def check(scenario_id: str, code: str, prefix: str = "") -> dict[str, Any]:
    """The explorer's verdict for one scenario under one code (cached: it never changes).

    With ``prefix`` (a schedule), only the continuations of the state it reaches are explored:
    "from here, can it still go wrong?". Its shortest schedules start with the prefix; the
    result carries ``prefix``. A prefix that does not replay raises ScheduleError.
    """
    scenario(scenario_id)
    check_code(code)
    if prefix:
        run(scenario_id, code, prefix)  # a ScheduleError names the bad position
    return _checked(scenario_id, code, prefix)


def with_stories(result: dict[str, Any]) -> dict[str, Any]:
    """A verdict with each violation group's story (app/model/views/story.py), told from its
    shortest schedule: what the crashing CPU cached, what it let go of, what the other CPUs freed
    and the access, so that "Find the race" can show the eight lines before the 55 steps. A
    group whose schedule no longer replays (a verdict stored by other code) gets None."""
    from app.model.views.story import story

    out = dict(result, violations=[dict(v) for v in result.get("violations", [])])
    for v in out["violations"]:
        if "story" in v:
            continue
        try:
            view = _cached_view(out["scenario"], out["code"], v["shortest"])
        except ModelInputError:
            v["story"] = None
            continue
        v["story"] = story(view, v)
    return out


@lru_cache(maxsize=256)
def _checked(scenario_id: str, code: str, prefix: str = "") -> dict[str, Any]:
    """The search itself, once per (scenario, code, prefix): here, not in explore.py, which looks
    nothing up by id (a user's scenario is carried by its id, and its search has a smaller budget)."""
    from app.model.explorer.explore import DEFAULT_MAX_STATES, verdict
    from app.model.scenarios.userscenario import USER_MAX_STATES, is_user

    budget = USER_MAX_STATES if is_user(scenario_id) else DEFAULT_MAX_STATES
    return with_stories(verdict(scenario(scenario_id), code, prefix, max_states=budget))


def stored_verdict(scenario_id: str, code: str, prefix: str = "") -> dict[str, Any] | None:
    """The verdict from the disk cache (app/model/explorer/verdict_store.py), or None; input as check()."""
    from app.model.explorer import verdict_store
    from app.model.explorer.explore import reduced, stored_name

    s = scenario(scenario_id)
    return verdict_store.get(stored_name(s, check_code(code), prefix, reduced(s)))


def store_verdict(scenario_id: str, code: str, prefix: str, result: dict[str, Any]) -> None:
    """Keep a complete verdict in the disk cache (the search's own reduction, as check() runs it)."""
    from app.model.explorer import verdict_store
    from app.model.explorer.explore import reduced, stored_name

    s = scenario(scenario_id)
    verdict_store.put(stored_name(s, check_code(code), prefix, reduced(s)), result)


@lru_cache(maxsize=64)
def search_cost(scenario_id: str, code: str) -> float:
    """An estimate of how many states the explorer will visit: the product over CPUs of (steps the
    CPU takes when it runs alone from the start, plus one). It under-estimates by 2-4x on the
    shipped scenarios (2-CPU ones about 2,000, 3-CPU ones 45,000-79,000) but orders them right, and
    it grows with slots and processes as well as with CPUs. Infinity when a CPU runs alone for
    more than 2,000 steps."""
    import math

    from app.model.kernel.engine import Blocked, try_step
    from app.model.scenarios.initial import initial_world

    s = scenario(scenario_id)
    check_code(code)
    lengths = []
    for cpu in s.cpus:
        world, steps = initial_world(s, code), 0
        while world.cpu(cpu.id).state == "run" and world.cpu(cpu.id).pc is not None:
            result = try_step(world, cpu.id)
            if isinstance(result, Blocked):
                break
            world, steps = result.world, steps + 1
            if steps > 2000:
                return math.inf
        lengths.append(steps)
    return float(math.prod(n + 1 for n in lengths))


def view_size(view: RunView) -> int:
    """Bytes a cached view holds on its own, estimated from its schedule's length (a deep walk of
    the dict would cost as much as building it): tracemalloc measured 35 kB a view at 6 steps and
    82 kB at 22, over random schedules of every scenario (tests/web/test_cache_accounting.py holds
    the estimate within 1.5x of what clearing the cache frees)."""
    return 16 * 1024 + 3 * 1024 * len(view["schedule"])


# At most 256 views and a quarter of the process's cache budget (16 MB): it held 4,096 views,
# about 77 KiB each, 300 MB and more under random schedules, and their millions of small objects
# made every full garbage collection long. A view is reused by the page, the JSON, the events and
# the exports of one state; the rendered text of each is cached on its own.
@bounded_cache(256, share(0.2), view_size)
def _cached_view(scenario_id: str, code: str, schedule: str) -> RunView:
    from app.model.views.view import build_run_view  # the view's modules (reports, lanes, sources) load on first use

    return build_run_view(run(scenario_id, code, schedule))


def old_code_crash(scenario_id: str, code: str, schedule: str) -> dict[str, Any] | None:
    """The old code's memory error on this schedule, beside what `code` did at that step
    (None when the old code does not crash on it, or `code` crashes too)."""
    from app.model.explorer.counterpart import MEMORY_ERRORS, old_code_crash as compare

    if code == "old" or not schedule:
        return None
    try:
        crashed = any(v.kind in MEMORY_ERRORS for v in run(scenario_id, "old", schedule).world.violations)
    except ScheduleError:
        return None
    if not crashed:  # the common case, decided by a replay alone (no view is built)
        return None
    return compare(lambda s, c, t: _cached_view(s, c, t), scenario_id, code, schedule)  # type: ignore[arg-type,return-value]


def shared_view(scenario_id: str, code: str, schedule: str) -> RunView:
    """The cached view itself, not a copy: for callers that only read it (the web pages render
    it and never write to it). A deep copy costs about as much as building the view."""
    return _cached_view(scenario_id, code, schedule)


def build_view(scenario_id: str, code: str, schedule: str) -> RunView:
    """The whole view model of one state. Cached: the same URL is the same state."""
    import copy

    return copy.deepcopy(_cached_view(scenario_id, code, schedule))


__all__ = [
    "ModelInputError",
    "ScenarioFileError",
    "UnknownScenario",
    "UnknownCode",
    "ScheduleError",
    "list_scenarios",
    "build_view",
    "old_code_crash",
    "shared_view",
    "validate",
    "check",
    "search_cost",
    "codes",
    "CODES",
    "VARIANTS",
]
