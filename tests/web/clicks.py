"""Clicking below the fold in a real browser, once the page stands still."""
from __future__ import annotations

# Below the stage (#below) and the explorer pane are `content-visibility: auto` (app.css): they are
# laid out only when scrolled to, and that first layout moves the page (measured: the "Break the fix"
# summary 324 px further down the viewport one frame after Playwright scrolled it into view, so its
# click landed elsewhere in one CI run). A test clicking there scrolls first and waits for the page
# to stand still, as a user's eye does.
SETTLE_JS = """el => new Promise(done => {
  el.scrollIntoView({block: "center"});
  let last = null, still = 0;
  (function frame() {
    const now = el.getBoundingClientRect().top + "," + window.scrollY;
    still = now === last ? still + 1 : 0;
    last = now;
    if (still >= 2) done(); else requestAnimationFrame(frame);
  })();
})"""


def click_settled(pg, selector: str) -> None:
    """Click SELECTOR once the layout its scrolling into view causes has stopped moving."""
    loc = pg.locator(selector)
    loc.wait_for(state="visible")
    loc.evaluate(SETTLE_JS)
    loc.click()
