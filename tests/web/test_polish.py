"""The smaller things of issue 21, each seen in real Chromium: a fixed code's tour ends on a verdict;
a focused Step button is told from its neighbours; nothing said twice (the fix's banner and the
sentence, "CPU1 CPU1" in compare); a step out of a tour reads as a sentence; /write starts with a
tour, names CPUs by id and shows Open without scrolling; a compact embed fits 800x500 and the
Embed menu offers it; the code switch says in words why it warns."""
from __future__ import annotations

import re

import pytest

from app.web import modelapi, urls
from tests.web.clicks import click_settled

pytestmark = pytest.mark.browser

SEED = "lru-writeback-vs-swapoff"
TOURS = {t["name"]: t for t in modelapi.scenario(SEED)["tours"]}
UAF = TOURS["uaf-a"]["schedule"]

INSIDE_JS = """(sel) => { const el = document.querySelector(sel); if (!el) return false;
    const r = el.getBoundingClientRect();
    return r.height > 0 && r.top >= -0.5 && r.left >= -0.5 && r.bottom <= innerHeight + 0.5 && r.right <= innerWidth + 0.5; }"""


def text(page, sel: str) -> str:
    return " ".join(page.inner_text(sel).split())


@pytest.mark.parametrize("name", [n for n, t in TOURS.items() if t["code"] == "new"])
def test_a_fixed_codes_tour_ends_on_a_visible_verdict(sized_page, server_url, name):
    page = sized_page()
    tour = TOURS[name]
    page.goto(server_url + urls.scenario(SEED, "new", tour["schedule"][:-1], name))
    assert page.locator("#tour-verdict").count() == 0  # not before the end
    page.keyboard.press("ArrowRight")
    page.wait_for_selector("#tour-verdict")
    assert page.evaluate(INSIDE_JS, "#tour-verdict")
    said = text(page, "#tour-verdict")
    assert said.startswith("✔ No crash on new code")
    assert re.search(r"CPU1('s last tree->lock \(step \d+\) came before| never took tree->lock, and) "
                     r"swapoff freed trees \(step \d+\)", said), said
    assert "CPU2 finished: swapoff returned 0" in said
    # The code switch says why it warns, in words on the chip.
    chip = text(page, "#code-old")
    assert re.search(r"⚠ replays \d+/\d+", chip), chip
    assert not page.errors


def test_a_focused_step_button_stands_out(sized_page, server_url):
    page = sized_page()
    page.goto(server_url + urls.scenario(SEED, "old", "11"))
    page.keyboard.press("Tab")  # the keyboard is in use: focus is shown
    page.focus("#step-1")
    style = "(el) => { const s = getComputedStyle(el); return [s.outlineStyle, s.outlineColor, s.boxShadow, s.borderColor]; }"
    focused = page.eval_on_selector("#step-1", style)
    other = page.eval_on_selector("#step-2", style)
    assert focused[0] != "none" and focused[1] != other[3], (focused, other)  # not the blue of a border
    assert focused[2] != "none" and other[2] == "none"  # a halo round it
    assert other[0] == "none"


def test_nothing_is_said_twice(sized_page, server_url):
    page = sized_page()
    page.goto(server_url + urls.scenario(SEED, "new", UAF))  # a crashing schedule on the fixed code
    sentence, banner = text(page, "#last-step"), text(page, "#fixed-banner")
    narration = sentence.split(": ", 1)[-1].split(", ", 1)[-1]
    assert len(narration) > 20 and narration not in banner, (sentence, banner)
    page.goto(server_url + urls.compare(SEED, "old", UAF, "new", UAF))
    body = text(page, "body")
    assert not re.search(r"\b(CPU\d) \1\b", body)
    assert "55. CPU1 touches tree->lock" in body


def test_a_step_out_of_a_tour_reads_as_a_sentence(sized_page, server_url):
    page = sized_page()
    page.goto(server_url + urls.scenario(SEED, "new", "11111111111"))
    said = text(page, "#last-step")
    assert re.match(r"11\. CPU1, in __read_swap_cache_async\(\)( at [bf]:[\d-]+)?: \S", said), said


@pytest.mark.parametrize("size", [(1280, 720), (1024, 768)], ids=["1280x720", "1024x768"])
def test_write_starts_with_a_tour_names_cpus_by_id_and_shows_open(sized_page, server_url, size):
    page = sized_page(*size)
    page.goto(server_url + urls.write())
    assert page.evaluate(INSIDE_JS, "#write-open")
    sketch = page.input_value("#scenario-text")
    assert "[[tours]]" in sketch and "[[tours.segments]]" in sketch
    page.fill("#scenario-text", sketch.replace('actor = "swapoff"', 'actor = "swapof"'))
    page.click("#write-open")
    page.wait_for_selector("#write-errors")
    assert "CPU2 actor:" in text(page, "li.bad") and "cpus.1" not in text(page, "#write-errors")
    assert page.evaluate(INSIDE_JS, "#write-open")
    page.fill("#scenario-text", sketch)
    page.click("#write-open")
    page.wait_for_url("**/s/u~*")
    page.click("#tours-menu summary")
    assert page.locator("#tours-menu a[id^=tour-link-my-tour]").count() == 1


def test_a_compact_embed_fits_800x500_and_is_offered(sized_page, server_url):
    page = sized_page(800, 500)
    page.goto(server_url + urls.embed(SEED, "old", UAF, layout="compact"))
    page.wait_for_load_state("load")
    for sel in ("#cpu1-crash", "#crash-banner", "#lane-current", "#sentence"):
        assert page.evaluate(INSIDE_JS, sel), sel
    assert page.evaluate("document.documentElement.scrollHeight") <= 500
    page.keyboard.press("ArrowLeft")  # ← stays in the compact embed
    page.wait_for_url("**layout=compact**")
    big = sized_page()
    big.goto(server_url + urls.scenario(SEED, "old", UAF))
    click_settled(big, "#embed-button")
    big.select_option("#embed-size", "compact")
    snippet = big.input_value("#embed-snippet")
    assert "layout=compact" in snippet and 'width="800" height="500"' in snippet
