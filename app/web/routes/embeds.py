"""The embed: one state's stage, read-only and without the site's chrome, for slides, blog posts
and course pages (`<iframe src="/embed/...">`).

`t` is the schedule, `from` the first step a viewer may go back to and `at` the step shown
(default: the last); ← and → move between `from` and `t` and nowhere else. These are the only
pages other sites may frame (app.web.app.SecurityHeaders); every link that leaves the range
opens the visualizer in a new tab (static/app.js), since the visualizer refuses to be framed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from starlette.responses import HTMLResponse

from app.model.cache import bounded_cache, share
from app.web.page import context, errors, render
from app.web import modelapi, urls
from app.web.routes import pages
from app.web.http import work
from app.web.routes.params import Code, Schedule

router = APIRouter()

PATH_PREFIX = "/embed/"  # what SecurityHeaders lets other sites frame


@dataclass
class EmbedContext(context.PageContext):
    """The page context of an embed: links to a state of the range stay in the embed, any other
    link goes to the visualizer."""

    full_t: str = ""
    start: int = 0
    layout: str | None = None  # "compact": the CPUs, the lanes and the crash (templates/embed.html)

    def url(self, t: str | None = None, code: str | None = None) -> str:
        t = self.t if t is None else t
        if (code in (None, self.code) and self.full_t.startswith(t)
                and self.start <= len(t) <= len(self.full_t)):
            return urls.embed(self.view["scenario"], self.code, self.full_t, self.start, len(t), self.layout)
        return urls.scenario(self.view["scenario"], code or self.code, t)

    @property
    def back_url(self) -> str | None:
        return self.url(self.t[:-1]) if len(self.t) > self.start else None

    @property
    def forward_url(self) -> str | None:
        return self.url(self.full_t[: len(self.t) + 1]) if len(self.t) < len(self.full_t) else None

    @property
    def site_url(self) -> str:
        """This state in the visualizer, where a viewer may step on their own."""
        return urls.scenario(self.view["scenario"], self.code, self.t)


def _position(name: str, value: int | None, low: int, high: int, default: int) -> int:
    """`from` or `at`: a step count between low and high, else a named 400."""
    if value is None:
        return default
    if not low <= value <= high:
        raise errors.WebError(400, {"error": f"bad-{name}", "message": f"`{name}` must be a step number from "
                                    f"{low} to {high} (the schedule has {high} steps); it is {value}."})
    return value


@bounded_cache(pages.CACHE_SIZE, share(0.03))
def embed_html(scenario_id: str, code: str, t: str, start: int, at: int, layout: str | None = None) -> str:
    scenario, _ = pages.run_page_view(scenario_id, code, t, None, api=False)  # the whole range replays
    view = modelapi.replay(scenario_id, code, t[:at])
    ctx = context.page_context(scenario, view, None, make=EmbedContext, full_t=t, start=start, layout=layout)
    ctx.start_tour_url = ctx.start_tour_title = None  # no tour in an embed: → is the next step of `t`
    return render.render("embed.html", ctx=ctx, view=view, is_fragment=False, embed=True)


@router.get("/embed/{scenario_id}", response_class=HTMLResponse,
            responses={**pages.ERROR_RESPONSES,
                       400: {"description": "Unknown code, or `from` / `at` not a step of the schedule "
                                            "(`bad-from`, `bad-at`)", **pages.HTML}},
            summary="One state's stage, read-only, for an <iframe>")
async def embed_page(
    scenario_id: str,
    code: Code = "old",
    t: Schedule = "",
    from_: Annotated[int | None, Query(alias="from", description="the first step ← may go back to "
                                                                  "(a step count, default 0)")] = None,
    at: Annotated[int | None, Query(description="the step shown (default: the last of `t`)")] = None,
    layout: Annotated[Literal["compact"] | None, Query(description="compact: the CPUs, the lane diagram "
                                                               "and the crash only, for a frame of about 800x500")] = None,
) -> HTMLResponse:
    """The stage of the state after `at` steps of `t` without the site's chrome and without step
    controls; ← and → move between `from` and the end of `t`. Other sites may frame this page."""
    if modelapi.scenario(scenario_id) is None:
        raise errors.unknown_scenario(scenario_id)
    t = t[: modelapi.MAX_STEPS + 1]
    start = _position("from", from_, 0, len(t), 0)
    shown = _position("at", at, start, len(t), len(t))
    html = await work.cached_or_run(embed_html, scenario_id, code, t, start, shown, layout)
    return HTMLResponse(html)
