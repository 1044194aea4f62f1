"""A predict poll in a live room, in real Chromium: a presenter and two attendees (one on a 390 px
phone) at a tour's predict stop; they answer, see no answer before the reveal, the presenter sees
"2 answered" and the split, reveals, both see the answer and their own pick; a late joiner sees it
too; an attendee exploring on their own meets the ordinary predict stop. Once on one process, once
on two processes sharing a real redis-server (presenter on one, audience on the other)."""
from __future__ import annotations

import pytest

from tests.web.test_live import new_page, origins, wait_status  # noqa: F401
from tests.web.test_polls import PREDICT, STOP

pytestmark = pytest.mark.browser


def answered(page, n: int) -> None:
    page.wait_for_function("n => document.querySelector('#poll-answered')?.textContent === String(n)",
                           arg=n, timeout=8000)


def note(page, words: str) -> None:
    page.wait_for_function("w => (document.querySelector('#poll-note')?.textContent || '').includes(w)",
                           arg=words, timeout=8000)


def present(page, url: str) -> str:
    """Open a room on `url` with the Present button, hide the join card; the room's code."""
    page.goto(url)
    page.click("#present")
    page.wait_for_selector("#live[data-role=presenter][data-ready]")
    page.keyboard.press("q")
    return page.get_attribute("#live", "data-code")


def test_the_room_answers_a_predict_poll(new_page, origins):  # noqa: F811
    here, there = origins
    answer = PREDICT["answer"]
    wrong = (answer + 1) % len(PREDICT["choices"])
    presenter = new_page()
    code = present(presenter, here + STOP)
    presenter.wait_for_selector("#predict.polling #poll-reveal")
    answered(presenter, 0)

    laptop, phone = new_page(), new_page(390, 844)
    for pg in (laptop, phone):
        pg.goto(there + "/j/" + code)
        wait_status(pg, "Following presenter")
        pg.wait_for_selector("#predict.polling #poll")
        note(pg, "Pick an answer")
        assert pg.locator("#poll-reveal").count() == 0  # only the presenter reveals
    # The phone shows the question and every choice within its 390 px.
    for sel in ["#predict-q", "#poll"] + [f"#pick-{i}" for i in range(len(PREDICT["choices"]))]:
        box = phone.locator(sel).bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390

    laptop.keyboard.press("abcde"[wrong])  # the choice's key, as in a tour
    phone.click(f"#pick-{answer}")
    for pg in (laptop, phone):
        note(pg, "Your answer is in")
        # Before the reveal: no answer marked, the page still follows (a vote is no step).
        assert pg.locator("#predict li.answer").count() == 0 and "what happens" not in pg.inner_text("#predict")
        assert "Following presenter" in pg.inner_text("#live-status") and "/j/" in pg.url
    assert "your answer" in laptop.inner_text(f"#pick-{wrong}")

    answered(presenter, 2)
    split = presenter.locator("#predict .poll-n").all_inner_texts()
    expected = ["1 · 50%" if i in (wrong, answer) else "0 · 0%" for i in range(len(PREDICT["choices"]))]
    assert split == expected
    assert presenter.locator("#predict li.answer").count() == 0

    presenter.keyboard.press("v")
    for pg in (laptop, phone, presenter):
        pg.wait_for_selector(f"#predict li.answer #pick-{answer}", timeout=8000)
        assert "what happens" in pg.inner_text(f"#pick-{answer}")
    note(phone, "✔ Right")
    phone.screenshot(path="/tmp/poll-phone.png", full_page=False)
    presenter.screenshot(path="/tmp/poll-presenter.png")
    note(laptop, "Not this time")
    assert "your choice" in laptop.inner_text(f"#pick-{wrong}")
    assert presenter.is_hidden("#poll-reveal")

    # A late joiner lands on the revealed poll; a vote now changes nothing.
    late = new_page(390, 844)
    late.goto(there + "/j/" + code)
    late.wait_for_selector(f"#predict li.answer #pick-{answer}", timeout=8000)
    late.click(f"#pick-{wrong}")
    note(late, "did not answer")
    answered(presenter, 2)

    # An attendee exploring on their own meets the ordinary single-user stop.
    laptop.keyboard.press("ArrowLeft")
    wait_status(laptop, "on your own")
    laptop.keyboard.press("ArrowRight")
    laptop.wait_for_selector("#predict:not(.polling)")
    laptop.keyboard.press("abcde"[answer])
    laptop.wait_for_selector("#predict-result")
    assert "pick=" in laptop.url
    answered(presenter, 2)
