"""Throughput and latency of a step request at depth 20 beside a trivial endpoint, one uvicorn worker.

Starts the real server (uvicorn, one worker, httptools/uvloop from uvicorn[standard]) as a
subprocess on a free loopback port, with one extra trivial route mounted by a tiny wrapper
factory (create_bench_app below), then drives it with threads doing keep-alive http.client requests. Bounded in both
request count and time. Numbers are noisy (+-30% on a 2-core machine): compare the two rows of
one run, not runs with each other. "CPU ms" is the server process's own CPU per request (from
/proc), which the load generator sharing the cores does not inflate.

    .venv/bin/python bench/bench_web.py [--threads 16] [--seconds 5] [--requests 20000]
"""
from __future__ import annotations

import argparse
import http.client
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.localserver import ServerDidNotStart, cpu_seconds, local_server, memory_kb  # noqa: E402 (after the path)

SEED = "lru-writeback-vs-swapoff"
DEPTH = 20
WALKS = 400  # browser walks of WALK_STEPS steps each around DEPTH (more than 5 s of load needs)
WALK_STEPS = 16



def create_bench_app():
    """The real app plus one trivial route: the ceiling of this server on this machine."""
    from fastapi.responses import PlainTextResponse

    from app.web.app import create_app

    app = create_app()

    @app.get("/_bench/trivial", include_in_schema=False)
    async def trivial() -> PlainTextResponse:
        return PlainTextResponse("ok")

    return app


def depth_schedule(depth: int) -> str:
    """A valid schedule of `depth` steps for the seed on old code (greedy: lowest enabled CPU
    that keeps the run going), taken from the model so nothing here is hard-coded."""
    from app.web import modelapi

    t = ""
    while len(t) < depth:
        view = modelapi.build_view(SEED, "old", t)
        if not view["enabled"]:
            break
        # Prefer the CPU that did not move last, so both CPUs interleave.
        choices = sorted(view["enabled"], key=lambda c: (str(c) == t[-1:] if t else False, c))
        t += str(choices[0])
    return t


def distinct_schedules(depth: int, n: int, seed: int = 1) -> list[str]:
    """`n` different valid schedules of `depth` steps (random walks checked with the model's
    validate): loading them in turn makes every request miss every cache, the model's included."""
    import random

    from app.web import modelapi

    rng = random.Random(seed)
    out: set[str] = set()
    tries = 0
    while len(out) < n and tries < 50 * n:
        tries += 1
        t = ""
        while len(t) < depth:
            for c in rng.sample("12", 2):
                if modelapi.validate(SEED, "old", t + c) is None:
                    t += c
                    break
            else:
                break
        if len(t) == depth:
            out.add(t)
    return sorted(out)


BROWSER = {"Accept-Encoding": "gzip"}  # as every browser sends
HTMX = {**BROWSER, "HX-Request": "true"}  # a step's swap: the state fragment, not the page


def run_load(port: int, path: str | list[str], threads: int, seconds: float, max_requests: int,
             headers: dict[str, str] = BROWSER) -> dict:
    """Load `path` (or each of a list of paths in turn, never repeating one) from `threads` threads."""
    if isinstance(path, str):
        return run_walks(port, None, threads, seconds, max_requests, path, headers)
    return run_walks(port, [[(p, headers)] for p in path], threads, seconds, max_requests)


def run_walks(port: int, walks: list[list[tuple[str, dict[str, str]]]] | None, threads: int, seconds: float,
              max_requests: int, path: str = "", headers: dict[str, str] = BROWSER) -> dict:
    """Each thread takes the next walk (a list of requests sent in order on one connection, as one
    browser steps) until the walks, the request count or the time run out; with no walks, every
    request is `path`."""
    latencies: list[float] = []
    lock = threading.Lock()
    count = [0]
    taken = [0]
    statuses: dict[int, int] = {}
    deadline = time.monotonic() + seconds

    def next_walk() -> list[tuple[str, dict[str, str]]] | None:
        with lock:
            if walks is None:
                if count[0] >= max_requests:
                    return None
                count[0] += 1
                return [(path, headers)]
            if taken[0] >= len(walks) or count[0] >= max_requests:
                return None
            walk = walks[taken[0]]
            taken[0] += 1
            count[0] += len(walk)
            return walk

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        local: list[float] = []
        while time.monotonic() < deadline:
            walk = next_walk()
            if walk is None:
                break
            for target, walk_headers in walk:
                t0 = time.perf_counter()
                conn.request("GET", target, headers=walk_headers)
                resp = conn.getresponse()
                resp.read()
                local.append(time.perf_counter() - t0)
                statuses[resp.status] = statuses.get(resp.status, 0) + 1
        conn.close()
        with lock:
            latencies.extend(local)

    start = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    elapsed = time.perf_counter() - start
    latencies.sort()
    n = len(latencies)
    return {
        "requests": n, "seconds": elapsed, "rps": n / elapsed if elapsed else 0.0,
        "p50_ms": 1000 * latencies[n // 2] if n else 0.0,
        "p99_ms": 1000 * latencies[min(n - 1, int(n * 0.99))] if n else 0.0,
        "mean_ms": 1000 * statistics.fmean(latencies) if n else 0.0,
        "statuses": statuses,
    }


def browser_walks(n: int, start: int, steps: int, avoid: set[str], seed: int = 2) -> list[list[tuple[str, dict[str, str]]]]:
    """`n` walks as a user clicks them: each starts with a fragment of a random depth-`start` state,
    then takes `steps` random steps, each a never-seen URL whose parent was the walk's previous
    request, sent with HX-Have naming that parent (as static/app.js does). No URL is in `avoid` or
    repeats."""
    import random

    from app.web import modelapi
    from app.web.page import regions

    rng = random.Random(seed)
    seen = set(avoid)
    out = []
    for _ in range(50 * n):
        if len(out) == n:
            break
        t = ""
        walk: list[tuple[str, dict[str, str]]] = []
        while len(t) < start + steps:
            enabled = modelapi.replay(SEED, "old", t)["enabled"]
            if not enabled:
                break
            step = str(rng.choice(enabled))
            if len(t) >= start:
                have = regions.state_key(SEED, "old", t, None, False, None)
                walk.append((f"/s/{SEED}?code=old&t={t + step}", {**HTMX, "HX-Have": have}))
            t += step
        if len(t) < start + steps or any(p in seen for p, _ in walk):
            continue
        first = f"/s/{SEED}?code=old&t={t[:start]}"
        seen.update(p for p, _ in walk)
        seen.add(first)
        out.append([(first, HTMX)] + walk)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--requests", type=int, default=20000)
    args = ap.parse_args()

    t = depth_schedule(DEPTH)
    fresh = distinct_schedules(DEPTH, 4500)
    walks = browser_walks(WALKS, DEPTH - WALK_STEPS // 2, WALK_STEPS,
                          {f"/s/{SEED}?code=old&t={x}" for x in fresh})
    print(f"one uvicorn worker, {args.threads} keep-alive client threads (http.client, loopback), "
          f"<= {args.requests} requests or {args.seconds:.0f} s per row")
    print(f"step request: seed scenario, old code, depth {len(t)} (t={t}); 'new URL' rows load "
          f"{len(fresh)} different depth-{DEPTH} schedules once each (every cache misses, the model's too)")
    print(f"'browser walk' row: {len(walks)} walks, each a fragment at depth {DEPTH - WALK_STEPS // 2} then "
          f"{WALK_STEPS} never-seen steps, each sent with HX-Have naming its parent, the walk's previous "
          f"request (as app.js steps); {WALK_STEPS} of every {WALK_STEPS + 1} requests are such steps")
    print(f"{'server':<22} {'endpoint':<24} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'CPU ms':>7} {'n':>7}  statuses")
    for label, cache in (("render cache on", "512"), ("render cache off", "0")):
        rows = bench_server(t, fresh, walks, cache, args)
        for name, r in rows:
            print(f"{label:<22} {name:<24} {r['rps']:>8.0f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['server_cpu_ms']:>7.2f} "
                  f"{r['requests']:>7}  {r['statuses']}")
        trivial = rows[0][1]["rps"]
        for name, r in rows[1:]:
            target = "0.2, a never-seen step" if "new" in name else "0.5, a cached one"
            print(f"{label:<22} {name} / trivial throughput: {r['rps'] / trivial:.3f} (target >= {target})")


def bench_server(t: str, fresh: list[str], walks: list[list[tuple[str, dict[str, str]]]], cache: str,
                 args: argparse.Namespace) -> list[tuple[str, dict]]:
    """Start one server with ZSWAP_WEB_CACHE=cache, load it, stop it."""
    step_path = f"/s/{SEED}?code=old&t={t}"
    # No startup explorer thread: it would compete with the first rows for the CPU.
    env = dict(os.environ, ZSWAP_WEB_CACHE=cache, ZSWAP_WEB_PRECOMPUTE="0")
    command = ["-m", "uvicorn", "bench.bench_web:create_bench_app", "--factory", "--host", "127.0.0.1",
               "--workers", "1", "--log-level", "warning", "--no-access-log"]
    try:
        with local_server(command, env, REPO, ready_path="/_bench/trivial") as (proc, port):
            for path in ("/_bench/trivial", step_path):  # warm up: imports, templates, the page's verdicts
                run_load(port, path, 2, 1.0, 200)
            warm = memory_kb(proc.pid)
            third = len(fresh) // 3
            def row(name: str, result: Callable[[], dict]) -> tuple[str, dict]:
                """Run one row's load, adding the server's own CPU per request (from /proc: the
                load generator's share of the two cores does not count in it)."""
                before = cpu_seconds(proc.pid)
                r = result()
                r["server_cpu_ms"] = 1000 * (cpu_seconds(proc.pid) - before) / max(1, r["requests"])
                return name, r

            n, secs, cap = args.threads, args.seconds, args.requests
            rows = [
                row("trivial endpoint", lambda: run_load(port, "/_bench/trivial", n, secs, cap)),
                row("step page (HTML)", lambda: run_load(port, step_path, n, secs, cap)),
                row("step state (JSON)", lambda: run_load(port, f"/api/s/{SEED}?code=old&t={t}", n, secs, cap)),
                row("step page, new URL", lambda: run_load(
                    port, [f"/s/{SEED}?code=old&t={x}" for x in fresh[:third]], n, secs, cap)),
                row("step fragment, new URL", lambda: run_load(
                    port, [f"/s/{SEED}?code=old&t={x}" for x in fresh[third:2 * third]], n, secs, cap, HTMX)),
                row("step JSON, new URL", lambda: run_load(
                    port, [f"/api/s/{SEED}?code=old&t={x}" for x in fresh[2 * third:]], n, secs, cap)),
                row("browser walk, new steps", lambda: run_walks(port, walks, n, secs, cap)),
            ]
            # The caches are bounded in entries and bytes (app/model/cache.py): what they hold after
            # every row's thousands of distinct states is the server's memory under this load.
            print(f"server (ZSWAP_WEB_CACHE={cache}): RSS {warm / 1024:.0f} MB after warm-up, "
                  f"{memory_kb(proc.pid) / 1024:.0f} MB after the rows, peak {memory_kb(proc.pid, 'VmHWM') / 1024:.0f} MB")
            return rows
    except ServerDidNotStart as e:
        raise SystemExit(str(e)) from None


if __name__ == "__main__":
    main()
