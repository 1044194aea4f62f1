"""uvicorn's httptools protocol with two limits it lacks: the size of a request's head (request
line and headers) and the time a client may take to send it.

uvicorn bounds header size only for h11 (``--h11-max-incomplete-event-size``), and its keep-alive
timeout is cancelled by the first byte of a request: a 150 MB header cost 27 s of CPU, and
half-sent requests (slow-loris) held their connections for as long as the client liked. Here a
head larger than MAX_HEAD_BYTES gets 431 and the connection is closed before the parser sees
the rest; a head not complete within HEAD_TIMEOUT seconds of the connection or of the request's
first byte gets 408 and the connection is closed. Used by app.web.http.server (``http=`` accepts a
protocol class). Only head bytes count: a body's bytes in the same read are the body's (its limit
is the route's 413 ``body-too-large``).
"""
from __future__ import annotations

import asyncio
import os

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = int(os.environ.get("ZSWAP_WEB_MAX_HEADER_BYTES", str(32 * 1024)))
HEAD_TIMEOUT = float(os.environ.get("ZSWAP_WEB_HEADER_TIMEOUT", "10"))


def _answer(status: bytes, text: bytes) -> bytes:
    return (b"HTTP/1.1 " + status + b"\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: " + str(len(text)).encode() + b"\r\nconnection: close\r\n\r\n" + text)


TOO_LARGE = _answer(b"431 Request Header Fields Too Large", b"Request header fields too large.\n")
TIMEOUT = _answer(b"408 Request Timeout", b"The request's headers did not arrive in time.\n")


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol with a bounded request head, in bytes and in time.

    A head is open from the connection, and from the end of each request (the next bytes are the
    next request's head, pipelined or not), until its headers are complete."""

    _head_timer: asyncio.TimerHandle | None = None
    _head_bytes = 0
    _head_open = True
    _tail = b""  # the last bytes of the head so far: its end (CRLF CRLF) may straddle two reads

    def _arm(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(HEAD_TIMEOUT, self._head_timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _refuse(self, answer: bytes) -> None:
        self._disarm()
        if not self.transport.is_closing():
            self.transport.write(answer)
            self.transport.close()

    def _head_timed_out(self) -> None:
        self._head_timer = None
        self._refuse(TIMEOUT)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()  # a client that connects and says nothing is dropped too

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._head_open:
            self._arm()
            # Only the head's bytes count: the body's first bytes often arrive in the same read (a
            # 41 kB upload got 431 or 200 depending on how TCP cut it). The body has its own limit
            # (413 body-too-large, in the routes).
            probe = self._tail + data
            end = probe.find(b"\r\n\r\n")
            counted = len(data) if end < 0 else max(0, end + 4 - len(self._tail))
            self._tail = probe[-3:]
            self._head_bytes += counted
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse(TOO_LARGE)
                return
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._disarm()
        self._head_open, self._head_bytes, self._tail = False, 0, b""
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._head_open = True
        super().on_message_complete()
