"""What one step read and wrote, as two bit masks over the world's resources (a "footprint").

Two steps of different CPUs commute (are independent) when neither writes what the other read
or wrote: running them in either order gives the same world and neither can enable or disable
the other. The partial-order reduction (por.py) decides everything from these masks.

Resources, each one bit (numbered on first use, per process):
- a record of a keyed part: ("heap", addr), ("entries", addr), ("trees", addr), ("folios", addr),
  ("ptes", process); a step that looked at every record of a part (a scan) reads ("heap", ALL),
  and every write of a record also writes ("heap", ALL), so a scan conflicts with any write;
- each value part as a whole: swap, lru, zswap_trees, violations, free_lists, next_addr;
- ("cpu", n): every step of CPU n writes it (its pc and locals); swapoff's synchronize_rcu,
  which looks at every CPU, reads them all;
- ALIVE: every step reads it; a step that crashes its CPU writes it, because the explorer
  treats the kernel as dead there (no CPU moves after a crash).

A blocked attempt writes nothing; what it read (the lock word it found taken, the folio it
would sleep on) is what another CPU must write to enable it. Reads for narration only
(Ctx.peek) are not accesses: they do not change what happens.
"""
from __future__ import annotations

from typing import Any

ALL = "*"
_BITS: dict[Any, int] = {}


def bit(resource: Any) -> int:
    """The resource's bit (a new one on first use)."""
    b = _BITS.get(resource)
    if b is None:
        b = _BITS[resource] = 1 << len(_BITS)
    return b


ALIVE = bit("alive")


def footprint(ctx: Any, blocked: bool, crashed: bool, cpu_bits: int) -> tuple[int, int]:
    """(reads, writes) of the step ``ctx`` ran. ``cpu_bits``: every CPU's bit, for a step that
    read them all (Ctx.read_cpus)."""
    from .engine import _KEYED, _VALUES, Part

    reads = ALIVE | bit(("cpu", ctx.cpu_id))
    writes = 0 if blocked else bit(("cpu", ctx.cpu_id))
    if crashed:
        writes |= ALIVE
    if ctx.read_cpus:
        reads |= cpu_bits
    mine = ctx.__dict__
    w0 = ctx.w0
    for name in _KEYED:
        part: Part | None = mine.get(name)
        if part is None:
            continue
        if part.read_all:
            reads |= bit((name, ALL))
        for key in part.read:
            reads |= bit((name, key))
        for key in part.written:
            if blocked:
                reads |= bit((name, key))
            else:
                writes |= bit((name, key)) | bit((name, ALL))
    for name in _VALUES:
        if name in mine:
            b = bit(name)
            reads |= b
            if not blocked and mine[name] is not getattr(w0, name):
                writes |= b
    if "violations" in mine:
        b = bit("violations")
        reads |= b
        if not blocked and len(mine["violations"]) != len(w0.violations):
            writes |= b
    if "free_lists" in mine:
        b = bit("free_lists")
        reads |= b
        if not blocked and tuple(sorted((k, tuple(v)) for k, v in mine["free_lists"].items())) != w0.free_lists:
            writes |= b
    if "next_addr" in mine:
        b = bit("next_addr")
        reads |= b
        if not blocked and tuple(sorted(mine["next_addr"].items())) != w0.next_addr:
            writes |= b
    return reads, writes


def dependent(r1: int, w1: int, r2: int, w2: int) -> bool:
    """Whether two steps (of different CPUs) may not commute."""
    return bool(w1 & (r2 | w2) or r2 & w1 or r1 & w2)
