"""Compare: two runs of one scenario side by side, `/compare/{scenario}?a=CODE:SCHEDULE&b=CODE:SCHEDULE`.

The URL is the whole state: each side is a code and a schedule. Both sides step together (a
CPU's step appended to both schedules) or separately; the model (app.model.views.compare) says where
the runs part and what differs between their states.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.requests import Request
from starlette.responses import HTMLResponse

from app.model.cache import bounded_cache, share
from app.web.page import errors, render
from app.web import modelapi, urls
from app.web.routes import pages, params
from app.web.http import work

router = APIRouter()

Side = Annotated[str | None, Query(description="one run: CODE:SCHEDULE, e.g. old:1112 (default old: and new:)",
                                   json_schema_extra={"pattern": params.SIDE_PATTERN})]


@dataclass
class CompareSide:
    name: str  # "A" or "B"
    code: str
    t: str
    view: dict[str, Any]
    code_title: str
    open_url: str  # this run in the visualizer
    step_urls: dict[int, str | None]  # this side alone one CPU's step further (None: that CPU cannot step)
    back_url: str | None
    kernel: bool = True  # kernel code (the series), not a "break the fix" variant


def parse_side(name: str, value: str | None, default: str) -> tuple[str, str]:
    """`CODE:SCHEDULE` as (code, schedule), or a named 400."""
    value = default if value is None else value
    code, colon, t = value.partition(":")
    if not colon or not code:
        raise errors.WebError(400, {"error": "bad-side", "message": f"`{name.lower()}` must be CODE:SCHEDULE "
                                    f"(e.g. old:1122, or new: for the start); it is {value[:40]!r}."})
    return code, t[: modelapi.MAX_STEPS + 1]


def _replay(scenario_id: str, name: str, code: str, t: str, other: tuple[str, str]) -> dict[str, Any]:
    """One side's view; its bad code or schedule is the usual 4xx, saying which side, with links
    that keep the other side."""
    try:
        _, view = pages.run_page_view(scenario_id, code, t, None, api=False)
    except errors.WebError as e:
        e.body["message"] = f"Side {name} ({code}): {e.body['message']}"
        e.body["side"] = name.lower()

        def link(c: str, s: str) -> str:
            return urls.compare(scenario_id, c, s, *other) if name == "A" else urls.compare(scenario_id, *other, c, s)
        if e.body.get("error") == "unknown-code":
            e.links = [(f"{name}: code={c}", link(c, t)) for c in e.body["valid"]]
        elif e.body.get("error") == "bad-schedule":
            prefix = e.body["valid_prefix"]
            e.links = [(f"side {name} cut to its longest valid prefix ({len(prefix)} steps)", link(code, prefix))]
        raise
    return view


def _side(scenario_id: str, name: str, code: str, t: str, view: dict[str, Any], other: tuple[str, str]) -> CompareSide:
    def url(s: str) -> str:
        return urls.compare(scenario_id, code, s, *other) if name == "A" else urls.compare(scenario_id, *other, code, s)
    info = next((c for c in modelapi.scenario(scenario_id)["code_info"] if c["id"] == code), None)  # type: ignore[index]
    return CompareSide(name, code, t, view, info["title"] if info else code, urls.scenario(scenario_id, code, t),
                       {c["id"]: url(t + str(c["id"])) if c["id"] in view["enabled"] else None for c in view["cpus"]},
                       url(t[:-1]) if t else None, kernel=bool(info and info["kernel"]))


@bounded_cache(pages.CACHE_SIZE, share(0.03))
def compare_html(scenario_id: str, code_a: str, t_a: str, code_b: str, t_b: str) -> str:
    scenario = modelapi.scenario(scenario_id)
    if scenario is None:
        raise errors.unknown_scenario(scenario_id)
    va = _replay(scenario_id, "A", code_a, t_a, (code_b, t_b))
    vb = _replay(scenario_id, "B", code_b, t_b, (code_a, t_a))
    a = _side(scenario_id, "A", code_a, t_a, va, (code_b, t_b))
    b = _side(scenario_id, "B", code_b, t_b, vb, (code_a, t_a))
    result = modelapi.compare(va, vb)
    together = []
    for cpu in va["cpus"]:
        both = cpu["id"] in va["enabled"] and cpu["id"] in vb["enabled"]
        together.append({"id": cpu["id"], "label": cpu["label"],
                         "url": urls.compare(scenario_id, code_a, t_a + str(cpu["id"]), code_b, t_b + str(cpu["id"]))
                         if both else None})
    back_both = urls.compare(scenario_id, code_a, t_a[:-1], code_b, t_b[:-1]) if t_a and t_b else None
    labels = {c["id"]: c["label"] for c in va["cpus"]}
    part = result["parting"]["index"] if result["parting"] else None
    rows = []
    for i in range(max(len(t_a), len(t_b))):
        ea = va["events"][i] if i < len(t_a) else None
        eb = vb["events"][i] if i < len(t_b) else None
        rows.append({"index": i, "a": ea, "b": eb, "parted": part is not None and i >= part, "first": i == part})
    at_parting = (urls.compare(scenario_id, code_a, t_a[: part + 1], code_b, t_b[: part + 1])
                  if part is not None else None)
    return render.render("compare.html", scenario=scenario, sides=[a, b], result=result, together=together,
                         back_both=back_both, rows=rows, labels=labels, at_parting=at_parting,
                         pane_titles=modelapi.COMPARE_PANE_TITLES,
                         swap_url=urls.compare(scenario_id, code_b, t_b, code_a, t_a))


@router.get("/compare/{scenario_id}", response_class=HTMLResponse,
            responses={**pages.ERROR_RESPONSES,
                       400: {"description": "A side that is not CODE:SCHEDULE (`bad-side`), or an unknown "
                                            "code (the message names the side)", **pages.HTML}},
            summary="Two runs side by side")
async def compare_page(request: Request, scenario_id: str, a: Side = None, b: Side = None) -> HTMLResponse:
    """Runs A and B of one scenario: where they part (the first step that differs), what differs
    between their states pane by pane, and controls to step both together or each alone."""
    if modelapi.scenario(scenario_id) is None:
        raise errors.unknown_scenario(scenario_id)
    code_a, t_a = parse_side("A", a, "old:")
    code_b, t_b = parse_side("B", b, "new:")
    html = await work.cached_or_run(compare_html, scenario_id, code_a, t_a, code_b, t_b)
    return HTMLResponse(html, headers={"Vary": render.VARY})
