"""Live rooms: what a room is, its limits, and the in-process store (the default).

A room is a presenter's current state (a scenario URL, as app.web.urls builds it), a join code
for the audience and a secret control token for the presenter. The store keeps rooms and tells
this process's followers about changes; two implementations share the interface `RoomStore`:
`MemoryStore` here (one process, nothing to install: `make run`) and
`app.web.rooms.redis_store.RedisStore` (ZSWAP_REDIS_URL: several workers or hosts share the rooms).

Every allowance is bounded and configurable (docs/operations.md, "Live rooms: limits"): rooms per client address,
rooms in all (in-process), followers per room, publishes per second per room, and the size of a
published URL; a room no one publishes to for ZSWAP_ROOM_IDLE_SECONDS ends by itself.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass, field
from typing import Protocol

# Join codes: no look-alikes (no 0/O, 1/l/I), upper case; 31 ** 6 = 887 million codes.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6
TOKEN_BYTES = 24  # 192 bits, URL-safe base64 (32 characters)


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, str(default)))


@dataclass(frozen=True)
class Limits:
    idle_seconds: int = 4 * 3600
    rooms_per_client: int = 5
    rooms_max: int = 1000  # in-process store only; Redis bounds rooms per client address
    followers: int = 2000
    publishes_per_second: int = 20
    max_url_bytes: int = 2048
    heartbeat_seconds: float = 15.0
    # Look-ups of codes that name no room, per client address and process: a burst, then a pace.
    lookup_misses: int = 30
    lookup_misses_per_minute: int = 30
    # Predict polls: votes a room takes per second, voters a poll holds, and votes per client
    # address (a burst, then a pace; generous, since a workshop's Wi-Fi may put a whole room
    # behind one address).
    votes_per_second: int = 1000
    voters: int = 5000
    votes_per_address: int = 4000
    votes_per_address_per_second: int = 200

    @classmethod
    def from_env(cls) -> "Limits":
        return cls(
            idle_seconds=_env_int("ZSWAP_ROOM_IDLE_SECONDS", cls.idle_seconds),
            rooms_per_client=_env_int("ZSWAP_ROOMS_PER_CLIENT", cls.rooms_per_client),
            rooms_max=_env_int("ZSWAP_ROOMS_MAX", cls.rooms_max),
            followers=_env_int("ZSWAP_ROOM_FOLLOWERS", cls.followers),
            publishes_per_second=_env_int("ZSWAP_ROOM_PUBLISHES_PER_SECOND", cls.publishes_per_second),
            max_url_bytes=_env_int("ZSWAP_ROOM_MAX_URL_BYTES", cls.max_url_bytes),
            heartbeat_seconds=float(os.environ.get("ZSWAP_ROOM_HEARTBEAT_SECONDS", str(cls.heartbeat_seconds))),
            lookup_misses=_env_int("ZSWAP_ROOM_LOOKUP_MISSES", cls.lookup_misses),
            lookup_misses_per_minute=_env_int("ZSWAP_ROOM_LOOKUP_MISSES_PER_MINUTE", cls.lookup_misses_per_minute),
            votes_per_second=_env_int("ZSWAP_ROOM_VOTES_PER_SECOND", cls.votes_per_second),
            voters=_env_int("ZSWAP_ROOM_VOTERS", cls.voters),
            votes_per_address=_env_int("ZSWAP_ROOM_VOTES_PER_ADDRESS", cls.votes_per_address),
            votes_per_address_per_second=_env_int("ZSWAP_ROOM_VOTES_PER_ADDRESS_PER_SECOND",
                                                  cls.votes_per_address_per_second),
        )


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """Stores keep a token's hash only: a leaked store (or a Redis dump) controls no room."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def normal_code(code: str) -> str | None:
    """The code in canonical form (upper case), or None when it cannot be a join code."""
    code = code.strip().upper()
    if len(code) == CODE_LENGTH and all(c in CODE_ALPHABET for c in code):
        return code
    return None


class RoomError(Exception):
    """Refused by the store: `kind` names why (the web layer maps it to a 4xx or 503)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind, self.message = kind, message


@dataclass
class Room:
    code: str
    token_hash: str
    url: str
    owner: str
    expires_at: float  # monotonic seconds (in-process) or wall seconds (Redis): only compared


@dataclass(frozen=True)
class Created:
    code: str
    token: str
    url: str


# A presenter's ad-hoc question is a poll too: its key is the state's URL with "#ask=KIND" (a
# canonical state URL has no fragment, so it never meets a predict stop's key).
ASK = "#ask="


def ask_key(url: str, kind: str) -> str:
    return f"{url}{ASK}{kind}"


def poll_parts(stop: str) -> tuple[str, str]:
    """(the state URL, the ad-hoc question's kind or "" for a predict stop) of a poll's key."""
    url, _, kind = stop.partition(ASK)
    return url, kind


@dataclass(frozen=True)
class Tally:
    """A poll: the room's state it asks at (`stop`, a canonical scenario URL, with ASK and the
    question's kind for an ad-hoc question), the votes per choice (one per attendee: `answered` is
    their sum), and once the presenter revealed it, the answer. The answer is not in a tally before
    the reveal: no attendee can read it early."""
    stop: str
    counts: tuple[int, ...]
    revealed: bool = False
    answer: int | None = None

    @property
    def answered(self) -> int:
        return sum(self.counts)

    def body(self) -> dict:
        url, ask = poll_parts(self.stop)
        body = {"url": url, "answered": self.answered, "counts": list(self.counts),
                "revealed": self.revealed, "answer": self.answer if self.revealed else None}
        if ask:
            body["ask"] = ask
        return body

    def json(self) -> str:
        return json.dumps(self.body(), separators=(",", ":"))


# What followers receive: ("state", url), ("poll", a Tally's JSON), ("end", ""), or ("ping", "")
# every heartbeat.
Message = tuple[str, str]
END: Message = ("end", "")
PING: Message = ("ping", "")
POLL = "poll"
# A poll's tally goes out at most this often per room (and process): 2,000 votes in a second
# are a few messages to each follower, not 2,000; a reveal goes out at once.
TALLY_EVERY = 0.1


@dataclass(eq=False)
class Follower:
    """One audience connection's mailbox: only the newest state matters (a follower that was slow
    to read jumps to the presenter's latest state), so it holds one, the newest poll tally, an end
    for good, and a ping."""
    latest: Message | None = None
    tally: Message | None = None
    counted: bool = True  # False: the presenter's own page, which hears the tallies but follows no one
    ended: bool = False
    pinged: bool = False
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    def deliver(self, msg: Message) -> None:
        if msg == END:
            self.ended = True
        elif msg == PING:
            self.pinged = True
        elif msg[0] == POLL:
            self.tally = msg
        else:
            self.latest = msg
        self.wake.set()

    async def next(self) -> Message:
        """The newest state, else END once the room ended, else PING (the hub's heartbeat)."""
        # No timeout per wait (asyncio.wait_for makes a task and a timer each time): the hub's one
        # heartbeat task wakes every follower instead.
        if self.latest is None and self.tally is None and not self.ended and not self.pinged:
            await self.wake.wait()
        self.wake.clear()
        if self.latest is not None:  # a state published before the end still goes out first
            msg, self.latest = self.latest, None
            return msg
        if self.tally is not None:  # after its state: a tally names the state it polls
            msg, self.tally = self.tally, None
            return msg
        if self.ended:
            return END
        self.pinged = False
        return PING


class Hub:
    """This process's followers by room code, the fan-out to them, and their heartbeat."""

    def __init__(self, heartbeat_seconds: float = 15.0) -> None:
        self.rooms: dict[str, set[Follower]] = {}
        self.watchers: dict[str, set[Follower]] = {}  # code -> the presenters' pages among them
        self.heartbeat_seconds = heartbeat_seconds
        self.beating: asyncio.Task | None = None

    def add(self, code: str, counted: bool = True) -> Follower:
        f = Follower(counted=counted)
        self.rooms.setdefault(code, set()).add(f)
        if not counted:
            self.watchers.setdefault(code, set()).add(f)
        if self.beating is None or self.beating.done():
            self.beating = asyncio.get_running_loop().create_task(self._beat())
        return f

    async def _beat(self) -> None:
        while self.rooms:
            await asyncio.sleep(self.heartbeat_seconds)
            for fs in list(self.rooms.values()):
                for f in fs:
                    f.deliver(PING)

    def remove(self, code: str, f: Follower) -> bool:
        """Remove a follower; True when it was the room's last one in this process."""
        fs = self.rooms.get(code)
        if fs is None or f not in fs:
            return False
        fs.discard(f)
        if not f.counted:
            self.watchers[code].discard(f)
            if not self.watchers[code]:
                del self.watchers[code]
        if not fs:
            del self.rooms[code]
            return True
        return False

    def count(self, code: str) -> int:
        """The audience here (the presenters' own pages not counted)."""
        return len(self.rooms.get(code, ())) - len(self.watchers.get(code, ()))

    def deliver(self, code: str, msg: Message) -> None:
        for f in self.rooms.get(code, ()):
            f.deliver(msg)

    def deliver_tally(self, code: str, tally: Tally, everyone: bool = False) -> None:
        """A revealed tally to everyone; before the reveal, to the presenters' pages only: the
        audience needs no running count, and 2,000 followers would each take ten a second.
        `everyone`: a question just asked, which the audience must hear of."""
        for f in (self.rooms if tally.revealed or everyone else self.watchers).get(code, ()):
            f.deliver((POLL, tally.json()))


class RoomStore(Protocol):
    """Rooms and their followers (in-process or Redis; see the module's docstring)."""
    limits: Limits

    async def create(self, url: str, owner: str) -> Created: ...
    async def get(self, code: str) -> Room | None: ...
    async def by_token(self, token: str) -> Room | None: ...
    async def publish(self, code: str, url: str) -> None: ...
    async def allow_publish(self, code: str) -> bool: ...
    async def vote(self, code: str, stop: str, choices: int, voter: str, choice: int) -> Tally:
        """One vote per voter and stop (a new one replaces the old); RoomError "vote-rate" past the
        room's votes per second, "poll-revealed" after the reveal, "poll-full" past its voters."""
        ...
    async def reveal(self, code: str, stop: str, choices: int, answer: int) -> Tally: ...
    async def tally(self, code: str, stop: str, choices: int) -> Tally: ...
    async def ask(self, code: str, stop: str, choices: int, question: str) -> Tally:
        """Make `question` (JSON, answer included: app.web.routes.questions) the room's ad-hoc
        question, its poll keyed `stop` (ask_key); the room holds one: the previous one's votes go.
        Everyone following hears of it (a tally with no votes yet, or the votes it has)."""
        ...
    async def asked(self, code: str) -> tuple[str, str] | None:
        """(stop, question JSON) of the room's ad-hoc question, or None."""
        ...
    async def end(self, code: str) -> None: ...
    async def followers(self, code: str) -> int: ...
    async def join(self, code: str, counted: bool = True) -> Follower: ...
    async def leave(self, code: str, f: Follower) -> None: ...
    async def close(self) -> None: ...


def owns(room: Room, token: str) -> bool:
    return hmac.compare_digest(room.token_hash, token_hash(token))


def revealed_error() -> RoomError:
    return RoomError("poll-revealed", "The answer is out: this question takes no more votes.")


def rate_error(per_second: int) -> RoomError:
    return RoomError("vote-rate", f"At most {per_second} votes a second in a room.")


def full_error(voters: int) -> RoomError:
    return RoomError("poll-full", f"This question has its {voters} voters.")


class TallyPacer:
    """Sends a room's tally out at most every TALLY_EVERY seconds (the newest at that moment):
    `send(code)` is called once per pause, however many votes came in it."""

    def __init__(self, send) -> None:
        self.send = send
        self.waiting: set[str] = set()

    def soon(self, code: str) -> None:
        if code in self.waiting:
            return
        self.waiting.add(code)
        asyncio.get_running_loop().call_later(TALLY_EVERY, self._due, code)

    def _due(self, code: str) -> None:
        self.waiting.discard(code)
        task = asyncio.ensure_future(self.send(code))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())  # a failed send waits for the next vote


@dataclass
class Poll:
    """A poll in the in-process store: each voter's choice, and the answer once revealed."""
    choices: int
    votes: dict[str, int] = field(default_factory=dict)
    counts: list[int] = field(default_factory=list)
    answer: int | None = None

    def __post_init__(self) -> None:
        self.counts = [0] * self.choices

    def vote(self, voter: str, choice: int) -> None:
        old = self.votes.get(voter)
        if old is not None:
            self.counts[old] -= 1
        self.votes[voter] = choice
        self.counts[choice] += 1

    def tally(self, stop: str) -> Tally:
        return Tally(stop, tuple(self.counts), self.answer is not None, self.answer)


class MemoryStore:
    """Rooms in this process (the default): one worker serves the presenter and the audience."""

    def __init__(self, limits: Limits | None = None, clock=time.monotonic) -> None:
        self.limits = limits or Limits.from_env()
        self.clock = clock
        self.rooms: dict[str, Room] = {}
        self.tokens: dict[str, str] = {}  # token hash -> code
        self.hub = Hub(self.limits.heartbeat_seconds)
        self.windows: dict[tuple[str, str], tuple[int, int]] = {}  # (kind, code) -> (second, count in it)
        # code -> stop -> poll. Polls exist only at predict stops, a handful per scenario: bounded.
        self.polls: dict[str, dict[str, Poll]] = {}
        self.shown: dict[str, str] = {}  # code -> the stop whose tally goes out next
        self.asks: dict[str, tuple[str, str]] = {}  # code -> (stop, question JSON): one a room
        self.pacer = TallyPacer(self._send_tally)

    def _expire(self) -> None:
        now = self.clock()
        for code in [c for c, r in self.rooms.items() if r.expires_at <= now]:
            self._drop(code)

    def _drop(self, code: str) -> None:
        room = self.rooms.pop(code, None)
        if room is not None:
            self.tokens.pop(room.token_hash, None)
            for kind in ("publish", "vote"):
                self.windows.pop((kind, code), None)
            self.polls.pop(code, None)
            self.shown.pop(code, None)
            self.asks.pop(code, None)
            self.hub.deliver(code, END)

    async def create(self, url: str, owner: str) -> Created:
        self._expire()
        if sum(1 for r in self.rooms.values() if r.owner == owner) >= self.limits.rooms_per_client:
            raise RoomError("too-many-rooms", f"This address already runs {self.limits.rooms_per_client} rooms; "
                                              "end one first.")
        if len(self.rooms) >= self.limits.rooms_max:
            raise RoomError("rooms-full", "The server runs as many rooms as it may; try again later.")
        code = new_code()
        while code in self.rooms:
            code = new_code()
        token = new_token()
        room = Room(code, token_hash(token), url, owner, self.clock() + self.limits.idle_seconds)
        self.rooms[code] = room
        self.tokens[room.token_hash] = code
        return Created(code, token, url)

    async def get(self, code: str) -> Room | None:
        room = self.rooms.get(code)
        if room is not None and room.expires_at <= self.clock():
            self._drop(code)
            return None
        return room

    async def by_token(self, token: str) -> Room | None:
        code = self.tokens.get(token_hash(token))
        return await self.get(code) if code else None

    def _allow(self, kind: str, code: str, per_second: int) -> bool:
        second = int(self.clock())
        start, n = self.windows.get((kind, code), (second, 0))
        n = n + 1 if start == second else 1
        self.windows[(kind, code)] = (second, n)
        return n <= per_second

    async def allow_publish(self, code: str) -> bool:
        return self._allow("publish", code, self.limits.publishes_per_second)

    def _poll(self, code: str, stop: str, choices: int) -> Poll:
        return self.polls.setdefault(code, {}).setdefault(stop, Poll(choices))

    async def vote(self, code: str, stop: str, choices: int, voter: str, choice: int) -> Tally:
        if not self._allow("vote", code, self.limits.votes_per_second):
            raise rate_error(self.limits.votes_per_second)
        poll = self._poll(code, stop, choices)
        if poll.answer is not None:
            raise revealed_error()
        if voter not in poll.votes and len(poll.votes) >= self.limits.voters:
            raise full_error(self.limits.voters)
        poll.vote(voter, choice)
        self.shown[code] = stop
        self.pacer.soon(code)
        return poll.tally(stop)

    async def reveal(self, code: str, stop: str, choices: int, answer: int) -> Tally:
        poll = self._poll(code, stop, choices)
        poll.answer = answer
        tally = poll.tally(stop)
        self.hub.deliver_tally(code, tally)
        return tally

    async def tally(self, code: str, stop: str, choices: int) -> Tally:
        poll = self.polls.get(code, {}).get(stop)
        return poll.tally(stop) if poll else Tally(stop, (0,) * choices)

    async def ask(self, code: str, stop: str, choices: int, question: str) -> Tally:
        before = self.asks.get(code)
        if before is not None and before[0] != stop:
            self.polls.get(code, {}).pop(before[0], None)
        self.asks[code] = (stop, question)
        tally = self._poll(code, stop, choices).tally(stop)
        self.hub.deliver_tally(code, tally, everyone=True)
        return tally

    async def asked(self, code: str) -> tuple[str, str] | None:
        return self.asks.get(code)

    async def _send_tally(self, code: str) -> None:
        stop = self.shown.pop(code, None)
        poll = self.polls.get(code, {}).get(stop or "")
        if stop and poll:
            self.hub.deliver_tally(code, poll.tally(stop))

    async def publish(self, code: str, url: str) -> None:
        room = await self.get(code)
        if room is None:
            return
        room.url = url
        room.expires_at = self.clock() + self.limits.idle_seconds
        self.hub.deliver(code, ("state", url))
        # Back at the state of the room's asked question: everyone hears of it again, its votes
        # and its reveal as they were (the audience shows it as when it was asked).
        stop = self.asks.get(code, ("", ""))[0]
        poll = self.polls.get(code, {}).get(stop) if stop and poll_parts(stop)[0] == url else None
        if poll is not None:
            self.hub.deliver_tally(code, poll.tally(stop), everyone=True)

    async def end(self, code: str) -> None:
        self._drop(code)

    async def followers(self, code: str) -> int:
        return self.hub.count(code)

    async def join(self, code: str, counted: bool = True) -> Follower:
        """A follower of the room; `counted=False` for the presenter's page (not in the count, and
        never refused: one per control page)."""
        if counted and self.hub.count(code) >= self.limits.followers:
            raise RoomError("room-full", f"The room has its {self.limits.followers} followers.")
        return self.hub.add(code, counted)

    async def leave(self, code: str, f: Follower) -> None:
        self.hub.remove(code, f)

    async def close(self) -> None:
        pass
