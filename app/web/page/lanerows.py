"""The lane diagram's rows as HTML, memoised row by row.

A row shows one step (or a folded stretch of one CPU's steps) and links to the state after it,
so what it shows is fixed by the schedule up to its last step, where it starts, and whether it is
the current row. A step's page shares all its rows but the last one or two with the page of the
step before: rendering each row once, not once per page, took most of the lane pane's share of a
never-seen step's server time.
"""
from __future__ import annotations

from typing import Any, Protocol

from markupsafe import Markup

from app.model.cache import BoundedCache, share, text_size
from app.web.page import render


class RowContext(Protocol):
    """What a row reads of the page it is on (app/web/page/context.py's PageContext)."""

    view: dict[str, Any]
    code: str
    t: str

    def url(self, t: str | None = None, code: str | None = None) -> str: ...

# A row is 0.4-1 kB of HTML: 2 % of the cache budget holds a couple of thousand.
_html = BoundedCache(4096, share(0.02), text_size)


def html(ctx: RowContext, lanes: dict[str, Any], row: dict[str, Any]) -> Markup:
    """One <li> of the lane diagram (templates/_lane_row.html)."""
    current = "current" in row["marks"]
    # The row's link, as this page makes it: a scenario page, an embed and a challenge link the
    # same step to different places.
    url = ctx.url(ctx.t[: row["last"] + 1])
    # A row's part in a violation's story depends on steps after it (the crash that makes it the
    # cached pointer's row): part of the key, or the crash page would reuse the row of a page before.
    key = (ctx.view["scenario"], ctx.code, ctx.t[: row["last"] + 1], row["first"], current, row["story"],
           tuple(lanes["cpus"]), tuple(lanes["labels"]), url)
    hit, text = _html.get(key)
    if not hit:
        text = render.render("_lane_row.html", lanes=lanes, r=row, current=current, url=url)
        _html.put(key, text)
    return Markup(text)


def clear() -> None:
    _html.clear()
