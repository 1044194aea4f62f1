"""Real headless Chromium against the real server: stepping, keys, history, sharing, code switch.

The schedules come from the scenario's own tours (see the seed_tours fixture), never hard-coded.
"""
from __future__ import annotations

import re

import pytest

from app.web import urls
from tests.web.clicks import click_settled

pytestmark = pytest.mark.browser

SEED = "lru-writeback-vs-swapoff"


def schedule_text(page) -> str:
    """The schedule shown on the page ('' at the start)."""
    steps = page.get_attribute("#state", "data-steps")
    return "" if steps == "0" else page.inner_text("#schedule").strip()


def wait_schedule(page, t: str) -> None:
    """Wait until the swapped-in state shows schedule `t` (and the URL says so)."""
    page.wait_for_function("n => document.querySelector('#state')?.dataset.steps === String(n)", arg=len(t))
    assert schedule_text(page) == t
    assert re.search(rf"[?&]t={t}(&|$)", page.url) if t else "t=" not in page.url


def test_uaf_tour_with_buttons_and_keys_then_back_and_share(page, browser, server_url, seed_tours):
    tour = seed_tours["uaf"]
    t = tour["schedule"]
    page.goto(server_url + urls.scenario(SEED, "old"))
    assert page.locator("#report").count() == 0
    page.evaluate("window.__same_document = true")  # gone if a step reloaded the page
    for i, cpu in enumerate(t):
        if i % 2 == 0:
            page.click(f"#step-{cpu}")
        else:
            page.keyboard.press(cpu)
        wait_schedule(page, t[: i + 1])
    assert page.evaluate("window.__same_document === true"), "steps must swap panes, not reload"

    # The KASAN report and the red line in the crashing CPU's column.
    report = page.locator("#report")
    assert report.is_visible()
    assert "BUG: KASAN: slab-use-after-free" in report.inner_text()
    crash = page.locator(".program li.crash")
    assert crash.count() == 1 and crash.first.is_visible()
    crashed_cpu = page.locator(".cpu.status-crashed")
    assert crashed_cpu.count() == 1
    assert crashed_cpu.locator("li.crash").count() == 1
    color = crash.first.evaluate("el => getComputedStyle(el).color")
    r, g, b = map(int, re.findall(r"\d+", color)[:3])
    assert r > 2 * g and r > 2 * b, f"the crash line is not red: {color}"
    state_at_crash = page.inner_text("#state")

    # Back is undo: the previous state, without the report.
    page.go_back()
    wait_schedule(page, t[:-1])
    assert page.locator("#report").count() == 0
    assert page.locator(".program li.crash").count() == 0
    page.go_forward()
    wait_schedule(page, t)
    assert page.locator("#report").count() == 1

    # The URL is the whole state: a fresh page shows exactly the same thing.
    fresh = browser.new_page(viewport={"width": 1600, "height": 1000})
    try:
        fresh.goto(page.url)
        assert fresh.inner_text("#state") == state_at_crash
    finally:
        fresh.close()


def test_backspace_undoes_and_reset_goes_to_start(page, server_url, seed_tours):
    t = seed_tours["uaf"]["schedule"][:3]
    page.goto(server_url + urls.scenario(SEED, "old", t))
    page.keyboard.press("Backspace")
    wait_schedule(page, t[:-1])
    page.keyboard.press("ArrowLeft")
    wait_schedule(page, t[:-2])
    page.keyboard.press("r")
    wait_schedule(page, "")
    assert page.locator("#undo").is_disabled()


def test_new_code_tour_swapoff_sleeps_on_the_folio_lock_and_nothing_crashes(page, server_url, seed_tours):
    tour, k, sleeper = seed_tours["sleep"], seed_tours["sleep_at"], seed_tours["sleeper"]
    t = tour["schedule"]
    page.goto(server_url + urls.scenario(SEED, "new", "", tour["name"]))
    for i in range(len(t)):
        page.keyboard.press("ArrowRight")
        wait_schedule(page, t[: i + 1])
        assert page.inner_text("#tour-sentence").strip().endswith(tour["steps"][i].strip())
        if i + 1 == k:
            status = page.inner_text(f"#cpu{sleeper}-status")
            assert "sleeping" in status and "folio" in status
            assert page.locator(f"#step-{sleeper}").is_disabled()
            # Its digit key does nothing while it sleeps.
            page.keyboard.press(str(sleeper))
            page.wait_for_timeout(200)
            assert schedule_text(page) == t[: i + 1]
    assert page.locator("#report").count() == 0
    assert page.locator(".program li.crash").count() == 0
    assert page.locator(".cpu.status-crashed").count() == 0


def test_switching_to_new_code_with_n_key(page, server_url, seed_tours):
    t = seed_tours["uaf"]["schedule"]
    page.goto(server_url + urls.scenario(SEED, "old", t))
    assert page.locator("#report").count() == 1
    page.keyboard.press("n")
    page.wait_for_function("() => document.querySelector('#state')?.dataset.code === 'new'")
    assert "code=new" in page.url
    assert page.locator("#report").count() == 0
    assert page.locator(".cpu.status-crashed").count() == 0
    page.keyboard.press("o")
    page.wait_for_function("() => document.querySelector('#state')?.dataset.code === 'old'")


def test_copy_link_puts_the_url_on_the_clipboard(browser, server_url, seed_tours):
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(server_url + urls.scenario(SEED, "old", seed_tours["uaf"]["schedule"][:2]))
        click_settled(page, "#copy-link")
        page.wait_for_function("() => document.querySelector('#copy-status').textContent.includes('copied')")
        assert page.evaluate("navigator.clipboard.readText()") == page.url
    finally:
        context.close()
    assert not errors


def test_event_log_entry_goes_to_that_step(page, server_url, seed_tours):
    t = seed_tours["uaf"]["schedule"]
    page.goto(server_url + urls.scenario(SEED, "old", t))
    click_settled(page, "#pane-events > summary")  # the log is a drawer that loads when opened
    click_settled(page, "#event-1 a.stepno")
    wait_schedule(page, t[:2])


def test_find_the_race_opens_the_shortest_counterexample(page, server_url):
    page.goto(server_url + urls.scenario(SEED, "new"))
    assert page.locator("#report").count() == 0
    link = page.locator("#find-old-1")
    href = link.get_attribute("href")
    assert "code=old" in href and "t=" in href
    click_settled(page, "#find-old-1")
    page.wait_for_selector("#report")
    assert "BUG: KASAN: slab-use-after-free" in page.inner_text("#report")
    assert "code=old" in page.url
    shortest = re.search(r"t=(\d+)", href).group(1)
    wait_schedule(page, shortest)
    assert page.locator(".program li.crash").count() == 1
    # The verdict pane stays where it was (a step swaps only the state).
    assert page.locator("#verdict-new").is_visible()


def test_explore_from_this_state_then_find_the_race_that_continues_it(page, server_url):
    prefix = "11111111" + "2" * 40
    page.goto(server_url + urls.scenario(SEED, "old", prefix))
    assert page.locator("#report").count() == 0
    click_settled(page, "#run-verdict-old-here")
    page.wait_for_selector("#verdict-old-here.bad")
    assert "continue from this state" in page.inner_text("#verdict-old-here")
    href = page.locator("#find-old-here-1").get_attribute("href")
    assert f"t={prefix}" in href
    click_settled(page, "#find-old-here-1")
    page.wait_for_selector("#report")
    assert "BUG: KASAN: slab-use-after-free" in page.inner_text("#report")
    assert re.search(r"t=(\d+)", page.url).group(1).startswith(prefix)


def test_a_long_search_shows_its_progress_and_first_problem_and_can_be_cancelled(page, server_url):
    """Issue 23: four CPUs from the state after one step keep about 740,000 worlds (many seconds)."""
    page.goto(server_url + urls.scenario("three-shrinkers-vs-swapoff", "old", "1"))
    click_settled(page, "#run-verdict-old-here")
    page.wait_for_selector("#verdict-old-here .progress-states")  # polled every second
    page.wait_for_selector("#verdict-old-here .progress-first")  # found long before the search ends
    assert "use-after-free" in page.inner_text("#verdict-old-here .progress-first")
    assert "states/s" in page.inner_text("#verdict-old-here .verdict-progress")
    click_settled(page, "#verdict-old-here .cancel-search")
    page.wait_for_selector("#verdict-old-here.bad")
    assert "cancelled at your request" in page.inner_text("#verdict-old-here")


def test_run_the_explorer_on_a_variant_then_find_its_race(page, server_url):
    page.goto(server_url + urls.scenario(SEED, "new"))
    click_settled(page, "#variants > summary")
    click_settled(page, "#run-verdict-new-tree-before-folio")
    page.wait_for_selector("#verdict-new-tree-before-folio.bad")
    assert "not kernel code" in page.inner_text("#verdict-new-tree-before-folio")
    click_settled(page, "#find-new-tree-before-folio-1")
    page.wait_for_function("() => document.querySelector('#state')?.dataset.code === 'new-tree-before-folio'")
    page.wait_for_selector("#report")


def test_presenter_runs_a_whole_tour_with_the_right_arrow_only_even_when_pressing_fast(page, server_url, seed_tours):
    tour = seed_tours["uaf"]
    t = tour["schedule"]
    page.goto(server_url + urls.scenario(SEED, "old", "", tour["name"]))
    for _ in range(len(t)):
        page.keyboard.press("ArrowRight")  # no waiting: keys pressed during a swap are queued
    page.wait_for_function("n => document.querySelector('#state')?.dataset.steps === String(n)",
                           arg=len(t), timeout=30000)
    wait_schedule(page, t)
    assert "BUG: KASAN" in page.inner_text("#report")
    assert "End of the tour" in page.inner_text("#tour")
    page.keyboard.press("ArrowRight")  # past the end: nothing happens
    page.wait_for_timeout(200)
    assert schedule_text(page) == t


def test_right_arrow_rejoins_a_tour_after_a_detour(page, server_url, seed_tours):
    tour = seed_tours["uaf"]
    t = tour["schedule"]
    page.goto(server_url + urls.scenario(SEED, "old", t[:2], tour["name"]))
    other = next(c for c in "12" if c != t[2])
    page.keyboard.press(other)  # leave the tour
    page.wait_for_function("() => document.querySelector('#state')?.dataset.steps === '3'")
    if schedule_text(page) != t[:3]:
        assert "You left the tour" in page.inner_text("#tour")
        page.keyboard.press("ArrowRight")
        wait_schedule(page, t[:2])
    page.keyboard.press("ArrowRight")
    wait_schedule(page, t[:3])


def test_focus_stays_visible_on_the_same_control_across_a_swap(page, server_url):
    page.goto(server_url + urls.scenario(SEED, "old"))
    page.focus("#step-1")
    page.keyboard.press("Enter")
    wait_schedule(page, "1")
    page.wait_for_function("() => document.activeElement && document.activeElement.id === 'step-1'")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", ""), outline
