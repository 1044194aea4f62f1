"""The web's answer to a request it refuses: one exception type carrying the status, the JSON body
and the links an error page shows (app/web/page/errors.py renders it)."""
from __future__ import annotations

from typing import Any

from starlette.requests import Request


class WebError(Exception):
    """A 4xx answer: `body` follows schema.ErrorBody; `links` are (label, url) pairs for the page."""

    def __init__(self, status: int, body: dict[str, Any], links: list[tuple[str, str]] | None = None,
                 schedule: str | None = None, headers: dict[str, str] | None = None):
        super().__init__(body["message"])
        self.status, self.body, self.links, self.schedule = status, body, links or [], schedule
        self.headers = headers or {}


def busy(retry_after: int) -> WebError:
    """503: every explorer slot is taken (or the server is at its limit); come back later."""
    return WebError(503, {"error": "busy", "message": f"The server is busy; try again in {retry_after} s."},
                    headers={"Retry-After": str(retry_after)})


def is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")
