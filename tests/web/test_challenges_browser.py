"""A challenge in real Chromium at projector size: from the index, the room steps the CPUs with
the number keys until the model says the goal is met; then Give up on the fixed code."""
from __future__ import annotations

import pytest

from app.model import challenges
from app.web import urls

pytestmark = pytest.mark.browser

SEED = "lru-writeback-vs-swapoff"
NAME = "swapoff-sleeps-on-the-folio"


def test_keys_reach_the_goal_and_the_page_says_so(projector, server_url):
    page = projector
    best = challenges.shortest(SEED, NAME).schedule
    page.goto(server_url + urls.index())
    page.click(f"#challenge-link-{SEED}-{NAME}")
    page.wait_for_url("**/challenge/**")
    assert "Steps taken: 0" in page.inner_text("#challenge")
    page.wait_for_function("() => document.querySelector('#step-1')?.dataset.htmxPowered === 'true'")
    for digit in best:
        page.keyboard.press(digit)
    page.wait_for_selector("#challenge-done")
    text = page.inner_text("#challenge")
    assert f"Done in {len(best)} steps." in text and "as short as it gets" in text
    assert page.url == server_url + urls.challenge(SEED, NAME, best)
    box = page.locator("#challenge").bounding_box()
    assert box is not None and box["y"] + box["height"] <= 720  # on the projector's first screen


def test_give_up_on_the_fixed_code(projector, server_url):
    page = projector
    page.goto(server_url + urls.challenge(SEED, "crash-the-fixed-code", "11"))
    page.click("#give-up")
    page.wait_for_selector("#challenge-answer")
    assert "No schedule reaches a use-after-free on this code." in page.inner_text("#challenge-answer")
