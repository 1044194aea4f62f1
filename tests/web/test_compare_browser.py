"""Compare in real Chromium at projector size: from the scenario page's "Compare with the fixed
code" to both runs side by side, the parting step marked and in view, digit keys stepping both."""
from __future__ import annotations

import pytest

from app.web import modelapi, urls
from tests.web.clicks import click_settled

pytestmark = pytest.mark.browser

SEED = "lru-writeback-vs-swapoff"


def test_compare_with_the_fixed_code_then_step_both(projector, server_url):
    page = projector
    t = next(x["schedule"] for x in modelapi.scenario(SEED)["tours"] if x["name"] == "uaf-a")[:3]
    page.goto(server_url + urls.scenario(SEED, "old", t))
    click_settled(page, "#compare-link")
    page.wait_for_url("**/compare/**")
    assert page.url == server_url + urls.compare(SEED, "old", t, "new", t)
    assert "The same run:" in page.inner_text("#parting")
    page.keyboard.press("1")  # step 4: both take the same line
    page.wait_for_url(server_url + urls.compare(SEED, "old", t + "1", "new", t + "1"))
    page.keyboard.press("1")  # step 5: the fixed code moves the entry on the LRU first
    page.wait_for_url(server_url + urls.compare(SEED, "old", t + "11", "new", t + "11"))
    parting = page.inner_text("#parting")
    assert "The runs part at step 5." in parting and "list_move_tail" in parting
    box = page.locator("#parting").bounding_box()
    assert box is not None and box["y"] + box["height"] <= 720  # in view on a projector, no scrolling
    assert page.locator("#row-4.first-diff").count() == 1
    page.click("#b-step-1")  # B alone one step further
    page.wait_for_url(server_url + urls.compare(SEED, "old", t + "11", "new", t + "111"))
    page.keyboard.press("ArrowLeft")  # back in both
    page.wait_for_url(server_url + urls.compare(SEED, "old", t + "1", "new", t + "11"))
