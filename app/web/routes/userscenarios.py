"""Your own scenario, in a link: `/write` to write one (the TOML of scenarios/), its errors shown
next to their lines; a valid one opens in the visualizer with the scenario carried in the URL
(the scenario id "u~" + the compressed text, app.model.scenarios.userscenario): nothing is stored.
"""
from __future__ import annotations

import re
import tomllib
from typing import Annotated, Any

from fastapi import APIRouter, Query
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from app.model.scenarios.loader import SCENARIO_DIR
from app.web.page import errors, render
from app.web import modelapi, urls
from app.web.http import work

router = APIRouter()

# Where a new scenario starts: two CPUs of the seed's race and one tour (a sketch to edit).
STARTER = '''id = "my-scenario"
title = "My scenario: LRU writeback vs. swapoff"
summary = "CPU1 writes back the zswap entry of slot 3 while CPU2 turns swap off."

[[cpus]]
id = 1
actor = "writeback"

[[cpus]]
id = 2
actor = "swapoff"

[[cpus]]
id = 3
actor = "io"  # the write I/O completion: a scenario with a writeback CPU declares it last

[world]
slots = [{ offset = 3, owner = "A" }]
entries = [{ name = "E", slot = 3 }]
lru = ["E"]

# A tour walks a reader through one schedule on one code: each segment is a run of CPU digits
# (which CPU takes each step) and the sentence shown after it. This one is the old code's
# use-after-free; change it, add a `[[tours]]` for the new code, or delete it.
[[tours]]
name = "my-tour"
title = "Old code: swapoff frees the trees while CPU1 is preempted"
code = "old"

[[tours.segments]]
cpus = "11111111"
note = "The shrinker on CPU1 picks E, caches a pointer to the zswap tree of E, isolates E and drops the LRU lock."
[[tours.segments]]
cpus = "2222222222222222222222222222222222222222222222"
note = "CPU2 runs swapoff to its end: the page comes back in, E is freed, and so is the trees array."
[[tours.segments]]
cpus = "1"
note = "CPU1 takes the tree lock through its stale pointer: a use-after-free."
'''
MAX_FORM = 64 * 1024  # the form's body: the text (at most 16 KiB) and its urlencoding


def _start_text(start: str | None) -> str:
    if not start:
        return STARTER
    if modelapi.is_user(start):
        modelapi.scenario(start)  # a bad link raises its named 4xx
        from app.model.scenarios.userscenario import decode

        return decode(start.removeprefix("u~"))
    if start in modelapi.scenario_ids():
        return (SCENARIO_DIR / f"{start}.toml").read_text()
    raise errors.unknown_scenario(start)


CPU_PATH = re.compile(r"^cpus\.(\d+)(?:\.(\S+?))?:")


def cpu_names(text: str, message: str) -> str:
    """A message about "cpus.1.actor" names the CPU as the page does: "CPU2 actor" when the second
    [[cpus]] has id = 2 (a path counts from 0, a reader counts CPUs by their id)."""
    m = CPU_PATH.match(message)
    if m is None:
        return message
    try:
        cpus = tomllib.loads(text).get("cpus")
        cpu_id = cpus[int(m[1])]["id"]
    except (tomllib.TOMLDecodeError, LookupError, TypeError, ValueError, AttributeError):
        cpu_id = None
    name = f"CPU{cpu_id}" if isinstance(cpu_id, int) and not isinstance(cpu_id, bool) else f"[[cpus]] number {int(m[1]) + 1}"
    return f"{name}{' ' + m[2] if m[2] else ''}:" + message[m.end():]


def write_page(request: Request, text: str, problems: list[dict[str, Any]], status: int = 200,
               message: str | None = None) -> HTMLResponse:
    lines = text.splitlines() or [""]
    by_line: dict[int, list[str]] = {}
    problems = [dict(p, message=cpu_names(text, p["message"])) for p in problems]
    for p in problems:
        if p["line"] is not None and 1 <= p["line"] <= len(lines):
            by_line.setdefault(p["line"], []).append(p["message"])
    loose = [p["message"] for p in problems if p["line"] is None or not 1 <= p["line"] <= len(lines)]
    return render.page(request, "write.html", "write.html", status_code=status, text=text, lines=lines,
                       by_line=by_line, loose=loose, message=message, limits=modelapi.USER_LIMITS,
                       max_states=modelapi.USER_MAX_STATES)


@router.get("/write", response_class=HTMLResponse, include_in_schema=False)
async def write(request: Request, start: Annotated[str | None, Query(max_length=9000)] = None) -> HTMLResponse:
    """The editor, holding the starter scenario, a shipped one's text (`start=ID`) or a link's."""
    return write_page(request, _start_text(start), [])


@router.post("/write", include_in_schema=False)
async def write_post(request: Request) -> Response:
    """A valid scenario redirects to its first state; an invalid one comes back with its errors."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FORM:
        raise errors.WebError(413, {"error": "scenario-too-large", "message": "The form is larger than a "
                                    "scenario in a link can be (16 KiB of TOML)."}, [("write a scenario", urls.write())])
    try:
        form = await request.form(max_files=0, max_fields=2, max_part_size=MAX_FORM)
    except Exception:  # starlette's MultiPartException, or a body that is no form
        raise errors.WebError(400, {"error": "bad-request", "message": "The form could not be read."}) from None
    text = form.get("text")
    if not isinstance(text, str):
        raise errors.WebError(400, {"error": "bad-request", "message": "The form has no scenario text."},
                              [("write a scenario", urls.write())])
    text = text.replace("\r\n", "\n")
    try:
        await work.run(modelapi.check_user_scenario, text)
    except modelapi.UserScenarioError as e:
        err = errors.user_scenario(e)
        if err.status == 422:
            return write_page(request, text, err.body["problems"], 422, e.message)
        raise err from None
    return RedirectResponse(urls.scenario(modelapi.user_scenario_id(text), "old"), status_code=303)
