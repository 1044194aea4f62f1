"""The story on the stage (issue 22): at uaf-a's crash, on a 1280x720 projector, the lane diagram
shows the row where CPU1 caches the tree pointer, the row where swapoff frees the trees and the
crash row all at once; the stretches between them are folded and open on a click."""
from __future__ import annotations

import pytest

from app.web import urls

pytestmark = pytest.mark.browser

SEED = "lru-writeback-vs-swapoff"


def _in_view(page, selector: str) -> bool:
    """Whether the element is inside the window and not scrolled out of the lane diagram's box."""
    return page.locator(selector).first.evaluate("""el => {
        const r = el.getBoundingClientRect();
        const box = el.closest('.lanes-scroll').getBoundingClientRect();
        return r.height > 0 && r.top >= Math.max(0, box.top) - 1 && r.bottom <= Math.min(innerHeight, box.bottom) + 1;
    }""")


def test_cache_free_and_crash_rows_are_on_one_projector_screen_at_uaf_a_crash(projector, server_url, uaf):
    page = projector
    page.goto(server_url + urls.scenario(SEED, "old", uaf))
    cache = "#pane-lanes .lane-row.story-cache"
    free = "#pane-lanes .lane-row.story-free"
    crash = "#pane-lanes .lane-row.story-access.crash"
    for selector in (cache, free, crash):
        assert page.locator(selector).count() >= 1, selector
        assert _in_view(page, selector), f"{selector} is not on the 1280x720 screen"
    assert "tree = swap_zswap_tree(entry->swpentry)" in page.locator(cache).inner_text()
    assert "kvfree(trees)" in page.locator(free).last.inner_text()
    assert "spin_lock(&tree->lock)" in page.locator(crash).inner_text()
    # The rest is folded, and a fold opens on a click to its own rows (each a time-travel link).
    fold = page.locator("#pane-lanes .lane-fold").nth(1)
    summary = fold.locator("summary")
    assert "steps 9–39" in summary.inner_text()
    assert not fold.locator(".lane-row").first.is_visible()
    summary.click()
    first = fold.locator(".lane-row a.lane-link").first
    href = first.get_attribute("href")
    assert first.is_visible() and any(href == urls.scenario(SEED, "old", uaf[:k]) for k in range(9, 40))
