"""Jinja2 rendering: one environment, full pages or htmx fragments from the same partials."""
from __future__ import annotations

import os
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from app import paths
from app.web.page import glossary, regions, wbr
from app.web import urls
from app.model.views.story import ROLE_WORDS

TEMPLATES = paths.TEMPLATES
STATIC = paths.STATIC

# Headers we branch on when choosing a fragment or a full page (stack-notes: htmx 4 history), and
# whether the CPUs' listings come whole (static/app.js sends HX-Listing while they are expanded),
# and which state the page shows (HX-Have: only the regions that differ come, app/web/page/regions.py).
VARY = "HX-Request, HX-Request-Type, HX-History-Restore-Request, HX-Listing, HX-Have"

env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"], default_for_string=True, default=True),
    undefined=StrictUndefined,
    # Templates do not change while serving: no stat() of every included file on every render
    # (ZSWAP_DEV=1 turns reloading back on while editing them).
    auto_reload=os.environ.get("ZSWAP_DEV") == "1",
    trim_blocks=True,
    lstrip_blocks=True,
)
env.globals["urls"] = urls
env.globals["STORY_WORDS"] = ROLE_WORDS  # a lane row's part in a violation's story (templates/_lane_row.html)
env.filters["code"] = wbr.breakable  # kernel text that breaks at spaces and punctuation only
env.filters["terms"] = glossary.mark  # a sentence with its glossary terms marked
env.globals["term"] = glossary.link  # term(id, shown): one word marked as a glossary term
env.globals["help"] = glossary.load  # the keys and the glossary (templates/_help.html)
env.globals["embed"] = False  # True when rendering the read-only embed (app.web.routes.embeds)
env.globals["challenge"] = None  # the challenge's state on a challenge page (app.web.routes.challenges)
# Region markers (app/web/page/regions.py): only the scenario page's state asks for them.
env.globals.update(regions.NO_MARKERS)
env.globals["state_key"] = None  # the state's name for the next step's answer (regions.state_key)
# The shared macros (go, swap, obj, ...) are globals, not `{% from "_macros.html" import %}` in
# each partial: Jinja redoes such an import on every include (a set difference of every global's
# name), and a state's partials are included about fifteen times per step.
env.globals.update({name: macro for name, macro in env.get_template("_macros.html").module.__dict__.items()
                    if not name.startswith("_")})


def wants_fragment(request: Request) -> bool:
    """A fragment only for an htmx partial swap; a history restore or a full request gets a page."""
    h = request.headers
    return (h.get("hx-request") == "true"
            and h.get("hx-history-restore-request") != "true"
            and h.get("hx-request-type") != "full")


def wants_whole_listing(request: Request) -> bool:
    """Every line of each CPU's listing, not only the window around its next line: the browser
    shows them (the `l` key); a page without JavaScript cannot expand them, so never needs them."""
    return request.headers.get("hx-listing") == "whole"


def render(name: str, **context: Any) -> str:
    return env.get_template(name).render(**context)


def page(request: Request, full: str, fragment: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """`fragment` (just <main id="state">) for htmx swaps, else `full`; always with Vary."""
    is_fragment = wants_fragment(request) and fragment != full
    html = render(fragment if is_fragment else full, is_fragment=is_fragment, **context)
    return HTMLResponse(html, status_code=status_code, headers={"Vary": VARY})
