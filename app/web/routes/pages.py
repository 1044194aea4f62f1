"""HTML routes: the index and the scenario page (full page, or the state fragment for htmx)."""
from __future__ import annotations

import os
import gzip
from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from app.model.cache import bounded_cache, share
from app.web.http import compression, searches, work
from app.web.page import context, errors, lanerows, listing, panes, regions, render
from app.web import modelapi, urls
from app.web.routes.params import Code, Prefix, Schedule

router = APIRouter()

# The URL is the whole state and replay is deterministic, so a rendered state never goes stale:
# memoise the last few hundred (ZSWAP_WEB_CACHE=0 turns this off, e.g. to measure misses), each
# cache within its share of the process's byte budget (app/model/cache.py, ZSWAP_CACHE_MB).
CACHE_SIZE = int(os.environ.get("ZSWAP_WEB_CACHE", "512"))

HTML = {"content": {"text/html": {}}}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Unknown code or tour, or a malformed parameter", **HTML},
    404: {"description": "Unknown scenario (the page lists the real ones), or a corrupted scenario link",
          **HTML},
    422: {"description": "The schedule cannot be replayed: the page names the position and the reason "
                         "and links to the longest valid prefix", **HTML},
    503: {"description": "The server is busy (every explorer slot taken, or its request limit reached); "
                         "the Retry-After header says when to try again", **HTML},
}


# Every route can answer 400 (a Host outside the allow-list, app.web.http.limits) and 503 (overload).
ANY_ROUTE = {k: v for k, v in ERROR_RESPONSES.items() if k in (400, 503)}


@router.get("/", response_class=HTMLResponse, responses=ANY_ROUTE, summary="The scenarios")
async def index(request: Request) -> HTMLResponse:
    """List every scenario with its summary, codes and tours."""
    return render.page(request, "index.html", "index.html", scenarios=modelapi.scenarios(),
                       summaries={s["id"]: context.index_verdicts(s) for s in modelapi.scenarios()})


@router.get("/help", response_class=HTMLResponse, responses=ANY_ROUTE, summary="The keys and the glossary")
async def help_page(request: Request) -> HTMLResponse:
    """The stage's keys and the words its sentences use (the ? key opens the same over the stage)."""
    return render.page(request, "help.html", "help.html")


def run_page_view(scenario_id: str, code: str, t: str, tour: str | None, api: bool) -> tuple[dict, dict]:
    """Look up the scenario and replay the schedule, turning bad input into a WebError."""
    scenario = modelapi.scenario(scenario_id)
    if scenario is None:
        raise errors.unknown_scenario(scenario_id)
    if tour is not None and tour not in {x["name"] for x in scenario["tours"]}:
        names = [x["name"] for x in scenario["tours"]]
        raise errors.WebError(400, {"error": "unknown-tour", "message": f"There is no tour {tour!r}.",
                                    "valid": names},
                              [(x["title"], urls.scenario(scenario_id, x["code"], "", x["name"]))
                               for x in scenario["tours"]])
    try:
        view = modelapi.replay(scenario_id, code, t)
    except modelapi.ModelInputError as e:
        raise errors.from_model(e, scenario_id, code, t, tour, api) from None
    return scenario, view


@router.get("/s/{scenario_id}", response_class=HTMLResponse, responses=ERROR_RESPONSES,
            summary="The state after replaying a schedule")
async def scenario_page(
    request: Request,
    scenario_id: str,
    code: Code = "old",
    t: Schedule = "",
    tour: Annotated[str | None, Query(description="follow this tour of the scenario")] = None,
    pick: Annotated[int | None, Query(ge=0, le=9, description="the choice made at the tour's "
                                                               "\"predict\" stop of this state")] = None,
) -> HTMLResponse:
    """Replay schedule `t` on `code`; htmx swaps get only the <main id="state"> fragment."""
    fragment = render.wants_fragment(request)
    if not fragment and not modelapi.page_verdicts_ready(scenario_id) and modelapi.scenario(scenario_id):
        # The first full page of a light scenario runs the explorer (0.1-1 s), in a search process.
        try:
            await modelapi.verdict_pane_inputs(scenario_id)
        except (searches.Busy, searches.ClientGone):
            raise errors.busy(searches.RETRY_AFTER) from None
    t = t[: modelapi.MAX_STEPS + 1]
    whole = render.wants_whole_listing(request)
    # The state the page shows now, if it says (app/web/page/regions.py): only its changed regions come.
    have = regions.asked_have(request.headers.get(regions.HAVE_HEADER)) if fragment else None
    if compression.accepts_gzip(request.headers.get("accept-encoding")):
        # Browsers accept gzip: the page (about 65 kB) is compressed once per state, not per request.
        body = await work.cached_or_run(state_gzip, fragment, scenario_id, code, t, tour, whole, pick, have)
        return Response(body, media_type="text/html; charset=utf-8", headers=GZIP_HEADERS)
    html = await work.cached_or_run(state_delta, fragment, scenario_id, code, t, tour, whole, pick, have)
    return HTMLResponse(html, headers={"Vary": VARY_ENCODING})


def clear_caches() -> None:
    state_gzip.cache_clear()
    state_delta.cache_clear()
    state_html.cache_clear()
    state_parts.cache_clear()
    events_html.cache_clear()
    listing.clear()
    lanerows.clear()
    panes.clear()
    regions.clear()


VARY_ENCODING = render.VARY + ", Accept-Encoding"
GZIP_HEADERS = {"Vary": VARY_ENCODING, "Content-Encoding": "gzip"}


@bounded_cache(CACHE_SIZE, share(0.05))
def state_gzip(fragment: bool, scenario_id: str, code: str, t: str, tour: str | None,
               whole: bool = False, pick: int | None = None, have: str | None = None) -> bytes:
    """state_delta, gzip-compressed (cached beside it: the URL is the state, so is the body).
    A step's fragment is on the click's path: level 4 is a third cheaper than 6 for 3% more bytes;
    a full page (the first load's budget) takes 6."""
    html = state_delta(fragment, scenario_id, code, t, tour, whole, pick, have)
    return gzip.compress(html.encode(), compresslevel=4 if fragment else 6)


@bounded_cache(CACHE_SIZE, share(0.02))
def state_delta(fragment: bool, scenario_id: str, code: str, t: str, tour: str | None,
                whole: bool = False, pick: int | None = None, have: str | None = None) -> str:
    """The fragment of one state for a page that shows state `have` (its #state[data-key]): the
    regions that page already has come as empty twins. Whole when the server no longer holds
    that state's regions (a state's HTML never changes, so either answer stays right)."""
    held = regions.have(have) if fragment else None
    if held is None:
        return state_html(fragment, scenario_id, code, t, tour, whole, pick)
    return state_parts(fragment, scenario_id, code, t, tour, whole, pick).against(held)[0]


@bounded_cache(CACHE_SIZE, share(0.05))
def state_html(fragment: bool, scenario_id: str, code: str, t: str, tour: str | None,
               whole: bool = False, pick: int | None = None) -> str:
    """The page (or fragment) of one state, with whole listings or only their windows; bad input
    raises WebError, which is not cached."""
    return state_parts(fragment, scenario_id, code, t, tour, whole, pick).whole()


@bounded_cache(CACHE_SIZE, share(0.05), regions.parts_size)
def state_parts(fragment: bool, scenario_id: str, code: str, t: str, tour: str | None,
                whole: bool = False, pick: int | None = None) -> regions.Parts:
    """state_html cut at its regions, which are remembered under the state's key for the next
    step's answer (app/web/page/regions.py)."""
    scenario, view = run_page_view(scenario_id, code, t, tour, api=False)
    ctx = context.page_context(scenario, view, tour, whole, pick=pick)
    if pick is not None:
        check_pick(ctx, pick)
    here = context.here_verdict(scenario, code, t)
    key = regions.state_key(scenario_id, code, t, tour, whole, pick)
    if fragment:
        html = render.render("_state.html", ctx=ctx, view=view, is_fragment=True, here=here,
                             state_key=key, **regions.MARKERS)
    else:
        html = render.render("scenario.html", ctx=ctx, view=view, is_fragment=False, here=here,
                             verdicts=context.verdict_pane(scenario), state_key=key, **regions.MARKERS)
    parts = regions.split(html)
    regions.remember(key, parts)
    return parts


def check_pick(ctx: context.PageContext, pick: int) -> None:
    """`pick` must answer the question this state of the tour asks: else a named 400."""
    predict = ctx.tour.predict if ctx.tour is not None and ctx.tour.on_tour else None
    if predict is None:
        raise errors.WebError(400, {"error": "bad-pick", "message": "`pick` answers a tour's question, and this "
                                    "state of the tour asks none."}, [("this state", ctx.url())])
    if pick >= len(predict.choices):
        raise errors.WebError(400, {"error": "bad-pick", "message": f"`pick` must be 0-{len(predict.choices) - 1}: "
                                    f"the question has {len(predict.choices)} choices."}, [("the question", ctx.url())])


@router.get("/s/{scenario_id}/verdict", response_class=HTMLResponse, responses=ERROR_RESPONSES,
            summary="The explorer's verdict for one code, as HTML")
async def verdict_page(
    request: Request,
    scenario_id: str,
    code: Code = "old",
    t: Prefix = "",
) -> HTMLResponse:
    """Run the explorer on one code (seconds for a 3-CPU scenario, cached afterwards); htmx gets
    the verdict block alone, to swap into the scenario page's verdict pane. With `t`, only the
    continuations of the state after schedule `t` are explored ("can it still go wrong from here?")."""
    scenario = modelapi.scenario(scenario_id)
    if scenario is None:
        raise errors.unknown_scenario(scenario_id)
    t = t[: modelapi.MAX_STEPS + 1]
    result = await verdict_or_error(request, scenario_id, code, t, api=False)
    info = next(c for c in scenario["code_info"] if c["id"] == code)
    v = context.code_verdict(scenario, info, result, t)
    return render.page(request, "verdict.html", "_verdict_code.html", scenario=scenario, v=v,
                       standalone=not render.wants_fragment(request))


def progress_of(scenario_id: str, code: str, t: str, api: bool = False) -> context.SearchProgress:
    """A search's progress block (bad input: the named 4xx of the verdict's routes)."""
    scenario = modelapi.scenario(scenario_id)
    if scenario is None:
        raise errors.unknown_scenario(scenario_id)
    try:
        modelapi.check_input(scenario_id, code, t)
    except modelapi.ModelInputError as e:
        raise errors.from_model(e, scenario_id, code, t, None, api=api) from None
    info = next(c for c in scenario["code_info"] if c["id"] == code)
    return context.search_progress(scenario, info, t, modelapi.search_progress(scenario_id, code, t))


@router.get("/s/{scenario_id}/verdict/running", response_class=HTMLResponse, responses=ERROR_RESPONSES,
            summary="The verdict block while its search runs, as an HTML fragment")
async def verdict_running(scenario_id: str, code: Code = "old", t: Prefix = "") -> HTMLResponse:
    """What "Run the explorer" swaps in: it asks for the verdict (`/verdict`, which replaces it when
    the search ends) and polls the search's progress every second, with a cancel button."""
    p = progress_of(scenario_id, code, t[: modelapi.MAX_STEPS + 1])
    return HTMLResponse(render.render("_verdict_running.html", p=p), headers={"Cache-Control": "no-store"})


@router.get("/s/{scenario_id}/verdict/progress", response_class=HTMLResponse, responses=ERROR_RESPONSES,
            summary="A running search's progress, as an HTML fragment")
async def verdict_progress(scenario_id: str, code: Code = "old", t: Prefix = "") -> HTMLResponse:
    """States kept so far, states per second, seconds since it started and the first violation found
    (with its shortest schedule); "starting" when the search has not started (or has ended)."""
    p = progress_of(scenario_id, code, t[: modelapi.MAX_STEPS + 1])
    return HTMLResponse(render.render("_verdict_progress.html", p=p), headers={"Cache-Control": "no-store"})


@router.post("/s/{scenario_id}/verdict/cancel", status_code=204, responses=ERROR_RESPONSES,
             summary="Cancel a running search")
async def verdict_cancel(scenario_id: str, code: Code = "old", t: Prefix = "") -> Response:
    """The search stops within a few milliseconds and its verdict says what it covered (204 either
    way: a search that has ended or never ran has nothing to cancel)."""
    progress_of(scenario_id, code, t[: modelapi.MAX_STEPS + 1])  # a named 4xx for bad input
    modelapi.cancel_search(scenario_id, code, t[: modelapi.MAX_STEPS + 1])
    return Response(status_code=204)


async def verdict_or_error(request: Request | None, scenario_id: str, code: str, t: str, api: bool) -> dict[str, Any]:
    """The explorer's verdict (app.web.http.searches runs it in another process), or the WebError:
    4xx for bad input, 503 with Retry-After when every search slot is taken. With a request, the
    search is cancelled if its client leaves; without (its body already read), it runs to its budget."""
    try:
        return await modelapi.search(scenario_id, code, t, request)
    except modelapi.ModelInputError as e:
        raise errors.from_model(e, scenario_id, code, t, None, api=api) from None
    except (searches.Busy, searches.ClientGone):
        raise errors.busy(searches.RETRY_AFTER) from None


@router.get("/s/{scenario_id}/events", response_class=HTMLResponse, responses=ERROR_RESPONSES,
            summary="The event log of a state, as an HTML fragment")
async def events_fragment(
    request: Request,
    scenario_id: str,
    code: Code = "old",
    t: Schedule = "",
) -> HTMLResponse:
    """Every step of schedule `t` with its narration: the scenario page's event-log drawer loads
    it when opened, so a step's swap does not carry (and lay out) the whole log."""
    body = await work.cached_or_run(events_html, scenario_id, code, t[: modelapi.MAX_STEPS + 1])
    return HTMLResponse(body, headers={"Vary": render.VARY})


@bounded_cache(CACHE_SIZE, share(0.02))
def events_html(scenario_id: str, code: str, t: str) -> str:
    _, view = run_page_view(scenario_id, code, t, None, api=False)
    step_urls = [urls.scenario(scenario_id, code, t[: i + 1]) for i in range(len(view["events"]))]
    labels = {c["id"]: c["label"] for c in view["cpus"]}
    return render.render("_event_rows.html", view=view, step_urls=step_urls, labels=labels)
