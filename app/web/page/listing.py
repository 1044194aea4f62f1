"""A CPU's program listing on the stage: rows with the window around its next line, and their
HTML, memoised.

A page carries only the window unless the browser asks for whole listings (the `l` key or the ⤢
button sets the HX-Listing header, static/app.js): the rest of the lines were 40 % of a step's
HTML, and the browser parsed and morphed them at every step only to keep them hidden.

The listing is most of a step's HTML, and most steps leave most listings as they were: the CPU
that did not move has the same next line, the same executed lines and the same status, so the
same markup. Rendering it once per distinct listing state, not once per page, is about a fifth of
a never-seen step's server time (bench/bench_stage.py, bench/bench_web.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from app.model.cache import BoundedCache, share, text_size
from app.web.page import render

# Lines of a CPU's listing shown around its next line on the stage (before, after).
WINDOW = (2, 3)
WINDOW_3CPU = (1, 1)  # three CPU columns share the width: fewer, wrapped lines

# A listing is 4-9 kB of HTML; 2 % of the cache budget holds a few hundred of them.
_html = BoundedCache(1024, share(0.02), text_size)


@dataclass
class ListingRow:
    """One row of a CPU's program listing: a function heading or a source line. `near` rows
    form the window of a few lines around the CPU's next (or crashing) line shown on the stage;
    the rest appear when the listing is expanded."""

    line: dict[str, Any] | None  # a ProgramLine, or None for a function heading
    function: str
    file: str
    near: bool


def rows(cpu: dict[str, Any], window: tuple[int, int]) -> list[ListingRow]:
    """The CPU's program as rows, with the window around its next (or crash, or last executed)
    line marked `near`; a function heading is near when one of its lines is."""
    program = cpu["program"]
    here = next((i for i, l in enumerate(program) if l["is_crash"]), None)
    if here is None:
        here = next((i for i, l in enumerate(program) if l["is_next"]), None)
    if here is None:
        executed = [i for i, l in enumerate(program) if l["executed"]]
        here = executed[-1] if executed else 0
    lo, hi = here - window[0], here + window[1]
    out: list[ListingRow] = []
    heading: ListingRow | None = None
    for i, line in enumerate(program):
        near = lo <= i <= hi
        if heading is None or line["function"] != heading.function:
            heading = ListingRow(None, line["function"], line["file"], near)
            out.append(heading)
        elif near:
            heading.near = True
        out.append(ListingRow(line, line["function"], line["file"], near))
    return out


def html(code: str, cpu: dict[str, Any], window: tuple[int, int], whole: bool) -> Markup:
    """The rendered <ol> of the CPU's listing (templates/_listing.html): every line when `whole`,
    else only the window's. From the cache when a listing in the same state was rendered before:
    the key holds everything the markup shows apart from the program's lines themselves, which
    the code and the actor determine."""
    program = cpu["program"]
    marks = tuple((i, l["is_next"], l["is_crash"], l["executed"]) for i, l in enumerate(program)
                  if l["is_next"] or l["is_crash"] or l["executed"])
    key = (code, cpu["id"], cpu["actor"], cpu["label"], cpu["status"], window, whole, marks)
    hit, text = _html.get(key)
    if not hit:
        shown = [r for r in rows(cpu, window) if whole or r.near]
        text = render.render("_listing.html", cpu=cpu, rows=shown)
        _html.put(key, text)
    return Markup(text)


def clear() -> None:
    _html.clear()
