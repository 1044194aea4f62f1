"""Request bodies bounded in time and in number, as pure ASGI middleware.

uvicorn has no deadline for a request's body (its keep-alive timeout is for idle connections, and
app.web.http.protocol bounds only the head): 256 connections sending the head of a POST with
``Content-Length: 400000`` and then a byte a second held every in-flight place of
app.web.http.limits.Shed, and every other request, cached pages included, got 503. Here:

- a request with a body (a Content-Length above 0, or chunked) must have sent all of it within
  ZSWAP_WEB_BODY_SECONDS (default 20) of its head: past that it gets 408 and its connection is
  closed;
- at most ZSWAP_WEB_BODIES_PER_ADDRESS such requests (default 16) per client address, and
  ZSWAP_WEB_BODIES_MAX in all (default 64), may be waiting for their bodies at once: past that a
  new one gets a fast 429 (that address) or 503 (everyone) with Retry-After, before a byte of its
  body is read. Only requests with unread bodies count: a page, a step or a static file (no body)
  never waits for an upload, whichever address it comes from, and neither does a body once read;
- an answer sent before its body was read closes the connection (``Connection: close``): the
  rest of a slow body would otherwise hold the connection for as long as its client liked;
- a client that leaves mid-body is logged in one line, without a traceback.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("app.web")

BODY_SECONDS = float(os.environ.get("ZSWAP_WEB_BODY_SECONDS", "20"))
PER_ADDRESS = int(os.environ.get("ZSWAP_WEB_BODIES_PER_ADDRESS", "16"))
IN_ALL = int(os.environ.get("ZSWAP_WEB_BODIES_MAX", "64"))
RETRY_AFTER = 2


def _answer(status: int, error: str, message: str) -> tuple[Message, Message]:
    body = json.dumps({"error": error, "message": message}).encode()
    start = {"type": "http.response.start", "status": status,
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                         (b"cache-control", b"no-store"), (b"x-content-type-options", b"nosniff"),
                         (b"connection", b"close"),
                         (b"retry-after", str(RETRY_AFTER).encode())]}
    return start, {"type": "http.response.body", "body": body}


TOO_SLOW = _answer(408, "body-timeout", f"The request's body did not arrive within {BODY_SECONDS:g} s.")
TOO_MANY_HERE = _answer(429, "too-many-uploads", "This address is sending as many request bodies as it may; "
                                                 "try again when one has arrived.")
TOO_MANY = _answer(503, "uploads-busy", "The server is receiving as many request bodies as it may; "
                                        "try again in the seconds Retry-After says.")


def has_body(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return value.strip() not in (b"", b"0")
        if name == b"transfer-encoding":
            return True
    return False


async def _send_answer(send: Send, answer: tuple[Message, Message]) -> None:
    await send(answer[0])
    await send(answer[1])


class BodyGuard:
    """Deadlines and per-address counts for request bodies (see the module's docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.unread = 0
        self.by_address: dict[str, int] = {}

    def _admit(self, address: str) -> tuple[Message, Message] | None:
        if self.unread >= IN_ALL:
            return TOO_MANY
        if self.by_address.get(address, 0) >= PER_ADDRESS:
            return TOO_MANY_HERE
        self.unread += 1
        self.by_address[address] = self.by_address.get(address, 0) + 1
        return None

    def _release(self, address: str) -> None:
        self.unread -= 1
        left = self.by_address[address] - 1
        if left:
            self.by_address[address] = left
        else:
            del self.by_address[address]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not has_body(scope):
            await self.app(scope, receive, send)
            return
        address = scope["client"][0] if scope.get("client") else "unknown"
        refused = self._admit(address)
        if refused is not None:
            await _send_answer(send, refused)
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + BODY_SECONDS
        reading, started, timed_out = True, False, False
        what = f"{scope['method']} {scope['path']} from {address}"

        def body_read() -> None:
            nonlocal reading
            if reading:
                reading = False
                self._release(address)

        async def guarded_receive() -> Message:
            nonlocal timed_out
            if not reading:
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                body_read()
                timed_out = True
                log.warning("%s: body not complete within %g s; answered 408 and closed", what, BODY_SECONDS)
                if not started:
                    await _send_answer(send, TOO_SLOW)
                return {"type": "http.disconnect"}
            if message["type"] == "http.disconnect":
                log.warning("%s: the client left before its body was complete", what)
            if message["type"] != "http.request" or not message.get("more_body", False):
                body_read()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if timed_out:  # the 408 went out; the route's own answer has no one to go to
                return
            if message["type"] == "http.response.start":
                started = True
                if reading:  # answered before its body was read: the rest of it is not waited for
                    message = dict(message, headers=[*message.get("headers", []), (b"connection", b"close")])
            await send(message)

        try:
            await self.app(scope, guarded_receive, guarded_send)
        except ClientDisconnect:
            pass  # logged in one line by guarded_receive; a traceback would say nothing more
        finally:
            body_read()
