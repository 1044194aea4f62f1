"""A step's answer carries only the regions that changed (app/web/page/regions.py): the page says which
state it shows (#state[data-key], sent back as HX-Have), and each region whose HTML is the same
in both states comes as an empty twin that the browser's morph leaves in place.

The contract is checked by reconstruction: every twin, replaced by the region the page holds,
gives exactly the whole answer, on random walks over every scenario and code.
"""
from __future__ import annotations

import random
import re

import pytest
from markupsafe import escape

from app.web import modelapi, urls
from app.web.routes import pages
from app.web.page import regions

SEED = "lru-writeback-vs-swapoff"
FRAGMENT = {"HX-Request": "true"}
TWIN = re.compile(r'<([a-z0-9]+) id="([^"]+)" data-same></\1>')


def key_of(html: str) -> str:
    m = re.search(r'<main id="state"[^>]*\sdata-key="([0-9a-f]+)"', html)
    assert m, "the state carries no data-key"
    return m.group(1)


def rebuilt(delta: str, held: dict[str, str]) -> str:
    return TWIN.sub(lambda m: held[m.group(2)], delta)


# ---- the cutting itself ----------------------------------------------------------------------

def test_split_drops_the_markers_and_names_each_region_by_its_id():
    html = ('<main id="state">a<!--R--><section class="x" id="pane-tree">t</section><!--/R-->b'
            '<!--R-->  <!--/R-->c<!--R--><li id="lane-3">r</li><!--/R--></main>')
    parts = regions.split(html)
    assert parts.ids == ("pane-tree", "lane-3") and parts.tags == ("section", "li")
    assert parts.whole() == html.replace("<!--R-->", "").replace("<!--/R-->", "")
    delta, same = parts.against({"pane-tree": '<section class="x" id="pane-tree">t</section>', "lane-3": "other"})
    assert same == 1
    assert delta == '<main id="state">a<section id="pane-tree" data-same></section>b  c<li id="lane-3">r</li></main>'


@pytest.mark.parametrize("bad", ["<!--R--><p id='x'>no close", "a<!--/R-->b", "<!--R--><p>no id</p><!--/R-->",
                                 "<!--R--><p id=\"a\"></p><!--/R--><!--/R-->"])
def test_a_badly_marked_template_is_an_error_not_a_wrong_answer(bad):
    with pytest.raises(regions.RegionError):
        regions.split(bad)


def test_no_text_a_user_or_the_kernel_writes_can_forge_a_marker():
    assert regions.REGION_OPEN not in str(escape(str(regions.REGION_OPEN)))
    assert regions.REGION_CLOSE not in str(escape(str(regions.REGION_CLOSE)))


# ---- the answers -------------------------------------------------------------------------------

def _walks(n: int, seed: int) -> list[tuple[str, str, str]]:
    rng = random.Random(seed)
    ids = [s["id"] for s in modelapi.scenarios()]
    out = []
    for _ in range(n):
        sid, code = rng.choice(ids), rng.choice(["old", "new"])
        t = ""
        for _ in range(rng.randint(1, 30)):
            enabled = modelapi.replay(sid, code, t)["enabled"]
            if not enabled:
                break
            t += str(rng.choice(enabled))
        if t:
            out.append((sid, code, t))
    return out


@pytest.mark.parametrize("seed", [1, 2])
def test_a_step_answer_rebuilt_from_the_page_it_came_to_is_the_whole_answer(client, seed):
    twins = 0
    for sid, code, t in _walks(12, seed):
        parent = client.get(urls.scenario(sid, code, t[:-1]), headers=FRAGMENT)
        key = key_of(parent.text)
        held = regions.have(key)
        assert held, "the server holds the regions of the state it just sent"
        whole = client.get(urls.scenario(sid, code, t), headers=FRAGMENT).text
        delta = client.get(urls.scenario(sid, code, t), headers={**FRAGMENT, "HX-Have": key})
        assert delta.status_code == 200 and "HX-Have" in delta.headers["vary"]
        assert rebuilt(delta.text, held) == whole
        assert len(delta.text) <= len(whole)
        twins += len(TWIN.findall(delta.text))
    assert twins > 0


def test_a_step_of_swapoff_leaves_the_writeback_cpu_and_the_untouched_panes_out(client):
    tour = next(x for x in modelapi.scenario(SEED)["tours"] if x["name"] == "uaf-a")
    sched = tour["schedule"]
    # The first step of CPU2 (swapoff) after CPU1 has run: it does not touch the zswap tree.
    i = next(i for i in range(1, len(sched)) if sched[i] == "2" and sched[i - 1] == "1")
    parent = client.get(urls.scenario(SEED, tour["code"], sched[:i]), headers=FRAGMENT)
    delta = client.get(urls.scenario(SEED, tour["code"], sched[: i + 1]),
                       headers={**FRAGMENT, "HX-Have": key_of(parent.text)}).text
    same = {m.group(2) for m in TWIN.finditer(delta)}
    assert {"program-1", "pane-tree", "lane-1"} <= same
    assert "program-2" not in same and "lane-current" not in same


def test_an_unknown_have_or_a_full_page_gets_the_whole_answer(client):
    url = urls.scenario(SEED, "old", "1111")
    whole = client.get(url, headers=FRAGMENT).text
    assert client.get(url, headers={**FRAGMENT, "HX-Have": "0123456789abcdef01"}).text == whole
    assert client.get(url, headers={**FRAGMENT, "HX-Have": "<script>"}).text == whole
    parent = key_of(client.get(urls.scenario(SEED, "old", "111"), headers=FRAGMENT).text)
    # Only a key's own shape is looked up (it becomes part of cache keys): not a longer header.
    assert regions.asked_have(parent) == parent and regions.asked_have(parent + "0" * 4000) is None
    assert client.get(url, headers={**FRAGMENT, "HX-Have": parent + "0" * 4000}).text == whole
    parent_key = key_of(client.get(urls.scenario(SEED, "old", "111"), headers=FRAGMENT).text)
    page = client.get(url, headers={"HX-Have": parent_key}).text  # not an htmx swap: a whole page
    assert "data-same" not in page and page.startswith("<!doctype html>")


def test_each_state_and_listing_mode_has_its_own_key_shared_by_its_page_and_fragment(client):
    url = urls.scenario(SEED, "old", "11")
    page, frag = client.get(url).text, client.get(url, headers=FRAGMENT).text
    whole = client.get(url, headers={**FRAGMENT, "HX-Listing": "whole"}).text
    other = client.get(urls.scenario(SEED, "old", "12"), headers=FRAGMENT).text
    assert key_of(page) == key_of(frag)
    assert len({key_of(frag), key_of(whole), key_of(other)}) == 3


def test_the_held_regions_are_bounded():
    assert 0 < regions._have.max_entries <= 1024 and 0 < regions._have.max_bytes <= 64 << 20
    assert pages.state_parts.cache.max_bytes <= 64 << 20


# ---- in the browser ------------------------------------------------------------------------------

def _steady_region(scenario: str, code: str, schedule: str, tour: str) -> str:
    """A region whose HTML is the same in every state of the schedule's prefixes (so each step's
    answer sends it as a twin)."""
    states = [pages.state_parts(True, scenario, code, schedule[:i], tour).by_id() for i in range(len(schedule) + 1)]
    steady = [rid for rid, html in states[0].items() if all(s.get(rid) == html for s in states)]
    assert steady, "no region stays the same over these steps"
    return sorted(steady)[0]


@pytest.mark.browser
def test_stepping_keeps_unchanged_regions_and_ends_where_a_fresh_load_does(projector, server_url):
    page = projector
    tour = next(x for x in modelapi.scenario(SEED)["tours"] if x["name"] == "uaf-a")
    n = 14
    steady = _steady_region(SEED, tour["code"], tour["schedule"][:n], tour["name"])
    page.goto(server_url + urls.scenario(SEED, tour["code"], "", tour["name"]))
    page.evaluate("id => { document.getElementById(id).__kept = true; }", steady)
    for i in range(n):
        page.keyboard.press("ArrowRight")
        page.wait_for_function("n => document.querySelector('#state').dataset.steps === String(n)", arg=i + 1)
    assert page.evaluate("() => document.querySelectorAll('[data-same]').length") == 0
    # The page kept its own element for the region no step changed: not a copy, the same node.
    assert page.evaluate("id => document.getElementById(id).__kept === true", steady)
    shown = """() => [...document.querySelectorAll('#state [id]')].map(e => e.id + ':' + e.tagName).join(' ')
                     + '\\n' + document.getElementById('state').innerText"""
    stepped = page.evaluate(shown)
    page.goto(page.url)
    assert page.evaluate(shown) == stepped


@pytest.mark.browser
def test_a_step_closes_an_open_menu_the_answer_keeps(projector, server_url):
    """The Tours menu comes as a twin (it is the same at every step), so the morph no longer
    closes it: a step still does, as it did when the menu was rewritten."""
    page = projector
    page.goto(server_url + urls.scenario(SEED, "old"))
    page.click("#tours-menu > summary")
    assert page.evaluate("() => document.getElementById('tours-menu').open")
    page.keyboard.press("1")
    page.wait_for_function("() => document.querySelector('#state').dataset.steps === '1'")
    page.wait_for_function("() => !document.getElementById('tours-menu').open")
