"""Exports of one state for slides and commit messages: the lane diagram as a standalone SVG and
the race as a plain-text two-column diagram.

Both replay through pages.run_page_view, so bad input gets the same 404/400/422 answers (with the
position and the reason) as the scenario page, never a 500.
"""
from __future__ import annotations

import re
from typing import Any, Literal

from fastapi import APIRouter
from starlette.responses import PlainTextResponse, Response

from app.model.views.diagram import commit_diagram, full_diagram
from app.model.cache import bounded_cache, share
from app.web import modelapi, urls
from app.web.routes import pages
from app.web.page import render
from app.web.http import work
from app.web.routes.params import Code, Schedule

router = APIRouter()


# SVG geometry, in px: a step-number column, then one lane per CPU.
NUM_W, LANE_W, HEAD_H, ROW_H, PAD, FOOT_H = 64, 560, 64, 48, 8, 40
CHAR_W = 8.4  # advance of one 14 px monospace character (DejaVu Sans Mono: 0.6 em)
CPU_COLOURS = ("#0b5cad", "#b35900", "#6a3dad", "#00756f", "#a3195b")  # --cpu1..--cpu5 of static/app.css
CPU_TINTS = ("#e7eff8", "#f8eee5", "#f0ebf6", "#e5f1f0", "#f6e8ef")  # the same, mixed with 90 % white


class SvgResponse(Response):
    media_type = "image/svg+xml"


class TextResponse(PlainTextResponse):
    media_type = "text/plain"


def _responses(media_type: str, description: str) -> dict[int | str, dict[str, Any]]:
    # A JSON download is an object (a trace file), anything else a text.
    kind = "object" if media_type == "application/json" else "string"
    return {200: {"description": description, "content": {media_type: {"schema": {"type": kind}}}},
            **pages.ERROR_RESPONSES}


def _fit(text: str, width_px: float) -> str:
    """``text`` cut to what fits ``width_px`` of monospace (SVG text does not wrap)."""
    room = max(int(width_px / CHAR_W), 4)
    return text if len(text) <= room else text[: room - 1] + "…"


def _steps(row: dict[str, Any]) -> str:
    return str(row["first"] + 1) if row["count"] == 1 else f"{row['first'] + 1}–{row['last'] + 1}"


def svg_layout(view: dict[str, Any], code: str, t: str) -> dict[str, Any]:
    """Everything templates/lanes.svg draws, with its coordinates: one lane per CPU, one row per
    LaneView row, each row linked to the page of the schedule prefix that ends with it."""
    lanes = view["lanes"]
    index = {cpu: i for i, cpu in enumerate(lanes["cpus"])}
    cpus = [{"id": c["id"], "label": c["label"], "title": c["actor_title"], "x": NUM_W + index[c["id"]] * LANE_W,
             "colour": CPU_COLOURS[(c["id"] - 1) % len(CPU_COLOURS)], "tint": CPU_TINTS[(c["id"] - 1) % len(CPU_TINTS)]}
            for c in view["cpus"]]
    rows = []
    for i, row in enumerate(lanes["rows"]):
        x = NUM_W + index[row["cpu"]] * LANE_W + PAD
        w = LANE_W - 2 * PAD
        label = " ".join(p for p in (row["function"], row["line_label"]) if p)
        if row["fold"]:  # a stretch folded around the story (lanes.py): one row across every lane
            x, w = NUM_W + PAD, len(lanes["cpus"]) * LANE_W - 2 * PAD
            label = f"steps {_steps(row)}, folded: {row['count']} steps"
        rows.append({**row, "who": view["cpus"][index[row["cpu"]]]["label"], "x": x, "y": HEAD_H + i * ROW_H, "w": w, "h": ROW_H - 6,
                     "steps": _steps(row), "label": _fit(label, w / 2),
                     "line": _fit(row["text"], w - 16),
                     "href": urls.scenario(view["scenario"], code, t[: row["last"] + 1]),
                     "colour": CPU_COLOURS[(row["cpu"] - 1) % len(CPU_COLOURS)], "tint": CPU_TINTS[(row["cpu"] - 1) % len(CPU_TINTS)]})
    body_h = max(len(rows), 1) * ROW_H
    return {"view": view, "code": code, "cpus": cpus, "rows": rows,
            "width": NUM_W + len(cpus) * LANE_W, "height": HEAD_H + body_h + FOOT_H,
            "body_top": HEAD_H, "body_bottom": HEAD_H + body_h, "num_w": NUM_W, "lane_w": LANE_W,
            "row_h": ROW_H}


@bounded_cache(pages.CACHE_SIZE, share(0.04))
def lanes_svg_text(scenario_id: str, code: str, t: str) -> str:
    """The SVG of one state (memoised: the URL is the state; bad input raises WebError)."""
    _, view = pages.run_page_view(scenario_id, code, t, None, api=False)
    return render.render("lanes.svg", **svg_layout(view, code, t))


@bounded_cache(pages.CACHE_SIZE, share(0.02))
def diagram_text(scenario_id: str, code: str, t: str, full: bool = False) -> str:
    _, view = pages.run_page_view(scenario_id, code, t, None, api=False)
    return full_diagram(view) if full else commit_diagram(view)


def _filename(*parts: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", "-".join(parts))


@router.get("/s/{scenario_id}/lanes.svg", response_class=SvgResponse,
            responses=_responses("image/svg+xml", "The lane diagram of the state, a standalone SVG"),
            summary="The lane diagram of a schedule, as SVG")
async def lanes_svg(scenario_id: str, code: Code = "old", t: Schedule = "") -> Response:
    """One lane per CPU, one row per step (long stretches of one function folded into one row),
    lock, free and crash marks; every row links to the page of the schedule up to it."""
    t = t[: modelapi.MAX_STEPS + 1]
    body = await work.cached_or_run(lanes_svg_text, scenario_id, code, t)
    name = _filename("lanes", scenario_id, code, f"{len(t)}steps") + ".svg"
    return SvgResponse(body, headers={"Content-Disposition": f'inline; filename="{name}"'})


@router.get("/s/{scenario_id}/diagram.txt", response_class=TextResponse,
            responses=_responses("text/plain", "The race as a commit message draws it: CPU columns, "
                                               "at most 72 columns wide"),
            summary="The race diagram of a schedule, as plain text")
async def diagram_txt(scenario_id: str, code: Code = "old", t: Schedule = "",
                      detail: Literal["story", "full"] = "story") -> Response:
    """The schedule in the two-column style of kernel commit messages, ready to paste: with a
    violation, its story (the few steps it depends on, as the fix's commit message tells the
    race); `detail=full`, every step that takes a lock or touches zswap state."""
    t = t[: modelapi.MAX_STEPS + 1]
    return TextResponse(await work.cached_or_run(diagram_text, scenario_id, code, t, detail == "full"))
