"""The JSON API and the pages through FastAPI's TestClient: every route and every error path."""
from __future__ import annotations

import json
import re
from markupsafe import escape

import pytest

from app.web.routes import api, pages
from app.web import modelapi, urls

SEED = "lru-writeback-vs-swapoff"


def clear_caches() -> None:
    pages.clear_caches()
    api.clear_caches()


def model_json(scenario: str, code: str, t: str) -> dict:
    """What the model says, as JSON would carry it."""
    return json.loads(json.dumps(modelapi.build_view(scenario, code, t)))


# -- the index and the scenario list ------------------------------------------------------------

def test_index_lists_every_scenario_with_code_links(client):
    r = client.get("/")
    assert r.status_code == 200
    for s in modelapi.scenarios():
        assert escape(s["title"]) in r.text
        for c in s["code_info"]:
            assert escape(urls.scenario(s["id"], c["id"])) in r.text


def test_api_scenarios_is_the_model_list(client):
    r = client.get("/api/scenarios")
    assert r.status_code == 200
    assert r.json() == json.loads(json.dumps(list(modelapi.scenarios())))
    seed = next(s for s in r.json() if s["id"] == SEED)
    assert set(seed["codes"]) >= {"old", "new"}
    assert all(t["schedule"] and len(t["steps"]) == len(t["schedule"]) for t in seed["tours"])


# -- the state: JSON and HTML come from the same build_view dict ----------------------------------

def test_api_state_is_build_view(client, seed_tours):
    t = seed_tours["uaf"]["schedule"]
    r = client.get(urls.api_scenario(SEED, "old", t))
    assert r.status_code == 200
    assert r.json() == model_json(SEED, "old", t)
    assert any(v["kind"] == "use-after-free" for v in r.json()["violations"])


def test_api_state_defaults_to_old_code_and_empty_schedule(client):
    body = client.get(f"/api/s/{SEED}").json()
    assert body["code"] == "old" and body["schedule"] == "" and body["events"] == []
    assert body["enabled"], "at the start some CPU can step"


def test_page_renders_what_the_model_says(client, seed_tours):
    t = seed_tours["uaf"]["schedule"]
    view = modelapi.build_view(SEED, "old", t)
    html = client.get(urls.scenario(SEED, "old", t)).text
    for cpu in view["cpus"]:
        assert f'id="cpu{cpu["id"]}"' in html
        assert escape(cpu["status_text"]) in html
    log = client.get(urls.events(SEED, "old", t)).text  # the page's event-log drawer loads this
    for e in view["events"]:
        assert escape(e["narration"]) in log
    assert f'data-src="{escape(urls.events(SEED, "old", t))}"' in html
    for v in view["violations"]:
        assert escape(v["report"].splitlines()[0]) in html
    assert 'class="line crash' in html or 'crash executed' in html or "line next crash" in html


def test_page_step_links_append_one_digit_and_push_the_url(client):
    view = modelapi.build_view(SEED, "old", "")
    html = client.get(urls.scenario(SEED, "old", "")).text
    for cpu in view["enabled"]:
        url = escape(urls.scenario(SEED, "old", str(cpu)))
        link = re.search(rf'<a [^>]*id="step-{cpu}"[^>]*>', html)
        assert link, f"no step link for CPU{cpu}"
        tag = link.group(0)
        assert f'href="{url}"' in tag and f'hx-get="{url}"' in tag
        assert 'hx-push-url="true"' in tag and f'data-hotkey="{cpu}"' in tag


def test_blocked_cpu_button_is_disabled_with_the_reason(client, seed_tours):
    k, cpu = seed_tours["sleep_at"], seed_tours["sleeper"]
    t = seed_tours["sleep"]["schedule"][:k]
    view = modelapi.build_view(SEED, "new", t)
    reason = next(c for c in view["cpus"] if c["id"] == cpu)["blocked_on"]
    assert reason and "sleep" in reason
    html = client.get(urls.scenario(SEED, "new", t)).text
    assert re.search(rf'<button [^>]*disabled[^>]*id="step-{cpu}"', html)
    assert escape(reason) in html


def test_event_log_links_cut_the_schedule(client, seed_tours):
    t = seed_tours["uaf"]["schedule"]
    r = client.get(urls.events(SEED, "old", t))
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    for i in range(len(t)):
        assert f'id="event-{i}"' in r.text
        assert escape(urls.scenario(SEED, "old", t[: i + 1])) in r.text


@pytest.mark.parametrize("path,status", [
    ("/s/no-such/events", 404),
    (f"/s/{SEED}/events?code=nope", 400),
    (f"/s/{SEED}/events?code=old&t=9", 422),
])
def test_event_log_bad_input_is_a_4xx_not_a_traceback(client, path, status):
    r = client.get(path)
    assert r.status_code == status
    assert "Traceback" not in r.text


def test_locals_link_to_heap_rows(client, seed_tours):
    t = seed_tours["uaf"]["schedule"]
    view = modelapi.build_view(SEED, "old", t)
    html = client.get(urls.scenario(SEED, "old", t)).text
    heap = {o["addr"] for o in view["world"]["heap"]}
    refs = [loc["ref"] for c in view["cpus"] for loc in c["locals"] if loc["ref"] in heap]
    assert refs, "the UAF state has a local pointing into the heap"
    for ref in refs:
        assert f'href="#{urls.heap_anchor(ref)}"' in html
        assert f'id="{urls.heap_anchor(ref)}"' in html


def test_tour_shows_the_sentence_and_a_next_control(client, seed_tours):
    tour = seed_tours["uaf"]
    t = tour["schedule"][:2]
    html = client.get(urls.scenario(SEED, tour["code"], t, tour["name"])).text
    assert escape(tour["steps"][1]) in html
    nxt = escape(urls.scenario(SEED, tour["code"], tour["schedule"][:3], tour["name"]))
    assert re.search(rf'<a [^>]*href="{re.escape(nxt)}"[^>]*data-hotkey="ArrowRight"', html)


def test_code_switch_keeps_t_or_names_where_it_stops(client, seed_tours):
    t = seed_tours["uaf"]["schedule"]
    html = client.get(urls.scenario(SEED, "old", t)).text
    try:
        modelapi.build_view(SEED, "new", t)
    except modelapi.ScheduleError as e:
        assert escape(urls.scenario(SEED, "new", e.valid_prefix)) in html
        assert 'id="diverge-new"' in html and escape(e.reason) in html
    else:
        assert escape(urls.scenario(SEED, "new", t)) in html
        assert 'id="diverge-new"' not in html


# -- htmx: fragment or full page ----------------------------------------------------------------

def test_htmx_partial_request_gets_the_state_fragment(client):
    r = client.get(urls.scenario(SEED, "old", "1"), headers={"HX-Request": "true", "HX-Request-Type": "partial"})
    assert r.status_code == 200
    assert r.text.lstrip().startswith('<main id="state"') and "<html" not in r.text
    assert "<title>" in r.text  # htmx updates document.title from it
    assert "HX-Request" in r.headers["vary"]


@pytest.mark.parametrize("headers", [
    {},
    {"HX-Request": "true", "HX-Request-Type": "full"},
    {"HX-Request": "true", "HX-History-Restore-Request": "true"},
    {"HX-History-Restore-Request": "true", "HX-Request-Type": "full"},
])
def test_everything_else_gets_a_full_page(client, headers):
    r = client.get(urls.scenario(SEED, "old", "1"), headers=headers)
    assert r.status_code == 200
    assert r.text.startswith("<!doctype html>") and '<main id="state"' in r.text
    assert set(map(str.strip, r.headers["vary"].split(","))) >= {
        "HX-Request", "HX-Request-Type", "HX-History-Restore-Request"}


@pytest.mark.parametrize("fragment", [True, False])
def test_listings_come_whole_only_when_asked(client, fragment):
    """Only the window of lines around each CPU's next line, unless HX-Listing: whole (sent by the
    page while its listings are expanded); the same lines, in the same order, either way."""
    base = {"HX-Request": "true"} if fragment else {}
    window = client.get(urls.scenario(SEED, "old", "11111"), headers=base)
    whole = client.get(urls.scenario(SEED, "old", "11111"), headers={**base, "HX-Listing": "whole"})
    assert window.status_code == whole.status_code == 200
    assert "HX-Listing" in window.headers["vary"]
    assert 'data-listing="window"' in window.text and 'data-listing="whole"' in whole.text
    assert 'class="far' not in window.text and whole.text.count('class="far') > 20
    assert len(window.text) < len(whole.text)

    def near_rows(html):  # CPU1's listing rows, less the hidden ones
        listing = html.split('id="program-1"')[1].split("</ol>")[0]
        return re.findall(r'<li class="(?!far|fn far)[^"]*"[^>]*>.*?</li>', listing)
    assert near_rows(window.text) == near_rows(whole.text) != []


def test_htmx_error_is_pane_shaped(client):
    r = client.get(urls.scenario(SEED, "old", "1x"), headers={"HX-Request": "true"})
    assert r.status_code == 422
    assert r.text.lstrip().startswith('<main id="state"')


# -- bad input: never a 500 ---------------------------------------------------------------------

def test_unknown_scenario_404_lists_the_real_ones(client):
    r = client.get("/s/no-such-scenario")
    assert r.status_code == 404
    for s in modelapi.scenarios():
        assert escape(urls.scenario(s["id"])) in r.text
    j = client.get("/api/s/no-such-scenario")
    assert j.status_code == 404
    assert j.json()["error"] == "unknown-scenario" and SEED in j.json()["valid"]


def test_unknown_code_is_400_with_the_valid_codes(client):
    r = client.get(f"/s/{SEED}?code=ancient&t=1")
    assert r.status_code == 400
    assert escape(urls.scenario(SEED, "new", "1")) in r.text
    j = client.get(f"/api/s/{SEED}?code=ancient")
    assert j.status_code == 400 and {"old", "new"} <= set(j.json()["valid"])


def test_unknown_tour_is_400(client):
    r = client.get(f"/s/{SEED}?tour=nope")
    assert r.status_code == 400
    assert "nope" in r.text


def _schedule_error(client, t: str, code: str = "old") -> dict:
    j = client.get(urls.api_scenario(SEED, code, t))
    assert j.status_code == 422, j.text
    body = j.json()
    assert body["error"] == "bad-schedule"
    assert t.startswith(body["valid_prefix"]) and len(body["valid_prefix"]) == body["position"]
    assert body["valid_prefix_url"] == urls.api_scenario(SEED, code, body["valid_prefix"])
    assert client.get(body["valid_prefix_url"]).status_code == 200
    page = client.get(urls.scenario(SEED, code, t))
    assert page.status_code == 422
    assert escape(urls.scenario(SEED, code, body["valid_prefix"])) in page.text
    assert f"step {body['position'] + 1}" in page.text.lower()
    assert escape(body["reason"]) in page.text
    return body


def test_letter_in_t_names_its_position(client):
    assert _schedule_error(client, "11x1")["position"] == 2


def test_unknown_cpu_digit_names_its_position(client):
    assert _schedule_error(client, "19")["position"] == 1


def test_blocked_cpu_names_its_position(client, seed_tours):
    k, cpu = seed_tours["sleep_at"], seed_tours["sleeper"]
    t = seed_tours["sleep"]["schedule"][:k] + str(cpu)
    body = _schedule_error(client, t, code="new")
    assert body["position"] == k


def test_finished_or_crashed_cpu_names_its_position(client, seed_tours):
    t = seed_tours["uaf"]["schedule"]
    view = modelapi.build_view(SEED, "old", t)
    stuck = next(c["id"] for c in view["cpus"] if c["id"] not in view["enabled"])
    assert _schedule_error(client, t + str(stuck))["position"] == len(t)


def test_too_long_schedule_is_refused_not_500(client):
    for t in ("1" * 501, "12" * 5000):
        body = _schedule_error(client, t)
        assert body["position"] <= 500


def test_markup_in_every_user_string_is_escaped(client):
    evil = "<script>alert(1)</script>"
    for url in (f"/s/{evil}", f"/s/{SEED}?code={evil}", f"/s/{SEED}?t=1{evil}",
                f"/s/{SEED}?tour={evil}", f"/api/s/{evil}", f"/nowhere/{evil}"):
        r = client.get(url)
        assert 400 <= r.status_code < 500, url
        assert "<script>alert" not in r.text, url
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in client.get(f"/s/{SEED}?code={evil}").text


def test_repeated_and_odd_parameters_do_not_500(client):
    for url in (f"/s/{SEED}?t=1&t=2", f"/s/{SEED}?t=%00", f"/s/{SEED}?t=%F0%9F%92%A5",
                f"/s/{SEED}?code=", f"/api/s/{SEED}?t= 1", "/s/", "/api/s/"):
        r = client.get(url)
        assert r.status_code < 500, url


def test_unexpected_exception_is_a_plain_500_without_traceback(client, monkeypatch):
    def boom(*_args):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(modelapi, "shared_view", boom)
    clear_caches()
    for url in (urls.scenario(SEED, "old", "1"), urls.api_scenario(SEED, "old", "1")):
        r = client.get(url)
        assert r.status_code == 500
        assert "secret internals" not in r.text and "Traceback" not in r.text
    monkeypatch.undo()
    clear_caches()


def test_wrong_method_is_405(client):
    assert client.post(urls.scenario(SEED)).status_code == 405
    assert client.post("/api/scenarios").json()["error"] == "method-not-allowed"


# -- headers, static files, schema --------------------------------------------------------------

@pytest.mark.parametrize("url", ["/", f"/s/{SEED}?t=1", f"/s/{SEED}?t=x", "/s/nope", "/api/scenarios",
                                 f"/s/{SEED}/events?t=1", "/favicon.ico"])
def test_security_headers_everywhere(client, url):
    h = client.get(url).headers
    csp = h["content-security-policy"]
    for directive in ("default-src 'self'", "script-src 'self'", "style-src 'self'", "object-src 'none'",
                      "base-uri 'none'", "frame-ancestors 'none'"):
        assert directive in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert h["x-content-type-options"] == "nosniff"
    assert h["x-frame-options"] == "DENY"
    assert h["referrer-policy"]


def test_static_files_are_not_documents_but_are_never_sniffed(client):
    """CSS and scripts carry nosniff; the document-only headers (CSP, framing, referrer) are left
    off them to keep a first load small."""
    h = client.get("/static/app.css").headers
    assert h["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in h


def test_no_inline_script_or_style_in_pages(client, seed_tours):
    for url in ("/", urls.scenario(SEED, "old", seed_tours["uaf"]["schedule"], seed_tours["uaf"]["name"]),
                "/s/nope", f"/s/{SEED}?t=1x"):
        html = client.get(url).text
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), url
        assert "<style" not in html and " style=" not in html, url
        assert not re.search(r"\son[a-z]+=", html), url


def test_static_assets_and_favicon(client):
    assert client.get("/favicon.ico").status_code == 200
    js = client.get(urls.static("vendor/htmx-4.0.1.min.js"))
    assert js.status_code == 200 and "htmx" in js.text
    assert client.get(urls.static("app.js")).status_code == 200


def test_openapi_describes_the_api(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    assert {"/api/scenarios", "/api/s/{scenario_id}", "/s/{scenario_id}", "/"} <= set(paths)
    state = paths["/api/s/{scenario_id}"]["get"]
    assert {"200", "400", "404", "422"} <= set(state["responses"])
    assert "RunView" in json.dumps(state["responses"]["200"])
    assert {"400", "404", "422"} <= set(paths["/s/{scenario_id}"]["get"]["responses"])
    assert client.get("/docs").status_code == 404  # Swagger UI needs a CDN and inline scripts
    check = paths["/api/s/{scenario_id}/check"]["get"]
    assert {"200", "400", "404"} <= set(check["responses"])
    assert "CheckResult" in json.dumps(check["responses"]["200"])
    assert "complete_runs_text" in spec["components"]["schemas"]["CheckResult"]["properties"]


# -- compression -------------------------------------------------------------------------------

def test_a_page_is_sent_gzipped_to_clients_that_accept_it_and_plain_otherwise(client):
    url = urls.scenario(SEED, "old", "1212", None)
    zipped = client.get(url, headers={"Accept-Encoding": "gzip"})
    plain = client.get(url, headers={"Accept-Encoding": "identity"})
    assert zipped.status_code == plain.status_code == 200
    assert zipped.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in plain.headers
    assert zipped.text == plain.text  # the client decompresses to the very same page
    for r in (zipped, plain):
        assert "Accept-Encoding" in r.headers["vary"] and "HX-Request" in r.headers["vary"]


def test_rendering_never_writes_to_the_models_shared_view(client, seed_tours):
    """The pages take the model's cached view uncopied (api.shared_view): every route that renders
    a state must leave it exactly as the model built it."""
    from app.model import api as model_api
    from app.model.views.view import build_run_view

    t = seed_tours["uaf"]["schedule"]
    for code in ("old", "new"):
        for url in (urls.scenario(SEED, code, t, "uaf-a"), urls.api_scenario(SEED, code, t),
                    urls.events(SEED, code, t), urls.lanes_svg(SEED, code, t), urls.diagram_txt(SEED, code, t)):
            assert client.get(url).status_code == 200, url
        fresh = build_run_view(model_api.run(SEED, code, t))
        assert model_api.shared_view(SEED, code, t) == fresh
