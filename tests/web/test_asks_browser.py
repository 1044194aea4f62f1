"""A presenter's ad-hoc question in a live room, in real Chromium: the presenter asks "Which CPU
crashes first?" (key k) at the start of the old code, two attendees (one on a 390 px phone) answer,
see no answer before the reveal, the presenter sees "2 answered" and the split, reveals (v), both
see the explorer's answer and their own pick; stepping on closes the question, coming back to its
state opens it again as it was left. Once on one
process, once on two processes sharing a real redis-server (presenter on one, audience on the
other)."""
from __future__ import annotations

import pytest

from app.web import urls
from tests.web.test_live import new_page, origins, wait_status  # noqa: F401
from tests.web.test_polls_browser import answered, note, present

pytestmark = pytest.mark.browser

START = urls.scenario("lru-writeback-vs-swapoff", "old", "")


def test_the_room_answers_which_cpu_crashes_first(new_page, origins):  # noqa: F811
    here, there = origins
    presenter = new_page()
    code = present(presenter, here + START)

    laptop, phone = new_page(), new_page(390, 844)
    for pg in (laptop, phone):
        pg.goto(there + "/j/" + code)
        wait_status(pg, "Following presenter")
        assert pg.is_hidden("#ask")

    presenter.keyboard.press("k")
    presenter.wait_for_selector("#ask:not([hidden]) #poll-reveal", timeout=30000)  # the explorer's first search
    assert presenter.inner_text("#ask-q") == "Which CPU crashes first?"
    answered(presenter, 0)
    for pg in (laptop, phone):
        pg.wait_for_selector("#ask:not([hidden]) #poll", timeout=8000)
        note(pg, "Pick an answer")
        assert pg.locator("#ask .choice").all_inner_texts() == ["a CPU1", "b CPU2", "c None: no schedule from here crashes"]
        assert pg.locator("#poll-reveal").count() == 0  # only the presenter reveals
    # The phone shows the question and every choice within its 390 px.
    for sel in ["#ask-q", "#poll", "#ask [data-choice='0']", "#ask [data-choice='2']"]:
        box = phone.locator(sel).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390, sel

    laptop.keyboard.press("c")  # "None", on its key
    phone.click("#ask [data-choice='0']")
    for pg in (laptop, phone):
        note(pg, "Your answer is in")
        # Before the reveal: nothing of the answer, and the page still follows (a vote is no step).
        assert pg.locator("#ask li.answer").count() == 0 and pg.is_hidden("#ask-explain")
        assert "explorer's answer" not in pg.inner_text("#ask")
        assert "Following presenter" in pg.inner_text("#live-status") and "/j/" in pg.url

    answered(presenter, 2)
    assert presenter.locator("#ask .poll-n").all_inner_texts() == ["1 · 50%", "0 · 0%", "1 · 50%"]
    assert presenter.locator("#ask li.answer").count() == 0

    presenter.keyboard.press("v")
    for pg in (laptop, phone, presenter):
        pg.wait_for_selector("#ask li.answer [data-choice='0']", timeout=8000)
        assert "the explorer's answer" in pg.inner_text("#ask li.answer")
        pg.wait_for_selector("#ask-explain:not([hidden])", timeout=8000)
        assert "Shortest crash from here: CPU1" in pg.inner_text("#ask-explain")
    note(phone, "✔ Right")
    note(laptop, "Not this time")
    assert "your choice" in laptop.inner_text("#ask li.picked")
    assert presenter.is_hidden("#poll-reveal")

    # The presenter follows the explorer's link to the crash; the question stays with its state.
    presenter.click("#ask-link")
    presenter.wait_for_selector("#ask[hidden]", state="attached", timeout=8000)
    for pg in (laptop, phone):
        pg.wait_for_selector("#ask[hidden]", state="attached", timeout=8000)
        assert pg.locator("#ask .choice").count() == 0  # no choice keeps its key

    # Back at the state it was asked at: the question is there again for everyone, as it was left
    # (revealed, each attendee's own pick marked).
    presenter.go_back()
    presenter.wait_for_selector("#ask:not([hidden]) li.answer", timeout=8000)
    for pg in (laptop, phone):
        pg.wait_for_selector("#ask:not([hidden]) li.answer [data-choice='0']", timeout=8000)
        assert "Following presenter" in pg.inner_text("#live-status")
    note(phone, "✔ Right")
    note(laptop, "Not this time")
