"""Issue 19, item 4: hostile requests that got a wrong answer (a 500, the wrong limit, a lost
error name, a follower that is none, unlimited guessing, a schema that lies, links that carry
more than a scenario). One regression test each."""
from __future__ import annotations

import base64
import json
import os
import random
import socket
import subprocess
import zlib

import pytest

from app.model.scenarios import userscenario
from app.web import modelapi, rooms, urls
from app.web.http import limits
from app.web.routes.userscenarios import STARTER

from .conftest import running_server

SEED = "lru-writeback-vs-swapoff"
LONG_NUMBER = "[" + "9" * 4301 + "]"  # past Python's int-from-text limit (4,300 digits)


@pytest.fixture()
def state(app):
    """set(name, value) on app.state, undone after the test (pytest's monkeypatch cannot undo an
    attribute of starlette's State, which keeps its values out of the instance's __dict__)."""
    saved: dict = {}

    def put(name: str, value) -> None:
        saved.setdefault(name, getattr(app.state, name))
        setattr(app.state, name, value)

    yield put
    for name, value in saved.items():
        setattr(app.state, name, value)


# -- a number too long for json.loads --------------------------------------------------------------

def test_a_trace_holding_a_4301_digit_number_is_a_named_400(client):
    r = client.post(urls.api_open_trace(), content=LONG_NUMBER)
    assert r.status_code == 400 and r.json()["error"] == "trace-not-json"
    assert "too long" in r.json()["message"]


def test_the_trace_form_refuses_it_too(client):
    r = client.post(urls.open_trace_post(), data={"text": LONG_NUMBER}, follow_redirects=False)
    assert r.status_code == 400 and "too long" in r.text and "Internal error" not in r.text


# -- head and body limits apart (the real server's protocol) ---------------------------------------

@pytest.fixture(scope="module")
def server():
    env = dict(os.environ, ZSWAP_WEB_PRECOMPUTE="0")
    with running_server(["-m", "app"], env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as found:
        yield found


def _post_at_once(port: int, path: str, body: bytes, kind: str = "application/json") -> tuple[int, bytes]:
    """One POST whose head and body go out in a single write (so they arrive in one read)."""
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {kind}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head + body)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    return status, answer.split(b"\r\n\r\n", 1)[1]


def test_a_41_kb_trace_sent_with_its_head_is_not_a_head_too_large(server, client):
    _, port = server
    trace = client.get(urls.trace_json(SEED, "old", "1122")).json()
    body = json.dumps(trace, indent=8).encode()
    body += b" " * (41_000 - len(body))  # whitespace is JSON too: 41 kB, well over the 32 KiB head limit
    assert len(body) >= 41_000
    status, answer = _post_at_once(port, urls.api_open_trace(), body)
    assert status == 200, answer[:300]
    assert json.loads(answer)["schedule"] == "1122"


def test_a_70_kb_publish_is_a_413_body_too_large_not_a_431(server):
    _, port = server
    body = json.dumps({"url": "/s/" + SEED + "?t=" + "1" * 70_000}).encode()
    status, answer = _post_at_once(port, urls.api_rooms(), body)
    assert status == 413 and json.loads(answer)["error"] == "body-too-large"


def test_a_huge_head_is_still_a_431(server):
    _, port = server
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 40_000 + b"\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 431")


# -- 503s keep their names -------------------------------------------------------------------------

class _Refusing(rooms.MemoryStore):
    def __init__(self, kind: str) -> None:
        super().__init__()
        self.kind = kind

    async def create(self, url: str, owner: str) -> rooms.Created:
        raise rooms.RoomError(self.kind, f"refused: {self.kind}")

    async def join(self, code: str, counted: bool = True) -> rooms.Follower:
        raise rooms.RoomError(self.kind, f"refused: {self.kind}")


@pytest.mark.parametrize("kind", ["store-unavailable", "rooms-full"])
def test_a_503_of_the_room_store_keeps_its_name(client, state, kind):
    state("rooms", _Refusing(kind))
    r = client.post(urls.api_rooms(), json={"url": urls.scenario(SEED)})
    assert r.status_code == 503 and r.json()["error"] == kind and r.headers["retry-after"]
    page = client.post(urls.rooms_new(), data={"url": urls.scenario(SEED)}, follow_redirects=False)
    assert page.status_code == 503 and f"refused: {kind}" in page.text


def test_a_full_room_answers_room_full(client, state):
    state("rooms", _Refusing("room-full"))
    r = client.get(urls.room_stream("ABCDEF"))
    assert r.status_code == 503 and "refused: room-full" in r.text and r.headers["retry-after"]


def test_the_busy_503_is_still_busy(client, monkeypatch):
    from app.web.http import searches

    monkeypatch.setattr(searches.pool, "_free", [])
    r = client.get(urls.api_check("two-shrinkers-vs-swapoff", "old", "11"))
    assert r.status_code == 503 and r.json()["error"] == "busy"


# -- HEAD of a room's stream -----------------------------------------------------------------------

def test_head_of_a_room_stream_is_no_follower(server):
    """On the real server, bounded in time: a HEAD that joined would stream until its heartbeat."""
    import http.client

    _, port = server
    status, answer = _post_at_once(port, urls.api_rooms(), json.dumps({"url": urls.scenario(SEED)}).encode())
    created = json.loads(answer)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("HEAD", urls.room_stream(created["code"]))
        head = conn.getresponse()
        head.read()
        assert head.status == 200 and head.getheader("content-type").startswith("text/event-stream")
        conn.request("GET", urls.api_room(created["code"]))
        assert json.loads(conn.getresponse().read())["followers"] == 0
        conn.request("HEAD", urls.room_stream("ABCDEF"))
        missing = conn.getresponse()
        missing.read()
        assert missing.status == 404
    finally:
        conn.request("DELETE", urls.api_room(created["code"]), headers={"Authorization": f"Bearer {created['token']}"})
        conn.getresponse().read()
        conn.close()


# -- guessing room codes ---------------------------------------------------------------------------

def test_guessing_room_codes_is_limited_per_address(client, state):
    state("room_lookups", limits.Allowance(30, 0.5))
    created = client.post(urls.api_rooms(), json={"url": urls.scenario(SEED)}).json()
    try:
        for _ in range(100):  # an audience looking up a real room spends nothing
            assert client.get(urls.api_room(created["code"])).status_code == 200
        rng = random.Random(19)
        statuses = []
        for _ in range(2000):
            code = "".join(rng.choice(rooms.CODE_ALPHABET) for _ in range(rooms.CODE_LENGTH))
            r = client.get(urls.api_room(code))
            statuses.append(r.status_code)
            if r.status_code == 429:
                break
        assert statuses[-1] == 429 and statuses.count(404) <= 30
        assert r.json()["error"] == "too-many-lookups" and int(r.headers["retry-after"]) >= 1
        assert client.get(urls.join("ABCDEF")).status_code == 429  # the page and the stream too
        assert client.get(urls.room_stream("ABCDEF")).status_code == 429
    finally:
        client.delete(urls.api_room(created["code"]), headers={"Authorization": f"Bearer {created['token']}"})


def test_an_allowance_refills_with_time():
    now = [0.0]
    a = limits.Allowance(2, 0.5, max_addresses=2, clock=lambda: now[0])
    a.spend("x"), a.spend("x")
    assert a.retry_after("x") == 2 and a.retry_after("y") == 0
    now[0] += 2
    assert a.retry_after("x") == 0
    a.spend("y"), a.spend("z")  # x is forgotten: at most two addresses are remembered
    assert len(a._left) == 2 and "x" not in a._left


# -- the OpenAPI schema ----------------------------------------------------------------------------

def _param(schema: dict, path: str, name: str) -> dict:
    for p in schema["paths"][path]["get"]["parameters"]:
        if p["name"] == name:
            return p["schema"]
    raise AssertionError(f"no parameter {name} on {path}")


def test_openapi_declares_the_patterns_of_t_code_and_a(client):
    schema = client.get("/openapi.json").json()
    for path in ("/api/s/{scenario_id}", "/s/{scenario_id}/trace.json"):
        assert _param(schema, path, "t")["pattern"] == r"^[1-9]{0,500}$"
        assert _param(schema, path, "code")["pattern"].startswith("^[a-z]")
    assert ":" in _param(schema, "/compare/{scenario_id}", "a")["pattern"]


def test_openapi_declares_the_trace_file_an_object(client):
    schema = client.get("/openapi.json").json()
    ok = schema["paths"]["/s/{scenario_id}/trace.json"]["get"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"]["type"] == "object"
    assert isinstance(client.get(urls.trace_json(SEED, "old", "11")).json(), dict)


# -- links that carry more than a scenario ----------------------------------------------------------

def test_bytes_after_the_compressed_scenario_are_refused(client):
    packed = zlib.compress(STARTER.encode(), 9) + b"more"
    link = "u~" + base64.urlsafe_b64encode(packed).decode().rstrip("=")
    with pytest.raises(userscenario.UserScenarioError) as e:
        userscenario.load(link)
    assert e.value.error == "scenario-link-corrupted" and "after" in e.value.message
    r = client.get(urls.api_scenario(link))
    assert r.status_code == 404 and r.json()["error"] == "scenario-link-corrupted"


@pytest.mark.parametrize("char", ["\\u0000", "\\u001b", "\\u007f"])
def test_control_characters_in_text_fields_are_refused_on_their_line(client, char):
    text = STARTER.replace('title = "My scenario', f'title = "My{char} scenario')
    r = client.post(urls.write_post(), data={"text": text}, follow_redirects=False)
    assert r.status_code == 422 and "control character" in r.text
    with pytest.raises(modelapi.UserScenarioError) as e:
        modelapi.check_user_scenario(text)
    assert e.value.error == "scenario-invalid"
    assert any(line == 2 and "title" in msg and "U+00" in msg for line, msg in e.value.problems)


def test_tabs_and_new_lines_stay_allowed():
    text = STARTER.replace('summary = "CPU1', 'summary = """CPU1\\t\nwrites').replace(
        'turns swap off."', 'turns swap off."""')
    assert modelapi.check_user_scenario(text).summary.startswith("CPU1\t\nwrites")
