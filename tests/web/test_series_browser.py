"""Real headless Chromium: the tour of the code before patch 1/3 (issue 25), and the series on the
page: the walker's cursor read after LRU_SKIP is a use-after-free in __list_lru_walk_one, and the
same scenario under the old code (after 1/3) ends without a report.

The schedules come from the scenario's own tours, never hard-coded.
"""
from __future__ import annotations

import re

import pytest

from app.model.api import scenario_info, scenario as load_scenario
from app.web import urls

pytestmark = pytest.mark.browser

SCENARIO = "walker-cursor-vs-exit"
PRE = "pre-lru-skip-fix"


@pytest.fixture(scope="module")
def tours():
    return {t["name"]: t for t in scenario_info(load_scenario(SCENARIO))["tours"]}


def wait_steps(page, n: int) -> None:
    page.wait_for_function("n => document.querySelector('#state')?.dataset.steps === String(n)", arg=n)


def test_the_pre_1_3_tour_ends_in_the_walker_reading_freed_f(page, server_url, tours):
    tour = tours["pre-skip-reads-freed-entry"]
    t = tour["schedule"]
    assert tour["code"] == PRE
    page.goto(server_url + urls.scenario(SCENARIO, PRE, "", tour["name"]))
    # The code switch shows the series in order, this code current.
    codes = page.locator(".codes .btn").all_inner_texts()
    assert [re.sub(r"^[●○]\s*", "", c).split()[0] for c in codes[:3]] == [PRE, "old", "new"]
    assert page.inner_text(".codes .btn.current").strip().endswith(PRE)
    crash = len(t) - next(i for i, c in enumerate(reversed(t)) if c == "1")  # CPU1's last step
    for i in range(len(t)):
        page.keyboard.press("ArrowRight")
        wait_steps(page, i + 1)
        assert page.inner_text("#tour-sentence").strip().endswith(tour["steps"][i].strip())
        if i + 1 == crash - 1:  # K4: LRU_SKIP, the cursor n still names F, now freed
            cpu1 = page.inner_text("#cpu1")
            assert "ret=LRU_SKIP" in cpu1.replace(" ", "")
            assert re.search(r"n\s*=\s*F", cpu1) and "dangling" in cpu1
            assert page.locator("#report").count() == 0
        if i + 1 == crash:
            report = page.inner_text("#report")
            assert "BUG: KASAN: slab-use-after-free in __list_lru_walk_one" in report
            assert "Read of size 8" in report and "kswapd0/77" in report
            assert "list_for_each_safe" in page.inner_text(".program li.crash")
            assert "crashed" in page.inner_text("#cpu1-status")
    assert page.url.endswith(f"t={t}") or f"t={t}&" in page.url


def test_the_old_code_tour_restarts_from_the_head_and_never_crashes(page, server_url, tours):
    tour = tours["old-retry-restarts"]
    t = tour["schedule"]
    page.goto(server_url + urls.scenario(SCENARIO, "old", "", tour["name"]))
    for _ in range(len(t)):
        page.keyboard.press("ArrowRight")  # keys pressed during a swap are queued
    page.wait_for_function("n => document.querySelector('#state')?.dataset.steps === String(n)",
                           arg=len(t), timeout=30000)
    assert page.locator("#report").count() == 0
    assert page.locator(".cpu.status-crashed").count() == 0
    status = page.inner_text("#cpu1-status")
    assert "done" in status and "LRU_RETRY (-EEXIST)" in status
    # The pre-1/3 button replays this schedule only up to the step that differs there.
    pre = page.locator(f"#code-{PRE}")
    assert "⚠" in pre.inner_text()


def test_the_index_presents_the_three_codes_as_the_series(page, server_url):
    page.goto(server_url + "/")
    lede = page.inner_text(".lede")
    assert "patch 2/3 of a series" in lede and "before 1/3" in lede and "after 2/3" in lede
    card = page.locator(f"#scenario-{SCENARIO}")
    links = card.locator("p.codes > a.btn").all_inner_texts()
    assert [x.split(":")[0] for x in links] == [PRE, "old", "new"]
    assert "make the walker read a freed entry" in card.inner_text().lower()
