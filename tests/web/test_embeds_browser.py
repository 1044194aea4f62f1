"""The embed in real Chromium, framed by a page of another origin (another loopback port): it
shows, ← / → move inside its range, a link out opens a new tab, the Embed menu's snippet carries
this server's origin; the visualizer's own pages refuse the same frame."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.web import modelapi, urls
from tests.web.clicks import click_settled

pytestmark = pytest.mark.browser

SEED = "lru-writeback-vs-swapoff"


def uaf() -> str:
    return next(t["schedule"] for t in modelapi.scenario(SEED)["tours"] if t["name"] == "uaf-a")


@pytest.fixture()
def other_site(server_url) -> Iterator[str]:
    """A page on another loopback port framing an embed and a visualizer page (a blog post, say)."""
    t = uaf()
    body = (f'<!doctype html><title>a course page</title><h1>The race</h1>'
            f'<iframe id="embed" src="{server_url}{urls.embed(SEED, "old", t, 53)}" width="1280" height="720"></iframe>'
            f'<iframe id="page" src="{server_url}{urls.scenario(SEED, "old", t)}" width="600" height="300"></iframe>'
            ).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_an_embed_works_in_a_frame_of_another_origin(browser, server_url, other_site):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1200})
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(other_site)
        assert server_url.split(":")[-1] not in other_site
        frame = page.frame_locator("#embed")
        frame.locator("#stage").wait_for()
        assert frame.locator("#state").get_attribute("data-steps") == "55"
        assert "use-after-free" in frame.locator("#crash-banner").inner_text()
        frame.locator("#embed-back").click()
        frame.locator("#state[data-steps='54']").wait_for()
        frame.locator("#stage").press("ArrowLeft")  # the keys work inside the frame
        frame.locator("#state[data-steps='53']").wait_for()
        frame.locator("#stage").press("ArrowLeft")  # 53 is `from`: ← goes no further
        page.wait_for_timeout(300)
        assert frame.locator("#state").get_attribute("data-steps") == "53"
        assert frame.locator("#embed-back").is_disabled()
        frame.locator("#stage").press("ArrowRight")
        frame.locator("#state[data-steps='54']").wait_for()
        with ctx.expect_page() as opened:  # a link out of the embed opens the visualizer in a new tab
            frame.locator("#embed-open").click()
        assert opened.value.url.startswith(server_url + "/s/" + SEED)
        # The visualizer's page itself refuses to be framed: its frame never gets the stage.
        visualizer = page.query_selector("#page").content_frame()
        assert visualizer is not None
        visualizer.wait_for_load_state()
        assert visualizer.url.startswith("chrome-error://") and visualizer.query_selector("#stage") is None
    finally:
        ctx.close()
    assert not errors, errors


def test_the_embed_menu_gives_a_snippet_with_this_origin(projector, server_url):
    t = uaf()
    projector.goto(server_url + urls.scenario(SEED, "old", t))
    click_settled(projector, "#embed-button")
    # The menu's toggle event (asynchronous) puts the origin in: wait for it.
    projector.wait_for_function("() => document.getElementById('embed-snippet').value.includes('http')")
    snippet = projector.locator("#embed-snippet")
    assert snippet.input_value() == (f'<iframe src="{server_url}{urls.embed(SEED, "old", t)}" width="1280" '
                                     f'height="720" title="{modelapi.scenario(SEED)["title"]}" loading="lazy"></iframe>')
    projector.fill("#embed-from", "50")
    assert f'src="{server_url}{urls.embed(SEED, "old", t, 50)}"' in snippet.input_value()
    assert projector.get_attribute("#embed-preview", "href") == server_url + urls.embed(SEED, "old", t, 50)
