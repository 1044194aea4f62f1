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


# Boxes that must not overlap on the lane diagram's heading line, as [left, top, right, bottom].
BOXES_JS = """() => {
    const box = (sel) => { const e = document.querySelector(sel); if (!e) return null;
        const r = e.getBoundingClientRect(); return r.width ? [r.left, r.top, r.right, r.bottom] : null; };
    const hint = document.querySelector('#pane-lanes .lanes-hint');
    return {heading: box('#pane-lanes .lanes-top h2'), hint: box('#pane-lanes .lanes-hint'),
            io: box('#pane-lanes .io-strip'), badge: box('#pane-lanes .io-strip .status-badge'),
            hintCut: !!hint && hint.getClientRects().length > 0 && hint.scrollWidth > hint.clientWidth + 1,
            badgeCut: (() => { const s = document.querySelector('#pane-lanes .io-strip .status');
                               return !!s && s.scrollWidth > s.clientWidth + 1; })()};
}"""


def _apart(a, b) -> bool:
    return a is None or b is None or a[2] <= b[0] + 0.5 or b[2] <= a[0] + 0.5 or a[3] <= b[1] + 0.5 or b[3] <= a[1] + 0.5


@pytest.mark.parametrize("size", [(1024, 768), (1280, 720), (1920, 1080)], ids=["1024x768", "1280x720", "1920x1080"])
@pytest.mark.parametrize("tour", ["uaf-a", "uaf-b"])
def test_the_story_rows_and_the_crashing_line_share_one_screen(sized_page, server_url, size, tour):
    """At each tour's crash the lane diagram shows every row of the story (caching, letting go,
    the frees, the access) and CPU1's column its crashing line, on one screen: at 1024x768 the
    stage used to give the CPU columns their room back (html.roomy) and scroll the story's first
    rows out of view. The lane diagram's heading, its hint and the I/O strip never overlap, and
    none of them is cut to a stub ("(a ro…", "○…")."""
    from app.web import modelapi

    page = sized_page(*size)
    t = next(x for x in modelapi.scenario(SEED)["tours"] if x["name"] == tour)
    page.goto(server_url + urls.scenario(SEED, t["code"], t["schedule"]))
    page.wait_for_load_state("load")
    classes = page.evaluate("document.documentElement.className").split()
    assert "roomy" not in classes and "flow" not in classes, classes
    rows = page.locator("#pane-lanes .lanes-scroll .lane-row.story")
    assert rows.count() >= 4
    for i in range(rows.count()):
        assert rows.nth(i).evaluate("""el => {
            const r = el.getBoundingClientRect(), box = el.closest('.lanes-scroll').getBoundingClientRect();
            return r.top >= box.top - 1 && r.bottom <= Math.min(box.bottom, innerHeight) + 1; }"""), \
            f"story row {i} ({rows.nth(i).inner_text()[:40]!r}) is out of view"
    assert page.locator("#cpu1-crash").evaluate("""el => {
        const r = el.getBoundingClientRect(), box = el.closest('.program').getBoundingClientRect();
        return r.top >= box.top - 1 && r.bottom <= Math.min(box.bottom, innerHeight) + 1; }""")
    b = page.evaluate(BOXES_JS)
    assert _apart(b["heading"], b["io"]) and _apart(b["hint"], b["io"]), b
    assert not b["hintCut"] and not b["badgeCut"], b
    assert not page.errors
