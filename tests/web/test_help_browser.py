"""The glossary on the stage, in real Chromium (issue 21): ? and the bar's ? link open the keys and
words over the stage; a marked word shows its definition beside it when hovered or focused and is
described by it for a screen reader; a click opens the help at its entry; Esc closes it, and no
stage key acts while it is open."""
from __future__ import annotations

import pytest

from app.web import urls

pytestmark = pytest.mark.browser

SEED = "lru-writeback-vs-swapoff"

DESCRIPTION_JS = """(el) => (el.getAttribute('aria-describedby') || '').split(' ')
    .map((id) => document.getElementById(id)).filter(Boolean).map((d) => d.textContent.trim()).join(' ')"""


def test_the_glossary_from_the_keyboard(projector, server_url):
    page = projector
    page.goto(server_url + urls.scenario(SEED, "old", "1111111", "uaf-a"))  # "CPU1 isolates E from the LRU."
    term = page.locator("#sentence a.term[data-term=isolate]")
    assert term.inner_text() == "isolates"
    described = term.evaluate(DESCRIPTION_JS)
    assert "list_lru_isolate()" in described
    term.focus()
    tip = page.locator("#term-tip")
    assert tip.is_visible() and tip.inner_text() == described
    box, word = tip.bounding_box(), term.bounding_box()
    assert box["y"] >= word["y"] + word["height"] - 1  # beside the word, not over it
    page.keyboard.press("Escape")
    assert not tip.is_visible()

    page.keyboard.press("Enter")  # on the term: the help opens at its entry
    page.wait_for_selector("dialog#help[open]")
    assert page.evaluate("document.activeElement.id") == "g-isolate"
    assert page.locator("#g-isolate").is_visible()
    steps = page.get_attribute("#state", "data-steps")
    page.keyboard.press("1")  # no stage key behind the help
    page.wait_for_timeout(300)
    assert page.get_attribute("#state", "data-steps") == steps
    page.keyboard.press("Escape")
    assert not page.locator("dialog#help").is_visible()
    assert page.url.endswith(urls.scenario(SEED, "old", "1111111", "uaf-a").split("/", 1)[1])

    page.keyboard.press("?")
    page.wait_for_selector("dialog#help[open]")
    rows = page.locator("dialog#help table.keys tbody tr")
    assert rows.count() >= 10 and "Reset" in page.locator("dialog#help table.keys").inner_text()
    assert page.locator("dialog#help .gl-entry").count() >= 15
    page.click("#help-close")
    assert not page.locator("dialog#help").is_visible()
    page.click("#help-open")
    page.wait_for_selector("dialog#help[open]")


def test_a_marked_heading_and_the_line_label(projector, server_url):
    page = projector
    page.goto(server_url + urls.scenario(SEED, "old", "1111"))
    heading = page.locator("#pane-swapcache h2 a.term")
    heading.hover()
    assert "SWAP_HAS_CACHE" in page.locator("#term-tip").inner_text()
    label = page.locator("#last-step a.term[data-term=line-labels]")
    assert label.inner_text().startswith("b:")
    label.click()
    page.wait_for_selector("dialog#help[open]")
    assert page.evaluate("document.activeElement.id") == "g-line-labels"
