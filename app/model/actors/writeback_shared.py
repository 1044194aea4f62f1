"""Steps of zswap_writeback_entry() that are the same lines before and after the fix.

The patch left the folio handling of zswap_writeback_entry() alone: both the
old (O13-O17c) and the new (N6-N21) programs register these, each with its own
step id and successor.
"""
from __future__ import annotations

from typing import Callable

from app.model.kernel.engine import Ctx
from app.model.actors.common import drop_swap_cache, folio_put, submit_write

Step = Callable[[Ctx], None]


def got_folio(then: str, failed: str, aside: str = "") -> Step:
    """if (!folio) return -ENOMEM;"""

    def run(c: Ctx) -> None:
        if c.get("folio") is None:
            c.set("wb", "-ENOMEM")
            c.say("No folio: zswap_writeback_entry() returns -ENOMEM." + (f" {aside}" if aside else ""))
            c.goto(failed)
            return
        c.say(f"Got folio {c.get('folio'):#x}.")
        c.goto(then)

    return run


def newly_allocated(then: str, failed: str, existed: str, allocated: str) -> Step:
    """if (!folio_was_allocated) { folio_put(folio); return -EEXIST; }"""

    def run(c: Ctx) -> None:
        if not c.get("allocated"):
            folio_put(c, c.get("folio"))  # type: ignore[arg-type]
            c.set("folio", None)
            c.set("wb", "-EEXIST")
            c.say(existed)
            c.goto(failed)
            return
        c.say(allocated.format(me=c.me))
        c.goto(then)

    return run


def back_out(then: str) -> Step:
    """The entry is not the tree's entry for the slot: unlock, delete_from_swap_cache()."""

    def run(c: Ctx) -> None:
        c.tree_unlock(c.get("tree"))  # type: ignore[arg-type]
        c.say(f"{c.me} releases tree->lock and deletes its folio from the swap cache.")
        drop_swap_cache(c, c.get("folio"), then)  # type: ignore[arg-type]

    return run


def back_out_unlock(then: str) -> Step:
    """folio_unlock(); folio_put(); return -ENOMEM;"""

    def run(c: Ctx) -> None:
        folio = c.get("folio")
        c.folio_unlock(folio)  # type: ignore[arg-type]
        folio_put(c, folio)  # type: ignore[arg-type]
        c.set("folio", None)
        c.set("wb", "-ENOMEM")
        c.say("folio_unlock(); folio_put(); return -ENOMEM.")
        c.goto(then)

    return run


def mark_uptodate(then: str) -> Step:
    def run(c: Ctx) -> None:
        c.set_folio(c.get("folio"), uptodate=True)  # type: ignore[arg-type]
        c.say("folio_mark_uptodate(); folio_set_reclaim().")
        c.goto(then)

    return run


def start_write(then: str, aside: str) -> Step:
    """__swap_writepage(): start writeback, unlock the folio, submit the bio."""

    def run(c: Ctx) -> None:
        folio = c.get("folio")
        submit_write(c, folio)  # type: ignore[arg-type]
        c.say("__swap_writepage(): folio_start_writeback(), then folio_unlock(), then submit_bio(). " + aside)
        if not any(cpu.actor == "io" for cpu in c.w0.cpus):
            # A scenario without the I/O completion CPU: the write completes at once (a fixed fact of
            # the scenario, so this reads no state that can change).
            c.set_folio(folio, writeback=False)  # type: ignore[arg-type]
            c.say("This scenario has no I/O completion CPU: the write completes at once.")
        c.goto(then)

    return run


def return_0(then: str) -> Step:
    def run(c: Ctx) -> None:
        folio_put(c, c.get("folio"))  # type: ignore[arg-type]
        c.set("wb", "0")
        c.say("folio_put(); zswap_writeback_entry() returns 0.")
        c.goto(then)

    return run
