"""Bad input rendered as a 4xx page or JSON body naming what was wrong (the exception type, WebError,
lives with the HTTP plumbing: app/web/http/weberror.py)."""
from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from app.web.http import limits
from app.web import modelapi, urls
from app.web.page import render
from app.web.http.weberror import WebError, busy, is_api  # noqa: F401  (re-exported: routes raise errors.WebError)


def unknown_scenario(scenario_id: str) -> WebError:
    valid = modelapi.scenario_ids()
    return WebError(404, {"error": "unknown-scenario", "message": f"There is no scenario {scenario_id!r}.",
                          "valid": valid},
                    [(s["title"], urls.scenario(s["id"])) for s in modelapi.scenarios()])


# A corrupted link names no scenario: a 404, as for any other id that is not one. (A 400 reads as
# a well-formed request refused: schemathesis sends ids that happen to start with "u~".)
USER_SCENARIO_STATUS = {"scenario-link-too-long": 414, "scenario-too-large": 413,
                        "scenario-link-corrupted": 404, "scenario-invalid": 422, "scenario-too-deep": 422}


def user_scenario(e: modelapi.UserScenarioError) -> WebError:
    """A scenario link (or text) that cannot be used: its named 4xx, each problem with its line."""
    body = {"error": e.error, "message": e.message,
            "problems": [{"line": line, "message": message} for line, message in e.problems]}
    return WebError(USER_SCENARIO_STATUS.get(e.error, 400), body, [("write a scenario", urls.write())])


def from_model(e: Exception, scenario_id: str, code: str, t: str, tour: str | None, api: bool) -> WebError:
    """Turn a model input error into the web's answer, with links that work."""
    if isinstance(e, modelapi.UserScenarioError):
        return user_scenario(e)
    if isinstance(e, modelapi.UnknownScenario):
        return unknown_scenario(scenario_id)
    if isinstance(e, modelapi.UnknownCode):
        valid = list(e.valid)
        links = [(f"code={c}", urls.api_scenario(scenario_id, c, t) if api else urls.scenario(scenario_id, c, t, tour))
                 for c in valid]
        return WebError(400, {"error": "unknown-code", "message": f"Unknown code {code!r}.", "valid": valid}, links)
    if isinstance(e, modelapi.ScheduleError):
        prefix = e.valid_prefix
        url = urls.api_scenario(scenario_id, code, prefix) if api else urls.scenario(scenario_id, code, prefix, tour)
        body = {"error": "bad-schedule",
                "message": f"Step {e.position + 1} of the schedule is impossible: {e.reason}",
                "position": e.position, "reason": e.reason, "valid_prefix": prefix, "valid_prefix_url": url}
        return WebError(422, body, [(f"the longest valid prefix ({len(prefix)} steps)", url)], schedule=t)
    message = getattr(e, "message", str(e))
    return WebError(400, {"error": "bad-request", "message": message})


def respond(request: Request, err: WebError) -> Response:
    if err.status == 503:  # shedding load: an answer built once, no template rendered
        return limits.busy_response(request.url.path, err.headers.get("Retry-After", "1"), err.body)
    if is_api(request):
        return JSONResponse(err.body, status_code=err.status, headers=err.headers)
    page = error_page(request, err.status, err.body, err.links, err.schedule)
    page.headers.update(err.headers)
    return page


def error_page(request: Request, status: int, body: dict[str, Any], links: list[tuple[str, str]] | None = None,
               schedule: str | None = None) -> HTMLResponse:
    """An error page whose <main id="state"> is pane-shaped, because htmx 4 swaps 4xx answers."""
    pos = body.get("position")
    shown = None
    if schedule is not None and pos is not None:
        shown = (schedule[:pos], schedule[pos:pos + 1], schedule[pos + 1:pos + 40],
                 len(schedule) > pos + 40)
    return render.page(request, "error.html", "_error.html", status_code=status, status=status, body=body,
                       links=links or [], shown=shown)
