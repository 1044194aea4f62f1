"""What a workshop walk-through found, each in real Chromium at projector size (1280x720):
Find the race shows the stage, tours are on the page and → starts one, the newest event is
visible, change marks follow what a step wrote, a waiting CPU is not called spinning, the fixed
code answers the crash with its own banner, and Back/Forward stay undo/redo.
"""
from __future__ import annotations

import re

import pytest

from app.web import modelapi, urls
from tests.web.clicks import SETTLE_JS, click_settled

pytestmark = pytest.mark.browser

SEED = "lru-writeback-vs-swapoff"


def _tour(name: str) -> dict:
    s = modelapi.scenario(SEED)
    return next(t for t in s["tours"] if t["name"] == name)


@pytest.fixture()
def page(projector):
    return projector


def steps(page) -> int:
    return int(page.get_attribute("#state", "data-steps"))


def wait_steps(page, n: int) -> None:
    page.wait_for_function("n => document.querySelector('#state')?.dataset.steps === String(n)", arg=n)


def in_viewport(page, selector: str) -> bool:
    return page.evaluate("""sel => {
        const r = document.querySelector(sel).getBoundingClientRect();
        return r.top >= 0 && r.bottom <= innerHeight && r.left >= 0 && r.right <= innerWidth;
    }""", selector)


def test_find_the_race_brings_the_crash_banner_into_view(page, server_url):
    page.goto(server_url + urls.scenario(SEED, "new"))
    link = page.locator("#find-old-1")
    link.evaluate(SETTLE_JS)  # scrolled to, and the page stands still
    assert page.evaluate("scrollY") > 0
    link.click()
    page.wait_for_selector("#crash-banner")
    page.wait_for_function("() => scrollY === 0 || document.getElementById('stage').getBoundingClientRect().top >= 0")
    assert in_viewport(page, "#crash-banner")
    assert in_viewport(page, "#sentence")


def test_tours_are_on_the_page_and_right_arrow_starts_the_first_tour_of_this_code(page, server_url):
    scenario = modelapi.scenario(SEED)
    page.goto(server_url + urls.scenario(SEED, "new"))
    page.click("#tours-menu > summary")
    for t in scenario["tours"]:
        assert page.locator(f"#tour-link-{t['name']}").is_visible()
    page.keyboard.press("Escape")
    first_new = next(t for t in scenario["tours"] if t["code"] == "new")
    page.keyboard.press("ArrowRight")
    page.wait_for_url(re.compile(f"tour={first_new['name']}"))
    assert "code=new" in page.url
    page.keyboard.press("ArrowRight")
    wait_steps(page, 1)
    assert page.inner_text("#tour-sentence").strip().endswith(first_new["steps"][0].strip())


def test_newest_event_row_is_fully_visible_in_the_log(page, server_url):
    t = _tour("uaf-a")["schedule"]
    page.goto(server_url + urls.scenario(SEED, "old", t))
    last = f"#event-{len(t) - 1}"
    click_settled(page, "#pane-events > summary")  # a drawer, loaded when opened
    page.wait_for_selector(last)
    page.locator("#pane-events").scroll_into_view_if_needed()
    fully = page.evaluate("""sel => {
        const row = document.querySelector(sel), box = document.getElementById('events');
        const r = row.getBoundingClientRect(), b = box.getBoundingClientRect();
        return r.top >= b.top - 0.5 && r.bottom <= b.bottom + 0.5;
    }""", last)
    assert fully, "the newest event row is cut off by the log's scroll box"
    # One scroll box, not two nested ones.
    assert page.evaluate("getComputedStyle(document.getElementById('pane-events')).overflowY") == "visible"
    # The drawer stays open, and shows the new newest row, across a step.
    page.keyboard.press("Backspace")
    page.wait_for_selector(f"#event-{len(t) - 2}.last")
    assert page.locator(last).count() == 0


def test_kvfree_marks_the_tree_pane_and_the_tree_lock_row_as_changed(page, server_url):
    t = _tour("uaf-a")["schedule"]
    view_steps = modelapi.build_view(SEED, "old", t)["events"]
    k = next(e["index"] for e in view_steps if "kvfree(trees)" in e["text"])
    page.goto(server_url + urls.scenario(SEED, "old", t[: k + 1]))
    tree = page.locator("#pane-tree")
    assert "changed" in tree.get_attribute("class")
    assert tree.locator(".tag-changed").is_visible()
    lock_rows = page.locator("#pane-locks li.changed")
    assert lock_rows.count() == 1 and "tree->lock" in lock_rows.first.inner_text()
    # ... and the step before it (vfree of nothing else) does not mark the LRU.
    assert "changed" not in (page.locator("#pane-lru").get_attribute("class") or "")


def test_a_cpu_whose_next_step_needs_a_held_lock_is_waiting_not_spinning(page, server_url):
    t = _tour("uaf-a")["schedule"]
    # The first prefix at which CPU1 cannot step because CPU2 holds tree->lock.
    k = next(k for k in range(len(t)) if (v := modelapi.build_view(SEED, "old", t[:k]))
             and v["cpus"][0]["status"] == "waiting")
    page.goto(server_url + urls.scenario(SEED, "old", t[:k], "uaf-a"))
    status = page.inner_text("#cpu1-status")
    assert "spinning" not in status
    assert "waiting" in status and "tree->lock" in status and "CPU2" in status
    assert page.locator("#step-1").is_disabled()


def test_switching_the_crash_to_the_fixed_code_shows_what_the_fix_did_instead(page, server_url):
    tour = _tour("uaf-a")
    page.goto(server_url + urls.scenario(SEED, "old", tour["schedule"], tour["name"]))
    assert page.locator("#crash-banner").is_visible()
    page.keyboard.press("n")
    page.wait_for_function("() => document.querySelector('#state')?.dataset.code === 'new'")
    banner = page.locator("#fixed-banner")
    assert banner.is_visible() and in_viewport(page, "#fixed-banner")
    assert "old code" in banner.inner_text() and "crashes at step" in banner.inner_text()
    assert " : " not in banner.inner_text()  # a model line with no kernel line number: no gap before ":"
    assert page.locator("#crash-banner").count() == 0
    # The fixed code's own tour is offered, not the old-code tour with a warning.
    nxt = page.locator("#tour-next")
    href = nxt.get_attribute("href")
    tour_name = re.search(r"tour=([\w-]+)", href).group(1)
    assert "code=new" in href and _tour(tour_name)["code"] == "new"
    # The freed entry is only compared by the fixed code: not a red "dangling" pointer.
    assert page.locator("#cpu1 .tag-dangling").count() == 0
    assert "only compared" in page.inner_text("#cpu1 .locals")
    assert page.locator("#pane-heap-live .dangling-from").count() == 0
    assert "only compared" in page.inner_text("#pane-heap-live")


def test_back_after_undo_is_undo_and_forward_is_redo(page, server_url):
    t = _tour("uaf-a")["schedule"][:3]
    page.goto(server_url + urls.scenario(SEED, "old"))
    for i, cpu in enumerate(t):
        page.keyboard.press(cpu)
        wait_steps(page, i + 1)
    page.keyboard.press("Backspace")  # the parent is the previous history entry: go back to it
    wait_steps(page, 2)
    page.go_back()  # the browser's Back goes further back, it does not redo the undone step
    wait_steps(page, 1)
    page.go_forward()
    wait_steps(page, 2)
    page.go_forward()
    wait_steps(page, 3)
    assert f"t={t}" in page.url


def test_step_sentence_is_announced_to_screen_readers(page, server_url):
    page.goto(server_url + urls.scenario(SEED, "old"))
    page.keyboard.press("1")
    wait_steps(page, 1)
    page.wait_for_function("() => document.getElementById('announce').textContent.length > 10")
    announced = page.inner_text("#announce") if page.locator("#announce").is_visible() else \
        page.evaluate("document.getElementById('announce').textContent")
    narration = modelapi.build_view(SEED, "old", "1")["events"][0]["narration"]
    # Said as one sentence: "1. CPU1, in list_lru_walk_one(), takes the LRU lock ..." (the
    # narration's own "CPU1" is the sentence's subject, not said twice).
    assert narration.removeprefix("CPU1 ") in announced and announced.startswith("1. CPU1, in ")
    assert page.get_attribute("#announce", "aria-live") == "polite"


def test_a_lane_row_travels_back_in_time(page, server_url):
    t = _tour("uaf-a")["schedule"]
    page.goto(server_url + urls.scenario(SEED, "old", t[:20]))
    row = page.locator("#pane-lanes a[href*='t=']").first
    href = row.get_attribute("href")
    target = re.search(r"t=(\d+)", href).group(1)
    row.click()
    wait_steps(page, len(target))
    assert t[:20].startswith(target)
