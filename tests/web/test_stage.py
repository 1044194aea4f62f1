"""The stage: at 1280x720 and 1920x1080, without scrolling, the first screen shows the step's
sentence, each CPU's next (or crash) line, the tree, LRU, swap cache and locks panes, the lane
diagram's current row and the crash banner. Checked by element bounding boxes in real Chromium.

Schedules come from the scenarios' own tours (never hard-coded).
"""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from app.web import modelapi, urls

pytestmark = pytest.mark.browser

SEED = "lru-writeback-vs-swapoff"
VIEWPORTS = [(1280, 720), (1920, 1080)]


def _tour(scenario: str, name: str) -> dict:
    s = modelapi.scenario(scenario)
    assert s is not None
    return next(t for t in s["tours"] if t["name"] == name)


def _three_cpu_state() -> tuple[str, str, str]:
    """A mid-run state of a 3-CPU scenario: half of the first tour it has, or 6 steps of CPU1."""
    for s in modelapi.scenarios():
        if sum(1 for c in s["cpus"] if c["actor"] != "io") >= 3:
            if s["tours"]:
                t = s["tours"][0]
                return s["id"], t["code"], t["schedule"][: len(t["schedule"]) // 2]
            return s["id"], "old", "111111"
    pytest.fail("no 3-CPU scenario")


def _three_cpu_crash() -> tuple[str, str, str, str | None]:
    """The end of an old-code tour of a 3-CPU scenario that crashes (two banners, four columns)."""
    for s in modelapi.scenarios():
        if sum(1 for c in s["cpus"] if c["actor"] != "io") >= 3:
            for t in s["tours"]:
                v = modelapi.build_view(s["id"], t["code"], t["schedule"])
                if any(x["kind"] == "use-after-free" for x in v["violations"]):
                    return s["id"], t["code"], t["schedule"], t["name"]
    pytest.fail("no 3-CPU tour ends in a use-after-free")


def _states() -> list[tuple[str, str, str, str, str | None]]:
    uaf = _tour(SEED, "uaf-a")["schedule"]
    sid3, code3, t3 = _three_cpu_state()
    return [
        ("seed-start", SEED, "old", "", None),
        ("mid-tour-27", SEED, "old", uaf[:27], "uaf-a"),
        ("at-uaf", SEED, "old", uaf, "uaf-a"),
        ("fixed-same-schedule", SEED, "new", uaf, None),
        ("three-cpus", sid3, code3, t3, None),
        ("three-cpus-crash", *_three_cpu_crash()),
    ]


STATES = _states()


def _inside(box: dict | None, w: int, h: int) -> bool:
    return box is not None and box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= w + 0.5 \
        and box["y"] + box["height"] <= h + 0.5


@pytest.mark.parametrize("w,h", VIEWPORTS, ids=[f"{w}x{h}" for w, h in VIEWPORTS])
@pytest.mark.parametrize("name,scenario,code,t,tour", STATES, ids=[s[0] for s in STATES])
def test_everything_that_matters_is_on_the_first_screen(sized_page, server_url, w, h, name, scenario, code, t, tour):
    page = sized_page(w, h)
    page.goto(server_url + urls.scenario(scenario, code, t, tour))
    page.wait_for_load_state("load")
    view = modelapi.build_view(scenario, code, t)
    assert page.evaluate("window.scrollY") == 0
    must = ["#sentence", "#pane-tree", "#pane-lru", "#pane-swapcache", "#pane-locks", "#pane-lanes"]
    for cpu in view["cpus"]:
        if cpu["status"] == "crashed":
            must.append(f"#cpu{cpu['id']}-crash")
        elif cpu["status"] != "done":
            must.append(f"#cpu{cpu['id']}-next")
        else:
            must.append(f"#cpu{cpu['id']}-status")
    if t:
        must.append("#lane-current")
    if any(v["kind"] == "use-after-free" for v in view["violations"]):
        must.append("#crash-banner")
    if name == "fixed-same-schedule":
        must.append("#fixed-banner")
    outside = [sel for sel in must if not _inside(page.locator(sel).bounding_box(), w, h)]
    assert not outside, f"{name} at {w}x{h}: not inside the first screen: {outside}"
    # Nothing required is scrolled out of a scroll box it sits in (a CPU column, the lanes).
    clipped = page.evaluate("""sels => sels.filter(sel => {
        const el = document.querySelector(sel);
        const r = el.getBoundingClientRect();
        for (let box = el.parentElement; box && box !== document.body; box = box.parentElement) {
            if (getComputedStyle(box).overflowY === 'visible') continue;
            const b = box.getBoundingClientRect();
            if (r.top < b.top - 1 || r.bottom > b.bottom + 1) return true;
        }
        return false;
    })""", must)
    assert not clipped, f"{name} at {w}x{h}: scrolled out of their box: {clipped}"
    assert not page.errors


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_no_meaningful_text_under_14px_on_the_stage_at_1280x720(sized_page, server_url, scheme):
    uaf = _tour(SEED, "uaf-a")["schedule"]
    page = sized_page(1280, 720, scheme)
    page.goto(server_url + urls.scenario(SEED, "old", uaf, "uaf-a"))
    small = page.evaluate("""() => {
        const out = [];
        const walker = document.createTreeWalker(document.getElementById('stage'), NodeFilter.SHOW_TEXT);
        while (walker.nextNode()) {
            const n = walker.currentNode, el = n.parentElement;
            if (!n.textContent.trim() || !el.getClientRects().length) continue;
            if (el.closest('.sr, [aria-hidden=true]')) continue;
            const size = parseFloat(getComputedStyle(el).fontSize);
            if (size < 13.95) out.push(size.toFixed(1) + 'px: ' + n.textContent.trim().slice(0, 40));
        }
        return out;
    }""")
    assert not small, small[:10]


def test_projector_zoom_keys_grow_the_text_and_are_remembered(sized_page, server_url):
    page = sized_page(1280, 720)
    page.goto(server_url + urls.scenario(SEED, "old"))
    base = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    page.keyboard.press("+")
    page.keyboard.press("+")
    bigger = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert bigger > base * 1.2
    page.reload()
    assert page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)") == pytest.approx(bigger)
    page.keyboard.press("-")
    page.keyboard.press("-")
    assert page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)") == pytest.approx(base)


def test_whole_listing_is_one_key_away(sized_page, server_url):
    page = sized_page(1280, 720)
    page.goto(server_url + urls.scenario(SEED, "old", "1"))
    # The page carries only the window of lines around each CPU's next line...
    assert page.locator("#program-1 li").count() > 0
    assert page.locator("#program-1 li.far").count() == 0
    # ...and `l` fetches the rest, in place: the URL (the state) does not change.
    url = page.url
    page.keyboard.press("l")
    far = page.locator("#program-1 li.far").first
    expect(far).to_be_visible()
    assert page.url == url
    page.keyboard.press("1")  # survives a step: the next fragment comes whole
    page.wait_for_function("() => document.querySelector('#state').dataset.steps === '2'")
    expect(page.locator("#program-1 li.far").first).to_be_visible()
    assert page.locator("#state").get_attribute("data-listing") == "whole"
    page.click("#listing-1")
    expect(page.locator("#program-1 li.far").first).not_to_be_visible()
    # Expanded on a fresh load of a state: the page asks for the whole listings at once.
    page.click("#listing-1")
    page.goto(server_url + urls.scenario(SEED, "old", "11"))
    expect(page.locator("#program-1 li.far").first).to_be_visible()


WINDOW_ROWS_JS = """() => [...document.querySelectorAll('.arena > .cpu > .program')].map((list) => {
  const box = list.getBoundingClientRect(), top = box.top + list.clientTop, bottom = top + list.clientHeight;
  const line = list.querySelector('li.crash') || list.querySelector('li.next');
  const first = [...list.children].map((r) => r.getBoundingClientRect()).find((r) => r.bottom > top + 0.5);
  return {id: list.id, cutAtTop: first ? top - first.top : 0,
          lineInView: !line || (line.getBoundingClientRect().top >= top - 0.5 && line.getBoundingClientRect().bottom <= bottom + 0.5)};
})"""


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080)])
def test_a_code_window_that_scrolls_shows_its_top_row_whole(sized_page, server_url, size):
    """The challenge box makes the stage shorter: CPU1's window at step 4 cannot scroll as far as
    the row before its next line, and used to show its top row cut in two (seen on a projector)."""
    page = sized_page(*size)
    page.goto(server_url + urls.challenge(SEED, "crash-the-old-code", "1111"))
    page.wait_for_load_state("load")
    windows = page.evaluate(WINDOW_ROWS_JS)
    assert windows
    for w in windows:
        assert w["lineInView"], w
        assert w["cutAtTop"] <= 0.5, w
