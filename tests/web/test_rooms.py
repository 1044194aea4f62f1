"""Live rooms: the store, the JSON API and every error, and the event stream against a real server."""
from __future__ import annotations

import asyncio
import os
import re
import time

import pytest

from app.web import rooms, urls
import socket

from app.localserver import local_server

SEED = "lru-writeback-vs-swapoff"
START = urls.scenario(SEED, "old", "1")




class EventStream:
    """GET a text/event-stream and read its events one by one (event name, data)."""

    def __init__(self, port: int, path: str, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n".encode())
        self.buf = b""
        head = self._until(b"\r\n\r\n")
        self.status = int(head.split(b" ", 2)[1])
        self.headers = head.decode("latin-1").lower()
        self.chunked = "transfer-encoding: chunked" in self.headers

    def _until(self, sep: bytes) -> bytes:
        while sep not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("the stream closed")
            self.buf += data
        part, self.buf = self.buf.split(sep, 1)
        return part

    def _line(self) -> str:
        if self.chunked:  # de-chunk lazily: chunk sizes sit between lines
            while True:
                while b"\r\n" not in self.buf:
                    data = self.sock.recv(65536)
                    if not data:
                        raise EOFError("the stream closed")
                    self.buf += data
                if not hasattr(self, "text"):
                    self.text = b""
                if b"\n" in self.text:
                    line, self.text = self.text.split(b"\n", 1)
                    return line.decode()
                size = int(self._until(b"\r\n").split(b";")[0], 16)
                if size == 0:
                    raise EOFError("the stream ended")
                while len(self.buf) < size + 2:
                    data = self.sock.recv(65536)
                    if not data:
                        raise EOFError("the stream closed")
                    self.buf += data
                self.text += self.buf[:size]
                self.buf = self.buf[size + 2:]
        return self._until(b"\n").decode()

    def event(self) -> tuple[str, str]:
        """The next event (comments such as pings are skipped)."""
        name, data = "message", []
        while True:
            line = self._line().rstrip("\r")
            if line == "":
                if data:
                    return name, "\n".join(data)
                continue
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)

    def close(self) -> None:
        self.sock.close()


UVICORN = ["-m", "uvicorn", "app.web.app:create_app", "--factory", "--host", "127.0.0.1", "--log-level", "warning"]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def open_room(client, url: str = START) -> dict:
    r = client.post("/api/rooms", json={"url": url})
    assert r.status_code == 201, r.text
    return r.json()


# ---- codes and tokens ----------------------------------------------------------------------

def test_codes_have_no_look_alikes_and_tokens_carry_128_bits_or_more():
    for bad in "0O1lI":
        assert bad not in rooms.CODE_ALPHABET
    codes = {rooms.new_code() for _ in range(500)}
    assert all(len(c) >= 6 and set(c) <= set(rooms.CODE_ALPHABET) for c in codes)
    assert len(codes) > 490  # random, not a counter
    token = rooms.new_token()
    assert len(token) * 6 >= 128 and re.fullmatch(r"[A-Za-z0-9_-]+", token)
    assert rooms.normal_code(" k7pxqm ") == "K7PXQM"
    assert rooms.normal_code("K7PXQ0") is None and rooms.normal_code("K7PX") is None


# ---- the in-process store ----------------------------------------------------------------------

def run_async(go) -> None:
    """asyncio.run(go()) in a thread of its own: the session's Playwright (sync API) keeps an event
    loop running in the main thread."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        pool.submit(lambda: asyncio.run(go())).result()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_memory_store_limits_rooms_per_address_and_in_all():
    async def go():
        s = rooms.MemoryStore(rooms.Limits(rooms_per_client=2, rooms_max=3))
        await s.create("/s/a", "10.0.0.1")
        await s.create("/s/a", "10.0.0.1")
        with pytest.raises(rooms.RoomError) as e:
            await s.create("/s/a", "10.0.0.1")
        assert e.value.kind == "too-many-rooms"
        c = await s.create("/s/a", "10.0.0.2")
        with pytest.raises(rooms.RoomError) as e:
            await s.create("/s/a", "10.0.0.3")
        assert e.value.kind == "rooms-full"
        await s.end(c.code)  # an ended room frees its place
        await s.create("/s/a", "10.0.0.3")
    run_async(go)


def test_memory_store_idle_rooms_end_and_tell_their_followers():
    async def go():
        clock = Clock()
        s = rooms.MemoryStore(rooms.Limits(idle_seconds=60), clock=clock)
        c = await s.create("/s/a", "x")
        f = await s.join(c.code)
        clock.now += 59
        await s.publish(c.code, "/s/b")  # a publish is activity: the idle time starts again
        assert await asyncio.wait_for(f.next(), 1) == ("state", "/s/b")
        clock.now += 59
        assert (await s.get(c.code)).url == "/s/b"
        clock.now += 2
        assert await s.get(c.code) is None and await s.by_token(c.token) is None
        assert await asyncio.wait_for(f.next(), 1) == rooms.END
    run_async(go)


def test_a_slow_follower_gets_the_newest_state_then_the_end():
    async def go():
        s = rooms.MemoryStore(rooms.Limits())
        c = await s.create("/s/a", "x")
        f = await s.join(c.code)
        for i in range(100):
            await s.publish(c.code, f"/s/a?t={i}")
        await s.end(c.code)
        assert await asyncio.wait_for(f.next(), 1) == ("state", "/s/a?t=99")  # one mailbox slot: bounded
        assert await asyncio.wait_for(f.next(), 1) == rooms.END
        assert await asyncio.wait_for(f.next(), 1) == rooms.END
    run_async(go)


def test_memory_store_followers_and_publish_rate_are_bounded():
    async def go():
        clock = Clock()
        s = rooms.MemoryStore(rooms.Limits(followers=2, publishes_per_second=3), clock=clock)
        c = await s.create("/s/a", "x")
        a, b = await s.join(c.code), await s.join(c.code)
        with pytest.raises(rooms.RoomError) as e:
            await s.join(c.code)
        assert e.value.kind == "room-full" and await s.followers(c.code) == 2
        await s.leave(c.code, a)
        assert await s.followers(c.code) == 1
        await s.join(c.code)
        assert [await s.allow_publish(c.code) for _ in range(4)] == [True, True, True, False]
        clock.now += 1
        assert await s.allow_publish(c.code)
        del b
    run_async(go)


# ---- the JSON API and the pages (in-process server) ----------------------------------------

@pytest.fixture(autouse=True)
def fresh_rooms(request):
    """Each test starts with no rooms (the app, and its store, live for the whole session)."""
    if "client" in request.fixturenames:
        request.getfixturevalue("client").app.state.rooms = rooms.MemoryStore(rooms.Limits())


def test_open_a_room_and_read_it(client):
    body = open_room(client, urls.scenario(SEED, "old", "11", None) + "&")
    assert set(body) == {"code", "token", "url", "join_url", "control_url", "stream_url"}
    assert body["url"] == urls.scenario(SEED, "old", "11")  # canonical, as urls.py builds it
    assert body["join_url"].endswith(urls.join(body["code"]))
    assert body["control_url"].endswith(urls.control(body["token"]))
    r = client.get(urls.api_room(body["code"]))
    assert r.status_code == 200
    assert r.json() == {"code": body["code"], "url": body["url"], "followers": 0, "join_url": urls.join(body["code"])}
    assert body["token"] not in r.text
    # Codes are not case-sensitive for people typing them.
    assert client.get(urls.api_room(body["code"].lower())).json()["code"] == body["code"]


def test_publish_needs_the_token_and_a_state_that_replays(client):
    room = open_room(client)
    code, token = room["code"], room["token"]
    state = urls.api_room_state(code)
    r = client.post(state, json={"url": urls.scenario(SEED, "new", "11")}, headers=auth(token))
    assert r.status_code == 200 and r.json()["url"] == urls.scenario(SEED, "new", "11")
    assert client.get(urls.api_room(code)).json()["url"] == urls.scenario(SEED, "new", "11")

    r = client.post(state, json={"url": START})
    assert (r.status_code, r.json()["error"]) == (401, "missing-token")
    assert r.headers["www-authenticate"] == "Bearer"
    r = client.post(state, json={"url": START}, headers=auth("x" * 32))
    assert (r.status_code, r.json()["error"]) == (403, "bad-token")
    # The join code is not a token; another room's token does not control this one.
    assert client.post(state, json={"url": START}, headers=auth(code)).status_code == 403
    other = open_room(client)
    assert client.post(state, json={"url": START}, headers=auth(other["token"])).status_code == 403

    bad = [
        ("https://evil.example/s/x", 400, "bad-state-url"),
        ("//evil.example" + START, 400, "bad-state-url"),
        ("/s/" + SEED + "/lanes.svg?t=1", 400, "bad-state-url"),
        (START + "#frag", 400, "bad-state-url"),
        (START + "&x=<script>", 400, "bad-state-url"),
        (START + "&t=11", 400, "bad-state-url"),
        ("javascript:alert(1)", 400, "bad-state-url"),
        ("/s/no-such-scenario?t=1", 404, "unknown-scenario"),
        (urls.scenario(SEED, "<b>", "1"), 400, "unknown-code"),
        (urls.scenario(SEED, "old", "1", "no-such-tour"), 400, "unknown-tour"),
        (urls.scenario(SEED, "old", "19"), 422, "bad-schedule"),
        ("/s/" + SEED + "?t=" + "1" * 5000, 400, "state-too-large"),
    ]
    for url, status, error in bad:
        r = client.post(state, json={"url": url}, headers=auth(token))
        assert (r.status_code, r.json()["error"]) == (status, error), url
    assert client.get(urls.api_room(code)).json()["url"] == urls.scenario(SEED, "new", "11")  # unchanged

    for body in (b"", b"[]", b'{"url": 5}', b"not json", b'{"link": "/s/x"}'):
        r = client.post(state, content=body, headers=auth(token))
        assert (r.status_code, r.json()["error"]) == (400, "bad-request"), body
    r = client.post(state, content=b'{"url": "' + b"a" * 100_000 + b'"}', headers=auth(token))
    assert (r.status_code, r.json()["error"]) == (413, "body-too-large")


def test_room_codes_unknown_malformed_and_ended(client):
    room = open_room(client)
    for path in (urls.api_room("ZZZZZZ"), urls.join("ZZZZZZ")):
        assert client.get(path).status_code == 404
    assert client.get(urls.api_room("ZZZZZZ")).json()["error"] == "unknown-room"
    for path in (urls.api_room("O0O0O0"), urls.join("abc"), urls.room_stream("<script>")):
        r = client.get(path)
        assert r.status_code == 404 and "<script>" not in r.text
    assert client.get(urls.api_room("abc")).json()["error"] == "bad-room-code"
    assert client.get(urls.control("no-such-token")).status_code == 404

    r = client.delete(urls.api_room(room["code"]))
    assert (r.status_code, r.json()["error"]) == (401, "missing-token")
    assert client.delete(urls.api_room(room["code"]), headers=auth("nope")).status_code == 403
    r = client.delete(urls.api_room(room["code"]), headers=auth(room["token"]))
    assert r.status_code == 200 and r.json() == {"code": room["code"], "ended": True}
    # Ended: the code, the control link and the token no longer work.
    assert client.get(urls.api_room(room["code"])).status_code == 404
    assert client.get(urls.join(room["code"])).status_code == 404
    assert client.get(urls.control(room["token"])).status_code == 404
    r = client.post(urls.api_room_state(room["code"]), json={"url": START}, headers=auth(room["token"]))
    assert (r.status_code, r.json()["error"]) == (404, "unknown-room")
    assert client.delete(urls.api_room(room["code"]), headers=auth(room["token"])).status_code == 404


def test_publishes_per_second_are_limited(client):
    room = open_room(client)
    store = client.app.state.rooms
    limit = store.limits.publishes_per_second
    # Every publish inside one second of the store's clock, however slow the host: on a loaded
    # machine the loop below took longer than a second, and the window it tests moved on.
    now = store.clock()
    store.clock = lambda: now
    codes = []
    for i in range(limit + 5):
        r = client.post(urls.api_room_state(room["code"]), json={"url": urls.scenario(SEED, "old", "1" * (i % 3))},
                        headers=auth(room["token"]))
        codes.append(r.status_code)
        if r.status_code == 429:
            assert r.json()["error"] == "publish-rate" and r.headers["retry-after"] == "1"
    assert 429 in codes and codes.count(200) <= limit + 1  # a second boundary may fall inside the loop


def test_rooms_per_address_are_limited(client):
    limit = client.app.state.rooms.limits.rooms_per_client
    made = [client.post("/api/rooms", json={"url": START}) for _ in range(limit + 1)]
    statuses = [r.status_code for r in made]
    assert statuses[-1] == 429 and made[-1].json()["error"] == "too-many-rooms"
    for r in made:
        if r.status_code == 201:
            client.delete(urls.api_room(r.json()["code"]), headers=auth(r.json()["token"]))
    assert client.post("/api/rooms", json={"url": START}).status_code == 201


def test_present_button_opens_a_room_on_this_state(client):
    page = client.get(urls.scenario(SEED, "old", "11"))
    form = re.search(r'<form class="present" method="post" action="([^"]+)">\s*<input type="hidden" name="url" value="([^"]+)">',
                     page.text)
    assert form and form[1] == urls.rooms_new()
    r = client.post(form[1], data={"url": form[2].replace("&amp;", "&")}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/p/")
    presenter = client.get(r.headers["location"])
    assert presenter.status_code == 200 and presenter.headers["cache-control"] == "no-store"
    token = r.headers["location"].removeprefix("/p/")
    code = re.search(r'data-code="([A-Z0-9]{6})"', presenter.text)[1]
    assert token in presenter.text and "<svg" in presenter.text  # the QR code, inline
    assert code in presenter.text and urls.join(code) in presenter.text
    assert 'data-steps="2"' in presenter.text  # the state the room was opened on
    audience = client.get(urls.join(code))
    assert audience.status_code == 200 and token not in audience.text and 'data-role="audience"' in audience.text
    assert client.post(form[1], data={"url": "/elsewhere"}, follow_redirects=False).status_code == 400
    client.delete(urls.api_room(code), headers=auth(token))


# ---- the event stream, against a real server -----------------------------------------------

@pytest.fixture(scope="module")
def fast_server():
    """A real server whose rooms idle out after 2 s, heartbeat every 0.3 s and take 3 followers."""
    env = dict(os.environ, ZSWAP_ROOM_IDLE_SECONDS="2", ZSWAP_ROOM_HEARTBEAT_SECONDS="0.3",
               ZSWAP_ROOM_FOLLOWERS="3", ZSWAP_WEB_PRECOMPUTE="0")
    env.pop("ZSWAP_REDIS_URL", None)
    with local_server(UVICORN, env) as (_, port):
        yield port


def api(port: int, method: str, path: str, body: dict | None = None, token: str | None = None) -> tuple[int, dict]:
    import http.client
    import json

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "application/json", **(auth(token) if token else {})}
    conn.request(method, path, json.dumps(body) if body is not None else None, headers)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, json.loads(data) if data[:1] == b"{" else {}


def test_stream_late_joiner_reconnect_and_end(fast_server):
    port = fast_server
    _, room = api(port, "POST", "/api/rooms", {"url": START})
    code, token = room["code"], room["token"]
    first = EventStream(port, urls.room_stream(code))
    assert first.status == 200 and "text/event-stream" in first.headers and "no-store" in first.headers
    assert first.event() == ("state", START)
    for t in ("11", "111"):
        assert api(port, "POST", urls.api_room_state(code), {"url": urls.scenario(SEED, "old", t)}, token)[0] == 200
        assert first.event() == ("state", urls.scenario(SEED, "old", t))
    late = EventStream(port, urls.room_stream(code))  # a late joiner starts at the current state
    assert late.event() == ("state", urls.scenario(SEED, "old", "111"))
    late.close()  # and a reconnect (a new connection) resumes at it too
    again = EventStream(port, urls.room_stream(code))
    assert again.event() == ("state", urls.scenario(SEED, "old", "111"))
    assert api(port, "GET", urls.api_room(code))[1]["followers"] in (2, 3)  # the closed one may linger a heartbeat
    assert api(port, "DELETE", urls.api_room(code), token=token)[0] == 200
    assert first.event() == ("end", "ended") and again.event() == ("end", "ended")
    first.close(), again.close()
    refused = EventStream(port, urls.room_stream(code))
    assert refused.status == 404
    refused.close()


def test_stream_room_full_and_idle_timeout(fast_server):
    port = fast_server
    _, room = api(port, "POST", "/api/rooms", {"url": START})
    code = room["code"]
    streams = [EventStream(port, urls.room_stream(code)) for _ in range(3)]
    for s in streams:
        assert s.event()[0] == "state"
    full = EventStream(port, urls.room_stream(code))
    assert full.status == 503 and "retry-after: 10" in full.headers
    full.close()
    streams[0].close()
    deadline = time.monotonic() + 5
    while api(port, "GET", urls.api_room(code))[1].get("followers") != 2 and time.monotonic() < deadline:
        time.sleep(0.1)  # the server notices the closed connection at its next write (a heartbeat)
    assert api(port, "GET", urls.api_room(code))[1]["followers"] == 2
    # Nobody publishes for 2 s: the room ends by itself and the audience hears it.
    started = time.monotonic()
    assert streams[1].event()[0] == "end"
    assert time.monotonic() - started < 4
    assert api(port, "GET", urls.api_room(code))[0] == 404
    for s in streams[1:]:
        s.close()


def test_the_access_log_never_shows_a_control_token():
    import logging

    from app.web.routes import live

    record = logging.LogRecord("uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
                               ("10.0.0.7:5000", "GET", "/p/Sx4_secret-TOKEN?x=1", "1.1", 200), None)
    assert live.HIDE_TOKENS.filter(record)
    assert "secret" not in record.getMessage() and "/p/[token]?x=1" in record.getMessage()
