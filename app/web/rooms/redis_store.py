"""Rooms in Redis (ZSWAP_REDIS_URL): several uvicorn workers, or hosts, serve one room together.

Keys (all under ``zswap:``), each with the room's idle time as TTL, refreshed by every publish:
``room:{code}`` a hash (url, token hash, owner address); ``token:{sha256}`` the code of that
token's room; ``owner:{address}`` a set of the codes an address runs; ``followers:{code}`` a
hash of audience connections by worker process (its random id), summed on read;
``worker:{id}`` a process's heartbeat (ZSWAP_REDIS_WORKER_TTL seconds, refreshed three times in
that time while it has followers, when it also rewrites its counts): the count of a worker whose
heartbeat has lapsed (killed, or cut from Redis) is dropped at the next read, so a dead worker's
places come back within that TTL instead of the room's 4 h; ``rate:{code}:{second}`` publishes
in one second. Changes go out on the channel ``zswap:ch:{code}`` ("state <url>", "poll <stop>
<tally>", "asked <stop> <tally>" or "end").

Predict polls: ``tally:{code}:{stop id}`` a hash of the votes per choice (fields "0", "1"...),
the number of choices "n", and once revealed "answer"; ``votes:{code}:{stop id}`` a hash of each
voter's choice (one vote per voter; a changed vote moves its count). The stop id is a hash of
the stop's URL (a presenter's ad-hoc question: the URL with "#ask=KIND"; ``ask:{code}`` a hash of
the room's one ad-hoc question, its stop and its JSON, answer included). A vote is one Lua script (atomic against the other workers); a tally goes out
from a script too, so that the tallies on the channel are in the order of the votes.

Each process holds one pub/sub connection, subscribed to the rooms it has followers in, and fans
each message out to them (app.web.rooms.Hub): 2,000 followers cost one subscription, not 2,000.
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from app.web.rooms.core import (
    END,
    Created,
    Follower,
    Hub,
    Limits,
    Room,
    RoomError,
    Tally,
    TallyPacer,
    full_error,
    rate_error,
    new_code,
    new_token,
    poll_parts,
    revealed_error,
    token_hash,
)

log = logging.getLogger("app.web.rooms")
P = "zswap:"
# Connections to Redis per process: 2,000 followers joining at once wait for one of these rather
# than opening 2,000 connections (and meeting Redis's maxclients).
POOL_SIZE = int(os.environ.get("ZSWAP_REDIS_CONNECTIONS", "32"))
WORKER_TTL = float(os.environ.get("ZSWAP_REDIS_WORKER_TTL", "30"))

# The followers of a room over every live worker: a dead worker's count is dropped on the way.
# KEYS[1] the room's followers hash; ARGV: this worker's id, the worker key prefix.
_SUM_LIVE = """
local total = 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if all[i] == ARGV[1] or redis.call('EXISTS', ARGV[2] .. all[i]) == 1 then
    total = total + tonumber(all[i + 1])
  else
    redis.call('HDEL', KEYS[1], all[i])
  end
end
"""
# Join: ARGV[3] the room's limit, ARGV[4] the room's idle TTL, ARGV[5] the worker's TTL. -1 when full.
_JOIN = _SUM_LIVE + """
if total >= tonumber(ARGV[3]) then return -1 end
redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
redis.call('EXPIRE', KEYS[1], ARGV[4])
redis.call('SET', ARGV[2] .. ARGV[1], '1', 'EX', ARGV[5])
return total + 1
"""
_COUNT = _SUM_LIVE + "return total"
# This worker's count as it knows it (after a leave, or at a heartbeat), unless the room has ended.
_SET_MINE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if tonumber(ARGV[2]) > 0 then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) else redis.call('HDEL', KEYS[1], ARGV[1]) end
return 1
"""

# A vote. KEYS: the tally, the votes, this second's vote count; ARGV: voter, choice, choices, max
# voters, TTL, votes per second. -3 past the votes per second, -1 when revealed, -2 when the poll
# has its voters, else the tally hash's fields (one round trip for the whole vote).
_VOTE = """
if redis.call('INCR', KEYS[3]) == 1 then redis.call('EXPIRE', KEYS[3], 2) end
if tonumber(redis.call('GET', KEYS[3])) > tonumber(ARGV[6]) then return -3 end
if redis.call('HEXISTS', KEYS[1], 'answer') == 1 then return -1 end
local old = redis.call('HGET', KEYS[2], ARGV[1])
if not old and redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[4]) then return -2 end
if old ~= ARGV[2] then
  if old then redis.call('HINCRBY', KEYS[1], old, -1) end
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
  redis.call('HINCRBY', KEYS[1], ARGV[2], 1)
end
redis.call('HSET', KEYS[1], 'n', ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[5])
return redis.call('HGETALL', KEYS[1])
"""
# Publish a poll's tally as it is now. KEYS: the tally; ARGV: the channel, the stop, and the
# message's kind: "poll" (to the presenters' pages, or everyone once revealed) or "asked" (a
# question just asked: to everyone).
_SEND_TALLY = """
local all = redis.call('HGETALL', KEYS[1])
if #all == 0 then return 0 end
local parts = {}
for i = 1, #all, 2 do parts[#parts + 1] = all[i] .. '=' .. all[i + 1] end
return redis.call('PUBLISH', ARGV[1], ARGV[3] .. ' ' .. ARGV[2] .. ' ' .. table.concat(parts, ','))
"""

T = TypeVar("T")


def _unavailable(fn: Callable[..., Awaitable[T]]) -> Callable[..., Awaitable[T]]:
    """Redis down or slow is a 503 (RoomError "store-unavailable"), never a 500."""

    @functools.wraps(fn)
    async def wrapped(*args: Any, **kwargs: Any) -> T:
        try:
            return await fn(*args, **kwargs)
        except (RedisError, OSError) as e:
            log.warning("redis: %s", e)
            raise RoomError("store-unavailable", "The room store does not answer; try again shortly.") from None

    return wrapped


def unreachable(url: str, timeout: float = 3.0) -> str | None:
    """None when the Redis at `url` answers a PING within `timeout` seconds, else the error in one line."""
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
        try:
            client.ping()
        finally:
            client.close()
    except (RedisError, OSError, ValueError) as e:
        return " ".join(f"{type(e).__name__}: {e}".split())
    return None


def _channel(code: str) -> str:
    return f"{P}ch:{code}"


def _poll_keys(code: str, stop: str) -> tuple[str, str]:
    sid = hashlib.sha256(stop.encode()).hexdigest()[:24]
    return f"{P}tally:{code}:{sid}", f"{P}votes:{code}:{sid}"


def _tally(stop: str, fields: dict[str, str], choices: int | None = None) -> Tally:
    """A Tally from a tally hash's fields (the number of choices from the hash unless given)."""
    n = choices if choices is not None else int(fields.get("n", 0))
    answer = int(fields["answer"]) if "answer" in fields else None
    return Tally(stop, tuple(max(0, int(fields.get(str(i), 0))) for i in range(n)), answer is not None, answer)


def _tally_message(data: str) -> Tally:
    """The Tally of a channel message "poll <stop> <field=value,...>" (_SEND_TALLY)."""
    _, stop, packed = data.split(" ", 2)
    return _tally(stop, dict(kv.split("=", 1) for kv in packed.split(",") if "=" in kv))


class RedisStore:
    def __init__(self, url: str, limits: Limits, worker_ttl: float = WORKER_TTL) -> None:
        self.limits = limits
        self.worker = secrets.token_hex(8)  # this process, in the followers hashes
        self.worker_ttl = worker_ttl
        self.heart: asyncio.Task | None = None
        pool = aioredis.BlockingConnectionPool.from_url(url, max_connections=POOL_SIZE, timeout=10,
                                                        decode_responses=True)
        self.redis = aioredis.Redis(connection_pool=pool)
        self.hub = Hub(limits.heartbeat_seconds)
        self.pubsub = None
        self.reader: asyncio.Task | None = None
        self.shown: dict[str, str] = {}  # code -> the stop whose tally this process sends out next
        self.pacer = TallyPacer(self._send_tally)

    # ---- rooms ------------------------------------------------------------------------------
    @_unavailable
    async def create(self, url: str, owner: str) -> Created:
        owned = f"{P}owner:{owner}"
        codes = await self.redis.smembers(owned)
        for code in codes:  # forget the rooms that ended or timed out (at most rooms_per_client)
            if not await self.redis.exists(f"{P}room:{code}"):
                await self.redis.srem(owned, code)
        if await self.redis.scard(owned) >= self.limits.rooms_per_client:
            raise RoomError("too-many-rooms", f"This address already runs {self.limits.rooms_per_client} rooms; "
                                              "end one first.")
        token = new_token()
        th = token_hash(token)
        ttl = self.limits.idle_seconds
        while True:
            code = new_code()
            # HSETNX on a fresh key claims the code atomically against another worker's create.
            if await self.redis.hsetnx(f"{P}room:{code}", "url", url):
                break
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(f"{P}room:{code}", mapping={"token_hash": th, "owner": owner})
            pipe.expire(f"{P}room:{code}", ttl)
            pipe.set(f"{P}token:{th}", code, ex=ttl)
            pipe.sadd(owned, code)
            pipe.expire(owned, ttl)
            await pipe.execute()
        return Created(code, token, url)

    @_unavailable
    async def get(self, code: str) -> Room | None:
        async with self.redis.pipeline(transaction=False) as pipe:  # one round trip
            pipe.hgetall(f"{P}room:{code}")
            pipe.ttl(f"{P}room:{code}")
            fields, ttl = await pipe.execute()
        if not fields or "token_hash" not in fields:
            return None
        return Room(code, fields["token_hash"], fields["url"], fields.get("owner", ""), time.time() + max(ttl, 0))

    @_unavailable
    async def by_token(self, token: str) -> Room | None:
        code = await self.redis.get(f"{P}token:{token_hash(token)}")
        return await self.get(code) if code else None

    async def _allow(self, kind: str, code: str, per_second: int) -> bool:
        key = f"{P}{kind}:{code}:{int(time.time())}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, 2)
            n, _ = await pipe.execute()
        return int(n) <= per_second

    @_unavailable
    async def allow_publish(self, code: str) -> bool:
        return await self._allow("rate", code, self.limits.publishes_per_second)

    # ---- predict polls ----------------------------------------------------------------------------
    @_unavailable
    async def vote(self, code: str, stop: str, choices: int, voter: str, choice: int) -> Tally:
        tally_key, votes_key = _poll_keys(code, stop)
        done = await self.redis.eval(_VOTE, 3, tally_key, votes_key, f"{P}vrate:{code}:{int(time.time())}",
                                     voter, str(choice), choices, self.limits.voters, self.limits.idle_seconds,
                                     self.limits.votes_per_second)
        if done == -3:
            raise rate_error(self.limits.votes_per_second)
        if done == -1:
            raise revealed_error()
        if done == -2:
            raise full_error(self.limits.voters)
        self.shown[code] = stop
        self.pacer.soon(code)
        return _tally(stop, dict(zip(done[::2], done[1::2])), choices)

    @_unavailable
    async def reveal(self, code: str, stop: str, choices: int, answer: int) -> Tally:
        tally_key, _ = _poll_keys(code, stop)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(tally_key, mapping={"answer": answer, "n": choices})
            pipe.expire(tally_key, self.limits.idle_seconds)
            pipe.eval(_SEND_TALLY, 1, tally_key, _channel(code), stop, "poll")
            await pipe.execute()
        return await self.tally(code, stop, choices)

    @_unavailable
    async def ask(self, code: str, stop: str, choices: int, question: str) -> Tally:
        key = f"{P}ask:{code}"
        before = await self.redis.hget(key, "stop")
        tally_key, votes_key = _poll_keys(code, stop)
        ttl = self.limits.idle_seconds
        async with self.redis.pipeline(transaction=True) as pipe:
            if before and before != stop:  # the room holds one ad-hoc question: the old one's votes go
                pipe.delete(*_poll_keys(code, before))
            pipe.hset(key, mapping={"stop": stop, "question": question})
            pipe.expire(key, ttl)
            pipe.hset(tally_key, "n", choices)
            pipe.expire(tally_key, ttl)
            pipe.eval(_SEND_TALLY, 1, tally_key, _channel(code), stop, "asked")
            await pipe.execute()
        return await self.tally(code, stop, choices)

    @_unavailable
    async def asked(self, code: str) -> tuple[str, str] | None:
        found = await self.redis.hgetall(f"{P}ask:{code}")
        return (found["stop"], found["question"]) if "stop" in found and "question" in found else None

    @_unavailable
    async def tally(self, code: str, stop: str, choices: int) -> Tally:
        return _tally(stop, await self.redis.hgetall(_poll_keys(code, stop)[0]), choices)

    async def _send_tally(self, code: str) -> None:
        stop = self.shown.pop(code, None)
        if stop:
            await self.redis.eval(_SEND_TALLY, 1, _poll_keys(code, stop)[0], _channel(code), stop, "poll")

    @_unavailable
    async def publish(self, code: str, url: str) -> None:
        room = await self.get(code)
        if room is None:
            return
        ttl = self.limits.idle_seconds
        asked = await self.redis.hget(f"{P}ask:{code}", "stop")
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(f"{P}room:{code}", "url", url)
            pipe.expire(f"{P}room:{code}", ttl)
            pipe.expire(f"{P}token:{room.token_hash}", ttl)
            pipe.publish(_channel(code), "state " + url)
            if asked and poll_parts(asked)[0] == url:  # back at the asked question's state
                pipe.eval(_SEND_TALLY, 1, _poll_keys(code, asked)[0], _channel(code), asked, "asked")
            await pipe.execute()

    @_unavailable
    async def end(self, code: str) -> None:
        room = await self.get(code)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(f"{P}room:{code}", f"{P}followers:{code}", f"{P}ask:{code}")
            if room is not None:
                pipe.delete(f"{P}token:{room.token_hash}")
                pipe.srem(f"{P}owner:{room.owner}", code)
            pipe.publish(_channel(code), "end")
            await pipe.execute()

    # ---- followers ----------------------------------------------------------------------------
    def _ttl_seconds(self) -> int:
        return max(1, round(self.worker_ttl))

    @_unavailable
    async def followers(self, code: str) -> int:
        return int(await self.redis.eval(_COUNT, 1, f"{P}followers:{code}", self.worker, f"{P}worker:"))

    @_unavailable
    async def join(self, code: str, counted: bool = True) -> Follower:
        if counted:
            n = await self.redis.eval(_JOIN, 1, f"{P}followers:{code}", self.worker, f"{P}worker:",
                                      self.limits.followers, self.limits.idle_seconds, self._ttl_seconds())
            if int(n) < 0:
                raise RoomError("room-full", f"The room has its {self.limits.followers} followers.")
        first_here = code not in self.hub.rooms
        f = self.hub.add(code, counted)
        if self.heart is None or self.heart.done():
            self.heart = asyncio.create_task(self._heartbeat())
        try:
            if first_here:
                await self._subscribe(code)
        except BaseException:
            await self.leave(code, f)
            raise
        return f

    async def _set_mine(self, code: str) -> None:
        await self.redis.eval(_SET_MINE, 1, f"{P}followers:{code}", self.worker, self.hub.count(code))

    async def _heartbeat(self) -> None:
        """While this process has followers: its worker key alive, its counts as it knows them."""
        while self.hub.rooms:
            await asyncio.sleep(self.worker_ttl / 3)
            try:
                await self.redis.set(f"{P}worker:{self.worker}", "1", ex=self._ttl_seconds())
                for code in list(self.hub.rooms):
                    await self._set_mine(code)
            except RedisError as e:  # the next beat tries again; the counts heal then
                log.warning("redis: heartbeat: %s", e)

    async def leave(self, code: str, f: Follower) -> None:
        last_here = self.hub.remove(code, f)
        try:
            await self._set_mine(code)  # the exact count of this process: never below zero
            if last_here and self.pubsub is not None:
                await self.pubsub.unsubscribe(_channel(code))
        except RedisError:  # the next heartbeat writes the count; a leaving follower must not raise
            log.warning("redis: could not record a follower leaving room %s", code)

    async def _subscribe(self, code: str) -> None:
        if self.pubsub is None:
            self.pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        await self.pubsub.subscribe(_channel(code))
        if self.reader is None or self.reader.done():
            self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        """Fan every message of the subscribed channels out to this process's followers."""
        assert self.pubsub is not None
        while self.hub.rooms:
            try:
                msg = await self.pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except RedisError:
                log.warning("redis: pub/sub connection lost; resubscribing")
                await asyncio.sleep(0.5)
                with contextlib.suppress(RedisError):
                    await self.pubsub.subscribe(*[_channel(c) for c in self.hub.rooms])
                continue
            if not msg or msg.get("type") != "message":
                continue
            code = str(msg["channel"]).removeprefix(f"{P}ch:")
            data = str(msg["data"])
            if data.startswith(("poll ", "asked ")):
                self.hub.deliver_tally(code, _tally_message(data), everyone=data.startswith("asked "))
            else:
                self.hub.deliver(code, END if data == "end" else ("state", data.removeprefix("state ")))

    async def close(self) -> None:
        if self.heart is not None:
            self.heart.cancel()
            with contextlib.suppress(BaseException):
                await self.heart
        with contextlib.suppress(Exception):  # this worker's counts drop at the next read
            await self.redis.delete(f"{P}worker:{self.worker}")
        if self.reader is not None:
            self.reader.cancel()
            with contextlib.suppress(BaseException):
                await self.reader
        if self.pubsub is not None:
            with contextlib.suppress(Exception):
                await self.pubsub.aclose()
        with contextlib.suppress(Exception):
            await self.redis.aclose()
