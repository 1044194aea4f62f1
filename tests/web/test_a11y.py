"""Accessibility: axe-core (bundled by axe-playwright-python) in real headless Chromium.

Four kinds of page (the index, a state, a crash, an error page), each in the light and the dark
colour scheme at 1280x720, must have no axe violation of impact "serious" or "critical". The failure
message lists every such finding (rule, impact, help, the first elements with their HTML and what
axe measured, e.g. the colours and contrast ratio) so it can be fixed from the message alone.

Injecting axe needs the page's Content-Security-Policy bypassed: that is done in this test's own
browser context only (`bypass_csp=True`), never in the app.
"""
from __future__ import annotations

import pytest

from app.web import modelapi, urls

pytestmark = pytest.mark.browser

SEED = "lru-writeback-vs-swapoff"
CRASH_TOUR = "uaf-a"
VIEWPORT = {"width": 1280, "height": 720}
BLOCKING = ("critical", "serious")
SHOW_NODES = 5  # elements listed per rule in the failure message
SNIPPET = 300  # characters of each element's HTML


def _tour(name: str) -> dict:
    scenario = modelapi.scenario(SEED)
    assert scenario is not None, f"the seed scenario {SEED} is missing"
    tours = {t["name"]: t for t in scenario["tours"]}
    assert name in tours, f"{SEED} has no tour {name!r} (it has {sorted(tours)})"
    return tours[name]


def _crash_url() -> str:
    tour = _tour(CRASH_TOUR)
    return urls.scenario(SEED, tour["code"], tour["schedule"])


# (id, URL or a function giving it, is the answer expected to be an error page)
PAGES = [
    ("index", lambda: urls.index(), False),
    ("state", lambda: f"/s/{SEED}?code=old&t=1111", False),
    ("crash", _crash_url, False),
    ("error", lambda: f"/s/{SEED}?code=old&t=9", True),
    # Beyond the four the issue names: the stage's other colours (the fixed code's green banner,
    # a waiting CPU, the "changed" bands, a tour's sentence) and a 3-CPU stage.
    ("fixed-banner", lambda: urls.scenario(SEED, "new", _tour(CRASH_TOUR)["schedule"]), False),
    ("mid-tour", lambda: urls.scenario(SEED, "old", _tour(CRASH_TOUR)["schedule"][:27], CRASH_TOUR), False),
    ("three-cpus", lambda: urls.scenario("two-shrinkers-vs-swapoff", "old", "1111111111113333"), False),
    ("help", lambda: urls.help_page(), False),
    ("write", lambda: urls.write(), False),
    ("embed-compact", lambda: urls.embed(SEED, "old", _tour(CRASH_TOUR)["schedule"], layout="compact"), False),
    ("fixed-tour-end", lambda: urls.scenario(SEED, "new", _tour("fixed-swapoff-sleeps")["schedule"],
                                             "fixed-swapoff-sleeps"), False),
]
SCHEMES = ["light", "dark"]


def _describe_node(node: dict) -> list[str]:
    target = " ".join(map(str, node.get("target", [])))
    html = " ".join(node.get("html", "").split())
    if len(html) > SNIPPET:
        html = html[:SNIPPET] + "…"
    lines = [f"    - target: {target}", f"      html:   {html}"]
    for check in node.get("any", []) + node.get("all", []) + node.get("none", []):
        if check.get("message"):
            lines.append(f"      check:  {check['message']}")
    return lines


def describe(violations: list[dict]) -> str:
    """Each finding: rule id, impact, help (and its URL), and the first few elements."""
    out = []
    for v in violations:
        nodes = v.get("nodes", [])
        out.append(f"* {v['id']} [{v.get('impact')}] {v.get('help')} ({len(nodes)} element(s))"
                   f"\n  {v.get('helpUrl', '')}")
        for node in nodes[:SHOW_NODES]:
            out.extend(_describe_node(node))
        if len(nodes) > SHOW_NODES:
            out.append(f"    … and {len(nodes) - SHOW_NODES} more")
    return "\n".join(out)


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("url_of,is_error", [p[1:] for p in PAGES], ids=[p[0] for p in PAGES])
def test_no_serious_axe_violations(browser, server_url, url_of, is_error, scheme):
    check_page(browser, server_url + url_of(), scheme, is_error)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_the_help_over_the_stage_has_no_serious_axe_violations(browser, server_url, scheme):
    """The ? key's dialog (keys and words) open over a crash, and a term's definition shown."""
    def act(page):
        page.focus("#sentence a.term")
        page.keyboard.press("?")
        page.wait_for_selector("dialog#help[open]")

    check_page(browser, server_url + urls.scenario(SEED, "old", _tour(CRASH_TOUR)["schedule"], CRASH_TOUR),
               scheme, False, act=act)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_live_room_pages_have_no_serious_axe_violations(browser, server_url, scheme):
    """The presenter's page (the strip and the join card with its QR code) and an audience page."""
    import http.client
    import json

    port = int(server_url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("POST", urls.api_rooms(), json.dumps({"url": f"/s/{SEED}?code=old&t=1111"}),
                 {"Content-Type": "application/json"})
    room = json.loads(conn.getresponse().read())
    conn.close()
    try:
        check_page(browser, server_url + urls.control(room["token"]), scheme, False, idle=False)
        check_page(browser, server_url + urls.join(room["code"]), scheme, False, idle=False)
    finally:
        # A new connection: the server drops an idle keep-alive one after 5 s, and axe takes longer.
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("DELETE", urls.api_room(room["code"]), headers={"Authorization": f"Bearer {room['token']}"})
        conn.getresponse().read()
        conn.close()


def check_page(browser, url: str, scheme: str, is_error: bool, idle: bool = True, act=None) -> None:
    """Fail with every serious or critical axe finding on the page at `url`. `idle=False` for a
    page that holds a connection open (a live room's event stream): it is never network-idle."""
    from axe_playwright_python.sync_playwright import Axe

    context = browser.new_context(bypass_csp=True, color_scheme=scheme, viewport=VIEWPORT)
    try:
        page = context.new_page()
        page_errors: list[str] = []
        page.on("pageerror", lambda exc: page_errors.append(str(exc)))
        response = page.goto(url, wait_until="load")
        assert response is not None
        if is_error:
            assert 400 <= response.status < 500, f"{url}: expected a 4xx page, got {response.status}"
        else:
            assert response.status == 200, f"{url}: status {response.status}"
        if idle:
            page.wait_for_load_state("networkidle")
        else:
            page.wait_for_timeout(500)
        assert page.evaluate(f"matchMedia('(prefers-color-scheme: {scheme})').matches")
        if act is not None:
            act(page)

        results = Axe().run(page).response
        assert not page_errors, f"{url} ({scheme}) threw:\n" + "\n".join(page_errors)
    finally:
        context.close()

    order = {impact: i for i, impact in enumerate(BLOCKING)}
    blocking = sorted((v for v in results["violations"] if v.get("impact") in BLOCKING),
                      key=lambda v: (order[v["impact"]], v["id"]))
    others = sorted(f"{v['id']} [{v.get('impact')}]" for v in results["violations"]
                    if v.get("impact") not in BLOCKING)
    if blocking:
        engine = results.get("testEngine", {}).get("version", "?")
        pytest.fail(
            f"axe-core {engine}: {len(blocking)} serious/critical rule(s) violated on {url} "
            f"({scheme} scheme, {VIEWPORT['width']}x{VIEWPORT['height']}):\n"
            + describe(blocking)
            + (f"\n(not blocking: {', '.join(others)})" if others else ""),
            pytrace=False)
