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
        f = await other.join(c.code)
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
            with pytest.raises(rooms.RoomError) as e:
                await s.vote(c.code, STOP, CHOICES, "alice", 0)
            assert e.value.kind == "poll-revealed"
            # Another stop is another poll: none of these votes.
            assert (await s.tally(c.code, STOP + "x", CHOICES)).answered == 0
        finally:
            await other.leave(c.code, f)
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
            allowed = [await s.allow_vote(c.code) for _ in range(7)]
            # Counted per clock second: 7 calls in at most two seconds meet the limit at least once.
            assert allowed[:3] == [True] * 3 and False in allowed
        finally:
            await s.end(c.code)
            await s.close()
    run_async(go)
