"""The explorer's searches, run in a small pool of other processes, never in the web worker.

A search is pure CPU for up to seconds and holds the GIL: run in the web process it slowed every
step request and kept running after its client hung up. Here:

- searches run in a ProcessPoolExecutor (ZSWAP_SEARCH_WORKERS processes, default 1, started on
  first use, at a lower CPU priority than the web worker), each with a state budget
  (ZSWAP_SEARCH_STATES) and a time budget (ZSWAP_SEARCH_SECONDS); a cut search says so
  (``complete`` False, ``stopped_reason``) and is not cached;
- requests for the same search share one run; a search whose every waiting client has gone is
  cancelled (a flag in shared memory that the search reads every 256 states), and a user can
  cancel one (``cancel``: it stops and answers with what it covered);
- a running search reports its progress in shared memory every 256 states: the worlds kept so
  far, when it started, and its first violation as soon as it is found (``progress``);
- at most ZSWAP_SEARCH_QUEUE searches wait beyond the running ones: past that, ``Busy`` at once
  (the routes answer 503 with Retry-After). The whole-scenario verdicts (no prefix) are a finite
  set, each computed once per process, and are always admitted.
"""
from __future__ import annotations

import asyncio
import atexit
import concurrent.futures as cf
import multiprocessing
import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

WORKERS = max(1, int(os.environ.get("ZSWAP_SEARCH_WORKERS", "1")))
QUEUE = max(0, int(os.environ.get("ZSWAP_SEARCH_QUEUE", "2")))
# About 0.3 kB a world kept (compact storage, issue 23): the budget bounds the search process at
# about 0.4 GB. The largest whole verdicts keep 771,138 (two-entries-two-shrinkers-vs-swapoff, old)
# and 1,047,748 worlds (three-shrinkers-vs-swapoff, new).
MAX_STATES = int(os.environ.get("ZSWAP_SEARCH_STATES", "1200000"))
# Counted from the request's arrival, queueing included: no "from this state" request waits more
# than this. A whole-scenario verdict (no prefix) is computed once per process and cached for
# good, and the largest take 5-13 s on a busy 2-core machine: a cut one would hide the verdict.
MAX_SECONDS = float(os.environ.get("ZSWAP_SEARCH_SECONDS", "8"))
MAX_SECONDS_WHOLE = float(os.environ.get("ZSWAP_SEARCH_WHOLE_SECONDS", "60"))
# A user's scenario (a link) from its start: its page shows the search's progress and a cancel
# button, so it may take longer than a "from this state" search.
MAX_SECONDS_USER = float(os.environ.get("ZSWAP_SEARCH_USER_SECONDS", "30"))
RETRY_AFTER = 5  # seconds: about one 3-CPU search
# Slots for prefix searches (running or waiting); whole-scenario verdicts get their own slots.
SLOTS = WORKERS + QUEUE
MAIN_SLOTS = 64

Key = tuple[str, str, str]  # scenario, code, prefix
# A slot's cancel flag: NOBODY when every client has gone (the search answers nothing), USER when
# a user pressed "cancel" (it answers with what it covered).
NOBODY, USER = 1, 2
FIRST_BYTES = 2048  # the first violation as JSON, per slot (a schedule is at most a few hundred digits)
USER_PREFIX = "u~"  # app.model.scenarios.userscenario.PREFIX: the id of a user's scenario is its link


class Busy(Exception):
    """Every search slot is taken: come back in RETRY_AFTER seconds."""


class ClientGone(Exception):
    """Every client that wanted this answer has disconnected."""


# -- in the search process --------------------------------------------------------------------
_FLAGS: Any = None
_PROGRESS: Any = None  # per slot: worlds kept so far, when the search started (time.time()), 0 or 1: done
_FIRST: Any = None  # per slot: FIRST_BYTES of JSON, the first violation found (empty before)


PR_SET_PDEATHSIG = 1
WATCH_SECONDS = 0.5


def _end_with(parent: int) -> None:
    """End this search process when its web worker dies, even by SIGKILL (which runs no clean-up
    there): orphaned, it went on searching for minutes, re-parented to PID 1. The kernel's
    parent-death signal does it at once (Linux); it is tied to the thread that started this
    process, so a thread watching the parent's PID backs it up."""
    import signal

    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(WATCH_SECONDS)
        os._exit(1)

    if os.getppid() != parent:  # it died before the signal was set
        os._exit(1)
    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _init(flags: Any, progress: Any = None, first: Any = None, parent: int | None = None) -> None:
    global _FLAGS, _PROGRESS, _FIRST
    _FLAGS, _PROGRESS, _FIRST = flags, progress, first
    if parent is not None:
        _end_with(parent)
    try:
        os.nice(10)  # the web worker first: a step request must not wait for a search
    except OSError:
        pass


def _search(slot: int, scenario_id: str, code: str, prefix: str, max_states: int,
            max_seconds: float, submitted: float) -> dict[str, Any] | None:
    """One search, as app.model.api.check returns it (the caller validated the input). A user's
    scenario is carried by its id (a link) and gets the smaller budget."""
    from app.model.api import scenario as lookup
    from app.model.explorer.explore import explore, reduced
    from app.model.scenarios.userscenario import USER_MAX_STATES, is_user

    def cancelled() -> bool:
        return bool(_FLAGS[slot])

    def stop() -> str | bool:
        flag = _FLAGS[slot]
        return "cancelled at your request" if flag == USER else bool(flag)

    def report(worlds: int, first: dict[str, Any] | None) -> None:
        if _PROGRESS is not None:
            _PROGRESS[3 * slot] = worlds
        if first is not None and _FIRST is not None:
            import json

            data = json.dumps(first).encode()[:FIRST_BYTES]
            _FIRST[FIRST_BYTES * slot: FIRST_BYTES * slot + len(data)] = data

    left = max_seconds - (time.time() - submitted)
    if (cancelled() and _FLAGS[slot] != USER) or left <= 0:
        return None
    if _PROGRESS is not None:
        _PROGRESS[3 * slot: 3 * slot + 3] = [0.0, time.time(), 0.0]
    user = is_user(scenario_id)
    if user:
        max_states = min(max_states, USER_MAX_STATES)
    scenario = lookup(scenario_id)
    result = explore(scenario, code, max_states=max_states, reduction=reduced(scenario),
                     prefix=prefix, max_seconds=left, should_stop=stop, on_progress=report).to_dict()
    if _PROGRESS is not None:
        _PROGRESS[3 * slot] = result.get("states_searched", 0)
        _PROGRESS[3 * slot + 2] = 1.0
    if result["stopped_reason"] and "time budget" in result["stopped_reason"]:
        result["stopped_reason"] = f"stopped at the time budget of {max_seconds:g} s (waiting included)"
    if user and result["stopped_reason"] and "state budget" in result["stopped_reason"]:
        result["stopped_reason"] += " (the budget of a scenario in a link)"
    if cancelled() and _FLAGS[slot] != USER:
        return None
    result["prefix"] = prefix
    return result


# -- in the web worker ------------------------------------------------------------------------
@dataclass
class _Job:
    slot: int
    future: "asyncio.Future[dict[str, Any] | None]"
    inner: "cf.Future[dict[str, Any] | None]"
    waiters: int = 0
    keep: bool = False  # started without a request (startup, a page's own verdicts): never cancelled


class Pool:
    """The pool and its bookkeeping; one per web worker, used from its event loop only."""

    def __init__(self) -> None:
        self._executor: cf.ProcessPoolExecutor | None = None
        self._flags: Any = None
        self._progress: Any = None
        self._first: Any = None
        self._jobs: dict[Key, _Job] = {}
        self._free = list(range(SLOTS))
        self._free_main = list(range(SLOTS, SLOTS + MAIN_SLOTS))
        self._lock = threading.Lock()

    def _pool(self) -> cf.ProcessPoolExecutor:
        with self._lock:
            if self._executor is None:
                # spawn, not fork: the web worker has threads and an event loop a fork would copy.
                ctx = multiprocessing.get_context("spawn")
                self._flags = ctx.Array("b", SLOTS + MAIN_SLOTS, lock=False)
                self._progress = ctx.Array("d", 3 * (SLOTS + MAIN_SLOTS), lock=False)
                self._first = ctx.Array("c", FIRST_BYTES * (SLOTS + MAIN_SLOTS), lock=False)
                # A fresh process now and then hands the memory of big searches back to the system.
                self._executor = cf.ProcessPoolExecutor(WORKERS, mp_context=ctx, initializer=_init,
                                                        initargs=(self._flags, self._progress, self._first, os.getpid()),
                                                        max_tasks_per_child=10)
            return self._executor

    def _start(self, key: Key, keep: bool) -> _Job:
        executor = self._pool()
        with self._lock:
            # A user's scenario (its id a link) is no finite set: its searches queue like the
            # "from this state" ones, with their time budget.
            whole = not key[2] and not key[0].startswith(USER_PREFIX)
            free = self._free_main if whole else self._free
            if not free:
                raise Busy()
            slot = free.pop()
        self._flags[slot] = 0
        self._progress[3 * slot: 3 * slot + 3] = [0.0, 0.0, 0.0]  # 0 started: queued, not running yet
        self._first[FIRST_BYTES * slot: FIRST_BYTES * (slot + 1)] = b"\0" * FIRST_BYTES
        seconds = MAX_SECONDS_WHOLE if whole else MAX_SECONDS_USER if not key[2] else MAX_SECONDS
        try:
            inner = executor.submit(_search, slot, *key, MAX_STATES, seconds, time.time())
        except (cf.process.BrokenProcessPool, RuntimeError):
            free.append(slot)
            self._reset()
            raise Busy() from None
        job = _Job(slot, asyncio.wrap_future(inner), inner, keep=keep)
        self._jobs[key] = job

        def finished(_: object) -> None:  # in the executor's thread
            with self._lock:
                if self._jobs.get(key) is job:
                    del self._jobs[key]
                free.append(slot)

        inner.add_done_callback(finished)
        return job

    async def run(self, key: Key, request: Request | None = None) -> dict[str, Any]:
        """The search's result; raises Busy at once when no slot is free, ClientGone when the
        request's client disconnected first (the search is cancelled if nobody else waits)."""
        job = self._jobs.get(key)
        if job is None or job.future.get_loop() is not asyncio.get_running_loop():
            job = self._start(key, keep=request is None)
        job.waiters += 1
        gone = asyncio.ensure_future(_disconnected(request)) if request is not None else None
        try:
            waiting = {asyncio.shield(job.future), *([gone] if gone else [])}
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if job.future.done():
                try:
                    result = job.future.result()
                except (cf.CancelledError, asyncio.CancelledError):
                    raise ClientGone() from None
                except cf.process.BrokenProcessPool:
                    self._reset()  # a search process died (killed, out of memory): start afresh
                    raise Busy() from None
                if result is None:
                    raise ClientGone()
                return result
            raise ClientGone()
        finally:
            if gone is not None:
                gone.cancel()
            job.waiters -= 1
            if job.waiters == 0 and not job.keep and not job.future.done() and self._flags[job.slot] != USER:
                self._flags[job.slot] = NOBODY  # a running search sees it within ~10 ms
                job.inner.cancel()

    def progress(self, key: Key) -> dict[str, Any] | None:
        """A running or queued search's progress: ``running`` (False while it waits for a search
        process), ``states`` (worlds kept so far), ``seconds`` since it started, ``per_second``,
        ``first`` (the first violation found, as the verdict's dict has it, or None) and
        ``cancelled``; None when no such search is running in this worker."""
        import json

        job = self._jobs.get(key)
        if job is None or self._progress is None:
            return None
        slot = job.slot
        states, started, _done = self._progress[3 * slot: 3 * slot + 3]
        raw = bytes(self._first[FIRST_BYTES * slot: FIRST_BYTES * (slot + 1)]).rstrip(b"\0")
        try:
            first = json.loads(raw) if raw else None
        except ValueError:  # read while the search was writing it: next time
            first = None
        seconds = max(time.time() - started, 0.0) if started else 0.0
        return {"running": bool(started), "states": int(states), "seconds": seconds,
                "per_second": states / seconds if seconds > 0 else 0.0, "first": first,
                "cancelled": self._flags[slot] == USER}

    def cancel(self, key: Key) -> bool:
        """A user's "cancel": the search stops within ~10 ms and answers with what it covered (a
        search still waiting for a process answers at once). False when no such search runs."""
        job = self._jobs.get(key)
        if job is None or job.future.done():
            return False
        self._flags[job.slot] = USER
        return True

    def cancel_all(self) -> None:
        """Ask every running search to stop (server shutdown); the processes stay for reuse."""
        if self._flags is not None:
            for job in list(self._jobs.values()):
                self._flags[job.slot] = 1
                job.inner.cancel()

    def _reset(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
            self._jobs.clear()
            self._free = list(range(SLOTS))
            self._free_main = list(range(SLOTS, SLOTS + MAIN_SLOTS))
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """At exit: stop every search and wait for the processes (no noise at interpreter teardown)."""
        self.cancel_all()
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)


async def _disconnected(request: Request) -> None:
    """Returns when the client has gone (a GET has no body: the next message is the disconnect)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


pool = Pool()
atexit.register(pool.close)
