"""The write I/O completion: end_swap_bio_write() -> folio_end_writeback(), in interrupt context.

In the kernel the completion of the bio that __swap_writepage() submitted runs later, in
interrupt context, on whatever CPU takes the interrupt, independently of the submitter (which
has long returned from zswap_writeback_entry() by then, or not). The model gives it its own
schedulable pseudo-CPU ("I/O completion", its own digit): its one step completes one write in
flight and clears the folio's writeback flag; with nothing in flight it is idle (blocked).
When several writes are in flight it completes the one of the lowest folio address first (no
shipped scenario has two in flight at once).
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
        f"The write I/O of folio {addr:#x} completes (interrupt context): end_swap_bio_write() calls "
        "folio_end_writeback(), which clears the writeback flag and wakes whoever sleeps in folio_wait_writeback()."
    )
    c.goto("W1")
