"""Every URL the site links to is built here, so templates and routes cannot drift apart."""
from __future__ import annotations

import string
from urllib.parse import quote, quote_plus

from app.web.http import assets

STATIC_PREFIX = "/static"
# Characters quote_plus leaves alone: a value made of them only (a schedule, a code, a tour
# name) goes into the URL as it is, without urlencode's per-character work (a page has 30 links).
_UNQUOTED = frozenset(string.ascii_letters + string.digits + "_.-~")


def _value(v: str) -> str:
    return v if _UNQUOTED.issuperset(v) else quote_plus(v, safe="")


def _q(**params: str | None) -> str:
    """The query string of the non-empty params, in order, as urlencode would write it."""
    kept = [f"{k}={_value(v)}" for k, v in params.items() if v not in (None, "")]
    return ("?" + "&".join(kept)) if kept else ""


def _run(scenario_id: str, tail: str, code: str, t: str, api: bool = False) -> str:
    """A URL about one run (a scenario, a code, a schedule): /s/ID{tail}?code=..&t=.., under /api
    for the JSON API."""
    return ("/api" if api else "") + f"/s/{quote(scenario_id, safe='')}{tail}" + _q(code=code, t=t)


def index() -> str:
    return "/"


def scenario(scenario_id: str, code: str = "old", t: str = "", tour: str | None = None,
             pick: int | None = None) -> str:
    """The page of one state: the schedule `t` replayed on `code` (the URL is the whole state);
    `pick`: the choice made at the tour's "predict" stop there."""
    return f"/s/{quote(scenario_id, safe='')}" + _q(code=code, t=t, tour=tour,
                                                    pick=None if pick is None else str(pick))


def api_scenarios() -> str:
    return "/api/scenarios"


def api_scenario(scenario_id: str, code: str = "old", t: str = "") -> str:
    return _run(scenario_id, "", code, t, api=True)


def api_check(scenario_id: str, code: str = "old", t: str = "") -> str:
    return _run(scenario_id, "/check", code, t, api=True)


def api_check_progress(scenario_id: str, code: str = "old", t: str = "") -> str:
    return _run(scenario_id, "/check/progress", code, t, api=True)


def api_check_cancel(scenario_id: str, code: str = "old", t: str = "") -> str:
    return _run(scenario_id, "/check/cancel", code, t, api=True)


def lanes_svg(scenario_id: str, code: str = "old", t: str = "") -> str:
    """The lane diagram of the state after schedule `t`, a standalone SVG (for slides)."""
    return _run(scenario_id, "/lanes.svg", code, t)


def diagram_txt(scenario_id: str, code: str = "old", t: str = "") -> str:
    """The same run as a plain-text race diagram in the style of kernel commit messages."""
    return _run(scenario_id, "/diagram.txt", code, t)


def trace_json(scenario_id: str, code: str = "old", t: str = "") -> str:
    """The run as a trace file (JSON, a download); the index opens it again (open_trace)."""
    return _run(scenario_id, "/trace.json", code, t)


def kasan_txt(scenario_id: str, code: str = "old", t: str = "") -> str:
    """The run's KASAN report as plain text, as the kernel prints it."""
    return _run(scenario_id, "/kasan.txt", code, t)


def open_trace() -> str:
    """The index's form that opens a trace file (upload or paste)."""
    return "/#open-trace"


def open_trace_post() -> str:
    return "/trace"


def api_open_trace() -> str:
    return "/api/trace"


def embed(scenario_id: str, code: str = "old", t: str = "", start: int = 0, at: int | None = None,
          layout: str | None = None) -> str:
    """The read-only stage of the state after `at` steps of `t` (default: all of them), for an
    <iframe>; its ← and → stay between step `start` and the end of `t`. `layout="compact"`: the
    CPUs, the lanes and the crash only, for a frame of about 800x500."""
    shown = None if at is None or at == len(t) else str(at)
    return f"/embed/{quote(scenario_id, safe='')}" + _q(code=code, t=t, **{"from": str(start) if start else None},
                                                        at=shown, layout=layout)


def compare(scenario_id: str, code_a: str = "old", t_a: str = "", code_b: str = "new", t_b: str = "") -> str:
    """Two runs side by side: each side is CODE:SCHEDULE (the URL is the whole state)."""
    def side(code: str, t: str) -> str:
        return quote(code, safe="") + ":" + quote(t, safe="")
    return f"/compare/{quote(scenario_id, safe='')}?a={side(code_a, t_a)}&b={side(code_b, t_b)}"


def challenge(scenario_id: str, name: str, t: str = "", answer: bool = False) -> str:
    """A challenge: its scenario and code stepped by schedule `t`; `answer` shows the explorer's
    answer ("Give up")."""
    return (f"/challenge/{quote(scenario_id, safe='')}/{quote(name, safe='')}"
            + _q(t=t, answer="1" if answer else None))


def write(scenario_id: str | None = None) -> str:
    """The page to write a scenario (TOML); `scenario_id`: start from that one's text."""
    return "/write" + _q(start=scenario_id)


def write_post() -> str:
    return "/write"


def help_page(term: str | None = None) -> str:
    """The keys and the glossary (the stage opens it over itself with ?); `term`: that entry."""
    return "/help" + (f"#g-{quote(term, safe='')}" if term else "")


def static(path: str) -> str:
    """A static file with `?v=` its content hash, so browsers may cache it for good (assets.py);
    a file that does not exist gets no `v` (and the page's test of its links fails)."""
    v = assets.version(path)
    return f"{STATIC_PREFIX}/{path}" + (f"?v={v}" if v else "")


def favicon() -> str:
    return "/favicon.ico"


def heap_anchor(addr: str) -> str:
    """The id of a heap object's row in the heap pane (locals link to '#' + this)."""
    return "heap-" + addr


def verdict(scenario_id: str, code: str = "old", t: str = "") -> str:
    """The explorer's verdict for one code as HTML (a page, or a fragment for htmx); with `t`,
    only the continuations of the state after schedule `t` ("from here")."""
    return _run(scenario_id, "/verdict", code, t)


def verdict_running(scenario_id: str, code: str = "old", t: str = "") -> str:
    """The verdict block while its search runs (htmx): it asks for the verdict and polls the progress."""
    return _run(scenario_id, "/verdict/running", code, t)


def verdict_progress(scenario_id: str, code: str = "old", t: str = "") -> str:
    """A running search's progress, as the HTML fragment the running block polls."""
    return _run(scenario_id, "/verdict/progress", code, t)


def verdict_cancel(scenario_id: str, code: str = "old", t: str = "") -> str:
    """POST: cancel a running search (it answers with what it covered)."""
    return _run(scenario_id, "/verdict/cancel", code, t)


def events(scenario_id: str, code: str = "old", t: str = "") -> str:
    """The event log of one state, as the HTML fragment the page's drawer loads."""
    return _run(scenario_id, "/events", code, t)


# ---- live rooms (app/web/routes/live.py) ----

def rooms_new() -> str:
    """The Present button's form target: opens a room on the posted state."""
    return "/rooms"


def control(token: str, at: str | None = None) -> str:
    """The presenter's control link: whoever has it publishes to the room and ends it. `at`: the
    state to show (and publish) instead of the room's current one, when a presenter's tab
    reloads or goes back to a page of its own."""
    return f"/p/{quote(token, safe='')}" + _q(at=at)


def control_stream(token: str) -> str:
    """The room's events for the presenter's page (its polls' tallies), not counted as a follower."""
    return f"/p/{quote(token, safe='')}/stream"


def join(code: str) -> str:
    """The audience's join link."""
    return f"/j/{quote(code, safe='')}"


def room_stream(code: str) -> str:
    """The room's server-sent events (state changes, the end)."""
    return f"/j/{quote(code, safe='')}/stream"


def api_rooms() -> str:
    return "/api/rooms"


def api_room(code: str) -> str:
    return f"/api/rooms/{quote(code, safe='')}"


def api_room_state(code: str) -> str:
    return f"/api/rooms/{quote(code, safe='')}/state"


def api_room_poll(code: str) -> str:
    """The poll at the room's current state: GET its tally."""
    return f"/api/rooms/{quote(code, safe='')}/poll"


def api_room_vote(code: str) -> str:
    """An attendee's vote on the room's current poll (POST)."""
    return f"/api/rooms/{quote(code, safe='')}/vote"


def api_room_reveal(code: str) -> str:
    """The presenter reveals the answer of the room's current poll (POST, the control token)."""
    return f"/api/rooms/{quote(code, safe='')}/reveal"


def api_room_ask(code: str) -> str:
    """The presenter asks the room an ad-hoc question at its current state (POST, the control token)."""
    return f"/api/rooms/{quote(code, safe='')}/ask"
