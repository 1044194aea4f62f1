"""HEAD answered exactly like GET, on every route, without a body.

FastAPI routes declared with @router.get answer HEAD with 405. Rather than declaring HEAD on
each route (and forgetting one), the outermost middleware runs the request as a GET and drops the
body. Being outside the gzip middleware, it returns the very headers a GET would get (Content-
Encoding, the compressed Content-Length, Vary): a HEAD that answered from an uncompressed body
would disagree with the GET it describes. The cost is that a HEAD does a GET's work.
"""
from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEAD_KEY = "zswap.head"
_EMPTY_BODY: Message = {"type": "http.response.body", "body": b"", "more_body": False}


class HeadAsGet:
    """Pure ASGI middleware: HEAD runs as GET; the status and headers go out, the body does not."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        finished = False

        async def send_headers_only(message: Message) -> None:
            nonlocal finished
            kind = message["type"]
            if kind == "http.response.start":
                await send(message)
            elif kind in ("http.response.body", "http.response.pathsend"):
                last = kind == "http.response.pathsend" or not message.get("more_body", False)
                if last and not finished:
                    finished = True
                    await send(_EMPTY_BODY)
            elif kind == "http.response.early_hint":
                await send(message)
            # http.response.trailers: nothing follows a header-only answer.

        # HEAD_KEY tells a route that must not act on a HEAD (a live room's event stream) that it is one.
        await self.app(dict(scope, method="GET", **{HEAD_KEY: True}), receive, send_headers_only)
