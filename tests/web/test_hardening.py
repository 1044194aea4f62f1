"""Issue 11's defects, one regression test each: searches in another process, bounded and
cancelled; overload answered with fast 503s; request heads bounded in size and time; Host never
reflected and checked against an allow-list; caches bounded in bytes.

The slow-loris, huge-header and hung-up-client tests run against the real server (`python -m app`)
on a free loopback port, each bounded in time."""
from __future__ import annotations

import os
import resource
import select
import socket
import subprocess
import time
from pathlib import Path

import pytest

from app.model.explorer.explore import explore
from app.model.scenarios.loader import load_all
from app.web.http import limits, searches
from app.web import modelapi, urls

from .conftest import running_server

SEED = "lru-writeback-vs-swapoff"
HEAVY = "two-shrinkers-vs-swapoff"  # 3 CPUs: a few seconds a search


# -- the explorer: budgets, a bounded queue, another process --------------------------------------

def test_explore_has_a_time_budget_and_can_be_cancelled():
    s = load_all()[HEAVY]
    cut = explore(s, "old", reduction=True, max_seconds=0.0)
    assert not cut.complete and "time budget" in cut.stopped_reason and cut.complete_runs is None
    asked = []
    gone = explore(s, "old", reduction=True, should_stop=lambda: asked.append(1) or True)
    assert not gone.complete and gone.stopped_reason.startswith("cancelled") and asked


def test_a_full_queue_answers_503_with_retry_after_at_once(client, monkeypatch):
    monkeypatch.setattr(searches.pool, "_free", [])  # every prefix slot taken
    started = time.monotonic()
    j = client.get(urls.api_check(HEAVY, "old", "11"))
    assert j.status_code == 503 and j.headers["retry-after"] == str(searches.RETRY_AFTER)
    assert j.json()["error"] == "busy"
    page = client.get(urls.verdict(HEAVY, "new", "11"))
    assert page.status_code == 503 and page.headers["content-type"].startswith("text/html")
    assert "busy" in page.text and "Traceback" not in page.text
    assert time.monotonic() - started < 2


def test_a_search_cut_by_its_time_budget_says_so_and_is_not_cached(client, monkeypatch):
    assert client.get(urls.api_check(SEED, "old", "11")).status_code == 200  # the pool is up
    monkeypatch.setattr(searches, "MAX_SECONDS", 0.3)  # a 3-CPU search takes seconds
    r = client.get(urls.api_check(HEAVY, "old", "3"))
    assert r.status_code == 200
    body = r.json()
    assert body["complete"] is False and "time budget" in body["stopped_reason"]
    assert modelapi.cached_verdict(HEAVY, "old", "3") is None


def test_searches_run_in_another_process_and_are_cached_in_this_one(client):
    r = client.get(urls.api_check(SEED, "new", "1"))
    assert r.status_code == 200 and r.json()["complete"]
    assert searches.pool._executor is not None  # the search ran in the pool
    assert modelapi.cached_verdict(SEED, "new", "1") == r.json()


def test_the_prefix_cache_is_bounded_in_entries_and_bytes(monkeypatch):
    monkeypatch.setattr(modelapi, "_here", type(modelapi._here)())
    monkeypatch.setattr(modelapi, "_here_bytes", 0)
    monkeypatch.setattr(modelapi, "HERE_ENTRIES", 3)
    monkeypatch.setattr(modelapi, "HERE_BYTES", 100)
    for i in range(5):
        modelapi._remember(("s", "old", str(i)), {"complete": True, "pad": "x" * 30})
    assert len(modelapi._here) <= 2 and modelapi._here_bytes <= 100


# -- cost decides what is heavy --------------------------------------------------------------------

def test_heavy_is_decided_by_estimated_cost_not_cpus():
    three_cpus_but_cheap = [s["id"] for s in modelapi.scenarios() if len(s["cpus"]) >= 3
                            and not modelapi.is_heavy(s["id"])]
    assert "slot-reuse" in three_cpus_but_cheap  # its third CPU takes one step
    assert modelapi.is_heavy(HEAVY) and not modelapi.is_heavy(SEED)


# -- overload, hosts, redirects (in-process) --------------------------------------------------------

def test_past_the_in_flight_limit_a_request_gets_a_fast_503(client, monkeypatch):
    monkeypatch.setattr(limits, "MAX_IN_FLIGHT", 0)
    for url, kind in ((urls.scenario(SEED, "old", "1"), "text/html"), (urls.api_scenario(SEED, "old", "1"),
                                                                         "application/json")):
        r = client.get(url)
        assert r.status_code == 503 and r.headers["retry-after"] and r.headers["content-type"].startswith(kind)


def test_past_the_waiting_limit_a_cache_miss_gets_a_fast_503_and_a_hit_does_not(client, monkeypatch):
    from app.web.http import work

    hit = urls.scenario(SEED, "old", "11")
    assert client.get(hit).status_code == 200
    monkeypatch.setattr(work, "MAX_WAITING", -work.THREADS)  # as if every place were taken
    assert client.get(hit).status_code == 200
    for url in (urls.scenario(SEED, "old", "111"), urls.api_scenario(SEED, "new", "111"),
                urls.lanes_svg(SEED, "old", "111")):
        r = client.get(url)
        assert r.status_code == 503 and r.headers["retry-after"] == str(work.RETRY_AFTER), url


@pytest.mark.parametrize("host,ok", [
    ("127.0.0.1:8000", True), ("[::1]:8000", True), ("192.168.1.20:8000", True), ("10.0.0.5", True),
    ("203.0.113.9", True), ("laptop:8000", True), ("laptop.local", True), ("pi.lan:80", True),
    ("localhost", True), ("evil.example.com", False), ("127.0.0.1.nip.io", False),
])
def test_default_host_allow_list(client, host, ok):
    r = client.get("/", headers={"Host": host})
    assert (r.status_code == 200) == ok and r.status_code in (200, 400)
    if not ok:
        assert "Host" in r.text


def test_configured_host_allow_list():
    assert limits.host_allowed("viz.example.org:443", ["*.example.org"])
    assert limits.host_allowed("example.org", ["*.example.org"])
    assert not limits.host_allowed("192.168.1.2", ["viz.example.org"])
    assert limits.host_allowed("anything", ["*"])


def test_trailing_slash_redirect_never_reflects_the_host(client):
    r = client.get(f"/s/{SEED}/?t=1", headers={"Host": "laptop.local"}, follow_redirects=False)
    assert r.status_code in (301, 307, 308)
    assert r.headers["location"] == f"/s/{SEED}?t=1"


# -- the real server: head size, head time, hung-up searches ---------------------------------------

@pytest.fixture(scope="module")
def server():
    env = dict(os.environ, ZSWAP_WEB_PRECOMPUTE="0", ZSWAP_WEB_HEADER_TIMEOUT="2")
    with running_server(["-m", "app"], env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as found:
        yield found


def _get(port: int, path: str, timeout: float = 5) -> tuple[int, float]:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        head = s.recv(64)
    return int(head.split()[1]), time.monotonic() - started


def test_a_huge_header_is_refused_at_once(server):
    _, port = server
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
        try:
            for _ in range(2000):  # up to 16 MB; the server closes long before
                s.sendall(b"a" * 8192)
        except OSError:
            pass
        answer = s.recv(100)
    assert answer.startswith(b"HTTP/1.1 431") or answer == b""
    assert time.monotonic() - started < 5
    assert _get(port, "/favicon.ico")[0] == 200


def test_a_huge_pipelined_header_is_refused_too(server):
    _, port = server
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        # The first request waits for a search; the second one's head arrives meanwhile.
        s.sendall(f"GET {urls.api_check(HEAVY, 'new', '')} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
                  + b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
        try:
            for _ in range(2000):
                s.sendall(b"a" * 8192)
        except OSError:
            pass
        s.settimeout(5)
        answers = b""
        try:
            while chunk := s.recv(65536):
                answers += chunk
        except OSError:
            pass
    assert b"431 Request Header Fields Too Large" in answers or answers == b""
    assert _get(port, "/favicon.ico")[0] == 200


def test_slow_loris_connections_are_dropped_and_do_not_block_real_requests(server):
    """The issue's attack: 1,100 half-sent requests held open made every real request fail."""
    _, port = server
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1500:  # this test's own sockets (the server raises its limit itself)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(4096, hard), hard))
    held = []
    try:
        for _ in range(1100):
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
            held.append(s)
        status, took = _get(port, urls.api_scenario(SEED, "old", "12"))
        assert status == 200 and took < 2
        time.sleep(2.5)  # the head timeout (2 s in this server)
        s = held[0]
        s.settimeout(3)
        assert s.recv(100).startswith(b"HTTP/1.1 408")
    finally:
        for s in held:
            s.close()


def test_static_files_and_cached_steps_do_not_wait_behind_searches(server):
    """Searches fill the pool and its queue; a static file and a cached step are answered while
    they still run (the searches run in other processes, the web worker only waits for them)."""
    _, port = server
    assert _get(port, urls.scenario(SEED, "old", "12"))[0] == 200  # cached from now on
    held = []
    try:
        for prefix in ("21", "23", "31", "32", "13", "312", "321", "231"):  # distinct searches
            s = socket.create_connection(("127.0.0.1", port), timeout=10)
            s.sendall(f"GET {urls.api_check(HEAVY, 'old', prefix)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            held.append(s)
        time.sleep(0.2)  # the first searches have started
        for path in (urls.static("app.css"), urls.static("app.js"), urls.scenario(SEED, "old", "12")):
            assert _get(port, path)[0] == 200
        answered, _, _ = select.select(held, [], [], 0)
        assert len(answered) < len(held)  # some search was still running meanwhile
    finally:
        for s in held:
            s.close()


def _children_cpu(pid: int) -> float:
    """CPU seconds of the server's child processes (the search pool)."""
    total = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def test_a_search_whose_client_hung_up_is_cancelled(server):
    proc, port = server
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(f"GET {urls.api_check(HEAVY, 'old', '')} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    time.sleep(1.5)  # the search is running (a few seconds in all)
    s.close()
    time.sleep(0.5)
    before = _children_cpu(proc.pid)
    time.sleep(1.5)
    assert _children_cpu(proc.pid) - before < 0.3
    status, _ = _get(port, urls.api_check(SEED, "old", "1"))  # the pool still works
    assert status == 200


# -- memory: caches bounded in bytes as well as entries --------------------------------------------

def test_a_bounded_cache_keeps_within_entries_and_bytes():
    from app.model.cache import ENTRY_BYTES, BoundedCache, bounded_cache

    entry = 30 + ENTRY_BYTES  # the value's size, and the map's own per entry (an int key counts 0)
    c = BoundedCache(max_entries=3, max_bytes=3 * entry + 10, size=len)
    for i in range(10):
        c.put(i, "x" * 30)
    assert c.info()["entries"] == 3 and c.info()["bytes"] == 3 * entry
    c.put("big", "x" * (3 * entry))  # larger than the whole budget: not kept
    assert c.get("big") == (False, None) and c.get(9) == (True, "x" * 30)

    calls = []

    @bounded_cache(2, 1000)
    def f(x):
        calls.append(x)
        if x < 0:
            raise ValueError(x)
        return str(x)

    assert f(1) == f(1) == "1" and calls == [1]
    for bad in (-1, -1):
        with pytest.raises(ValueError):
            f(bad)
    assert calls == [1, -1, -1]  # exceptions are not cached


def test_every_render_cache_and_the_view_cache_are_byte_bounded():
    from app.model import api as model_api
    from app.web.routes import api, exports, pages

    from app.model.views import view
    from app.web.page import regions

    for fn in (pages.state_html, pages.state_gzip, pages.state_delta, pages.state_parts, pages.events_html,
               api.state_json, api.state_json_gzip, exports.lanes_svg_text, exports.diagram_text,
               model_api._cached_view):
        cache = fn.cache
        assert 0 < cache.max_bytes <= 64 << 20 and cache.max_entries <= 1024, fn.__name__
    # The memos behind a step (held regions, validations, walks, listings): bounded the same way.
    for name, cache in (("regions", regions._have), ("validated", model_api._validated),
                        ("walks", view._walks), ("programs", view._programs)):
        assert 0 < cache.max_bytes <= 64 << 20 and cache.max_entries <= 8192, name


def test_the_caches_shares_add_up_to_at_most_the_whole_budget(app):
    """Each cache takes a share of ZSWAP_CACHE_MB; together they may not promise more than it."""
    from app.model import cache

    assert len(cache.SHARES) >= 20 and sum(cache.SHARES) <= 1.0 + 1e-9, sum(cache.SHARES)


def test_api_scenarios_is_serialised_once(client):
    from app.web.routes import api

    a = client.get("/api/scenarios")
    b = client.get("/api/scenarios", headers={"Accept-Encoding": "identity"})
    assert a.json() == b.json() == list(modelapi.scenarios())
    assert api.scenarios_json.cache_info().hits >= 1


def test_openapi_declares_every_error_with_the_media_type_it_is_sent_in(app):
    doc = app.openapi()
    for path, ops in doc["paths"].items():
        for op in ops.values():
            codes = set(op["responses"])
            assert {"400", "503"} <= codes, path
            if "{scenario_id}" in path:
                assert {"404", "422"} <= codes, path
            for code, answer in op["responses"].items():
                if code.startswith(("4", "5")):
                    kinds = set(answer["content"])
                    assert kinds == ({"application/json"} if path.startswith("/api/") else {"text/html"}), (path, code)
                    if path.startswith("/api/"):
                        assert answer["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorBody")


def test_a_page_whose_verdicts_cannot_be_searched_now_is_a_503(client, monkeypatch):
    monkeypatch.setattr(modelapi, "_verdicts", {})
    monkeypatch.setenv("ZSWAP_VERDICT_CACHE", "0")  # none computed before, on disk either
    monkeypatch.setattr(searches.pool, "_free_main", [])
    from app.web.routes import pages

    pages.clear_caches()
    r = client.get(urls.scenario(SEED, "old"))
    assert r.status_code == 503 and r.headers["retry-after"]


def test_full_collections_are_made_rarer_once_however_many_apps_start():
    """The server raises the collector's generation-2 threshold tenfold (a room's followers made
    every full collection long and useless); an app started again must not raise it again."""
    import gc

    from fastapi.testclient import TestClient

    from app.web import app as web_app

    for _ in range(3):
        with TestClient(web_app.create_app()):
            pass
    assert gc.get_threshold()[2] == web_app.GC_THRESHOLDS[2] * 10


def test_the_server_keeps_an_idle_connection_open_through_a_presenters_pause(monkeypatch):
    """uvicorn's 5 s keep-alive made a step after a pause open a new connection; every other
    bound stays (connections, a silent connection's head timeout, the head's size)."""
    import uvicorn

    from app.web.http import server

    seen: dict = {}
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: seen.update(kw))
    server.serve()
    assert seen["timeout_keep_alive"] == server.KEEP_ALIVE >= 30
    assert seen["limit_concurrency"] == server.MAX_CONNECTIONS
    assert seen["http"] == "app.web.http.protocol:LimitedHttpToolsProtocol"
