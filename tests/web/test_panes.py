"""The kernel-state panes are memoised by what each shows (app/web/page/panes.py): a page rendered
with the memo, warmed by the pages before it, is byte for byte the page rendered without it.
Random walks over every scenario and every code (the break-the-fix variants too), each state
rendered right after its parent as a click would, full pages and fragments."""
from __future__ import annotations

import random

import pytest

from app.model.scenarios.scenario import all_codes
from app.web import modelapi
from app.web.routes import pages
from app.web.page import panes


def _walk(rng: random.Random, sid: str, code: str) -> str:
    t = ""
    for _ in range(rng.randint(5, 40)):
        try:
            enabled = modelapi.replay(sid, code, t)["enabled"]
        except modelapi.ModelInputError:
            break
        if not enabled:
            break
        t += str(rng.choice(enabled))
    return t


def _cold(fragment: bool, sid: str, code: str, t: str) -> str:
    pages.clear_caches()
    panes.ENABLED = False
    try:
        return pages.state_html(fragment, sid, code, t, None)
    finally:
        panes.ENABLED = True
        pages.clear_caches()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_memoised_panes_render_the_page_they_render_cold(seed):
    rng = random.Random(seed)
    checked = 0
    for sid in modelapi.scenario_ids():
        code = rng.choice(all_codes())
        t = _walk(rng, sid, code)
        warm = []
        for i in range(len(t) + 1):  # each state right after its parent, sharing the memo
            warm.append(pages.state_html(i % 2 == 0, sid, code, t[:i], None))
        for i in rng.sample(range(len(t) + 1), min(4, len(t) + 1)):
            assert warm[i] == _cold(i % 2 == 0, sid, code, t[:i]), (sid, code, t[:i])
            checked += 1
    assert checked >= 20


def test_the_pane_memo_reuses_a_pane_a_step_left_as_it_was():
    pages.clear_caches()
    sid = "lru-writeback-vs-swapoff"
    tour = next(x for x in modelapi.scenario(sid)["tours"] if x["name"] == "uaf-a")
    for i in range(12):
        pages.state_html(True, sid, tour["code"], tour["schedule"][:i], None)
    entries = panes._html.info()["entries"]
    assert 0 < entries < 12 * len(panes.INPUTS)  # most panes of most steps came from the memo
