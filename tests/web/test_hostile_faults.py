"""Issue 19, item 5: faults. An unreachable ZSWAP_REDIS_URL stops the start-up with one line; search
processes end with their web worker, SIGKILL included; with Redis, a room's follower count
recovers when a worker dies (per-worker counts, alive while their worker's heartbeat is)."""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.localserver import free_port
from app.web import rooms, urls

from .conftest import REPO, running_server

HEAVY = "two-shrinkers-vs-swapoff"


def test_an_unreachable_redis_stops_the_start_up_in_one_line():
    url = f"redis://:hunter2@127.0.0.1:{free_port()}/0"  # nothing listens there
    env = dict(os.environ, ZSWAP_REDIS_URL=url)
    done = subprocess.run([sys.executable, "-m", "app", "--port", str(free_port())], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode != 0
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert url.replace("hunter2", "***") in lines[0] and "hunter2" not in lines[0]
    assert "Connection refused" in lines[0] or "Error" in lines[0]


def _search_processes(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                cmd = Path(f"/proc/{child}/cmdline").read_bytes()
            except OSError:
                continue
            if b"multiprocessing" in cmd and b"resource_tracker" not in cmd:
                out.append(int(child))
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_search_processes_end_when_their_worker_is_killed():
    env = dict(os.environ, ZSWAP_WEB_PRECOMPUTE="0")
    with running_server(["-m", "app"], env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as (proc, port):
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", urls.api_check(HEAVY, "old", "1"))  # starts the pool; a search of seconds
        deadline = time.monotonic() + 30
        while not (children := _search_processes(proc.pid)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert children, "no search process started"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 10
        while any(_alive(c) for c in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        left = [c for c in children if _alive(c)]
        for c in left:  # never leave them behind, whatever the test says
            os.kill(c, signal.SIGKILL)
        assert not left, "search processes outlived their worker"


# -- follower counts in Redis ------------------------------------------------------------------------

def test_follower_counts_recover_when_a_worker_dies(redis_url):
    from app.web.rooms.redis_store import RedisStore

    async def scenario() -> None:
        limits = rooms.Limits(followers=3)
        dying, living = RedisStore(redis_url, limits), RedisStore(redis_url, limits)
        dying.worker_ttl = living.worker_ttl = 1.0  # seconds (ZSWAP_REDIS_WORKER_TTL, 30 by default)
        try:
            created = await living.create("/s/lru-writeback-vs-swapoff", "127.0.0.1")
            here = [await dying.join(created.code) for _ in range(2)]
            there = await living.join(created.code)
            assert await living.followers(created.code) == 3
            with pytest.raises(rooms.RoomError):
                await living.join(created.code)  # full
            if getattr(dying, "heart", None) is not None:
                dying.heart.cancel()  # as a SIGKILLed worker: no leave, no clean-up, its heartbeat stops
            await asyncio.sleep(2.5)
            assert await living.followers(created.code) == 1
            more = await living.join(created.code)  # the dead worker's places are free again
            assert await living.followers(created.code) == 2
            await asyncio.sleep(1.5)  # the living worker's heartbeat keeps its own count
            assert await living.followers(created.code) == 2
            await living.leave(created.code, more)
            await living.leave(created.code, there)
            assert await living.followers(created.code) == 0
            del here
        finally:
            await living.close()
            await dying.close()

    # In a thread of its own: the session's Playwright (sync API) keeps an event loop running in
    # the main thread once a browser test has run before this one.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(lambda: asyncio.run(scenario())).result()
