"""Trace files and the KASAN report through the web (app/web/routes/traces.py): the downloads, opening a
file by upload, paste or the JSON API, every bad file answered with a named 4xx, and the round trip."""
from __future__ import annotations

import json

import pytest

from app.web import modelapi, urls

SEED = "lru-writeback-vs-swapoff"


def tour(name: str) -> str:
    return next(t["schedule"] for t in modelapi.scenario(SEED)["tours"] if t["name"] == name)


def download(client, t: str, code: str = "old") -> str:
    r = client.get(urls.trace_json(SEED, code, t))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    assert r.headers["content-disposition"] == f'attachment; filename="trace-{SEED}-{code}-{len(t)}steps.json"'
    return r.text


def test_round_trip_at_the_uaf_lands_on_the_same_state(client, uaf):
    """Export at the use-after-free, import the file (upload, paste and API), land on that state."""
    text = download(client, uaf)
    here = urls.scenario(SEED, "old", uaf)
    upload = client.post(urls.open_trace_post(), files={"file": ("t.json", text.encode(), "application/json")},
                         follow_redirects=False)
    pasted = client.post(urls.open_trace_post(), data={"text": text}, follow_redirects=False)
    for r in (upload, pasted):
        assert r.status_code == 303 and r.headers["location"] == here
    api = client.post(urls.api_open_trace(), content=text.encode())
    assert api.status_code == 200
    assert api.json() == {"scenario": SEED, "code": "old", "schedule": uaf, "url": here}
    landed = client.get(here)
    assert landed.status_code == 200 and "BUG: KASAN: slab-use-after-free" in landed.text
    before = client.get(urls.api_scenario(SEED, "old", uaf)).json()
    assert json.loads(text)["steps"] == [
        {"index": e["index"], "cpu": e["cpu"], "step_id": e["step"], "function": e["function"], "file": e["file"],
         "line": e["line"], "line_label": e["line_label"], "kernel_line": e["text"], "narration": e["narration"]}
        for e in before["events"]]


def test_the_kasan_report_downloads_as_plain_text(client, uaf):
    r = client.get(urls.kasan_txt(SEED, "old", uaf))
    assert r.status_code == 200 and r.headers["content-type"] == "text/plain; charset=utf-8"
    assert r.headers["content-disposition"] == f'attachment; filename="kasan-{SEED}-old-{len(uaf)}steps.txt"'
    report = client.get(urls.api_scenario(SEED, "old", uaf)).json()["violations"][0]["report"]
    assert r.text == report + "\n"
    none = client.get(urls.kasan_txt(SEED, "old", uaf[:-1]))
    assert none.status_code == 404 and "no KASAN report" in none.text
    assert client.get("/s/" + SEED + "/kasan.txt?code=old&t=1").status_code == 404


def test_the_scenario_page_offers_both_downloads(client, uaf):
    page = client.get(urls.scenario(SEED, "old", uaf)).text
    assert f'href="{urls.trace_json(SEED, "old", uaf)}"'.replace("&", "&amp;") in page
    assert f'href="{urls.kasan_txt(SEED, "old", uaf)}"'.replace("&", "&amp;") in page
    early = client.get(urls.scenario(SEED, "old", uaf[:10])).text
    assert 'id="download-trace"' in early and 'id="download-kasan"' not in early
    index = client.get(urls.index()).text
    assert 'id="open-trace"' in index and f'action="{urls.open_trace_post()}"' in index


@pytest.mark.parametrize("build", [urls.trace_json, urls.kasan_txt])
def test_downloads_of_bad_states_are_named_4xx(client, build):
    assert client.get(build("no-such", "old", "")).status_code == 404
    assert client.get(build(SEED, "nope", "1")).status_code == 400
    r = client.get(build(SEED, "old", "11x"))
    assert r.status_code == 422 and "Step 3" in r.text


def _edited(text: str, how) -> str:
    data = json.loads(text)
    how(data)
    return json.dumps(data)


BAD = [
    ("corrupted", lambda t: t[: len(t) // 2], 400, "trace-not-json"),
    ("not a trace", lambda t: '{"hello": 1}', 400, "trace-not-a-trace"),
    ("empty", lambda t: "", 400, "trace-empty"),
    ("newer schema", lambda t: _edited(t, lambda d: d.update(schema_version=99)), 422, "trace-version"),
    ("field of the wrong type", lambda t: _edited(t, lambda d: d["steps"][0].update(cpu=None)), 422, "trace-field"),
    ("another program's scenario", lambda t: _edited(t, lambda d: d.update(scenario="x")), 422,
     "trace-unknown-scenario"),
    ("unknown code", lambda t: _edited(t, lambda d: d.update(code="x")), 422, "trace-unknown-code"),
    ("from a different scenario", lambda t: _edited(t, lambda d: d.update(scenario="writeback-vs-invalidate")),
     422, "trace-bad-schedule"),
    ("schedule that does not replay", lambda t: _edited(t, lambda d: d.update(schedule=d["schedule"] + "1")),
     422, "trace-bad-schedule"),
    ("edited step", lambda t: _edited(t, lambda d: d["steps"][20].update(narration="edited")), 422,
     "trace-mismatch"),
]


@pytest.mark.parametrize("name,edit,status,error", BAD, ids=[b[0] for b in BAD])
def test_every_bad_trace_file_is_a_named_4xx(client, uaf, name, edit, status, error):
    text = edit(download(client, uaf))
    api = client.post(urls.api_open_trace(), content=text.encode())
    assert api.status_code == status and api.json()["error"] == error, api.text
    page = client.post(urls.open_trace_post(), files={"file": ("t.json", text.encode(), "application/json")},
                       follow_redirects=False)
    assert page.status_code == status and "location" not in page.headers
    assert api.json()["message"].replace('"', "&#34;").replace("'", "&#39;").split(":")[0] in page.text
    assert 'href="/#open-trace"' in page.text


def test_a_mismatch_names_the_first_differing_step_and_links_to_it(client, uaf):
    text = _edited(download(client, uaf), lambda d: d["steps"][20].update(narration="edited"))
    body = client.post(urls.api_open_trace(), content=text.encode()).json()
    assert body["position"] == 20 and body["field"] == "narration"
    assert body["message"].startswith("Step 21 (CPU2) differs from the model: its narration is \"edited\"")
    page = client.post(urls.open_trace_post(), data={"text": text}, follow_redirects=False).text
    assert f'href="{urls.scenario(SEED, "old", uaf[:20])}"'.replace("&", "&amp;") in page


def test_an_oversized_upload_is_refused_before_it_is_read(client):
    big = b"x" * (modelapi.MAX_TRACE_BYTES + 64 * 1024)
    for r in (client.post(urls.api_open_trace(), content=big),
              client.post(urls.open_trace_post(), files={"file": ("t.json", big, "application/json")})):
        assert r.status_code == 413 and "larger than" in r.text
    assert client.post(urls.api_open_trace(), content=big).json()["error"] == "trace-too-large"


def test_a_form_that_is_not_a_form_is_a_400(client):
    r = client.post(urls.open_trace_post(), content=b"--x\r\nnonsense", headers={"content-type": "multipart/form-data; boundary=x"})
    assert r.status_code == 400
    r = client.post(urls.open_trace_post(), data={})
    assert r.status_code == 400 and "No trace file was given" in r.text
