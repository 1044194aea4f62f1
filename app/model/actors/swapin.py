"""A page fault on a swapped-out PTE (do_swap_page). Spec section 4.5.

L1, L2 and L11 are from memory in the spec ([M]): the UI marks them unverified.
"""
from __future__ import annotations

from app.model.kernel.engine import ActorDef, Ctx, actor_def, step_def
from app.model.actors.common import folio_put, lock_folio, map_swapped_page
from app.model.actors.readahead import read_if_new, swapin_readahead

# Its own PID, not exit's 4242: a scenario with both shows two tasks, and a report naming the
# task that freed an object must not leave it ambiguous (they may be two threads of one process).
actor_def(ActorDef("swapin", "page fault: do_swap_page -> zswap_load", "L1", "fault", 4243, params=("process",)))


@step_def("L1")
def l1(c: Ctx) -> None:
    name = c.get("process")
    pte = c.ptes.get((name, c.get("page") or 0))  # the page it touches: its first unless the file names a slot
    if pte is None or pte.offset is None:
        c.say(f"Process {name}'s PTE is no longer a swap entry: nothing to fault in.")
        c.finish("nothing to do")
        return
    if not c.swap.users_live:
        c.say("get_swap_device() fails: the device is going away.")
        c.finish("fault: no swap device")
        return
    c.set("fault_off", pte.offset)
    c.set_swap(refs=tuple(sorted(c.swap.refs + (c.cpu_id,))))
    c.say(f"Process {name} touches its page: do_swap_page() pins the device with get_swap_device() for the whole fault.")
    c.goto("L2")


@step_def("L2")
def l2(c: Ctx) -> None:
    off = c.get("fault_off")
    folio = c.swapcache_folio(off)  # type: ignore[arg-type]
    if folio is not None:
        c.set_folio(folio.addr, refs=folio.refs + 1)
        c.set("folio", folio.addr)
        c.say(f"swap_cache_get_folio() finds folio {folio.addr:#x} (no zswap_load needed).")
        c.goto("L11a")
        return
    c.say("Not in the swap cache: swapin_readahead().")
    c.goto("L3")


step_def("L3")(swapin_readahead("fault_off", then="L3b", say="__read_swap_cache_async(skip_if_exists = false)."))
step_def("L3b")(
    read_if_new(
        then="L11a",
        say_new="A new folio: swap_read_folio() fills it.",
        say_old="An existing folio.",
        no_folio="L11c",
        say_none="No folio: the fault gives up and will be retried.",
    )
)


step_def("L11a")(lock_folio(then="L11b", say="folio_lock_or_retry() locks folio {folio}."))


@step_def("L11b")
def l11b(c: Ctx) -> None:
    name, off, folio = c.get("process"), c.get("fault_off"), c.get("folio")
    if map_swapped_page(c, (name, c.get("page") or 0), off, folio) is None:  # type: ignore[arg-type]
        c.say("pte_same() fails: someone else already resolved this PTE.")
    else:
        c.say(f"The PTE now maps folio {folio:#x}; swap_free() drops the slot's count. The folio stays in the swap cache.")  # type: ignore[arg-type]
    c.goto("L11c")


@step_def("L11c")
def l11c(c: Ctx) -> None:
    folio = c.get("folio")
    if folio is not None:
        if c.folios[folio].locked_by == c.cpu_id:  # type: ignore[index]
            c.folio_unlock(folio)  # type: ignore[arg-type]
        folio_put(c, folio)  # type: ignore[arg-type]
    refs = list(c.swap.refs)
    refs.remove(c.cpu_id)
    c.set_swap(refs=tuple(refs))
    c.say("folio_unlock(); put_swap_device(): the fault is done.")
    c.finish("page faulted in" if folio is not None else "fault retried")
