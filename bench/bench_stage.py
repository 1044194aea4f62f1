"""The scenario page in a real browser: bytes of a cold first load, and click-to-swap latency.

Starts the real server (uvicorn, one worker, `app.web.app:create_app --factory`, ZSWAP_WEB_CACHE
left at its default, the startup verdict thread on as in production) on a free loopback port and
drives Debian's chromium (/usr/bin/chromium) with Playwright:

(a) First load. A fresh browser context (empty cache) at 1280x720 opens a tour URL of the seed
    (tour `uaf-a`, its first 27 steps) right after the server started. Every response's bytes
    over the wire (CDP Network.loadingFinished encodedDataLength: headers plus the body as
    sent, i.e. compressed) are printed with the total. Budget: <= 35 kB.
(b) Click to swapped state. From the start page of several scenarios and codes, clicks a random
    enabled step button whose state nobody has requested yet in this server's life (so every
    cache misses, the model's too), and measures in the page from the click event (capture
    listener) to the `htmx:before:settle` that follows it: the new state is in the DOM (the
    budget, p95 <= 25 ms), and to the `htmx:after:settle` after it, which also counts the page's
    own after-swap work (app.js lays the page out once to keep each CPU's next line in view).

Only `#state`, `a[id^="step-"][hx-get]` and htmx's events are relied on, so the page's layout
can change under it. Figures, never a test: noisy on a shared 2-core machine.

    .venv/bin/python bench/bench_stage.py [--samples 150] [--seed 1] [--repo PATH]

`--repo` serves another checkout of this project (e.g. an older commit) with this venv, for
before/after comparisons.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import parse_qs, urljoin, urlsplit

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.localserver import ServerDidNotStart, local_server  # noqa: E402 (after the path)
SEED = "lru-writeback-vs-swapoff"
TOUR = "uaf-a"
TOUR_STEPS = 27
VIEWPORT = {"width": 1280, "height": 720}
CHROMIUM = "/usr/bin/chromium"
# The same flags as tests/web/conftest.py (not imported: importing it would change our env).
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
STEP_LINKS = 'a[id^="step-"][hx-get][href]'

# Installs, before each click, a capture listener that timestamps the click and a promise that
# resolves at the first htmx:after:settle after it whose target is (in) #state, or null after 10 s.
# It resolves to the total and, from the fetch's resource timing, where the time went: click to
# request start (htmx), request to first byte (server and loopback), last byte (download).
ARM_JS = """() => {
  window.__benchClick = null;
  performance.clearResourceTimings();
  document.addEventListener("click", () => { window.__benchClick = performance.now(); },
                            {capture: true, once: true});
  // The DOM is swapped when htmx fires htmx:before:settle (the settle that follows only waits a
  // tick and lets the browser paint): the first one after the click, in #state, is "swapped".
  window.__benchSwapped = null;
  const swapped = (e) => {
    const t = e.target;
    if (window.__benchClick !== null && window.__benchSwapped === null && t && t.nodeType === 1
        && (t.id === "state" || t.closest("#state") || t.querySelector("#state"))) {
      window.__benchSwapped = performance.now() - window.__benchClick;
      document.removeEventListener("htmx:before:settle", swapped);
    }
  };
  document.addEventListener("htmx:before:settle", swapped);
  window.__benchSettle = new Promise((resolve) => {
    const done = (e) => {
      const t = e.target;
      const inState = t && t.nodeType === 1 && (t.id === "state" || t.closest("#state") || t.querySelector("#state"));
      if (window.__benchClick === null || !inState) return;
      document.removeEventListener("htmx:after:settle", done);
      const now = performance.now(), click = window.__benchClick;
      const f = performance.getEntriesByType("resource").filter((r) => r.initiatorType === "fetch" && r.startTime >= click).pop();
      resolve({total: now - click, swapped: window.__benchSwapped, start: f ? f.requestStart - click : null,
               server: f ? f.responseStart - f.requestStart : null, end: f ? f.responseEnd - click : null,
               url: f ? f.name : null, status: f ? f.responseStatus : null, wire: f ? f.transferSize : null});
    };
    document.addEventListener("htmx:after:settle", done);
    setTimeout(() => { document.removeEventListener("htmx:after:settle", done); resolve(null); }, 10000);
  });
}"""
LINKS_JS = """(sel) => [...document.querySelectorAll(sel)]
  .filter((a) => a.getAttribute("aria-disabled") !== "true" && a.getClientRects().length > 0)
  .map((a) => ({id: a.id, href: a.href}))"""


def get(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


UVICORN = ["-m", "uvicorn", "app.web.app:create_app", "--factory", "--host", "127.0.0.1",
           "--log-level", "warning", "--no-access-log"]


def wait_until_idle(pid: int, timeout: float = 90.0) -> float:
    """Wait until the server uses under 5% of a core over half a second (the startup verdict
    thread has finished), reading /proc; returns the seconds waited."""
    tick = os.sysconf("SC_CLK_TCK")

    def cpu() -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick  # utime + stime

    start = time.monotonic()
    while time.monotonic() - start < timeout:
        before = cpu()
        time.sleep(0.5)
        if cpu() - before < 0.025:
            break
    return time.monotonic() - start


def tour_path(port: int) -> str:
    """The seed's tour URL at step TOUR_STEPS, its schedule taken from /api/scenarios."""
    scenarios = json.loads(get(port, "/api/scenarios")[1])
    seed = next(s for s in scenarios if s["id"] == SEED)
    tour = next(t for t in seed["tours"] if t["name"] == TOUR)
    return f"/s/{SEED}?code={tour['code']}&tour={TOUR}&t={tour['schedule'][:TOUR_STEPS]}"


def first_load(browser, base: str, path: str) -> None:
    """(a): every response of a cold load, from CDP, and the total over the wire."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    rows: dict[str, dict] = {}
    cdp.on("Network.requestWillBeSent", lambda e: rows.setdefault(e["requestId"], {
        "url": e["request"]["url"], "type": e.get("type", "?"), "done": False, "decoded": 0}))
    cdp.on("Network.responseReceived", lambda e: rows.get(e["requestId"], {}).update(
        status=e["response"]["status"], type=e.get("type", "?"), cached=e["response"].get("fromDiskCache", False),
        encoding={k.lower(): v for k, v in e["response"]["headers"].items()}.get("content-encoding", "-")))
    cdp.on("Network.dataReceived", lambda e: rows.get(e["requestId"], {}).__setitem__(
        "decoded", rows.get(e["requestId"], {}).get("decoded", 0) + e["dataLength"]))
    cdp.on("Network.loadingFinished", lambda e: rows.get(e["requestId"], {}).update(
        wire=e["encodedDataLength"], done=True))
    cdp.on("Network.loadingFailed", lambda e: rows.get(e["requestId"], {}).update(
        wire=0, done=True, status=e.get("errorText", "failed")))
    cdp.send("Network.enable")
    t0 = time.perf_counter()
    page.goto(base + path, wait_until="load")
    page.wait_for_load_state("networkidle")
    elapsed = time.perf_counter() - t0
    deadline = time.monotonic() + 5
    while not all(r["done"] for r in rows.values()) and time.monotonic() < deadline:
        page.wait_for_timeout(50)
    context.close()

    print(f"(a) first load, cold browser cache, fresh server, viewport {VIEWPORT['width']}x{VIEWPORT['height']}")
    print(f"    {base}{path}")
    print(f"    {'type':<11} {'status':>6} {'encoding':<8} {'wire B':>8} {'body B':>8}  url")
    total = decoded = 0
    for r in rows.values():
        wire = r.get("wire", 0)
        total += wire
        decoded += r["decoded"]
        u = urlsplit(r["url"])
        print(f"    {r['type']:<11} {r.get('status', '?')!s:>6} {r.get('encoding', '-'):<8} {wire:>8.0f} "
              f"{r['decoded']:>8}  {u.path + ('?' + u.query if u.query else '')}")
    print(f"    total over the wire: {total / 1000:.1f} kB ({total:.0f} B, headers included) in {len(rows)} "
          f"responses; {decoded / 1000:.1f} kB decoded; load + network idle in {elapsed:.2f} s (budget <= 35 kB)")
    if not any(urlsplit(r["url"]).path.endswith(("favicon.ico", "favicon.svg")) for r in rows.values()):
        print("    (headless chromium did not fetch the favicon)")


def state_key(href: str) -> tuple[str, str, str]:
    """What identifies a state: scenario path, code and schedule (the tour does not change it)."""
    u = urlsplit(href)
    q = parse_qs(u.query)
    return u.path, q.get("code", ["old"])[0], q.get("t", [""])[0]


def start_pages(port: int) -> list[str]:
    """old and new of every scenario, in the order /api/scenarios lists them."""
    out = []
    for s in json.loads(get(port, "/api/scenarios")[1]):
        for code in ("old", "new"):
            if code in s["codes"]:
                out.append(f"/s/{s['id']}?code={code}")
    return out


def clicks(browser, base: str, port: int, samples: int, seed: int, walk: int) -> None:
    """(b): random walks of at most `walk` clicks from each start page in turn, each click to a new state."""
    rng = random.Random(seed)
    seen: set[tuple[str, str, str]] = set()
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    starts = start_pages(port)
    results: list[tuple[str, float, int, dict]] = []  # (start page, ms, fragment bytes on the wire, phases)
    timeouts, statuses = 0, {}
    rounds = 0
    while len(results) < samples and rounds < 20:
        rounds += 1
        progressed = False
        for start in starts:
            if len(results) >= samples:
                break
            page.goto(base + start, wait_until="networkidle")  # lazy loads done before the first click
            seen.add(state_key(base + start))
            for _ in range(walk):
                links = [x for x in page.evaluate(LINKS_JS, STEP_LINKS) if state_key(x["href"]) not in seen]
                if not links:
                    break
                pick = rng.choice(links)
                seen.add(state_key(pick["href"]))
                page.evaluate(ARM_JS)
                target = urljoin(base, pick["href"])
                # The answer's status and size come from the page's resource timing: asking
                # Playwright for the response woke its driver on the same two cores mid-swap.
                page.click(f'[id="{pick["id"]}"]')
                timing = page.evaluate("() => window.__benchSettle")
                if timing is None:
                    timeouts += 1
                    break
                if timing["url"] != target:
                    raise SystemExit(f"the click fetched {timing['url']}, not {target}")
                statuses[timing["status"]] = statuses.get(timing["status"], 0) + 1
                if timing["status"] == 200:
                    results.append((start, timing["total"], timing["wire"], timing))
                    progressed = True
                if len(results) >= samples:
                    break
        if not progressed:
            break
    context.close()

    ms = sorted(r[1] for r in results)
    n = len(ms)
    print(f"(b) click to swapped state, never-requested states, loopback: {n} samples from "
          f"{len(starts)} start pages (walks of <= {walk} clicks, seed {seed})")
    if not n:
        print("    no samples: the page offered no step link")
        return
    wire = sorted(r[2] for r in results)
    dom = sorted(r[3]["swapped"] for r in results if r[3].get("swapped") is not None)
    if dom:
        k = len(dom)
        print(f"    click to swapped stage (htmx:before:settle: the new state is in the DOM): p50 {dom[k // 2]:.1f} ms, "
              f"p95 {dom[min(k - 1, int(k * 0.95))]:.1f} ms, max {dom[-1]:.1f} ms (budget p95 <= 25 ms)")
    print(f"    click to settled (htmx:after:settle, after the page's own after-swap work: the forced layout "
          f"that keeps each CPU's next line in its code window): p50 {ms[n // 2]:.1f} ms, "
          f"p95 {ms[min(n - 1, int(n * 0.95))]:.1f} ms, max {ms[-1]:.1f} ms, mean {statistics.fmean(ms):.1f} ms")
    phases = {k: sorted(r[3][k] for r in results if r[3].get(k) is not None) for k in ("start", "server", "end")}
    if all(phases.values()):
        p50 = {k: v[len(v) // 2] for k, v in phases.items()}
        print(f"    p50 phases: click to request start {p50['start']:.1f} ms, request to first byte (server) "
              f"{p50['server']:.1f} ms, click to last byte {p50['end']:.1f} ms, last byte to settle "
              f"{ms[n // 2] - p50['end']:.1f} ms (difference of medians)")
    print(f"    fragment over the wire: p50 {wire[n // 2] / 1000:.1f} kB, max {wire[-1] / 1000:.1f} kB; "
          f"statuses {statuses}; timeouts {timeouts}; page errors {len(errors)}")
    for start in starts:
        mine = sorted(r[1] for r in results if r[0] == start)
        if mine:
            print(f"    {start:<48} n={len(mine):>3} p50 {mine[len(mine) // 2]:6.1f} ms  max {mine[-1]:6.1f} ms")


# (c) The same walks with the driver quiet: one call per start page runs its whole walk inside
# the page, clicking each link with element.click() (what app.js does for a key press: a
# presenter's → and digit keys), so no DevTools traffic (the mouse events, Playwright's waits and
# its network events, all on the same two cores) runs while a click is timed. It waits two frames
# and 200 ms between clicks (a presenter presses the next key later still).
WALK_JS = """async ({sel, walk, seen, seed}) => {
  let s = seed >>> 0;
  const rand = () => { s = (s + 0x6D2B79F5) >>> 0; let t = s; t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
  const key = (href) => { const u = new URL(href); return u.pathname + " " + (u.searchParams.get("code") || "old")
    + " " + (u.searchParams.get("t") || ""); };
  const known = new Set(seen), out = [];
  const frame = () => new Promise((r) => requestAnimationFrame(() => r()));
  for (let i = 0; i < walk; i++) {
    const links = [...document.querySelectorAll(sel)].filter((a) => a.getAttribute("aria-disabled") !== "true"
      && a.getClientRects().length > 0 && !known.has(key(a.href)));
    if (!links.length) break;
    const a = links[Math.floor(rand() * links.length)];
    const k = key(a.href); known.add(k);
    performance.clearResourceTimings();
    let click = null, swapped = null;
    document.addEventListener("click", () => { click = performance.now(); }, {capture: true, once: true});
    const onSwap = (e) => { if (swapped === null && click !== null && e.target.closest && (e.target.id === "state" || e.target.closest("#state")))
      swapped = performance.now() - click; };
    document.addEventListener("htmx:before:settle", onSwap);
    const settled = new Promise((resolve) => {
      const done = (e) => { if (click === null || !(e.target.id === "state" || (e.target.closest && e.target.closest("#state")))) return;
        document.removeEventListener("htmx:after:settle", done); resolve(performance.now() - click); };
      document.addEventListener("htmx:after:settle", done);
      setTimeout(() => resolve(null), 10000);
    });
    a.click();
    const total = await settled;
    document.removeEventListener("htmx:before:settle", onSwap);
    const f = performance.getEntriesByType("resource").filter((r) => r.initiatorType === "fetch").pop();
    out.push({key: k, total, swapped, status: f ? f.responseStatus : null, wire: f ? f.transferSize : null,
              start: f ? f.requestStart - click : null, server: f ? f.responseStart - f.requestStart : null,
              end: f ? f.responseEnd - click : null});
    if (total === null) break;
    await frame(); await frame(); await new Promise((r) => setTimeout(r, 200));
  }
  return out;
}"""


def clicks_in_page(browser, base: str, port: int, samples: int, seed: int, walk: int) -> None:
    """(c): (b)'s walks, each run inside the page (WALK_JS), never-requested states only."""
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    starts = start_pages(port)
    seen: set[str] = set()
    results: list[dict] = []
    rounds = 0
    while len(results) < samples and rounds < 20:
        rounds += 1
        before = len(results)
        for i, start in enumerate(starts):
            if len(results) >= samples:
                break
            page.goto(base + start, wait_until="networkidle")
            path, code, t = state_key(base + start)
            seen.add(f"{path} {code} {t}")
            got = page.evaluate(WALK_JS, {"sel": STEP_LINKS, "walk": min(walk, samples - len(results)),
                                          "seen": sorted(seen), "seed": seed * 100003 + rounds * 101 + i})
            seen.update(r["key"] for r in got)
            results += [r for r in got if r["status"] == 200 and r["swapped"] is not None]
        if len(results) == before:
            break
    context.close()
    n = len(results)
    print(f"(c) the same, each walk run inside the page (element.click(), as a key press does; no DevTools "
          f"traffic while timing): {n} samples, seed {seed}")
    if not n:
        return
    dom = sorted(r["swapped"] for r in results)
    tot = sorted(r["total"] for r in results)
    print(f"    click to swapped stage: p50 {dom[n // 2]:.1f} ms, p95 {dom[min(n - 1, int(n * 0.95))]:.1f} ms, "
          f"max {dom[-1]:.1f} ms (budget p95 <= 25 ms)")
    print(f"    click to settled: p50 {tot[n // 2]:.1f} ms, p95 {tot[min(n - 1, int(n * 0.95))]:.1f} ms")
    med = {k: statistics.median(r[k] for r in results if r[k] is not None) for k in ("start", "server", "end")}
    print(f"    p50 phases: click to request start {med['start']:.1f} ms, request to first byte (server) "
          f"{med['server']:.1f} ms, click to last byte {med['end']:.1f} ms; page errors {len(errors)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=150, help="click samples for (b), at least 100 advised")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--walk", type=int, default=8, help="clicks per visit of a start page")
    ap.add_argument("--repo", type=Path, default=REPO, help="the checkout to serve (default: this one)")
    args = ap.parse_args()
    try:  # `make bench` runs every script with the runtime dependencies only: skip, don't fail
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("skipped: Python playwright is missing (`make test` installs it)")
        return
    if not os.path.exists(CHROMIUM):
        print(f"skipped: {CHROMIUM} is missing (`make test` installs it)")
        return

    env = {k: v for k, v in os.environ.items() if k != "ZSWAP_WEB_CACHE"}  # the default cache
    try:
        with local_server(UVICORN, env, args.repo.resolve()) as (proc, port):
            base = f"http://127.0.0.1:{port}"
            path = tour_path(port)
            with tempfile.TemporaryDirectory() as home, sync_playwright() as pw:
                env = dict(os.environ, XDG_CONFIG_HOME=f"{home}/config", XDG_CACHE_HOME=f"{home}/cache")
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, env=env)
                try:
                    first_load(browser, base, path)
                    waited = wait_until_idle(proc.pid)
                    print(f"    (then waited {waited:.1f} s for the server's startup verdicts to finish)")
                    clicks(browser, base, port, args.samples, args.seed, args.walk)
                    clicks_in_page(browser, base, port, args.samples, args.seed, args.walk)
                finally:
                    browser.close()
    except ServerDidNotStart as e:
        raise SystemExit(str(e)) from None


if __name__ == "__main__":
    main()
