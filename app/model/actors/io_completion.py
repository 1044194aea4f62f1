"""The write I/O completion: end_swap_bio_write() -> folio_end_writeback().

The model's swap device is an ordinary block device without SWP_SYNCHRONOUS_IO: __swap_writepage()
submits the bio with swap_writepage_bdev_async() and returns while the write is in flight (the
writeback paths' "the write completes later"). The bio's completion, end_swap_bio_write(), runs
later from the block layer's completion path, usually in interrupt (softirq) context on whichever
CPU takes it, independently of the submitter. (On a SWP_SYNCHRONOUS_IO device such as zram,
swap_writepage_bdev_sync() waits for the bio and the completion runs in the writer's own context
before __swap_writepage() returns; no shipped scenario models one.) The model gives the
completion its own schedulable pseudo-CPU ("I/O completion", its own digit): its one step
completes one write in flight and clears the folio's writeback flag; with nothing in flight it
is idle (blocked). When several writes are in flight it completes the one of the lowest folio
address first (no shipped scenario has two in flight at once).
"""
from __future__ import annotations

from app.model.kernel.engine import ActorDef, Blocked, Ctx, actor_def, step_def

IO_ACTOR = "io"

actor_def(ActorDef(IO_ACTOR, "I/O completion: end_swap_bio_write -> folio_end_writeback", "W1", "swapper/{cpu}", 0))


@step_def("W1")
def w1_end_writeback(c: Ctx) -> None:
    in_flight = sorted(f.addr for f in c.folios.values() if f.writeback)
    if not in_flight:
        raise Blocked("idle", "idle: no write I/O in flight", "io")
    addr = in_flight[0]
    c.set_folio(addr, writeback=False)
    c.say(
        f"The write I/O of folio {addr:#x} completes. The model's device has no SWP_SYNCHRONOUS_IO, so the write "
        "was submitted asynchronously and its completion runs now, apart from the writer (usually in interrupt "
        "context): end_swap_bio_write() calls folio_end_writeback(), which clears the writeback flag and wakes "
        "whoever sleeps in folio_wait_writeback()."
    )
    c.goto("W1")
