"""The JSON API: the very dicts the pages render, for tools and tests."""
from __future__ import annotations

import gzip
import json
from functools import lru_cache
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app.model.cache import bounded_cache, share
from app.web.http import compression, work
from app.web import modelapi
from app.web.routes import pages, schema
from app.web.routes.params import Code, Prefix, Schedule

router = APIRouter(prefix="/api")

ERR = {"model": schema.ErrorBody}
RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Unknown code, or a malformed parameter", **ERR},
    404: {"description": "Unknown scenario", **ERR},
    422: {"description": "The schedule cannot be replayed: position, reason and the longest valid prefix", **ERR},
    503: {"description": "The server is busy (every explorer slot taken, or its request limit reached); "
                         "the Retry-After header says when to try again", **ERR},
}


@router.get("/scenarios", response_model=list[schema.ScenarioInfo],
            responses={k: v for k, v in RESPONSES.items() if k in (400, 503)},
            summary="All scenarios")
async def api_scenarios(request: Request) -> Response:
    """Every scenario with its codes, CPUs and tours."""
    # Serialised and compressed once: the list (every tour's sentence once per step) never changes.
    if compression.accepts_gzip(request.headers.get("accept-encoding")):
        return Response(scenarios_json_gzip(), media_type="application/json",
                        headers={"Vary": "Accept-Encoding", "Content-Encoding": "gzip"})
    return Response(scenarios_json(), media_type="application/json", headers={"Vary": "Accept-Encoding"})


@lru_cache(maxsize=1)
def scenarios_json() -> bytes:
    return json.dumps(list(modelapi.scenarios()), ensure_ascii=False, separators=(",", ":")).encode()


@lru_cache(maxsize=1)
def scenarios_json_gzip() -> bytes:
    return gzip.compress(scenarios_json(), compresslevel=compression.COMPRESSLEVEL)


@router.get("/s/{scenario_id}", response_class=JSONResponse, responses={200: {"model": schema.RunViewSchema,
                                                 "description": "The replayed state (RunView)"}, **RESPONSES},
            summary="The state after replaying a schedule")
async def api_scenario(
    request: Request,
    scenario_id: str,
    code: Code = "old",
    t: Schedule = "",
) -> JSONResponse:
    """The state, enabled CPUs with their next step, blocked reasons, events and reports."""
    t = t[: modelapi.MAX_STEPS + 1]
    if compression.accepts_gzip(request.headers.get("accept-encoding")):
        # Compressed once per state like the pages (gzip per request cost 0.2 ms, more than a hit).
        return Response(await work.cached_or_run(state_json_gzip, scenario_id, code, t),
                        media_type="application/json",
                        headers={"Vary": "Accept-Encoding", "Content-Encoding": "gzip"})
    return Response(await work.cached_or_run(state_json, scenario_id, code, t), media_type="application/json",
                    headers={"Vary": "Accept-Encoding"})


def clear_caches() -> None:
    state_json.cache_clear()
    state_json_gzip.cache_clear()


@bounded_cache(pages.CACHE_SIZE, share(0.04))
def state_json_gzip(scenario_id: str, code: str, t: str) -> bytes:
    """state_json, gzip-compressed (level as the middleware's), cached beside it."""
    return gzip.compress(state_json(scenario_id, code, t), compresslevel=compression.COMPRESSLEVEL)


@bounded_cache(pages.CACHE_SIZE, share(0.08))
def state_json(scenario_id: str, code: str, t: str) -> bytes:
    """The RunView as JSON bytes (memoised like the pages: the same URL is always the same state)."""
    _, view = pages.run_page_view(scenario_id, code, t, None, api=True)
    return json.dumps(view, ensure_ascii=False, separators=(",", ":")).encode()


@router.get("/s/{scenario_id}/check", response_model=schema.CheckResult,
            responses=RESPONSES, summary="The explorer's verdict")
async def api_check(
    request: Request,
    scenario_id: str,
    code: Code = "old",
    t: Prefix = "",
) -> JSONResponse:
    """Explore every schedule of the scenario under `code` (app.model.api.check) and list the
    violation groups, each with how many complete runs reach it and its shortest schedule.
    With `t`, only the continuations of the state after schedule `t`; shortest schedules then
    start with `t`. Counts can exceed 2**53: `complete_runs_text` and each `count_text` carry
    them exactly. The first request for a 3-CPU scenario takes seconds; results are cached."""
    t = t[: modelapi.MAX_STEPS + 1]
    return JSONResponse(await pages.verdict_or_error(request, scenario_id, code, t, api=True))


@router.get("/s/{scenario_id}/check/progress", response_model=schema.SearchProgress, responses=RESPONSES,
            summary="A running search's progress")
async def api_check_progress(scenario_id: str, code: Code = "old", t: Prefix = "") -> JSONResponse:
    """What the verdict block shows while `/api/s/{scenario_id}/check` (or the verdict page) runs:
    worlds kept so far, their rate, the seconds since the search started and the first violation
    found, with its shortest schedule (breadth first, the first schedule found is a shortest one)."""
    p = pages.progress_of(scenario_id, code, t[: modelapi.MAX_STEPS + 1], api=True)
    progress = modelapi.search_progress(scenario_id, code, t[: modelapi.MAX_STEPS + 1]) or {}
    return JSONResponse({"running": p.running, "states": p.states, "seconds": round(p.seconds, 3),
                         "per_second": round(p.per_second, 1), "first": progress.get("first"),
                         "cancelled": p.cancelled}, headers={"Cache-Control": "no-store"})


@router.post("/s/{scenario_id}/check/cancel", status_code=204, responses=RESPONSES, summary="Cancel a running search")
async def api_check_cancel(scenario_id: str, code: Code = "old", t: Prefix = "") -> Response:
    """The running search stops and its answer says what it covered; 204 whether or not one ran."""
    pages.progress_of(scenario_id, code, t[: modelapi.MAX_STEPS + 1], api=True)  # a named 4xx for bad input
    modelapi.cancel_search(scenario_id, code, t[: modelapi.MAX_STEPS + 1])
    return Response(status_code=204)
