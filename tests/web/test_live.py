"""A live room in real Chromium: one presenter and two attendees (plus a late joiner) follow five
steps, a code switch and Back; an attendee detaches and rejoins; ending the room tells everyone.
The same walk runs on one server (rooms in the process) and on two server processes sharing a
real Redis (Debian's redis-server, started by the fixture): presenter on one, audience on the other.
"""
from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from app.localserver import ServerDidNotStart, local_server
from app.web import modelapi, urls

pytestmark = pytest.mark.browser

SEED = "lru-writeback-vs-swapoff"
UVICORN = ["-m", "uvicorn", "app.web.app:create_app", "--factory", "--host", "127.0.0.1", "--log-level", "warning"]


@pytest.fixture(params=["one-process", "two-processes-redis"])
def origins(request) -> Iterator[tuple[str, str]]:
    """(presenter's server, audience's server)."""
    if request.param == "one-process":
        env = {k: v for k, v in os.environ.items() if k != "ZSWAP_REDIS_URL"}
        env["ZSWAP_WEB_PRECOMPUTE"] = "0"
        with local_server(UVICORN, env) as (_, port):
            yield f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}"
        return
    redis_url = request.getfixturevalue("redis_url")
    env = dict(os.environ, ZSWAP_REDIS_URL=redis_url, ZSWAP_WEB_PRECOMPUTE="0")
    try:
        with local_server(UVICORN, env) as (_, a), local_server(UVICORN, env) as (_, b):
            yield f"http://127.0.0.1:{a}", f"http://127.0.0.1:{b}"
    except ServerDidNotStart as e:
        pytest.fail(str(e))


@pytest.fixture()
def new_page(browser):
    contexts, errors = [], []

    def make(width: int = 1280, height: int = 720):
        ctx = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(ctx)
        pg = ctx.new_page()
        pg.on("pageerror", lambda e: errors.append(str(e)))
        return pg

    yield make
    for ctx in contexts:
        ctx.close()
    assert not errors, errors


def state(page) -> tuple[str, int]:
    return page.get_attribute("#state", "data-code"), int(page.get_attribute("#state", "data-steps"))


def wait_state(page, code: str, steps: int, timeout: float = 5000) -> None:
    page.wait_for_function(
        "([c, n]) => { const s = document.querySelector('#state');"
        " return s && s.dataset.code === c && s.dataset.steps === String(n); }",
        arg=[code, steps], timeout=timeout)


def status(page) -> str:
    return page.inner_text("#live-status")


def wait_status(page, words: str) -> None:
    page.wait_for_function("w => (document.querySelector('#live-status')?.textContent || '').includes(w)",
                           arg=words, timeout=5000)


def test_the_audience_follows_the_presenter(new_page, origins):
    here, there = origins
    tour = next(t for t in modelapi.scenario(SEED)["tours"] if t["code"] == "old")
    presenter = new_page()
    presenter.goto(here + urls.scenario(SEED, "old", ""))
    presenter.click("#present")
    presenter.wait_for_selector("#live[data-role=presenter][data-ready]")
    code = presenter.get_attribute("#live", "data-code")
    token = presenter.get_attribute("#live", "data-token")
    # The projected address bar shows the state, not the control link.
    presenter.wait_for_function("() => location.pathname.startsWith('/s/')")
    assert token not in presenter.url and presenter.url.endswith(urls.scenario(SEED, "old", ""))
    assert presenter.is_visible("#live-card") and presenter.inner_text(".live-card-code") == code
    assert presenter.locator("#live-card svg").count() == 1  # the QR code

    audience = [new_page(), new_page()]
    for pg in audience:
        pg.goto(there + urls.join(code))
        assert state(pg) == ("old", 0)
        wait_status(pg, "Following presenter")
        assert token not in pg.content()
    presenter.wait_for_function("() => document.querySelector('#live-followers').textContent === '2'", timeout=8000)

    # Five steps, a code switch and Back: the audience sees each state.
    for i, cpu in enumerate(tour["schedule"][:5]):
        presenter.keyboard.press(cpu)
        wait_state(presenter, "old", i + 1)
        for pg in audience:
            wait_state(pg, "old", i + 1)
    presenter.keyboard.press("n")
    wait_state(presenter, "new", 5)
    for pg in audience:
        wait_state(pg, "new", 5)
    presenter.keyboard.press("ArrowLeft")
    wait_state(presenter, "new", 4)
    for pg in audience:
        wait_state(pg, "new", 4)
        assert pg.url.endswith(urls.join(code))  # following keeps the join link in the address bar
    assert presenter.url.endswith(urls.scenario(SEED, "new", tour["schedule"][:4]).split("/", 1)[1])

    # A reload of the presenter's tab (its address bar shows the state) comes back to the room.
    presenter.reload()
    presenter.wait_for_selector("#live[data-role=presenter][data-ready]")
    wait_state(presenter, "new", 4)
    presenter.wait_for_function("() => location.pathname.startsWith('/s/')")
    presenter.keyboard.press("q")  # the card, shown again by the reload

    # One attendee steps on their own: detached, their URL is their own state.
    mine = audience[1]
    enabled = mine.locator("a[id^='step-'][hx-get]").first
    enabled.click()
    wait_state(mine, "new", 5)
    wait_status(mine, "on your own")
    assert mine.is_visible("#live-rejoin") and "/s/" in mine.url
    presenter.keyboard.press("r")  # the presenter resets: the follower follows, the explorer does not
    wait_state(presenter, "new", 0)
    wait_state(audience[0], "new", 0)
    mine.wait_for_timeout(500)
    assert state(mine) == ("new", 5)
    presenter.keyboard.press(tour["schedule"][0])
    wait_state(presenter, "new", 1)
    wait_state(audience[0], "new", 1)
    mine.click("#live-rejoin")
    wait_state(mine, "new", 1)
    wait_status(mine, "Following presenter")
    assert not mine.is_visible("#live-rejoin")

    # A late joiner lands on the presenter's state at once.
    late = new_page()
    late.goto(there + urls.join(code.lower()))
    assert state(late) == ("new", 1)
    wait_status(late, "Following presenter")

    # The presenter ends the room, asked once (the first click and Esc keep it): everyone is told
    # and keeps their state.
    presenter.click("#live-end")
    assert presenter.is_visible("#live-end-ask") and not presenter.is_visible("#live-end")
    presenter.keyboard.press("Escape")
    assert presenter.is_visible("#live-end") and not presenter.is_visible("#live-end-ask")
    presenter.wait_for_timeout(300)
    assert "Live" in status(presenter) and status(late) != "" and "over" not in status(late)
    presenter.click("#live-end")
    presenter.click("#live-end-yes")
    wait_status(presenter, "ended")
    for pg in (*audience, late):
        wait_status(pg, "room is over")
        assert state(pg) == ("new", 1)
        assert not pg.is_visible("#live-rejoin")
    assert presenter.is_visible("#present")  # a new room can be opened


def test_hiding_the_join_card_with_q(new_page, origins):
    here, _ = origins
    presenter = new_page()
    presenter.goto(here + urls.scenario(SEED, "old", "1"))
    presenter.click("#present")
    presenter.wait_for_selector("#live[data-role=presenter][data-ready]")
    assert presenter.is_visible("#live-card")
    presenter.keyboard.press("q")
    assert not presenter.is_visible("#live-card")
    assert presenter.get_attribute("#live-qr-toggle", "aria-expanded") == "false"
    assert presenter.is_visible(".live .live-code")  # the code stays in the strip
    presenter.keyboard.press("q")
    assert presenter.is_visible("#live-card")
    presenter.click("#live-end")
    presenter.click("#live-end-yes")


def in_room(page, code: str) -> None:
    """The presenter's strip is on the page, for this room, with its End button (not Present)."""
    page.wait_for_selector("#live[data-role=presenter][data-ready]")
    assert page.get_attribute("#live", "data-code") == code
    assert page.is_visible("#live-end") and not page.is_visible("#present")


def test_the_presenters_history_keeps_the_room(new_page, server_url):
    """Back, Forward, reload, the undo keys and a Back past the room's first page: the presenter
    keeps the strip, the audience (another browser context) stays in step, and a second Present
    in the tab offers the room already open instead of a new one."""
    presenter = new_page(1280, 720)
    presenter.goto(server_url + urls.scenario(SEED, "old", "1"))
    presenter.keyboard.press("1")
    wait_state(presenter, "old", 2)
    presenter.click("#present")  # the room opens at step 2; the tab's history has step 1 before it
    presenter.wait_for_selector("#live[data-role=presenter][data-ready]")
    code = presenter.get_attribute("#live", "data-code")
    presenter.keyboard.press("q")
    audience = new_page(1024, 768)
    audience.goto(server_url + urls.join(code))
    wait_status(audience, "Following presenter")

    def both(steps: int) -> None:
        wait_state(presenter, "old", steps)
        in_room(presenter, code)
        wait_state(audience, "old", steps)
        wait_status(audience, "Following presenter")
        assert "/p/" not in presenter.url  # the projected address bar never shows the control link

    for n in (3, 4):
        presenter.keyboard.press("1")
        both(n)
    presenter.keyboard.press("Backspace")  # the app's undo is the browser's Back here
    both(3)
    presenter.go_forward()
    both(4)
    presenter.go_back()
    both(3)
    presenter.keyboard.press("ArrowLeft")
    both(2)
    presenter.go_forward()
    both(3)
    presenter.go_back()
    presenter.reload()
    both(2)
    presenter.go_forward()  # an entry of the page before the reload
    both(3)
    presenter.go_back()
    both(2)
    presenter.go_back()  # past the room's first entry, into the page where Present was pressed
    both(2)
    presenter.go_back()
    both(1)
    presenter.go_forward()
    both(2)

    # Another state opened on purpose in the same tab is a plain page; Present there offers the
    # room this tab already presents, and going back to it publishes the state.
    presenter.goto(server_url + urls.scenario(SEED, "old", "1111"))
    assert presenter.locator("#live").count() == 0
    presenter.click("#present")
    presenter.wait_for_selector("#present-offer:not([hidden])")
    assert presenter.inner_text("#present-offer-code") == code
    presenter.click("#present-return")
    both(4)
    presenter.click("#live-end")
    presenter.click("#live-end-yes")
    wait_status(audience, "room is over")
