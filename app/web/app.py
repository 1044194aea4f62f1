"""The FastAPI application factory: routes, static files, security headers, error handlers."""
from __future__ import annotations

import logging
import asyncio
import gc
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.routing import Match
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.web.routes import api, exports, live, pages
from app.web.page import errors, render
from app.web import modelapi, rooms
from app.web.http import assets, bodies, compression, head, limits, searches, work
from app.web.routes import challenges, compare, embeds, traces, userscenarios

log = logging.getLogger("app.web")

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]
STATIC_HEADERS = [(b"x-content-type-options", b"nosniff")]
# The embed pages (app.web.routes.embeds) alone may be framed, by any site: no X-Frame-Options, and
# frame-ancestors opened; everything else of the CSP stays.
EMBED_CSP = CSP.replace("frame-ancestors 'none'", "frame-ancestors *")
EMBED_HEADERS = [(b"content-security-policy", EMBED_CSP.encode()) if k == b"content-security-policy" else (k, v)
                 for k, v in SECURITY_HEADERS if k != b"x-frame-options"]


class SecurityHeaders:
    """Pure ASGI middleware (cheaper than BaseHTTPMiddleware) adding the headers to every answer."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        # A stylesheet or script is not a document: CSP, framing and referrer rules mean nothing
        # on it, and leaving them off saves about 300 bytes on each of a first load's responses.
        path = scope["path"]
        extra = (STATIC_HEADERS if path.startswith("/static/")
                 else EMBED_HEADERS if path.startswith(embeds.PATH_PREFIX) else SECURITY_HEADERS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def _web_error(request: Request, exc: errors.WebError) -> Response:
    return errors.respond(request, exc)


async def _room_error(request: Request, exc: rooms.RoomError) -> Response:
    return errors.respond(request, live.refusal(exc))


def _allowed_methods(request: Request) -> str | None:
    """Every method some route serves on this path (starlette's 405 names only the first route's:
    /api/rooms/{code} has a GET and a DELETE route)."""
    methods = [m for m in ("GET", "POST", "PUT", "PATCH", "DELETE")
               if any(route.matches(dict(request.scope, method=m))[0] == Match.FULL
                      for route in request.app.router.routes)]
    return ", ".join(methods) or None


async def _user_scenario_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, modelapi.UserScenarioError)
    return errors.respond(request, errors.user_scenario(exc))


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    if exc.status_code == 405 and (allow := _allowed_methods(request)):
        exc.headers = {**(exc.headers or {}), "Allow": allow}
    kind = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "bad-request")
    message = {404: "There is no such page.", 405: "That method is not allowed here."}.get(
        exc.status_code, "The request could not be understood.")
    body = {"error": kind, "message": message}
    if errors.is_api(request):
        return JSONResponse(body, status_code=exc.status_code, headers=getattr(exc, "headers", None))
    page = errors.error_page(request, exc.status_code, body, [("all scenarios", "/")])
    page.headers.update(getattr(exc, "headers", None) or {})
    return page


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    fields = ", ".join(".".join(str(p) for p in e.get("loc", ())) for e in exc.errors())
    return errors.respond(request, errors.WebError(400, {"error": "bad-request",
                                                         "message": f"Invalid parameter: {fields}."}))


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("unexpected error on %s", request.url.path, exc_info=exc)
    if errors.is_api(request):
        return JSONResponse({"error": "internal", "message": "Internal error."}, status_code=500)
    return HTMLResponse("<!doctype html><title>Internal error</title><h1>Internal error</h1>"
                        "<p>Something went wrong on our side.</p>", status_code=500)


async def _user_scenario_off_loop(request: Request) -> None:
    """A scenario link (`scenario_id`, or /write's `start`) is decoded, parsed and checked on the
    render thread the first time it is seen: a costly one must not stall every other request on
    the event loop. Afterwards the route finds it (or its refusal) in the model's caches."""
    sid = request.path_params.get("scenario_id") or request.query_params.get("start")
    if sid and modelapi.is_user(sid) and not modelapi.user_scenario_known(sid):
        await work.run(modelapi.scenario, sid)


async def _precompute() -> None:
    try:
        await modelapi.precompute_light()
    except Exception:  # a model bug must not take the server down; the pages will show it
        log.exception("precomputing the explorer's verdicts failed")


# The collector's thresholds as the process started (an app made twice must not raise them twice).
GC_THRESHOLDS = gc.get_threshold()


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """At startup, the search process computes the old/new verdicts of the scenarios whose
    estimated search cost is small (a few seconds of CPU in all) so that the index can show them;
    ZSWAP_WEB_PRECOMPUTE=0 turns it off. The costly ones (the 3-CPU scenarios) are left to an
    explicit request."""
    # What startup made (modules, routes, the scenarios) lives as long as the process: out of the
    # collector's sight, a full collection under load took 10-15 ms instead of 50.
    gc.collect()
    gc.freeze()
    # A full collection walks every live object and, in a server, finds next to nothing: with a
    # room of 2,000 followers it took 40-260 ms (growing with the connections) and collected 0
    # objects, and one of them stalled a publish to 320 ms (bench/bench_live.py). Young garbage is
    # still collected as before; full collections come a tenth as often.
    gen0, gen1, gen2 = GC_THRESHOLDS
    gc.set_threshold(gen0, gen1, gen2 * 10)
    logging.getLogger("uvicorn.access").addFilter(live.HIDE_TOKENS)
    task = None
    if os.environ.get("ZSWAP_WEB_PRECOMPUTE", "1") != "0":
        task = asyncio.create_task(_precompute())
    yield
    if task is not None:
        task.cancel()
    # Stop the searches and end their processes: left running, they outlive the server, orphaned.
    searches.pool.close()
    await app.state.rooms.close()


def create_app() -> FastAPI:
    try:
        modelapi.scenarios()  # load and check every scenario file now: a bad one stops the server, named
    except modelapi.ScenarioFileError as err:
        sys.stderr.write(f"cannot serve: bad scenario file: {err}\n")
        raise SystemExit(2) from None
    rooms.refuse_unreachable_store()  # ZSWAP_REDIS_URL set: it must answer now, not at the first room
    app = FastAPI(
        title="zswap race visualizer",
        description="Step the CPUs of the race fixed by upstream 5878303c5353 "
                    "(mm/zswap: fix race between lru writeback and swapoff). The URL is the whole state.",
        version="0.1.0",
        # Swagger UI and ReDoc load scripts from a CDN and inline: neither works offline under our CSP.
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        dependencies=[Depends(_user_scenario_off_loop)],
    )
    app.state.rooms = rooms.make_store()  # live rooms: in this process, or Redis (ZSWAP_REDIS_URL)
    room_limits = app.state.rooms.limits
    app.state.room_lookups = limits.Allowance(room_limits.lookup_misses, room_limits.lookup_misses_per_minute / 60)
    app.state.room_votes = limits.Allowance(room_limits.votes_per_address, room_limits.votes_per_address_per_second)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(compression.GZip)
    app.add_middleware(head.HeadAsGet)  # a HEAD gets the headers of the compressed GET
    app.add_middleware(limits.RelativeRedirects)
    app.add_middleware(limits.Shed)
    app.add_middleware(bodies.BodyGuard)  # outside Shed: a refused upload takes no in-flight place
    app.add_middleware(limits.AllowedHosts)  # outermost: a foreign Host costs nothing more
    app.mount("/static", assets.VersionedStaticFiles(directory=render.STATIC), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon() -> FileResponse:
        # A fixed URL browsers ask for on their own: no version to trust, so a day, not a year.
        return FileResponse(render.STATIC / "favicon.svg", media_type="image/svg+xml",
                            headers={"Cache-Control": "public, max-age=86400"})

    app.include_router(pages.router)
    app.include_router(api.router)
    app.include_router(exports.router)
    app.include_router(live.router)
    app.include_router(traces.router)
    app.include_router(embeds.router)
    app.include_router(compare.router)
    app.include_router(challenges.router)
    app.include_router(userscenarios.router)
    app.add_exception_handler(errors.WebError, _web_error)
    app.add_exception_handler(rooms.RoomError, _room_error)
    app.add_exception_handler(modelapi.UserScenarioError, _user_scenario_error)  # a bad scenario link
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
    return app
