"""Live rooms on the web: "Present" opens a room, the audience joins it by code and follows.

- ``POST /rooms`` (the bar's Present button, a plain form) opens a room on the current state and
  sends the presenter to the control page ``/p/{token}``; ``POST /api/rooms`` does the same in JSON.
- ``/p/{token}`` is the presenter's scenario page with the room strip (join link, code, QR,
  followers); every state the presenter reaches, live.js publishes with
  ``POST /api/rooms/{code}/state`` and the token as ``Authorization: Bearer``.
- ``/j/{code}`` is the audience's page of the presenter's current state; live.js follows
  ``/j/{code}/stream`` (server-sent events: ``state`` with the URL to fetch, ``end``).

The published state is a scenario URL and nothing else: it is parsed and replayed like the
scenario route's parameters, refused with a named 4xx otherwise, and stored in its canonical
form (app.web.urls), so the audience only ever fetches a URL this server built.
"""
from __future__ import annotations

import json
import logging
import os
import re
from functools import lru_cache
from typing import Annotated, Any, AsyncIterator
from urllib.parse import parse_qs, unquote, urlsplit

import anyio
import segno
from fastapi import APIRouter, Path, Query
from fastapi.sse import EventSourceResponse
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from app.web.page import context, errors, render
from app.web import modelapi, rooms, urls
from app.web.routes import pages, questions, schema
from app.web.http import head, limits, work
from app.web.rooms import END, Room, RoomError, RoomStore

router = APIRouter()

# Where the live strip goes in a scenario page (templates/scenario.html).
MARKER = "<!--live-strip-->"
STATE_PATH = re.compile(r"/s/([^/]+)")
STATE_HEAD = re.compile(r"/s/([^/?#]+)")
STATE_PARAMS = {"code", "t", "tour"}
RETRY_FULL = 10

ERR = {"model": schema.ErrorBody}
JSON_OK = {"content": {"application/json": {}}}
HTML = {"content": {"text/html": {}}}


def _err(status: int, kind: str, message: str, headers: dict[str, str] | None = None) -> errors.WebError:
    return errors.WebError(status, {"error": kind, "message": message}, [("all scenarios", urls.index())],
                           headers=headers)


def store(request: Request) -> RoomStore:
    return request.app.state.rooms


class HideControlTokens(logging.Filter):
    """uvicorn's access log shows paths: a control link's token must not land in a log file."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(CONTROL_PATH.sub("/p/[token]", a) if isinstance(a, str) else a for a in record.args)
        return True


CONTROL_PATH = re.compile(r"/p/[^/?\s]+")
HIDE_TOKENS = HideControlTokens()


# ---- the published state ------------------------------------------------------------------

def parse_state_url(url: str, limits: rooms.Limits, api: bool) -> tuple[str, str, str, str | None]:
    """(scenario, code, t, tour) of a scenario URL, or the WebError naming what is wrong with it."""
    if len(url.encode("utf-8", "replace")) > limits.max_url_bytes:
        raise _err(400, "state-too-large", f"The state URL is over {limits.max_url_bytes} bytes.")
    named = STATE_HEAD.match(url)
    if named and modelapi.scenario(unquote(named[1])) is None:  # no such scenario, whatever follows
        raise errors.unknown_scenario(unquote(named[1]))
    parts = urlsplit(url)
    m = STATE_PATH.fullmatch(parts.path)
    if parts.scheme or parts.netloc or parts.fragment or not m:
        raise _err(400, "bad-state-url", "A room's state is a scenario page's path and query "
                                         "(/s/SCENARIO?code=...&t=...), nothing else.")
    try:
        query = parse_qs(parts.query, keep_blank_values=True, max_num_fields=len(STATE_PARAMS) + 1)
    except ValueError:
        query = {"": [""]}
    if modelapi.scenario(unquote(m[1])) is None:
        raise errors.unknown_scenario(unquote(m[1]))
    if set(query) - STATE_PARAMS or any(len(v) != 1 for v in query.values()):
        raise _err(400, "bad-state-url", "A state URL's query takes code, t and tour, each at most once.")
    one = {k: v[0] for k, v in query.items()}
    return unquote(m[1]), one.get("code", "old"), one.get("t", ""), one.get("tour") or None


async def canonical_state(url: str, limits: rooms.Limits, api: bool) -> str:
    """The URL as app.web.urls builds it, after replaying it as the scenario route would."""
    scenario_id, code, t, tour = parse_state_url(url, limits, api)
    if len(t) > modelapi.MAX_STEPS:
        t = t[: modelapi.MAX_STEPS + 1]  # the replay names the step past the limit
    await work.run(pages.run_page_view, scenario_id, code, t, tour, api)
    return urls.scenario(scenario_id, code, t, tour)


async def read_body(request: Request, limit: int) -> bytes:
    """At most `limit` bytes of the body (413 past that): a client cannot make us hold more."""
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise _err(413, "body-too-large", f"The request body is over {limit} bytes.")
    return body


def _body_limit(request: Request) -> int:
    # Generous beside the URL's own limit (a 400 "state-too-large" names that one); past it the
    # body is not even read to the end.
    return max(65536, store(request).limits.max_url_bytes * 3 + 256)


async def json_body(request: Request) -> Any:
    """The body as JSON (bounded), or None when it is not JSON."""
    try:
        return json.loads(await read_body(request, _body_limit(request)) or b"null")
    except (ValueError, UnicodeDecodeError):
        return None


async def url_from_json(request: Request) -> str:
    data = await json_body(request)
    if not isinstance(data, dict) or not isinstance(data.get("url"), str):
        raise _err(400, "bad-request", 'The body must be JSON {"url": "/s/SCENARIO?code=...&t=..."}.')
    return data["url"]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def refusal(e: RoomError) -> errors.WebError:
    if e.kind in ("room-full", "rooms-full", "poll-full"):
        return _err(503, e.kind, e.message, {"Retry-After": str(RETRY_FULL)})
    if e.kind == "store-unavailable":
        return _err(503, e.kind, e.message, {"Retry-After": "5"})
    return _err(429, e.kind, e.message)


async def open_room(request: Request, url: str, api: bool) -> rooms.Created:
    s = store(request)
    state = await canonical_state(url, s.limits, api)
    try:
        return await s.create(state, client_address(request))
    except RoomError as e:
        raise refusal(e) from None


# ---- links the presenter shows ------------------------------------------------------------

def public_origin(request: Request) -> str:
    """Where the audience reaches this server: ZSWAP_PUBLIC_URL, else the scheme and the Host the
    presenter used (app.web.http.limits.AllowedHosts has already checked that Host)."""
    configured = os.environ.get("ZSWAP_PUBLIC_URL", "").strip().rstrip("/")
    if configured:
        return configured
    host = request.headers.get("host") or request.url.netloc
    return f"{request.url.scheme}://{host}"


@lru_cache(maxsize=64)
def qr_svg(link: str) -> str:
    """The join link as a QR code, an inline SVG (segno; black on white, so phones read it in
    either colour scheme; no style attribute, for the CSP)."""
    return segno.make(link, error="m").svg_inline(scale=1, border=2, omitsize=True, dark="#000",
                                                  light="#fff", svgclass="qr", title="QR code of the join link")


def created_body(request: Request, c: rooms.Created) -> dict[str, Any]:
    origin = public_origin(request)
    return {"code": c.code, "token": c.token, "url": c.url,
            "join_url": origin + urls.join(c.code), "control_url": origin + urls.control(c.token),
            "stream_url": urls.room_stream(c.code)}


# ---- pages ----------------------------------------------------------------------------------

async def live_page(url: str, strip: str) -> HTMLResponse:
    """The scenario page of state `url` (a canonical URL this server built) with a room's strip."""
    scenario_id, code, t, tour = parse_state_url(url, rooms.Limits(max_url_bytes=1 << 20), api=False)
    html = await work.cached_or_run(pages.state_html, False, scenario_id, code, t, tour)
    return HTMLResponse(html.replace(MARKER, strip, 1),
                        headers={"Cache-Control": "no-store", "Vary": render.VARY})


def lookups(request: Request) -> limits.Allowance:
    """This process's allowance of room look-ups that miss, per client address (app.web.app makes it)."""
    return request.app.state.room_lookups


def room_code(request: Request, code: str) -> str:
    """The code in canonical form; 429 while this address has guessed too many codes that name no
    room (an audience joining a real room never spends its allowance); a named 404 for a code no
    room can have."""
    address = client_address(request)
    wait = lookups(request).retry_after(address)
    if wait:
        raise _err(429, "too-many-lookups", "Too many look-ups of codes that name no room from this address; "
                                            f"try again in {wait} s.", {"Retry-After": str(wait)})
    c = rooms.normal_code(code)
    if c is None:  # no room can have it: a 404, named
        missed(request)
        raise _err(404, "bad-room-code", f"There is no such room: a room code is {rooms.CODE_LENGTH} letters "
                                         f"and digits from {rooms.CODE_ALPHABET}.")
    return c


def missed(request: Request) -> None:
    lookups(request).spend(client_address(request))


def no_room(request: Request) -> errors.WebError:
    missed(request)
    return _err(404, "unknown-room", "There is no room with this code: it has ended, or never existed.")


async def room_or_404(request: Request, code: str) -> Room:
    room = await store(request).get(room_code(request, code))
    if room is None:
        raise no_room(request)
    return room


PAGE_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A Host outside the allow-list", **HTML},
    404: {"description": "No such room (ended, timed out, never existed, or a malformed code) or control link",
          **HTML},
    429: {"description": "This address looked up too many codes that name no room; Retry-After says when",
          **HTML},
    422: {"description": "The room's state no longer replays (a changed scenario file)", **HTML},
    503: {"description": "The server is busy; Retry-After says when to try again", **HTML},
}


@router.post("/rooms", include_in_schema=False)
async def present(request: Request) -> Response:
    """The Present button: open a room on the state in the form's `url` and go to its control page."""
    body = await read_body(request, _body_limit(request))
    try:
        fields = parse_qs(body.decode("utf-8"), max_num_fields=4)
    except (ValueError, UnicodeDecodeError):
        fields = {}
    url = fields.get("url", [""])[0]
    created = await open_room(request, url, api=False)
    return RedirectResponse(urls.control(created.token), status_code=303)


AT_DOC = ("the state to show instead of the room's current one (a scenario page's path and query): the "
          "presenter's tab reloaded, or went back to one of its own pages; live.js then publishes it")


@router.get("/p/{token}", response_class=HTMLResponse, responses=PAGE_ERRORS,
            summary="The presenter's page of a room (the control link)")
async def presenter_page(request: Request, token: Annotated[str, Path(max_length=64)],
                         at: Annotated[str | None, Query(max_length=8192, description=AT_DOC)] = None) -> HTMLResponse:
    """The scenario page of the room's current state (or of `at`) with the presenter's strip: join
    link, code, QR code, followers, End. Whoever has this link controls the room."""
    s = store(request)
    room = await s.by_token(token)
    if room is None:
        raise _err(404, "unknown-token", "This control link is unknown, or its room has ended.")
    shown = room.url
    if at:
        try:
            shown = await canonical_state(at, s.limits, api=False)
        except errors.WebError:
            pass  # only a hint: a state that does not replay shows the room's own
    join = public_origin(request) + urls.join(room.code)
    strip = render.render("_live.html", role="presenter", room=room, token=token, join=join,
                          join_shown=join.split("://", 1)[-1], qr=qr_svg(join),
                          loopback=_is_loopback(join), shown=shown)
    return await live_page(shown, strip)


def _is_loopback(link: str) -> bool:
    host = urlsplit(link).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


@router.get("/j/{code}", response_class=HTMLResponse, responses=PAGE_ERRORS,
            summary="The audience's page of a room: the presenter's current state, followed live")
async def audience_page(request: Request, code: CodePath) -> HTMLResponse:
    """A late joiner lands on the presenter's current state; live.js then follows the room."""
    room = await room_or_404(request, code)
    return await live_page(room.url, render.render("_live.html", role="audience", room=room))


@router.get("/j/{code}/stream", include_in_schema=False)
async def stream(request: Request, code: str) -> Response:
    """Server-sent events: `state` (data: the URL to fetch) at once and on every change, `end`
    when the room ends; a comment every heartbeat, when the room's existence is checked too."""
    s = store(request)
    c = room_code(request, code)
    if request.scope.get(head.HEAD_KEY):  # a HEAD asks whether the stream is there: no follower
        if await s.get(c) is None:
            raise no_room(request)
        return Response(media_type="text/event-stream", headers={"Cache-Control": "no-store"})
    return await follow(request, s, c, counted=True)


@router.get("/p/{token}/stream", include_in_schema=False)
async def presenter_stream(request: Request, token: Annotated[str, Path(max_length=64)]) -> Response:
    """The room's events for the presenter's own page (the tallies of its polls): the control
    link's, so it is not counted among the followers and needs no place in the room."""
    s = store(request)
    room = await s.by_token(token)
    if room is None:
        raise _err(404, "unknown-token", "This control link is unknown, or its room has ended.")
    return await follow(request, s, room.code, counted=False)


async def follow(request: Request, s: RoomStore, c: str, counted: bool) -> Response:
    """The event stream of room `c`: its state at once, then every change, tally and the end."""
    try:
        follower = await s.join(c, counted)  # before reading the state: no publish can fall in between
    except RoomError as e:
        raise refusal(e) from None
    try:
        room = await s.get(c)
    except BaseException:
        await _leave(s, c, follower)
        raise
    if room is None:
        await _leave(s, c, follower)
        raise no_room(request)

    async def events() -> AsyncIterator[str]:
        yield f"retry: 1000\nevent: state\ndata: {room.url}\n\n"
        while True:
            msg = await follower.next()
            if msg == rooms.PING:
                if await _gone(s, c):  # timed out while idle (or ended elsewhere, unheard)
                    yield "event: end\ndata: idle\n\n"
                    return
                yield ": ping\n\n"
            elif msg == END:
                yield "event: end\ndata: ended\n\n"
                return
            else:  # a state, or a poll's tally (JSON on one line)
                yield f"event: {msg[0]}\ndata: {msg[1]}\n\n"

    return FollowerStream(events(), s, c, follower)


class FollowerStream(EventSourceResponse):
    """The event stream that gives its follower's place back however it ends (the room ended,
    the client left, or left before the first byte, when the generator never even started)."""

    def __init__(self, events: AsyncIterator[str], s: RoomStore, code: str, follower: rooms.Follower) -> None:
        super().__init__(events, headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
        self.room = (s, code, follower)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await _leave(*self.room)


async def _gone(s: RoomStore, code: str) -> bool:
    try:
        return await s.get(code) is None
    except RoomError:  # the store does not answer now: keep the stream, ask at the next heartbeat
        return False


async def _leave(s: RoomStore, code: str, follower: rooms.Follower) -> None:
    # Shielded: a disconnect cancels the stream, and the count must still go down.
    with anyio.CancelScope(shield=True):
        await s.leave(code, follower)


# ---- the JSON API -----------------------------------------------------------------------------

API_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "A malformed body or state URL (error: bad-request, bad-state-url, unknown-code, "
                         "unknown-tour)", **ERR},
    404: {"description": "No such room (unknown-room, bad-room-code) or scenario (unknown-scenario)", **ERR},
    429: {"description": "This address looked up too many codes that name no room (too-many-lookups); "
                         "Retry-After says when to try again", **ERR},
    422: {"description": "The state's schedule cannot be replayed (bad-schedule)", **ERR},
    503: {"description": "The server is busy, or the rooms are full; Retry-After says when to try again", **ERR},
}
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "No control token (missing-token): send Authorization: Bearer TOKEN", **ERR},
    403: {"description": "The token does not control this room (bad-token)", **ERR},
}
URL_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["url"],
    "properties": {"url": {"type": "string", "pattern": r"^/s/[^/?#]+(\?[^#]*)?$", "maxLength": 2048,
                           "description": "a scenario page's path and query, "
                                          "e.g. /s/lru-writeback-vs-swapoff?code=old&t=11"}}}}}}}
# The pattern is documentation (a malformed code gets the named 404 "bad-room-code", not a
# validation error): fuzzers then try codes that could exist.
CODE_PATTERN = f"^[{rooms.CODE_ALPHABET}{rooms.CODE_ALPHABET.lower()}]{{{rooms.CODE_LENGTH}}}$"
CodePath = Annotated[str, Path(description="the room's join code (any case)", max_length=64,
                               json_schema_extra={"pattern": CODE_PATTERN})]


@router.post("/api/rooms", status_code=201, openapi_extra=URL_BODY, summary="Open a room",
             responses={201: {"description": "The room: code, control token, join and control links", **JSON_OK},
                        413: {"description": "The body is over 64 KiB (body-too-large)", **ERR},
                        429: {"description": "This address runs as many rooms as it may (too-many-rooms)", **ERR},
                        **API_ERRORS})
async def api_open(request: Request) -> JSONResponse:
    """Open a room on a state; the answer's `token` is the only way to publish to it or end it."""
    created = await open_room(request, await url_from_json(request), api=True)
    return JSONResponse(created_body(request, created), status_code=201, headers={"Cache-Control": "no-store"})


@router.get("/api/rooms/{code}", summary="A room's current state and followers",
            responses={200: {"description": "code, url (the presenter's state), followers", **JSON_OK}, **API_ERRORS})
async def api_room(request: Request, code: CodePath) -> JSONResponse:
    """Public: what the audience could see (never the token)."""
    room = await room_or_404(request, code)
    return JSONResponse({"code": room.code, "url": room.url, "followers": await store(request).followers(room.code),
                         "join_url": urls.join(room.code)}, headers={"Cache-Control": "no-store"})


def bearer(request: Request) -> str:
    kind, _, token = request.headers.get("authorization", "").partition(" ")
    if kind.lower() != "bearer" or not token.strip():
        raise _err(401, "missing-token", "Send the room's control token as Authorization: Bearer TOKEN.",
                   {"WWW-Authenticate": "Bearer"})
    return token.strip()


async def controlled_room(request: Request, code: str) -> Room:
    token = bearer(request)
    room = await room_or_404(request, code)
    if not rooms.owns(room, token):
        raise _err(403, "bad-token", "This token does not control this room.")
    return room


@router.post("/api/rooms/{code}/state", openapi_extra=URL_BODY, summary="Publish the presenter's state",
             responses={200: {"description": "The state as stored (canonical URL) and the followers", **JSON_OK},
                        413: {"description": "The body is over 64 KiB (body-too-large)", **ERR},
                        429: {"description": "More publishes this second than the room may make "
                                             "(publish-rate); Retry-After: 1", **ERR},
                        **AUTH_ERRORS, **API_ERRORS})
async def api_publish(request: Request, code: CodePath) -> JSONResponse:
    """Only the control token publishes; the state must be a scenario URL that replays."""
    room = await controlled_room(request, code)
    s = store(request)
    state = await canonical_state(await url_from_json(request), s.limits, api=True)
    if not await s.allow_publish(room.code):
        raise _err(429, "publish-rate", f"At most {s.limits.publishes_per_second} publishes a second.",
                   {"Retry-After": "1"})
    await s.publish(room.code, state)
    return JSONResponse({"code": room.code, "url": state, "followers": await s.followers(room.code)},
                        headers={"Cache-Control": "no-store"})


@router.delete("/api/rooms/{code}", summary="End a room",
               responses={200: {"description": "Ended: the audience is told and keeps its state", **JSON_OK},
                          **AUTH_ERRORS, **API_ERRORS})
async def api_end(request: Request, code: CodePath) -> JSONResponse:
    room = await controlled_room(request, code)
    await store(request).end(room.code)
    return JSONResponse({"code": room.code, "ended": True}, headers={"Cache-Control": "no-store"})


# ---- polls ----------------------------------------------------------------------------------------
# A poll is the question asked at the room's current state: a tour's "predict" stop there, or the
# presenter's ad-hoc question (app.web.routes.questions) asked there; attendees vote, the
# presenter reveals. A predict stop's key is the state's URL, so a room that comes back to a stop
# finds that stop's votes (and reveal) again; an ad-hoc question's is the URL and its kind
# (rooms.ask_key), and the room holds one: stepping on closes it as it closes a stop's.

VOTER = re.compile(r"[A-Za-z0-9_-]{8,64}")
POLL_ERRORS: dict[int | str, dict[str, Any]] = {
    409: {"description": "The room's state asks no question (no-poll), or no longer the one voted on "
                         "(poll-moved), or its answer is out (poll-revealed)", **ERR},
}
ASK_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["question"],
    "properties": {"question": {"type": "string", "enum": list(questions.QUESTIONS), "description":
                                "crash: which CPU crashes first from this state; safe: is this code safe"},
                   "url": {"type": "string", "description": "the state asked at: refused (poll-moved) when the "
                                                           "room's state is another"}}}}}}}
VOTE_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["voter", "choice"],
    "properties": {"voter": {"type": "string", "pattern": VOTER.pattern, "description":
                             "the attendee's random id (the audience page keeps it): one vote per id and stop"},
                   "choice": {"type": "integer", "minimum": 0, "description": "the choice's index (key a is 0)"},
                   "url": {"type": "string", "description": "the state voted at: refused (poll-moved) when the "
                                                           "presenter has moved on since"}}}}}}}


def votes(request: Request) -> limits.Allowance:
    """This process's allowance of votes per client address (app.web.app makes it)."""
    return request.app.state.room_votes


def predict_at(url: str) -> context.PredictState | None:
    """The tour's predict stop at state `url`, or None."""
    scenario_id, code, t, tour = parse_state_url(url, rooms.Limits(max_url_bytes=1 << 20), api=True)
    scenario = modelapi.scenario(scenario_id)
    return context.predict_stop(scenario, tour, code, t) if scenario else None


async def poll_at(request: Request, room: Room) -> tuple[str, questions.Question]:
    """(the poll's key, its question) at the room's current state: the presenter's ad-hoc question
    asked there, else the tour's predict stop, else a 409 "no-poll"."""
    asked = await stored(store(request).asked(room.code))
    if asked is not None and rooms.poll_parts(asked[0])[0] == room.url:
        return asked[0], questions.Question.from_json(asked[1])
    stop = predict_at(room.url)
    if stop is None:
        raise _err(409, "no-poll", "The room's state asks no question: a poll is a tour's predict stop, "
                                   "or a question the presenter asks there.")
    return room.url, questions.of_predict(stop)


def tally_answer(tally: rooms.Tally, q: questions.Question, followers: int | None = None) -> JSONResponse:
    """The tally with its question and choices; the explorer's line only once revealed."""
    body = {**tally.body(), "question": q.question, "choices": q.choices}
    if q.kind and tally.revealed:
        body.update(explain=q.explain, link=q.link)
    if followers is not None:
        body["followers"] = followers
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


async def stored(call: Any) -> Any:
    try:
        return await call
    except RoomError as e:
        if e.kind == "poll-revealed":
            raise _err(409, e.kind, e.message) from None
        if e.kind == "vote-rate":
            raise _err(429, e.kind, e.message, {"Retry-After": "1"}) from None
        raise refusal(e) from None


@router.get("/api/rooms/{code}/poll", summary="The poll at the room's current state",
            responses={200: {"description": "url (the stop), question, choices, answered, counts, revealed, "
                                            "answer (once revealed), followers", **JSON_OK},
                       **POLL_ERRORS, **API_ERRORS})
async def api_poll(request: Request, code: CodePath) -> JSONResponse:
    room = await room_or_404(request, code)
    key, q = await poll_at(request, room)
    s = store(request)
    return tally_answer(await stored(s.tally(room.code, key, len(q.choices))), q, await s.followers(room.code))


@router.post("/api/rooms/{code}/vote", openapi_extra=VOTE_BODY, summary="An attendee's vote on the room's poll",
             responses={200: {"description": "The tally after this vote (the answer stays hidden)", **JSON_OK},
                        413: {"description": "The body is over 64 KiB (body-too-large)", **ERR},
                        429: {"description": "Too many votes from this address (too-many-votes) or in this room "
                                             "this second (vote-rate); Retry-After says when", **ERR},
                        **POLL_ERRORS, **API_ERRORS})
async def api_vote(request: Request, code: CodePath) -> JSONResponse:
    """One vote per attendee id and stop (a new vote replaces the old) until the presenter reveals."""
    address = client_address(request)
    wait = votes(request).retry_after(address)
    if wait:
        raise _err(429, "too-many-votes", f"Too many votes from this address; try again in {wait} s.",
                   {"Retry-After": str(wait)})
    room = await room_or_404(request, code)
    data = await json_body(request)
    if (not isinstance(data, dict) or not isinstance(data.get("voter"), str) or not VOTER.fullmatch(data["voter"])
            or not isinstance(data.get("choice"), int) or isinstance(data.get("choice"), bool)
            or not isinstance(data.get("url", ""), str)):
        raise _err(400, "bad-request", 'The body must be JSON {"voter": "8-64 letters, digits, - or _", '
                                       '"choice": 0, "url": "the state voted at"}.')
    if data.get("url") and data["url"] != room.url:
        raise _err(409, "poll-moved", "The presenter has moved on: this vote was for another state.")
    key, q = await poll_at(request, room)
    choice, n = data["choice"], len(q.choices)
    if not 0 <= choice < n:
        raise _err(400, "bad-choice", f"There is no choice {choice}: this question's choices are 0-{n - 1}.")
    s = store(request)
    votes(request).spend(address)
    return tally_answer(await stored(s.vote(room.code, key, n, data["voter"], choice)), q)


@router.post("/api/rooms/{code}/reveal", summary="Reveal the answer of the room's poll",
             responses={200: {"description": "The tally with the answer; the audience sees it at once", **JSON_OK},
                        **POLL_ERRORS, **AUTH_ERRORS, **API_ERRORS})
async def api_reveal(request: Request, code: CodePath) -> JSONResponse:
    """Only the control token reveals; the answer is the tour's, or the explorer's (an ad-hoc question)."""
    room = await controlled_room(request, code)
    key, q = await poll_at(request, room)
    s = store(request)
    return tally_answer(await stored(s.reveal(room.code, key, len(q.choices), q.answer)), q,
                        await s.followers(room.code))


@router.post("/api/rooms/{code}/ask", openapi_extra=ASK_BODY, summary="Ask the room an ad-hoc question",
             responses={200: {"description": "The new poll (question, choices, no answer yet); the audience "
                                             "hears of it at once", **JSON_OK},
                        400: {"description": "A malformed body (bad-request) or an unknown question "
                                             "(bad-question)", **ERR},
                        409: {"description": "The explorer's search was cut before it could answer (undecided), "
                                             "the room's state is another (poll-moved), or it is a tour's "
                                             "predict stop (poll-exists)", **ERR},
                        413: {"description": "The body is over 64 KiB (body-too-large)", **ERR},
                        **AUTH_ERRORS, **API_ERRORS})
async def api_ask(request: Request, code: CodePath) -> JSONResponse:
    """Only the control token asks. The explorer answers when the question is asked (a search with
    the verdict pages' budgets and slots: 503 with Retry-After when they are taken); the answer is
    stored with the poll and shown at the reveal."""
    room = await controlled_room(request, code)
    data = await json_body(request)
    if not isinstance(data, dict) or not isinstance(data.get("question"), str) \
            or not isinstance(data.get("url", ""), str):
        raise _err(400, "bad-request", 'The body must be JSON {"question": "crash" or "safe", '
                                       '"url": "the state asked at"}.')
    kind = data["question"]
    if kind not in questions.QUESTIONS:
        raise _err(400, "bad-question", f"There is no question {kind[:40]!r}: ask "
                                        + " or ".join(repr(k) for k in questions.QUESTIONS) + ".")
    if data.get("url") and data["url"] != room.url:
        raise _err(409, "poll-moved", "The room's state is another than the one asked at.")
    if predict_at(room.url) is not None:
        raise _err(409, "poll-exists", "This state is a tour's predict stop: its question is the room's poll. "
                                       "Step on to ask another.")
    q = await ask_explorer(room.url, kind)
    s = store(request)
    tally = await stored(s.ask(room.code, rooms.ask_key(room.url, kind), len(q.choices), q.json()))
    return tally_answer(tally, q, await s.followers(room.code))


async def ask_explorer(url: str, kind: str) -> questions.Question:
    """The question with its answer, from the explorer's verdict (the verdict pages' bounded path)."""
    scenario_id, code, t, _ = parse_state_url(url, rooms.Limits(max_url_bytes=1 << 20), api=True)
    prefix = t if kind == "crash" else ""
    # No request: its body is read, and a server then may take the client for gone.
    verdict = await pages.verdict_or_error(None, scenario_id, code, prefix, api=True)
    try:
        if kind == "crash":
            lanes = (await work.run(modelapi.shared_view, scenario_id, code, t))["cpus"]
            return questions.crash(scenario_id, code, t, lanes, verdict)
        scenario = modelapi.scenario(scenario_id) or {}
        title = next((c["title"] for c in scenario.get("code_info", []) if c["id"] == code), code)
        return questions.safe(scenario_id, code, title, verdict)
    except questions.Undecided as e:
        raise _err(409, "undecided", f"The question cannot be asked here: {e}.") from None
