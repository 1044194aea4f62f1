"""gzip for every text answer: one Accept-Encoding parser, and starlette's gzip responders behind it.

Starlette's GZipMiddleware decides with `"gzip" in accept_encoding`, so it would compress for
`gzip;q=0` (RFC 9110 12.5.3: q=0 means "not acceptable"). We keep its responders (which already
leave alone any answer that carries a Content-Encoding, such as the scenario page's pre-gzipped
bodies, and partial or excluded content) and only replace that decision with `accepts_gzip`,
the one function the pages use too, so the page and the middleware can never disagree.
"""
from __future__ import annotations

from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.gzip import GZipMiddleware, GZipResponder, IdentityResponder
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Level 6 is zlib's default: on our pages and htmx, level 9 saves under 1.5% for 1.5-7x the CPU.
COMPRESSLEVEL = 6


def _qvalue(params: list[str]) -> float:
    """The weight of one Accept-Encoding member (1 when absent, 0 when malformed: refuse, don't guess)."""
    for param in params:
        name, _, value = param.partition("=")
        if name.strip().lower() == "q":
            try:
                q = float(value.strip())
            except ValueError:
                return 0.0
            return q if 0.0 <= q <= 1.0 else 0.0
    return 1.0


def accepts(accept_encoding: str | None, *codings: str) -> bool:
    """Whether an Accept-Encoding header allows a body in one of `codings` (names of one coding
    and its aliases, e.g. "gzip", "x-gzip").

    An explicit member decides by its weight; otherwise `*` does; otherwise the coding is not
    acceptable (an absent or empty header means identity only, for our purposes). Substrings do
    not count: `gzip;q=0` and `x-notgzip` are refusals.
    """
    if not accept_encoding:
        return False
    star: float | None = None
    for member in accept_encoding.split(","):
        coding, *params = member.split(";")
        coding = coding.strip().lower()
        if coding in codings:
            return _qvalue(params) > 0.0
        if coding == "*":
            star = _qvalue(params)
    return star is not None and star > 0.0


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an Accept-Encoding header allows a gzip body (see `accepts`)."""
    return accepts(accept_encoding, "gzip", "x-gzip")


def accepts_brotli(accept_encoding: str | None) -> bool:
    """Whether an Accept-Encoding header allows a brotli body (see `accepts`)."""
    return accepts(accept_encoding, "br")


def _dedupe_vary(send: Send) -> Send:
    """Merge every Vary header into one with each token once: routes that already vary on
    Accept-Encoding (the scenario page) would otherwise get it twice from the responder."""

    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(raw=list(message.get("headers", [])))
            tokens: dict[str, str] = {}
            for value in headers.getlist("vary"):
                for token in value.split(","):
                    if token.strip():
                        tokens.setdefault(token.strip().lower(), token.strip())
            if tokens:
                headers["vary"] = ", ".join(tokens.values())
                message["headers"] = headers.raw
        await send(message)

    return wrapped


class GZip(GZipMiddleware):
    """starlette's GZipMiddleware with a real Accept-Encoding parse and a single Vary header."""

    def __init__(self, app: ASGIApp, minimum_size: int = 500, compresslevel: int = COMPRESSLEVEL) -> None:
        super().__init__(app, minimum_size=minimum_size, compresslevel=compresslevel)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        responder: IdentityResponder
        if accepts_gzip(Headers(scope=scope).get("accept-encoding")):
            responder = GZipResponder(self.app, self.minimum_size, compresslevel=self.compresslevel,
                                      thread_minimum_size=self.thread_minimum_size,
                                      exclude_content_types=self.exclude_content_types)
        else:
            responder = IdentityResponder(self.app, self.minimum_size,
                                          exclude_content_types=self.exclude_content_types)
        await responder(scope, receive, _dedupe_vary(send))
