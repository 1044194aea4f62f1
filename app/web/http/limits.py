"""Limits on what a request may cost the worker, as pure ASGI middleware.

- ``Shed``: past ZSWAP_WEB_MAX_IN_FLIGHT requests in flight in this worker, a new request gets a
  fast 503 with Retry-After instead of a place in a queue. The explorer routes are not counted:
  they wait for another process, and app.web.http.searches bounds them; the CPU work of a step that
  missed the caches is bounded by app.web.http.work.
- ``AllowedHosts``: the Host header must name this server. ZSWAP_ALLOWED_HOSTS is a comma-separated
  list (``*`` allows any; ``*.example.org`` a domain and its subdomains). By default: any IP
  address, any name without a dot (``laptop``, ``localhost``), names under the suffixes a LAN
  uses (``.local``, ``.lan``, ``.home.arpa``, ``.internal``, ``.localhost``) and the machine's own
  names: a presenter serves a room by IP or by name without configuring anything, while a public
  DNS name pointed at a listener's loopback or LAN (DNS rebinding) is refused.
- ``RelativeRedirects``: a redirect's Location never carries the request's Host (starlette's
  trailing-slash redirect copies it): it is cut to its path and query.
- ``Allowance``: a token bucket per client address (the rooms' code look-ups that miss).
"""
from __future__ import annotations

import ipaddress
import json
import os
import math
import socket
import time
from collections import OrderedDict
from html import escape
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_IN_FLIGHT = int(os.environ.get("ZSWAP_WEB_MAX_IN_FLIGHT", "256"))
RETRY_AFTER = 1
# Routes that wait on a search process rather than on this worker's CPU, and a live room's event
# stream, which waits for the presenter (app.web.rooms bounds followers per room).
_SEARCH_SUFFIXES = ("/check", "/verdict", "/stream")


def _busy_answer(api: bool, status: int, error: str, message: str) -> tuple[list[tuple[bytes, bytes]], bytes]:
    """Headers and body of a refusal, built once: refusing must cost next to nothing."""
    if api:
        body = json.dumps({"error": error, "message": message}).encode()
        kind = b"application/json"
    else:
        body = (f"<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>{status}</title>"
                f"<main id=\"state\"><h1>{status}</h1><p>{escape(message)}</p></main></html>").encode()
        kind = b"text/html; charset=utf-8"
    headers = [(b"content-type", kind), (b"content-length", str(len(body)).encode()),
               (b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff"),
               (b"content-security-policy", b"default-src 'none'")]
    if status == 503:
        headers.append((b"retry-after", str(RETRY_AFTER).encode()))
    return headers, body


_BUSY = {api: _busy_answer(api, 503, "busy", "The server is busy; try again in the seconds Retry-After says.")
         for api in (False, True)}
_BAD_HOST = {api: _busy_answer(api, 400, "bad-request", "The Host header does not name this server.")
             for api in (False, True)}


def busy_response(path: str, retry_after: str, error: dict[str, Any] | None = None) -> Response:
    """The 503 of a route that sheds load (app.web.page.errors): "busy" from the bytes built once;
    another refusal (`error`: a room store that does not answer, a full room) keeps its own name."""
    api = path.startswith("/api/")
    if error is None or error.get("error") == "busy":
        headers, body = _BUSY[api]
    else:
        headers, body = _busy_answer(api, 503, str(error["error"]), str(error.get("message", "")))
    response = Response(body, status_code=503)
    # The app's own security headers are added by app.web.app.SecurityHeaders.
    response.raw_headers = [(k, v) for k, v in headers if k in (b"content-type", b"content-length",
                                                                b"cache-control")]
    response.raw_headers.append((b"retry-after", retry_after.encode()))
    return response


async def _refuse(scope: Scope, send: Send, status: int, answers: dict) -> None:
    headers, body = answers[scope["path"].startswith("/api/")]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class Shed:
    """Fast 503s past the in-flight limit (see the module's docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].endswith(_SEARCH_SUFFIXES):
            await self.app(scope, receive, send)
            return
        if self.in_flight >= MAX_IN_FLIGHT:
            await _refuse(scope, send, 503, _BUSY)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


LAN_SUFFIXES = (".local", ".lan", ".home.arpa", ".internal", ".localhost", ".localdomain")


def _own_names() -> set[str]:
    return {n.lower() for n in (socket.gethostname(), socket.getfqdn()) if n}


def _host_name(host: str) -> str:
    """The name or address of a Host header without its port (``[::1]:8000`` -> ``::1``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def host_allowed(host: str, allowed: list[str] | None) -> bool:
    name = _host_name(host)
    if allowed is None:  # the default
        try:
            ipaddress.ip_address(name)
            return True
        except ValueError:
            return "." not in name or name.endswith(LAN_SUFFIXES) or name in _OWN_NAMES
    for pattern in allowed:
        if pattern == "*" or pattern == name or (pattern.startswith("*.") and (
                name.endswith(pattern[1:]) or name == pattern[2:])):
            return True
    return False


_OWN_NAMES = _own_names()


class AllowedHosts:
    """400 for a Host header outside the allow-list (see the module's docstring)."""

    def __init__(self, app: ASGIApp, allowed: str | None = None) -> None:
        self.app = app
        raw = os.environ.get("ZSWAP_ALLOWED_HOSTS", "") if allowed is None else allowed
        self.allowed = [h.strip().lower() for h in raw.split(",") if h.strip()] or None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"host"), "")
            # No Host at all (HTTP/1.0): uvicorn answered on our socket, so it reached us.
            if host and not host_allowed(host, self.allowed):
                await _refuse(scope, send, 400, _BAD_HOST)
                return
        await self.app(scope, receive, send)


class RelativeRedirects:
    """A redirect's Location keeps only its path and query: never the request's Host."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def relative(message: Message) -> None:
            if message["type"] == "http.response.start" and 300 <= message["status"] < 400:
                headers = []
                for k, v in message.get("headers", []):
                    if k == b"location" and b"://" in v.split(b"?", 1)[0]:
                        rest = v.split(b"://", 1)[1]
                        v = b"/" + rest.split(b"/", 1)[1] if b"/" in rest else b"/"
                        v = b"/" + v.lstrip(b"/")  # never //host: that is absolute again
                    headers.append((k, v))
                message = dict(message, headers=headers)
            await send(message)

        await self.app(scope, receive, relative)


class Allowance:
    """A token bucket per client address: `burst` at once, then `per_second`; at most
    `max_addresses` remembered (the least recently seen forgotten first, with its debt)."""

    def __init__(self, burst: int, per_second: float, max_addresses: int = 10_000,
                 clock: Any = time.monotonic) -> None:
        self.burst, self.per_second, self.max_addresses, self.clock = burst, per_second, max_addresses, clock
        self._left: OrderedDict[str, tuple[float, float]] = OrderedDict()  # address -> (tokens, when)

    def _tokens(self, address: str) -> float:
        tokens, when = self._left.get(address, (float(self.burst), self.clock()))
        return min(float(self.burst), tokens + (self.clock() - when) * self.per_second)

    def retry_after(self, address: str) -> int:
        """0 when `address` may go on now, else the whole seconds until it may."""
        tokens = self._tokens(address)
        return 0 if tokens >= 1 else max(1, math.ceil((1 - tokens) / self.per_second))

    def spend(self, address: str) -> None:
        self._left[address] = (self._tokens(address) - 1, self.clock())
        self._left.move_to_end(address)
        while len(self._left) > self.max_addresses:
            self._left.popitem(last=False)
