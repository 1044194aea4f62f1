"""Your own scenario, in a link (app/web/routes/userscenarios.py, app/model/scenarios/userscenario.py): the write
page, errors next to their lines, the scenario carried in the URL through every route, and every
bad link a named 4xx."""
from __future__ import annotations

import html
import re
import zlib
import base64

import pytest

from app.model.scenarios import userscenario
from app.web import modelapi, urls
from app.web.routes.userscenarios import STARTER

SEED = "lru-writeback-vs-swapoff"


def open_text(client, text: str):
    return client.post(urls.write_post(), data={"text": text}, follow_redirects=False)


@pytest.fixture(scope="module")
def sid() -> str:
    return modelapi.user_scenario_id(STARTER)


def test_the_write_page_holds_a_starter_or_a_scenarios_text(client):
    page = html.unescape(client.get(urls.write()).text)
    assert 'id="scenario-text"' in page and STARTER in page
    assert 'name = "uaf-a"' in html.unescape(client.get(urls.write(SEED)).text)
    assert client.get(urls.write("no-such")).status_code == 404
    assert 'id="write-link"' in client.get(urls.index()).text


def test_a_valid_scenario_opens_in_the_visualizer_carried_in_the_link(client, sid):
    r = open_text(client, STARTER)
    assert r.status_code == 303 and r.headers["location"] == urls.scenario(sid, "old")
    assert sid.startswith("u~") and userscenario.decode(sid[2:]) == STARTER
    page = client.get(r.headers["location"])
    assert page.status_code == 200 and "My scenario: LRU writeback vs. swapoff" in page.text
    assert 'id="user-scenario-banner"' in page.text  # said, so that a shared link is not taken for a shipped one
    assert 'id="user-scenario-banner"' not in client.get(urls.scenario(SEED, "old")).text
    t = "1111111122222222222222222222222222222222222222222222221"  # the seed's race, on the user's copy
    crash = client.get(urls.scenario(sid, "old", t))
    assert crash.status_code == 200 and "BUG: KASAN: slab-use-after-free" in crash.text
    for url in (urls.api_scenario(sid, "old", t), urls.lanes_svg(sid, "old", t), urls.trace_json(sid, "old", t),
                urls.kasan_txt(sid, "old", t), urls.embed(sid, "old", t, 50), urls.compare(sid, "old", t, "new", t),
                urls.events(sid, "old", t)):
        assert client.get(url).status_code == 200, url
    assert client.get(urls.api_scenario(sid, "old", t)).json()["violations"][0]["kind"] == "use-after-free"
    assert f'href="{html.escape(urls.write(sid))}"' in crash.text  # "Edit this scenario"
    assert STARTER.splitlines()[1] in html.unescape(client.get(urls.write(sid)).text)


def test_the_explorer_searches_it_on_request_within_the_link_budget(client, sid):
    page = client.get(urls.scenario(sid, "old")).text
    assert 'id="pane-verdict"' in page
    r = client.get(urls.api_check(sid, "old"))
    assert r.status_code == 200
    body = r.json()
    assert body["complete"] and body["states"] <= modelapi.USER_MAX_STATES
    assert {v["kind"] for v in body["violations"]} == {"use-after-free"}
    assert not client.get(urls.api_check(sid, "new")).json()["violations"]


def test_a_search_cut_by_the_budget_says_so(monkeypatch):
    """The explorer's budget for a scenario in a link, in the model and in the search process."""
    import time

    from app.model import api
    from app.web.http import searches

    sid = modelapi.user_scenario_id(STARTER + "# cut by the budget\n")  # a fresh id: nothing cached
    monkeypatch.setattr(userscenario, "USER_MAX_STATES", 50)
    result = api.check(sid, "old")
    assert not result["complete"] and "state budget of 50 states" in result["stopped_reason"]
    monkeypatch.setattr(searches, "_FLAGS", [0])
    found = searches._search(0, sid, "new", "", searches.MAX_STATES, 30.0, time.time())
    assert found is not None and not found["complete"]
    assert found["stopped_reason"] == "stopped at the state budget of 50 states (the budget of a scenario in a link)"


@pytest.mark.parametrize("edit,at,text", [
    # A CPU is named as the page names it, by its id ("cpus.1" is the CPU with id = 2).
    (lambda t: t.replace('actor = "swapoff"', 'actor = "swapof"'), 'actor = "swapof"', "CPU2 actor: Input should be"),
    (lambda t: t.replace('lru = ["E"]', 'lru = ["F"]'), 'lru = ["F"]', "world.lru[0]: no entry named 'F'"),
    (lambda t: t.replace('title = "My', 'title "My'), 'title "My scenario: LRU writeback vs. swapoff"', "not valid TOML"),
    (lambda t: t.replace("[[cpus]]\nid = 2", "[[cpus]]\nid = 7"), "id = 7", "CPU7 id: Input should be"),
    (lambda t: t + '\n[[tours]]\nname = "t"\ntitle = "T"\ncode = "old"\n[[tours.segments]]\ncpus = "12"\nnote = "x"\n'
                   '[[tours.segments]]\ncpus = "2222222222222222222222222222222222222222222222222222"\nnote = "y"\n',
     "[[tours]]", "tours[1] (t): step 22 cannot be replayed on old: CPU2 cannot step"),
])
def test_a_scenario_with_an_error_comes_back_with_it_next_to_its_line(client, edit, at, text):
    bad = edit(STARTER)
    lines = bad.splitlines()
    line = len(lines) - lines[::-1].index(at)  # the last such line: the starter has a tour of its own
    r = open_text(client, bad)
    assert r.status_code == 422 and "location" not in r.headers
    page = html.unescape(r.text)
    assert text in page, page[page.find('id="write-errors"'):][:800]
    # Every error is placed on its line (a check across fields on the field it names).
    m = re.search(rf'<li value="{line}" id="line-{line}" class="bad">(.*?)</li>', page, re.S)
    assert m and text in m.group(1), page[page.find('id="write-errors"'):][:1500]
    assert bad in page  # the text comes back to be fixed


def test_a_scenario_larger_than_a_link_may_carry_is_refused(client):
    more = STARTER.replace('slots = [{ offset = 3, owner = "A" }]',
                           'slots = [{ offset = 3, owner = "A" }, { offset = 4, owner = "B" }, { offset = 5, owner = "C" }]')
    r = open_text(client, more)
    assert r.status_code == 422 and "world.slots: 3 slots; a scenario in a link may have at most 2" in r.text
    huge = open_text(client, STARTER + "#" * 20_000)
    assert huge.status_code == 413 and "larger than 16 KiB" in huge.text


def _link(raw: bytes) -> str:
    return "u~" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("scenario_id,status,error", [
    ("u~", 404, "scenario-link-corrupted"),  # what schemathesis found: a 400 there failed its check
    ("u~!!notbase64", 404, "scenario-link-corrupted"),
    ("u~" + userscenario.encode(STARTER)[:40], 404, "scenario-link-corrupted"),
    (_link(b"not zlib at all"), 404, "scenario-link-corrupted"),
    (_link(zlib.compress(b"\xff\xfe" * 10)), 404, "scenario-link-corrupted"),
    (_link(zlib.compress(b"#" * 200_000, 9)), 413, "scenario-too-large"),
    ("u~" + "A" * 9000, 414, "scenario-link-too-long"),
    (_link(zlib.compress(b'id = "x"\n')), 422, "scenario-invalid"),
])
def test_a_corrupted_or_oversized_link_is_a_named_4xx(client, scenario_id, status, error):
    api = client.get(urls.api_scenario(scenario_id, "old", ""))
    assert api.status_code == status and api.json()["error"] == error, api.text[:300]
    for url in (urls.scenario(scenario_id, "old"), urls.lanes_svg(scenario_id), urls.embed(scenario_id),
                urls.compare(scenario_id), urls.verdict(scenario_id)):
        r = client.get(url)
        assert r.status_code == status and "Traceback" not in r.text, url


def test_the_guides_example_link_opens(client):
    from pathlib import Path

    guide = (Path(__file__).resolve().parents[2] / "docs" / "scenarios.md").read_text()
    (link,) = set(re.findall(r"\(http://127\.0\.0\.1:8000(/s/u~[A-Za-z0-9_-]+\?code=old)\)", guide))
    r = client.get(link)
    assert r.status_code == 200 and "My scenario: LRU writeback vs. swapoff" in r.text


def test_a_bad_form_is_a_400(client):
    assert client.post(urls.write_post(), data={}).status_code == 400


@pytest.mark.browser
def test_write_fix_and_open_in_chromium(projector, server_url):
    page = projector
    page.goto(server_url + urls.index())
    page.click("#write-link")
    page.wait_for_selector("#scenario-text")
    page.fill("#scenario-text", STARTER.replace('actor = "swapoff"', 'actor = "swapof"'))
    page.click("#write-open")
    page.wait_for_selector("#write-errors")
    bad = page.locator("li.bad")
    assert bad.count() == 1 and 'actor = "swapof"' in bad.inner_text() and "CPU2 actor" in bad.inner_text()
    page.fill("#scenario-text", STARTER)
    page.click("#write-open")
    page.wait_for_url("**/s/u~*")
    assert page.inner_text("h1.title") == "My scenario: LRU writeback vs. swapoff"
    page.wait_for_function("() => document.querySelector('#step-1')?.dataset.htmxPowered === 'true'")
    page.keyboard.press("1")
    page.wait_for_function("() => document.querySelector('#state').dataset.steps === '1'")
    assert "/s/u~" in page.url and "t=1" in page.url
