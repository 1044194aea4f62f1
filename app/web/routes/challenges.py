"""Challenges: `/challenge/{scenario}/{name}?t=`, the stage of the challenge's code with its goal
above it; the model (app.model.challenges) says when the goal is met, and "Give up" (`answer=1`)
shows the explorer's answer. The URL is the whole state, as on the scenario page.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.requests import Request
from starlette.responses import HTMLResponse

from app.model.cache import bounded_cache, share
from app.web.page import context, errors, render
from app.web import modelapi, urls
from app.web.routes import pages
from app.web.http import searches, work
from app.web.routes.params import Schedule

router = APIRouter()


@dataclass
class ChallengeContext(context.PageContext):
    """The stage's links step the challenge, not the plain scenario page."""

    challenge_name: str = ""

    def url(self, t: str | None = None, code: str | None = None) -> str:
        t = self.t if t is None else t
        if code in (None, self.code):
            return urls.challenge(self.view["scenario"], self.challenge_name, t)
        return urls.scenario(self.view["scenario"], code, t)  # type: ignore[arg-type]


def find(scenario_id: str, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    scenario = modelapi.scenario(scenario_id)
    if scenario is None:
        raise errors.unknown_scenario(scenario_id)
    found = next((c for c in scenario["challenges"] if c["name"] == name), None)
    if found is None:
        names = [c["name"] for c in scenario["challenges"]]
        raise errors.WebError(404, {"error": "unknown-challenge", "message": f"There is no challenge {name!r} "
                                    f"in {scenario_id}.", "valid": names},
                              [(c["title"], urls.challenge(scenario_id, c["name"])) for c in scenario["challenges"]]
                              or [("the scenario", urls.scenario(scenario_id))])
    return scenario, found


def answer_of(scenario_id: str, ch: dict[str, Any], verdict: dict[str, Any] | None) -> dict[str, Any]:
    """What "Give up" shows: for a violation goal the explorer's verdict on the code, else (and
    besides) a shortest schedule that meets the goal."""
    best = modelapi.shortest(scenario_id, ch["name"])
    out: dict[str, Any] = {"shortest": best.schedule, "complete": best.complete, "states": best.states,
                           "shortest_url": urls.scenario(scenario_id, ch["code"], best.schedule)
                           if best.schedule is not None else None, "verdict": None}
    if ch["goal"] == "violation" and verdict is not None:
        groups = [v for v in verdict["violations"] if v["kind"] == ch["violation"]]
        runs = verdict["complete_runs_text"]
        counted = all(v["count"] is not None for v in groups)  # not when the search stopped early
        out["verdict"] = {"runs": f"{int(runs):,}" if runs else "?", "states": verdict["states"],
                          "complete": verdict["complete"],
                          "reaching": sum(v["count"] for v in groups) if counted else None, "found": bool(groups)}
    return out


def challenge_state(scenario_id: str, ch: dict[str, Any], t: str, answer: dict[str, Any] | None) -> dict[str, Any]:
    tried = modelapi.attempt(scenario_id, ch["name"], t)
    state: dict[str, Any] = {**ch, "steps": tried.steps, "met_at": tried.met_at, "over": tried.over,
                             "answer": answer, "answer_url": urls.challenge(scenario_id, ch["name"], t, answer=True),
                             "best": None}
    if tried.met_at is not None:
        best = modelapi.shortest(scenario_id, ch["name"])
        state["best"] = best.schedule
        state["best_url"] = urls.scenario(scenario_id, ch["code"], best.schedule or "")
        state["lanes_url"] = urls.lanes_svg(scenario_id, ch["code"], t[: tried.met_at])
    return state


def render_challenge(fragment: bool, scenario_id: str, name: str, t: str, answer: dict[str, Any] | None) -> str:
    scenario, ch = find(scenario_id, name)
    _, view = pages.run_page_view(scenario_id, ch["code"], t, None, api=False)
    ctx = context.page_context(scenario, view, None, make=ChallengeContext, challenge_name=name)
    # The challenge fixes the code, and a tour or the explorer would give the answer away.
    ctx.code_links = [c for c in ctx.code_links if c.current]
    ctx.tours, ctx.start_tour_url, ctx.start_tour_title = [], None, None
    state = challenge_state(scenario_id, ch, t, answer)
    if fragment:
        return render.render("_state.html", ctx=ctx, view=view, is_fragment=True, here=None, challenge=state)
    return render.render("challenge.html", ctx=ctx, view=view, is_fragment=False, here=None, challenge=state)


@bounded_cache(pages.CACHE_SIZE, share(0.03))
def challenge_html(fragment: bool, scenario_id: str, name: str, t: str) -> str:
    return render_challenge(fragment, scenario_id, name, t, None)


@router.get("/challenge/{scenario_id}/{name}", response_class=HTMLResponse,
            responses={**pages.ERROR_RESPONSES,
                       404: {"description": "Unknown scenario or challenge (`unknown-challenge` lists the "
                                            "scenario's challenges)", **pages.HTML}},
            summary="A challenge: reach its goal by stepping the CPUs")
async def challenge_page(
    request: Request,
    scenario_id: str,
    name: str,
    t: Schedule = "",
    answer: Annotated[bool, Query(description="show the explorer's answer (Give up)")] = False,
) -> HTMLResponse:
    """The stage of the challenge's code after schedule `t`, with the goal, the steps taken and,
    once the model sees the goal met, how the attempt compares with the shortest schedule."""
    _, ch = find(scenario_id, name)
    t = t[: modelapi.MAX_STEPS + 1]
    fragment = render.wants_fragment(request)
    if not answer:
        return HTMLResponse(await work.cached_or_run(challenge_html, fragment, scenario_id, name, t),
                            headers={"Vary": render.VARY})
    verdict = None
    if ch["goal"] == "violation":
        try:
            verdict = await modelapi.search(scenario_id, ch["code"], "", request)
        except (searches.Busy, searches.ClientGone):
            raise errors.busy(searches.RETRY_AFTER) from None
    shown = await work.run(answer_of, scenario_id, ch, verdict)
    html = await work.run(render_challenge, fragment, scenario_id, name, t, shown)
    return HTMLResponse(html, headers={"Vary": render.VARY})
