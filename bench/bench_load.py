"""Sustained load on the real server: random never-seen schedules, explorer requests, RSS.

Starts `python -m app --workers N` on a free loopback port (startup verdicts on, as `make run`),
then for --seconds (default 60) keeps --connections (default 200) keep-alive connections busy with
step requests for schedules nobody asked for before (prefixes of random walks over every scenario
and both codes, shuffled; page fragments, full pages and JSON), while one client sends explorer
requests (`/api/s/{id}/check?t=`) with distinct prefixes, half on the 3-CPU scenarios, every
--search-every seconds, and one client times a cached step every 50 ms. A step client that gets
a 503 waits 1 s (the Retry-After) before its next request. Each request has a 10 s
client timeout. Reports req/s, p50/p99, status counts, timeouts, requests over 10 s, 503s, and
RSS (web workers, and the search processes) before, at the peak and 10 s after the load.

With --explore, the issue-19 mode: --connections (default 40) clients explore never-seen states
round the kinds of answer a state has (full page, fragment, JSON, lanes SVG, event log), with no
explorer requests, and the peak RSS of each web worker is reported (the goal: at most 200 MB).

Bounded: at most --seconds (<= 120) of load and --max-requests requests, loopback only.

    .venv/bin/python bench/bench_load.py [--workers 1] [--seconds 60] [--connections 200]
    .venv/bin/python bench/bench_load.py --explore [--workers 2]
"""
from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.localserver import ServerDidNotStart, local_server, memory_kb  # noqa: E402 (after the path)

HOST = "127.0.0.1"  # loopback only
TIMEOUT = 10.0


def walks(n_walks: int, length: int, seed: int) -> list[tuple[str, str, str]]:
    """(scenario, code, schedule) for every prefix of `n_walks` random walks (enabled CPUs only)."""
    from app.model.kernel.engine import enabled, step
    from app.model.scenarios.initial import initial_world
    from app.model.scenarios.loader import load_all

    rng = random.Random(seed)
    scenarios = load_all()
    out = set()
    for i in range(n_walks):
        sid = rng.choice(sorted(scenarios))
        code = rng.choice(("old", "new"))
        world, t = initial_world(scenarios[sid], code), ""
        for _ in range(length):
            cpus = [c for c in enabled(world) if not any(x.state == "crashed" for x in world.cpus)]
            if not cpus:
                break
            cpu = rng.choice(cpus)
            world = step(world, cpu)
            t += str(cpu)
            if len(t) >= 3:
                out.add((sid, code, t))
    items = sorted(out)
    rng.shuffle(items)
    return items




def children(pid: int) -> list[int]:
    out = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            out += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        pass
    return out


def comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def web_workers(server_pid: int, workers: int) -> list[int]:
    procs = [server_pid] if workers == 1 else children(server_pid)
    return [pid for pid in procs if "resource_tracker" not in comm(pid) and "semaphore_tracker" not in comm(pid)]


def memory(server_pid: int, workers: int) -> tuple[int, int]:
    """(MB of the web worker processes, MB of the search processes)."""
    web = search = 0
    for pid in web_workers(server_pid, workers):
        web += memory_kb(pid)
        for child in children(pid):
            if "multiprocessing" in comm(child) and "resource_tracker" not in comm(child):
                search += memory_kb(child)
    return web // 1024, search // 1024


def worker_memory(server_pid: int, workers: int) -> dict[int, int]:
    """MB of each web worker, by PID."""
    return {pid: memory_kb(pid) // 1024 for pid in web_workers(server_pid, workers)}


async def fetch(port: int, path: str, headers: str, conn: dict, keep: list | None = None) -> tuple[int, float]:
    """One GET on the connection in `conn` (opened if needed); (status, seconds); status 0 = timeout
    or connection error. With `keep`, the body (decompressed) is appended to it."""
    started = time.perf_counter()
    try:
        async with asyncio.timeout(TIMEOUT):
            if conn.get("w") is None:
                conn["r"], conn["w"] = await asyncio.open_connection(HOST, port)
            w, r = conn["w"], conn["r"]
            w.write(f"GET {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nAccept-Encoding: gzip\r\n{headers}\r\n".encode())
            head = await r.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length, close = 0, False
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                k = k.strip().lower()
                if k == b"content-length":
                    length = int(v)
                elif k == b"connection" and v.strip().lower() == b"close":
                    close = True
            body = await r.readexactly(length)
            if keep is not None:
                keep.append(gzip.decompress(body) if b"content-encoding: gzip" in head.lower() else body)
            if close:
                w.close()
                conn["w"] = None
            return status, time.perf_counter() - started
    except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError, IndexError):
        if conn.get("w") is not None:
            conn["w"].close()
        conn["w"] = None
        return 0, time.perf_counter() - started


class Stats:
    def __init__(self) -> None:
        self.lat: list[float] = []
        self.status: Counter[int] = Counter()

    def add(self, status: int, seconds: float) -> None:
        self.lat.append(seconds)
        self.status[status] += 1

    def row(self, name: str, elapsed: float) -> str:
        lat = sorted(self.lat)
        n = len(lat)
        p = (lambda q: 1000 * lat[min(n - 1, int(n * q))]) if n else (lambda q: 0.0)
        over = sum(1 for x in lat if x > TIMEOUT)
        non2xx = sum(v for k, v in self.status.items() if not 200 <= k < 300)
        fivexx = sum(v for k, v in self.status.items() if 500 <= k < 600 and k != 503)
        return (f"{name:<26} {n / elapsed:>7.1f} {p(0.5):>8.1f} {p(0.99):>9.1f} {n:>7} {non2xx:>7} "
                f"{self.status[503]:>6} {fivexx:>5} {self.status[0]:>8} {over:>6}   {dict(sorted(self.status.items()))}")


async def load(port: int, args: argparse.Namespace, pid: int) -> None:
    urls = walks(args.walks, 80, seed=args.seed)
    searches = [(s, c, t) for s, c, t in walks(400, 8, seed=args.seed + 1) if 4 <= len(t) <= 8]
    heavy = {"two-shrinkers-vs-swapoff", "writeback-vs-swapin-vs-swapoff"}
    random.Random(args.seed).shuffle(searches)
    steps, checks, cached = Stats(), Stats(), Stats()
    check_bodies: Counter[str] = Counter()
    cached_url = "/s/lru-writeback-vs-swapoff?code=old&t=11111111"
    await fetch(port, cached_url, "HX-Request: true\r\n", {})  # warm: every later one is a hit
    deadline = time.monotonic() + args.seconds
    next_url = iter(urls)
    sent = [0]
    peak = [0, 0]

    async def stepper(i: int) -> None:
        conn: dict = {}
        while time.monotonic() < deadline and sent[0] < args.max_requests:
            try:
                sid, code, t = next(next_url)
            except StopIteration:
                return
            sent[0] += 1
            if args.explore:  # every kind of answer a state has, in turn
                kind = (i + sent[0]) % 5
                path, hdr = (f"/s/{sid}?code={code}&t={t}", f"/s/{sid}?code={code}&t={t}",
                             f"/api/s/{sid}?code={code}&t={t}", f"/s/{sid}/lanes.svg?code={code}&t={t}",
                             f"/s/{sid}/events?code={code}&t={t}")[kind], ("HX-Request: true\r\n" if kind == 1 else "")
            elif (kind := i % 4) == 3:
                path, hdr = f"/api/s/{sid}?code={code}&t={t}", ""
            else:
                path, hdr = f"/s/{sid}?code={code}&t={t}", ("" if kind == 2 else "HX-Request: true\r\n")
            status, took = await fetch(port, path, hdr, conn)
            steps.add(status, took)
            if status == 503:  # as a polite client does: wait as long as Retry-After says
                await asyncio.sleep(1.0)

    async def searchers() -> None:
        await asyncio.gather(*(searcher_from(k) for k in range(args.search_clients)))

    async def searcher_from(k: int) -> None:
        conn: dict = {}
        for sid, code, t in searches[k::args.search_clients]:
            if time.monotonic() >= deadline:
                return
            started = time.monotonic()
            bodies: list[bytes] = []
            status, took = await fetch(port, f"/api/s/{sid}/check?code={code}&t={t}", "", conn, bodies)
            checks.add(status, took)
            check_bodies["heavy" if sid in heavy else "light"] += 1
            if status == 200:
                check_bodies["complete" if b'"complete":true' in bodies[0] else "cut by the time budget"] += 1
            await asyncio.sleep(max(0.0, args.search_every - (time.monotonic() - started)))

    async def prober() -> None:
        conn: dict = {}
        while time.monotonic() < deadline:
            cached.add(*await fetch(port, cached_url, "HX-Request: true\r\n", conn))
            await asyncio.sleep(0.05)

    per_worker: dict[int, int] = {}

    async def sampler() -> None:
        while time.monotonic() < deadline:
            web, search = memory(pid, args.workers)
            peak[0], peak[1] = max(peak[0], web), max(peak[1], search)
            for worker, mb in worker_memory(pid, args.workers).items():
                per_worker[worker] = max(per_worker.get(worker, 0), mb)
            await asyncio.sleep(0.5)

    before = memory(pid, args.workers)
    start_per_worker = worker_memory(pid, args.workers)
    started = time.monotonic()
    await asyncio.gather(*(stepper(i) for i in range(args.connections)), searchers(), prober(), sampler())
    elapsed = time.monotonic() - started
    await asyncio.sleep(10)
    after = memory(pid, args.workers)
    print(f"{args.workers} worker(s), {args.connections} connections, {elapsed:.0f} s, "
          f"{len(urls)} distinct step URLs available, explorer requests every {args.search_every} s "
          f"from {args.search_clients} client(s) ({dict(check_bodies)})")
    print(f"{'':<26} {'req/s':>7} {'p50 ms':>8} {'p99 ms':>9} {'n':>7} {'non-2xx':>7} {'503':>6} {'5xx':>5} "
          f"{'timeouts':>8} {'>10 s':>6}   statuses (0 = timeout or connection error)")
    print(steps.row("new-schedule steps", elapsed))
    print(checks.row("explorer (distinct t)", elapsed))
    print(cached.row("cached step (probe)", elapsed))
    print(f"RSS MB (web workers / search processes): before {before[0]} / {before[1]}, "
          f"peak {peak[0]} / {peak[1]}, 10 s after {after[0]} / {after[1]}")
    after_per_worker = worker_memory(pid, args.workers)
    for n, worker in enumerate(sorted(per_worker), 1):
        print(f"RSS MB of web worker {n}: before {start_per_worker.get(worker, 0)}, peak {per_worker[worker]}, "
              f"10 s after {after_per_worker.get(worker, 0)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--connections", type=int, default=None, help="default 200, or 40 with --explore")
    ap.add_argument("--explore", action="store_true", help="40 clients exploring never-seen states (issue 19)")
    ap.add_argument("--max-requests", type=int, default=200_000)
    ap.add_argument("--search-every", type=float, default=1.0)
    ap.add_argument("--search-clients", type=int, default=2)
    ap.add_argument("--walks", type=int, default=1200)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    args.seconds = min(args.seconds, 120.0)
    args.connections = min(args.connections or (40 if args.explore else 200), 500)
    if args.explore:
        args.search_clients = 0
    env = dict(os.environ, ZSWAP_WEB_PRECOMPUTE="1")
    command = ["-m", "app", "--host", HOST, "--workers", str(args.workers)]
    try:
        with local_server(command, env, REPO, timeout=60, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL) as (proc, port):
            time.sleep(5)  # the startup verdicts
            try:
                import uvloop

                uvloop.run(load(port, args, proc.pid))
            except ImportError:
                asyncio.run(load(port, args, proc.pid))
    except ServerDidNotStart as e:
        raise SystemExit(str(e)) from None

if __name__ == "__main__":
    main()
