"""Live predict polls in a room: the stores (in-process and Redis, one interface), the JSON API and
every error, and the tally on the room's event stream."""
from __future__ import annotations

import asyncio

import pytest

from app.web import modelapi, rooms, urls
from tests.web.test_rooms import EventStream, api, auth, fast_server, open_room, run_async  # noqa: F401

SEED = "lru-writeback-vs-swapoff"


def stop_of(code: str = "old") -> tuple[str, dict]:
    """A predict stop of the seed's tours on `code`: its state URL and the stop."""
    tour = next(t for t in modelapi.scenario(SEED)["tours"] if t["code"] == code and t["predict"])
    p = tour["predict"][0]
    return urls.scenario(SEED, code, tour["schedule"][: p["step"]], tour["name"]), p


STOP, PREDICT = stop_of()
CHOICES = len(PREDICT["choices"])


# ---- the stores -------------------------------------------------------------------------------

@pytest.fixture(params=["memory", "redis"])
def make_store(request):
    """A factory of stores of one kind (Redis: Debian's redis-server on a free port)."""
    if request.param == "memory":
        return lambda limits: rooms.MemoryStore(limits)
    from app.web.rooms.redis_store import RedisStore

    url = request.getfixturevalue("redis_url")
    return lambda limits: RedisStore(url, limits)


async def next_tally(f: rooms.Follower) -> dict:
    import json

    while True:
        kind, data = await asyncio.wait_for(f.next(), 5)
        if kind == "poll":
            return json.loads(data)


def test_one_vote_per_attendee_a_tally_per_choice_and_the_reveal(make_store):
    async def go():
        s = make_store(rooms.Limits(voters=3))
        other = make_store(rooms.Limits(voters=3))  # another worker (the same store in-process)
        if isinstance(s, rooms.MemoryStore):
            other = s
        c = await s.create(STOP, "10.0.0.1")
        f = await other.join(c.code, counted=False)  # the presenter's page: every running tally
        audience = await other.join(c.code)  # an attendee: the revealed tally only
        assert await s.followers(c.code) == 1
        try:
            assert (await s.tally(c.code, STOP, CHOICES)).counts == (0,) * CHOICES
            await s.vote(c.code, STOP, CHOICES, "alice", 0)
            await other.vote(c.code, STOP, CHOICES, "bob", 1)
            t = await s.vote(c.code, STOP, CHOICES, "alice", 1)  # a changed vote moves, not adds
            assert t.counts[:2] == (0, 2) and t.answered == 2 and not t.revealed and t.answer is None
            seen = await next_tally(f)  # the newest tally reaches the followers on the room's channel
            while seen["answered"] != 2 or seen["counts"][:2] != [0, 2]:
                seen = await next_tally(f)
            assert seen["url"] == STOP and seen["answer"] is None and seen["revealed"] is False
            await s.vote(c.code, STOP, CHOICES, "carol", 2)
            with pytest.raises(rooms.RoomError) as e:  # the poll holds its voters, no more
                await s.vote(c.code, STOP, CHOICES, "dave", 2)
            assert e.value.kind == "poll-full"
            t = await other.reveal(c.code, STOP, CHOICES, PREDICT["answer"])
            assert t.revealed and t.answer == PREDICT["answer"] and t.answered == 3
            seen = await next_tally(f)
            while not seen["revealed"]:
                seen = await next_tally(f)
            assert seen["answer"] == PREDICT["answer"] and seen["answered"] == 3
            assert (await next_tally(audience))["revealed"]  # the first tally the audience hears
            with pytest.raises(rooms.RoomError) as e:
                await s.vote(c.code, STOP, CHOICES, "alice", 0)
            assert e.value.kind == "poll-revealed"
            # Another stop is another poll: none of these votes.
            assert (await s.tally(c.code, STOP + "x", CHOICES)).answered == 0
        finally:
            await other.leave(c.code, f)
            await other.leave(c.code, audience)
            await s.end(c.code)
            await s.close()
            if other is not s:
                await other.close()
    run_async(go)


def test_votes_per_room_and_second_are_bounded(make_store):
    async def go():
        s = make_store(rooms.Limits(votes_per_second=3))
        c = await s.create(STOP, "10.0.0.1")
        try:
            allowed = []
            for i in range(7):
                try:
                    await s.vote(c.code, STOP, CHOICES, f"attendee-{i}", 0)
                    allowed.append(True)
                except rooms.RoomError as e:
                    assert e.kind == "vote-rate"
                    allowed.append(False)
            # Counted per clock second: 7 calls in at most two seconds meet the limit at least once.
            assert allowed[:3] == [True] * 3 and False in allowed
        finally:
            await s.end(c.code)
            await s.close()
    run_async(go)


# ---- the JSON API --------------------------------------------------------------------------------

@pytest.fixture()
def fresh(client):
    """A fresh in-process store and vote allowance for each test (the app lives for the session)."""
    from app.web.http import limits

    app = client.app
    saved = app.state.rooms, app.state.room_votes
    app.state.rooms = rooms.MemoryStore(rooms.Limits(votes_per_second=5, voters=3))
    app.state.room_votes = limits.Allowance(4, 0.001)
    yield client
    app.state.rooms, app.state.room_votes = saved


def vote(client, code: str, voter: str, choice, url: str | None = None):
    body = {"voter": voter, "choice": choice, **({"url": url} if url else {})}
    return client.post(urls.api_room_vote(code), json=body)


def error(r) -> tuple[int, str]:
    return r.status_code, r.json().get("error")


def test_vote_tally_and_reveal_through_the_api(fresh):
    room = open_room(fresh, STOP)
    code = room["code"]
    r = fresh.get(urls.api_room_poll(code))
    assert r.status_code == 200
    body = r.json()
    assert body["question"] == PREDICT["question"] and body["choices"] == PREDICT["choices"]
    assert (body["answered"], body["revealed"], body["answer"]) == (0, False, None)
    assert vote(fresh, code, "attendee-1", 0, STOP).json()["counts"][0] == 1
    r = vote(fresh, code, "attendee-1", 1)  # a changed vote, not a second one
    assert r.json()["answered"] == 1 and r.json()["counts"][:2] == [0, 1] and r.json()["answer"] is None
    vote(fresh, code, "attendee-2", 1)
    assert fresh.get(urls.api_room_poll(code)).json()["answered"] == 2
    r = fresh.post(urls.api_room_reveal(code), headers=auth(room["token"]))
    assert r.status_code == 200 and r.json()["revealed"] and r.json()["answer"] == PREDICT["answer"]
    assert fresh.get(urls.api_room_poll(code)).json()["answer"] == PREDICT["answer"]
    # Late joiners answer until the reveal, not after it.
    assert error(vote(fresh, code, "attendee-3", 0)) == (409, "poll-revealed")


def test_every_poll_error_is_named(fresh):
    room = open_room(fresh, STOP)
    code, token = room["code"], room["token"]
    assert error(vote(fresh, code, "attendee-1", CHOICES)) == (400, "bad-choice")
    assert error(vote(fresh, code, "attendee-1", -1)) == (400, "bad-choice")
    for bad in ({"voter": "x", "choice": 0}, {"voter": "attendee-1", "choice": "a"},
                {"voter": "attendee-1", "choice": True}, {"choice": 0}, [], {"voter": "attendee-1"}):
        r = fresh.post(urls.api_room_vote(code), json=bad)
        assert error(r) == (400, "bad-request"), bad
    assert error(fresh.post(urls.api_room_vote(code), content=b"{nope")) == (400, "bad-request")
    assert error(vote(fresh, code, "attendee-1", 0, urls.scenario(SEED, "old", "1"))) == (409, "poll-moved")
    # Reveal: the control token only.
    assert error(fresh.post(urls.api_room_reveal(code))) == (401, "missing-token")
    assert error(fresh.post(urls.api_room_reveal(code), headers=auth(code))) == (403, "bad-token")
    # Unknown and malformed rooms.
    other = "ABCDEF" if code != "ABCDEF" else "ABCDEG"
    for path in (urls.api_room_vote(other), urls.api_room_reveal(other)):
        assert error(fresh.post(path, json={"voter": "attendee-1", "choice": 0}, headers=auth(token))) == \
            (404, "unknown-room")
    assert error(fresh.get(urls.api_room_poll(other))) == (404, "unknown-room")
    assert error(vote(fresh, "0000", "attendee-1", 0)) == (404, "bad-room-code")
    # A state that asks no question has no poll.
    assert fresh.post(urls.api_room_state(code), json={"url": urls.scenario(SEED, "old", "1")},
                      headers=auth(token)).status_code == 200
    assert error(vote(fresh, code, "attendee-1", 0)) == (409, "no-poll")
    assert error(fresh.get(urls.api_room_poll(code))) == (409, "no-poll")
    assert error(fresh.post(urls.api_room_reveal(code), headers=auth(token))) == (409, "no-poll")


def test_votes_are_bounded_per_room_per_second_per_address_and_per_poll(fresh):
    from app.web.http import limits

    room = open_room(fresh, STOP)
    code = room["code"]
    fresh.app.state.room_votes = limits.Allowance(100, 0.001)
    answers = [vote(fresh, code, f"attendee-{i}", 0) for i in range(6)]
    # Five votes a second in this room; a sixth in the same second (or the fourth voter) is refused.
    kinds = [error(r) for r in answers if r.status_code != 200]
    assert kinds and all(k in ((429, "vote-rate"), (503, "poll-full")) for k in kinds)
    assert any(r.headers.get("retry-after") for r in answers if r.status_code != 200)
    fresh.app.state.rooms = rooms.MemoryStore(rooms.Limits(voters=3))
    room = open_room(fresh, STOP)
    code = room["code"]
    for i in range(3):
        assert vote(fresh, code, f"attendee-{i}", 0).status_code == 200
    r = vote(fresh, code, "attendee-9", 0)
    assert error(r) == (503, "poll-full") and r.headers["retry-after"]
    assert vote(fresh, code, "attendee-0", 1).status_code == 200  # a known voter still changes the vote
    # Per address: this one has a burst of 4 and next to no pace.
    fresh.app.state.room_votes = limits.Allowance(4, 0.001)
    for i in range(4):
        assert vote(fresh, code, "attendee-1", i % CHOICES).status_code == 200
    r = vote(fresh, code, "attendee-1", 0)
    assert error(r) == (429, "too-many-votes") and int(r.headers["retry-after"]) >= 1


def test_the_tally_travels_on_the_rooms_event_stream(fast_server):
    """The presenter's page (the control link's stream, not a follower) hears every tally; the
    audience's streams hear the revealed one."""
    import json

    port = fast_server
    _, room = api(port, "POST", "/api/rooms", {"url": STOP})
    presenter = EventStream(port, urls.control_stream(room["token"]))
    stream = EventStream(port, urls.room_stream(room["code"]))
    try:
        assert stream.event() == ("state", STOP) and presenter.event() == ("state", STOP)
        assert api(port, "GET", urls.api_room(room["code"]))[1]["followers"] == 1
        assert api(port, "POST", urls.api_room_vote(room["code"]), {"voter": "attendee-1", "choice": 1})[0] == 200
        name, data = presenter.event()
        assert name == "poll" and json.loads(data) == {"url": STOP, "answered": 1, "counts": [0, 1, 0],
                                                       "revealed": False, "answer": None}
        assert api(port, "POST", urls.api_room_reveal(room["code"]), {}, room["token"])[0] == 200
        for s in (presenter, stream):
            name, data = s.event()
            assert name == "poll" and json.loads(data)["answer"] == PREDICT["answer"]
        assert EventStream(port, "/p/not-a-token/stream").status == 404
    finally:
        stream.close()
        presenter.close()
        api(port, "DELETE", urls.api_room(room["code"]), token=room["token"])
