"""Browser fixtures: the real server as a subprocess and Debian's chromium driven by Playwright."""
from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from app.localserver import ServerDidNotStart, local_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REPO = Path(__file__).resolve().parents[2]

# In-process apps (TestClient runs the lifespan) must not fill the verdict cache from a background
# thread while a test looks at it; the real server of the browser tests turns it back on.
os.environ["ZSWAP_WEB_PRECOMPUTE"] = "0"


@contextmanager
def running_server(args: list[str], env: dict[str, str], **popen) -> Iterator[tuple[subprocess.Popen, int]]:
    """`python ARGS --port PORT` on a free loopback port, once it answers; stopped afterwards
    (app.localserver, which the benches and the screenshots use too); a failed start fails the test."""
    try:
        with local_server(args, env, REPO, **popen) as (proc, port):
            yield proc, port
    except ServerDidNotStart as e:
        pytest.fail(str(e))


@pytest.fixture(scope="session")
def server_url():
    """Start `uvicorn app.web.app:create_app --factory` on a free loopback port; stop it at the end."""
    args = ["-m", "uvicorn", "app.web.app:create_app", "--factory", "--host", "127.0.0.1", "--log-level", "warning"]
    with running_server(args, dict(os.environ, ZSWAP_WEB_PRECOMPUTE="1")) as (_, port):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    """Debian's chromium, headless, with its config and cache in a temporary folder."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing: `make test` installs it")
    from playwright.sync_api import sync_playwright

    home = tmp_path_factory.mktemp("chromium-home")
    env = dict(os.environ, XDG_CONFIG_HOME=str(home / "config"), XDG_CACHE_HOME=str(home / "cache"))
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, env=env)
        yield b
        b.close()


@pytest.fixture()
def page(browser):
    """A fresh page; the test fails if the page throws or logs a console error."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    pg.on("console", lambda msg: errors.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    pg.errors = errors  # tests may inspect it; a fresh page per test
    yield pg
    context.close()
    assert not errors, "browser errors:\n" + "\n".join(errors)


@pytest.fixture()
def projector(browser):
    """A fresh page at projector size (1280x720) that takes downloads; the test fails if the page throws."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 720}, accept_downloads=True)
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    ctx.close()
    assert not errors, errors


@pytest.fixture()
def sized_page(browser):
    """make(width, height, scheme="light"): a fresh page in its own context at that size; its
    uncaught errors in `page.errors` (the test decides what they mean)."""
    contexts = []

    def make(w: int = 1280, h: int = 720, scheme: str = "light"):
        ctx = browser.new_context(viewport={"width": w, "height": h}, color_scheme=scheme)
        contexts.append(ctx)
        pg = ctx.new_page()
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.errors = errors
        return pg

    yield make
    for c in contexts:
        c.close()


SEED = "lru-writeback-vs-swapoff"


@pytest.fixture(scope="session")
def uaf() -> str:
    """The schedule of the seed's tour uaf-a: old code, ends in the use-after-free."""
    from app.web import modelapi

    return next(t["schedule"] for t in modelapi.scenario(SEED)["tours"] if t["name"] == "uaf-a")


def _href(page: str, id_: str) -> str | None:
    import html
    import re

    tag = re.search(rf'<a [^>]*\bid="{id_}"[^>]*>', page)
    m = re.search(r'href="([^"]*)"', tag.group(0)) if tag else None
    return html.unescape(m.group(1)) if m else None


@pytest.fixture(scope="session")
def href():
    """href(page, id): the unescaped href of the link with this id in an HTML text (None when
    there is no such link, e.g. a disabled button in its place)."""
    return _href


@pytest.fixture(scope="session")
def seed_tours() -> dict:
    """The seed's tours, recognised by what they do (not by name): the shortest old-code tour that
    ends in a use-after-free, and a new-code tour during which some CPU sleeps.

    Returns {"uaf": tour, "sleep": tour, "sleep_at": number of steps after which a CPU sleeps,
    "sleeper": that CPU's id}.
    """
    from app.web import modelapi

    scenario = modelapi.scenario(SEED)
    assert scenario is not None, f"the seed scenario {SEED} is missing"
    uaf, sleep = [], []
    for tour in scenario["tours"]:
        view = modelapi.build_view(SEED, tour["code"], tour["schedule"])
        if tour["code"] == "old" and any(v["kind"] == "use-after-free" for v in view["violations"]):
            uaf.append(tour)
        if tour["code"] == "new" and not view["violations"]:
            for k in range(len(tour["schedule"]) + 1):
                v = modelapi.build_view(SEED, "new", tour["schedule"][:k])
                sleepers = [c["id"] for c in v["cpus"] if c["status"] == "sleeping"]
                if sleepers:
                    sleep.append((tour, k, sleepers[0]))
                    break
    assert uaf, "no old-code tour of the seed ends in a use-after-free"
    assert sleep, "no new-code tour of the seed has a sleeping CPU"
    tour, k, cpu = sleep[0]
    return {"uaf": min(uaf, key=lambda t: len(t["schedule"])), "sleep": tour, "sleep_at": k, "sleeper": cpu}


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    """Debian's redis-server on a free loopback port for this test session (a real server: rooms
    shared by two processes are tested against what production runs, not a mock)."""
    from app.localserver import local_redis

    try:
        with local_redis() as url:
            yield url
    except ServerDidNotStart as e:
        pytest.fail(str(e))



