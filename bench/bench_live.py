"""Live rooms: publish-to-last-follower latency and server memory per follower.

Starts the real server (`python -m app`, one uvicorn worker) on a free loopback port, in-process
rooms or Redis (Debian's redis-server, started here on a free port), opens a room, connects N
followers to its event stream (raw asyncio sockets in this process), then the presenter steps
50 times: each step is one POST of the next state, and its latency is the time from sending the
POST to the moment the LAST of the N followers has read the new state's event. The next step
goes once every follower has it. The server's RSS is read before the followers connect and after.
The load generator shares the machine's cores with the server: on 2 cores the figures are the
pair's, not the server's alone (noisy, +-30%).

The poll row (--polls): N followers at a tour's predict stop, and each of them votes once, the N
votes spread evenly over 5 s (one connection each, from the bench); the presenter's page stream
(/p/TOKEN/stream) records each tally; a vote's latency runs from sending it to the first tally at
the presenter that counts it (its answered count at least the one the vote's answer names).
RSS per attendee: the server's RSS growth over the followers and their votes, divided by N.

    .venv/bin/python bench/bench_live.py [--followers 100,500,2000] [--steps 50] [--stores memory,redis]
    .venv/bin/python bench/bench_live.py --polls [--followers 2000] [--stores memory,redis]
"""
from __future__ import annotations

import argparse
from collections import Counter
import asyncio
import json
import os
import resource
import statistics
import sys
import time
from contextlib import ExitStack
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from app.localserver import REDIS_SERVER, cpu_seconds, local_redis, local_server, memory_kb  # noqa: E402 (after the path)

SEED = "lru-writeback-vs-swapoff"






def states(steps: int) -> list[str]:
    """`steps` different states of the seed, each a valid scenario URL (prefixes of a tour)."""
    from app.web import modelapi, urls

    tour = next(t for t in modelapi.scenario(SEED)["tours"] if t["code"] == "old")
    s = tour["schedule"]
    return [urls.scenario(SEED, "old", s[: 1 + i % len(s)]) for i in range(1, steps + 1)]


async def request(port: int, method: str, path: str, body: dict | None = None,
                  token: str | None = None) -> tuple[int, dict]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    data = json.dumps(body).encode() if body is not None else b""
    head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n")
    if token:
        head += f"Authorization: Bearer {token}\r\n"
    writer.write(head.encode() + b"\r\n" + data)
    raw = await reader.read()
    writer.close()
    status = int(raw.split(b" ", 2)[1])
    payload = raw.split(b"\r\n\r\n", 1)[1]
    return status, json.loads(payload) if payload.startswith(b"{") else {}


class Follower:
    """One SSE connection: records when each state URL's event arrived."""

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}
        self.first = asyncio.Event()
        self.arrived = asyncio.Event()

    async def run(self, port: int, path: str) -> None:
        await read_stream(port, path, self.take)

    def take(self, rest: bytes, now: float) -> bytes:
        """Record the states in `rest`; the part not yet whole is returned."""
        while b"data: /s/" in rest:
            _, _, after = rest.partition(b"data: /s/")
            if b"\n" not in after:
                break
            url, _, rest = after.partition(b"\n")
            self.seen["/s/" + url.strip().decode()] = now
            self.first.set()
            self.arrived.set()
        return rest


async def read_stream(port: int, path: str, take) -> None:
    """GET an event stream and hand what arrives to `take(bytes, when)`, which returns the rest."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode())
    rest = b""
    try:
        while True:
            # One read per event (not one per line): the bench's own cost per follower is
            # paid on the same cores as the server's.
            data = await reader.read(65536)
            if not data:
                return
            rest = take(rest + data, time.perf_counter())[-4096:]
    finally:
        writer.close()


async def measure(port: int, pid: int, n: int, steps: int) -> dict:
    urls_ = states(steps + 1)
    status, room = await request(port, "POST", "/api/rooms", {"url": urls_[0]})
    assert status == 201, (status, room)
    code, token = room["code"], room["token"]
    await asyncio.sleep(0.5)
    before = memory_kb(pid)
    followers = [Follower() for _ in range(n)]
    tasks = []
    for i, f in enumerate(followers):
        tasks.append(asyncio.create_task(f.run(port, f"/j/{code}/stream")))
        if i % 50 == 49:
            await asyncio.sleep(0.01)  # connect in waves, as a room does, not in one SYN burst
    await asyncio.wait_for(asyncio.gather(*(f.first.wait() for f in followers)), 120)
    await asyncio.sleep(1.0)
    after = memory_kb(pid)
    _, info = await request(port, "GET", f"/api/rooms/{code}")
    assert info["followers"] == n, info
    latencies = []
    server_cpu, own_cpu = cpu_seconds(pid), time.process_time()
    for url in urls_[1:]:
        for f in followers:
            f.arrived.clear()
        t0 = time.perf_counter()
        status, body = await request(port, "POST", f"/api/rooms/{code}/state", {"url": url}, token)
        assert status == 200, (status, body)
        while not all(url in f.seen for f in followers):
            await asyncio.wait_for(asyncio.gather(*(f.arrived.wait() for f in followers if url not in f.seen)), 30)
        latencies.append((max(f.seen[url] for f in followers) - t0) * 1000)
        await asyncio.sleep(0.02)
    server_cpu, own_cpu = cpu_seconds(pid) - server_cpu, time.process_time() - own_cpu
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    latencies.sort()
    return {"p50": statistics.median(latencies), "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
            "max": latencies[-1], "rss_before_mb": before / 1024, "rss_after_mb": after / 1024,
            "kb_per_follower": (after - before) / n,
            "server_cpu_ms": server_cpu * 1000 / steps, "bench_cpu_ms": own_cpu * 1000 / steps}


class Presenter:
    """The presenter's page stream: when each tally's answered count was first seen."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, float]] = []  # (answered, when), in arrival order
        self.ready = asyncio.Event()

    async def run(self, port: int, path: str) -> None:
        await read_stream(port, path, self.take)

    def take(self, rest: bytes, now: float) -> bytes:
        self.ready.set()
        while b'"answered":' in rest:
            _, _, after = rest.partition(b'"answered":')
            if b"," not in after:
                break
            n, _, rest = after.partition(b",")
            self.seen.append((int(n), now))
        return rest

    def first_with(self, answered: int) -> float | None:
        return next((when for n, when in self.seen if n >= answered), None)


async def measure_poll(port: int, pid: int, n: int, seconds: float = 5.0) -> dict:
    from app.web import modelapi, urls

    tour = next(t for t in modelapi.scenario(SEED)["tours"] if t["code"] == "old" and t["predict"])
    stop = tour["predict"][0]
    url = urls.scenario(SEED, "old", tour["schedule"][: stop["step"]], tour["name"])
    status, room = await request(port, "POST", "/api/rooms", {"url": url})
    assert status == 201, (status, room)
    code, token = room["code"], room["token"]
    await asyncio.sleep(0.5)
    before = memory_kb(pid)
    presenter = Presenter()
    tasks = [asyncio.create_task(presenter.run(port, f"/p/{token}/stream"))]
    followers = [Follower() for _ in range(n)]
    for i, f in enumerate(followers):
        tasks.append(asyncio.create_task(f.run(port, f"/j/{code}/stream")))
        if i % 50 == 49:
            await asyncio.sleep(0.01)
    await asyncio.wait_for(asyncio.gather(presenter.ready.wait(), *(f.first.wait() for f in followers)), 120)
    await asyncio.sleep(1.0)
    choices = len(stop["choices"])
    sent: list[tuple[float, int]] = []  # (when sent, answered in the vote's answer)
    refused: list[str] = []
    start = time.perf_counter()

    async def vote(i: int) -> None:
        await asyncio.sleep(max(0.0, start + seconds * i / n - time.perf_counter()))
        t0 = time.perf_counter()
        status, body = await request(port, "POST", f"/api/rooms/{code}/vote",
                                     {"voter": f"bench-voter-{i:06d}", "choice": i % choices, "url": url})
        if status != 200:
            refused.append(f"{status} {body.get('error')}")
            return
        sent.append((t0, body["answered"]))

    server_cpu = cpu_seconds(pid)
    await asyncio.gather(*(vote(i) for i in range(n)))
    spread = time.perf_counter() - start
    deadline = time.perf_counter() + 10
    while presenter.first_with(n - len(refused)) is None and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    server_cpu = cpu_seconds(pid) - server_cpu
    after = memory_kb(pid)
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    latencies = sorted((seen - t0) * 1000 for t0, k in sent if (seen := presenter.first_with(k)) is not None)
    missing = len(sent) - len(latencies)
    return {"votes": len(sent), "refused": len(refused), "refusals": dict(Counter(refused)), "missing": missing,
            "spread_s": spread,
            "p50": statistics.median(latencies), "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
            "max": latencies[-1], "rss_before_mb": before / 1024, "rss_after_mb": after / 1024,
            "kb_per_attendee": (after - before) / n, "server_cpu_s": server_cpu}


def serve(stack: ExitStack, store: str, **settings: str):
    """The server (one worker) on a free port, with in-process rooms or a fresh redis-server's."""
    env = dict(os.environ, ZSWAP_WEB_PRECOMPUTE="0", **settings)
    env.pop("ZSWAP_REDIS_URL", None)
    if store == "redis":
        env["ZSWAP_REDIS_URL"] = stack.enter_context(local_redis())
    return stack.enter_context(local_server(["-m", "app", "--host", "127.0.0.1"], env, stdout=open(os.devnull, "w"),
                                            stderr=open(os.devnull, "w")))


def polls(args: argparse.Namespace, stores: list[str]) -> None:
    rows = []
    for store in stores:
        for n in (int(x) for x in args.followers.split(",")):
            with ExitStack() as stack:
                # Every vote comes from the bench's one address, as a room behind one NAT would:
                # more bodies in flight per address than the default 16 (app/web/http/bodies.py).
                proc, port = serve(stack, store, ZSWAP_ROOM_FOLLOWERS=str(n), ZSWAP_WEB_MAX_CONNECTIONS=str(n + 1000),
                                   ZSWAP_WEB_BODIES_PER_ADDRESS="64")
                r = asyncio.run(measure_poll(port, proc.pid, n))
            rows.append((store, n, r))
            print(f"{store:6} {n:5} attendees: {r['votes']} votes in {r['spread_s']:.1f} s ({r['refused']} refused: "
                  f"{r['refusals']}, "
                  f"{r['missing']} never seen); vote-to-tally at the presenter p50 {r['p50']:.0f} ms, "
                  f"p99 {r['p99']:.0f} ms, max {r['max']:.0f} ms; RSS {r['rss_before_mb']:.0f} -> "
                  f"{r['rss_after_mb']:.0f} MB, {r['kb_per_attendee']:.1f} kB per attendee; "
                  f"server CPU {r['server_cpu_s']:.1f} s", flush=True)
    print("\n| store | attendees | votes in | p50 ms | p99 ms | max ms | RSS before -> after | per attendee | server CPU |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |")
    for store, n, r in rows:
        print(f"| {store} | {n} | {r['spread_s']:.1f} s | {r['p50']:.0f} | {r['p99']:.0f} | {r['max']:.0f} | "
              f"{r['rss_before_mb']:.0f} -> {r['rss_after_mb']:.0f} MB | {r['kb_per_attendee']:.1f} kB | "
              f"{r['server_cpu_s']:.1f} s |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--followers", default="100,500,2000")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--stores", default="memory,redis")
    ap.add_argument("--polls", action="store_true", help="the poll row instead: every follower votes once")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    rows = []
    stores = args.stores.split(",")
    if "redis" in stores and not Path(REDIS_SERVER).exists():
        # `make bench` runs every script with the runtime dependencies only: skip, don't fail.
        print(f"skipped the redis rows: {REDIS_SERVER} is missing (`make test` installs it)")
        stores.remove("redis")
    if args.polls:
        polls(args, stores)
        return
    for store in stores:
        for n in (int(x) for x in args.followers.split(",")):
            with ExitStack() as stack:
                proc, port = serve(stack, store, ZSWAP_ROOM_FOLLOWERS=str(n), ZSWAP_WEB_MAX_CONNECTIONS=str(n + 200),
                                   ZSWAP_ROOM_PUBLISHES_PER_SECOND="100")
                r = asyncio.run(measure(port, proc.pid, n, args.steps))
            rows.append((store, n, r))
            print(f"{store:6} {n:5} followers: publish-to-last-follower p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms, "
                  f"max {r['max']:.1f} ms; RSS {r['rss_before_mb']:.0f} -> {r['rss_after_mb']:.0f} MB, "
                  f"{r['kb_per_follower']:.1f} kB per follower; CPU per step: server {r['server_cpu_ms']:.0f} ms, "
                  f"bench {r['bench_cpu_ms']:.0f} ms", flush=True)
    print("\n| store | followers | p50 ms | p99 ms | max ms | RSS before -> after | per follower | CPU per step: server, bench |")
    print("| --- | ---: | ---: | ---: | ---: | --- | ---: | --- |")
    for store, n, r in rows:
        print(f"| {store} | {n} | {r['p50']:.1f} | {r['p99']:.1f} | {r['max']:.1f} | "
              f"{r['rss_before_mb']:.0f} -> {r['rss_after_mb']:.0f} MB | {r['kb_per_follower']:.1f} kB | "
              f"{r['server_cpu_ms']:.0f} ms, {r['bench_cpu_ms']:.0f} ms |")


if __name__ == "__main__":
    main()
