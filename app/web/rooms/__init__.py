"""Live rooms: what a room is, its limits and the in-process store (core.py), the Redis store
(redis_store.py), and which of the two a process uses (store.py). Callers use this package's names."""
from app.web.rooms.core import (
    CODE_ALPHABET,
    CODE_LENGTH,
    END,
    PING,
    TOKEN_BYTES,
    Created,
    Follower,
    Hub,
    Limits,
    MemoryStore,
    Message,
    Room,
    RoomError,
    RoomStore,
    Tally,
    ask_key,
    new_code,
    new_token,
    normal_code,
    owns,
    poll_parts,
    token_hash,
)
from app.web.rooms.store import make_store, refuse_unreachable_store

__all__ = ["CODE_ALPHABET", "CODE_LENGTH", "END", "PING", "TOKEN_BYTES", "Created", "Follower", "Hub", "Limits",
           "MemoryStore", "Message", "Room", "RoomError", "RoomStore", "Tally", "ask_key", "make_store", "new_code", "new_token",
           "normal_code", "owns", "poll_parts", "refuse_unreachable_store", "token_hash"]
