"""How a step ends before it commits: its CPU blocks, or crashes.

A step that cannot run now raises ``Blocked`` before anything is committed, so "can this CPU
move?" is answered by the very code that moves it; a step whose CPU crashes (a KASAN report, an
oops) raises ``Stop``, and what happened up to there is committed.
"""
from __future__ import annotations

from typing import Literal

BlockKind = Literal["waiting", "sleeping", "idle"]  # idle: the I/O completion with nothing in flight
# What a blocked CPU waits for (challenge goals check it: app/model/challenges.py).
BlockedOn = Literal["lru-lock", "tree-lock", "folio-lock", "writeback", "completion", "io"]


class Blocked(Exception):
    """The step cannot run now; ``text`` says why, in a user-facing sentence."""

    def __init__(self, kind: BlockKind, text: str, on: BlockedOn | None = None) -> None:
        super().__init__(text)
        self.kind = kind
        self.text = text
        self.on = on


class Stop(Exception):
    """Internal: the CPU crashed inside the step; commit what happened so far."""
