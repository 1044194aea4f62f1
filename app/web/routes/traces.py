"""Trace files and the KASAN report as downloads, and opening a trace file (upload or paste).

The downloads replay through pages.run_page_view like the other exports (the same 4xx answers);
an imported file is checked by the model (app.model.trace) and answered with a redirect to the
state it describes. Nothing is stored: the state's URL is the whole result.
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.datastructures import UploadFile
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from app.model.cache import bounded_cache, share
from app.web.page import errors
from app.web.routes import exports, pages, schema
from app.web import modelapi, urls
from app.web.http import work
from app.web.routes.params import Code, Schedule

router = APIRouter()

# A multipart form adds its boundaries and headers to the file: a little room above the file's bound.
MAX_BODY = modelapi.MAX_TRACE_BYTES + 16 * 1024
TRACE_STATUS = {"trace-too-large": 413, "trace-empty": 400, "trace-not-json": 400, "trace-not-a-trace": 400}


class TraceResponse(Response):
    media_type = "application/json"


@bounded_cache(pages.CACHE_SIZE, share(0.03))
def trace_json(scenario_id: str, code: str, t: str) -> str:
    _, view = pages.run_page_view(scenario_id, code, t, None, api=False)
    return modelapi.trace_text(view)


@bounded_cache(pages.CACHE_SIZE, share(0.01))
def kasan_txt(scenario_id: str, code: str, t: str) -> str | None:
    _, view = pages.run_page_view(scenario_id, code, t, None, api=False)
    return modelapi.kasan_text(view)


@router.get("/s/{scenario_id}/trace.json", response_class=TraceResponse,
            responses=exports._responses("application/json", "The trace file of the run (a download)"),
            summary="The run as a trace file (JSON)")
async def trace_file(scenario_id: str, code: Code = "old", t: Schedule = "") -> Response:
    """The scenario, code and schedule, with every step (CPU, step id, function, file, line label,
    kernel line, narration) and every violation with its report. Schema version
    `schema_version`; the index opens it again."""
    t = t[: modelapi.MAX_STEPS + 1]
    body = await work.cached_or_run(trace_json, scenario_id, code, t)
    name = exports._filename("trace", scenario_id, code, f"{len(t)}steps") + ".json"
    return TraceResponse(body, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/s/{scenario_id}/kasan.txt", response_class=exports.TextResponse,
            responses={**exports._responses("text/plain", "The memory-error reports of the run, as the kernel "
                                                          "prints them (then the model's notes)"),
                       404: {"description": "Unknown scenario, or the run has no memory-error report yet",
                             **pages.HTML}},
            summary="The KASAN report of a run, as plain text")
async def kasan_file(scenario_id: str, code: Code = "old", t: Schedule = "") -> Response:
    """The KASAN report (or the oops of a NULL dereference) of the run; 404 `no-report` while it has none."""
    t = t[: modelapi.MAX_STEPS + 1]
    body = await work.cached_or_run(kasan_txt, scenario_id, code, t)
    if body is None:
        raise errors.WebError(404, {"error": "no-report", "message": "This run has no KASAN report: no memory "
                                                                     "error has happened by its last step."},
                              [("back to the state", urls.scenario(scenario_id, code, t))])
    name = exports._filename("kasan", scenario_id, code, f"{len(t)}steps") + ".txt"
    return exports.TextResponse(body, headers={"Content-Disposition": f'attachment; filename="{name}"'})


# -- opening a trace file ----------------------------------------------------------------------

def too_large() -> errors.WebError:
    return errors.WebError(413, {"error": "trace-too-large", "message": f"The request is larger than "
                                 f"{MAX_BODY:,} bytes: a trace file has at most "
                                 f"{modelapi.MAX_TRACE_BYTES:,}."}, [("open another trace file", urls.open_trace())])


async def bounded_body(request: Request) -> bytes:
    """The request's body, refused (413) past MAX_BODY bytes without reading the rest."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise too_large()
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                raise too_large()
            chunks.append(chunk)
    except ClientDisconnect:
        raise errors.WebError(400, {"error": "bad-request", "message": "The upload was cut off."}) from None
    body = b"".join(chunks)
    request._body = body  # starlette's form parser reads the body from here
    return body


def trace_error(e: modelapi.TraceError) -> errors.WebError:
    """The named 4xx of a trace file the model refused, with links to what can be opened of it."""
    body: dict[str, Any] = {"error": e.error, "message": e.message, "position": e.position, "field": e.field}
    links = [("open another trace file", urls.open_trace())]
    if e.target is not None and e.position is not None:
        links.insert(0, (f"the model's state before step {e.position + 1} of the file",
                         urls.scenario(e.target.scenario, e.target.code, e.target.schedule[: e.position])))
    return errors.WebError(TRACE_STATUS.get(e.error, 422), body, links)


def read_trace(text: str | bytes) -> modelapi.TraceTarget:
    """The state a trace file describes (a WebError when the model refuses the file)."""
    try:
        return modelapi.read_trace(text)
    except modelapi.TraceError as e:
        raise trace_error(e) from None


OPEN_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "No file, or not JSON, or not a trace file of this program (`error` names which)"},
    413: {"description": "Larger than a trace file can be"},
    422: {"description": "A trace file the model refuses: another schema version, an unknown scenario or "
                         "code, a schedule that does not replay, or a step or violation that differs from "
                         "the model (`position` is the first differing step)"},
    503: {"description": pages.ERROR_RESPONSES[503]["description"]},
}


# The index's HTML form: not part of the JSON API's schema (POST /api/trace is the same, for tools).
@router.post("/trace", status_code=303, response_class=RedirectResponse, include_in_schema=False)
async def open_trace_form(request: Request) -> Response:
    """The index's form: a `file` upload or the file's `text` pasted; a valid trace file redirects
    to the state it describes, any other answers a 4xx page that says why."""
    await bounded_body(request)
    try:
        form = await request.form(max_files=1, max_fields=4, max_part_size=MAX_BODY)
    except Exception:  # starlette's MultiPartException, or a body that is no form at all
        raise errors.WebError(400, {"error": "bad-request", "message": "The form could not be read."}) from None
    upload, pasted = form.get("file"), form.get("text")
    text: str | bytes = ""
    if isinstance(upload, UploadFile) and upload.filename:
        text = await upload.read()
    elif isinstance(pasted, str):
        text = pasted
    target = await work.run(read_trace, text)
    return RedirectResponse(urls.scenario(target.scenario, target.code, target.schedule), status_code=303)


@router.post("/api/trace", response_model=schema.TraceTarget,
             responses={k: {**v, "model": schema.ErrorBody} for k, v in OPEN_RESPONSES.items()},
             openapi_extra={"requestBody": {"required": True, "description": "A trace file (GET "
                            "/s/{scenario_id}/trace.json)", "content": {"application/json": {"schema": {
                                "type": "object", "required": ["format", "schema_version"]}}}}},
             summary="Check a trace file and name the state it describes")
async def open_trace_api(request: Request) -> JSONResponse:
    """The request body is the trace file; the answer names its scenario, code and schedule and
    the URL of that state, or the 4xx that says what is wrong with it."""
    text = await bounded_body(request)
    target = await work.run(read_trace, text)
    return JSONResponse({"scenario": target.scenario, "code": target.code, "schedule": target.schedule,
                         "url": urls.scenario(target.scenario, target.code, target.schedule)})
