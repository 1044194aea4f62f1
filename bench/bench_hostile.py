"""Hostile clients against the real server (issue 19): the timings the tests only bound loosely.

Starts `python -m app` (one worker, the default limits) on a free loopback port, then:

1. costly scenario links: two clients loop for --seconds on `u~` links whose TOML has a dotted
   key 8,000 parts deep (20 distinct links each, over /api/s/ID/check, /s/ID/verdict, /embed,
   /compare, /challenge, the page and the JSON), while a probe times a cached page every 20 ms:
   the links' answer times and the cached page's p50/p95/max (goal: a named 4xx in < 300 ms, the
   page's p95 < 150 ms);
2. slow bodies: 300 connections send the head of POST /api/rooms or /api/trace with
   Content-Length: 400000 and then a byte a second; 20 page requests are timed meanwhile (goal:
   >= 18 answer 200 within 1 s), then the time until the server has closed every slow connection
   (goal: < 30 s; the body deadline is ZSWAP_WEB_BODY_SECONDS, 20 s by default).

Bounded: about --seconds + 40 s, loopback only.

    .venv/bin/python bench/bench_hostile.py [--seconds 10]
"""
from __future__ import annotations

import argparse
import http.client
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.localserver import ServerDidNotStart, local_server, slow_uploads  # noqa: E402 (after the path)

HOST = "127.0.0.1"
SEED = "lru-writeback-vs-swapoff"
PAGE = f"/s/{SEED}?code=old&t=11"
DEEP = ".".join(["a"] * 8000) + " = 1\n"


def costly_link(salt: int) -> str:
    from app.model.scenarios.userscenario import scenario_id

    return scenario_id(f"# {salt}\n" + DEEP)


def routes(link: str) -> list[str]:
    return [f"/api/s/{link}/check?code=old", f"/s/{link}/verdict?code=old", f"/embed/{link}?code=old&t=1",
            f"/compare/{link}", f"/challenge/{link}/x", f"/s/{link}", f"/api/s/{link}"]


def timed_get(conn: http.client.HTTPConnection, path: str) -> tuple[int, float]:
    started = time.perf_counter()
    conn.request("GET", path)
    r = conn.getresponse()
    r.read()
    return r.status, time.perf_counter() - started


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return 1000 * values[min(len(values) - 1, int(len(values) * q))] if values else 0.0


def costly_links(port: int, seconds: float) -> None:
    probe = http.client.HTTPConnection(HOST, port, timeout=60)
    timed_get(probe, PAGE)
    alone = [timed_get(probe, PAGE)[1] for _ in range(50)]
    stop = threading.Event()
    answers: list[tuple[int, float]] = []

    def loop(k: int) -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        n = 0
        while not stop.is_set():
            answers.append(timed_get(conn, routes(costly_link(1000 * k + n % 20))[n % 7]))
            n += 1

    clients = [threading.Thread(target=loop, args=(k,)) for k in (1, 2)]
    for c in clients:
        c.start()
    took = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        took.append(timed_get(probe, PAGE)[1])
        time.sleep(0.02)
    stop.set()
    for c in clients:
        c.join()
    link_times = [t for _, t in answers]
    statuses = sorted({s for s, _ in answers})
    print(f"costly links: {len(answers)} answers ({statuses}) in {seconds:g} s from 2 clients; "
          f"p50 {pct(link_times, 0.5):.1f} ms, p95 {pct(link_times, 0.95):.1f} ms, max {max(link_times) * 1000:.1f} ms")
    print(f"cached page alone: p50 {pct(alone, 0.5):.1f} ms, p95 {pct(alone, 0.95):.1f} ms; meanwhile "
          f"({len(took)} requests): p50 {pct(took, 0.5):.1f} ms, p95 {pct(took, 0.95):.1f} ms, "
          f"max {max(took) * 1000:.1f} ms")


def slow_bodies(port: int, n: int = 300) -> None:
    with slow_uploads(port, n, ("/api/trace", "/api/rooms")) as held:
        opened = time.monotonic()
        pages = []
        for _ in range(20):
            conn = http.client.HTTPConnection(HOST, port, timeout=10)
            try:
                pages.append(timed_get(conn, PAGE))
            except OSError:
                pages.append((0, 10.0))
            conn.close()
        fast = sum(1 for status, t in pages if status == 200 and t < 1.0)
        print(f"slow bodies: {n} connections; pages meanwhile: {fast}/20 answered 200 within 1 s "
              f"(p50 {pct([t for _, t in pages], 0.5):.1f} ms, max {max(t for _, t in pages) * 1000:.1f} ms)")
        closed_at: dict[int, float] = {}
        while len(closed_at) < n and time.monotonic() - opened < 40:
            for i, s in enumerate(held):
                if i in closed_at:
                    continue
                s.settimeout(0)
                try:
                    while chunk := s.recv(65536):
                        del chunk
                    closed_at[i] = time.monotonic() - opened
                except BlockingIOError:
                    pass
                except OSError:
                    closed_at[i] = time.monotonic() - opened
            time.sleep(0.2)
    refused = sum(1 for t in closed_at.values() if t < 1.0)
    cut = [t for t in closed_at.values() if t >= 1.0]
    print(f"slow bodies: {refused} refused at once (429, per address), {len(cut)} cut later "
          f"(last after {max(cut, default=0):.1f} s), {n - len(closed_at)} still open after 40 s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    args = ap.parse_args()
    env = dict(os.environ, ZSWAP_WEB_PRECOMPUTE="0")
    try:
        with local_server(["-m", "app", "--host", HOST], env, REPO, timeout=60, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL) as (_, port):
            costly_links(port, min(args.seconds, 60.0))
            slow_bodies(port)
    except ServerDidNotStart as e:
        raise SystemExit(str(e)) from None
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
