"""__read_swap_cache_async() (mm/swap_state.c, v6.8/6.9 shape), spec section 3.2.

Callers set ``r_off`` (the swap offset) and ``r_skip`` (skip_if_exists) and
read back ``folio`` (address or None) and ``allocated`` (folio_was_allocated).
"""
from __future__ import annotations

from typing import Callable

from app.model.kernel.engine import Blocked, Ctx, step_def
from app.model.kernel.state import Folio
from app.model.actors.common import SWAPOFF_ACTOR, folio_put, swapoff_holders


def _who(c: Ctx) -> str:
    return "swapin" if not c.get("r_skip") else "writeback"


@step_def("R1")
def r1_get_device(c: Ctx) -> None:
    c.set("folio", None)
    c.set("allocated", False)
    if not c.swap.users_live:
        c.say(f"get_swap_device() fails: swapoff has already killed si->users. {c.me} gets no folio.")
        c.ret()
        return
    c.set_swap(refs=tuple(sorted(c.swap.refs + (c.cpu_id,))))
    c.set("si_ref", True)
    c.say(f"{c.me} pins the swap device with get_swap_device(); it holds this pin only inside this call.")
    c.goto("R2")


@step_def("R2")
def r2_lookup(c: Ctx) -> None:
    off = c.get("r_off")
    folio = c.swapcache_folio(off)  # type: ignore[arg-type]
    if folio is not None:
        c.set_folio(folio.addr, refs=folio.refs + 1)
        c.set("folio", folio.addr)
        c.set("allocated", False)
        c.say(
            f"The swap cache already has folio {folio.addr:#x} for slot {off}: {c.me} takes a reference "
            "but does not lock it (folio_was_allocated = false)."
        )
        c.goto("R9")
        return
    c.say(f"No folio for slot {off} in the swap cache yet.")
    c.goto("R3")


@step_def("R3")
def r3_swapcount(c: Ctx) -> None:
    off = c.get("r_off")
    slot = c.slot(off)  # type: ignore[arg-type]
    if slot.count == 0 and c.swap.slot_cache_enabled:
        c.say(f"swap_swapcount() of slot {off} is 0 and the slot cache is enabled: the slot is free, so no folio.")
        c.goto("R9")
        return
    if slot.count == 0:
        c.say(
            f"swap_swapcount() of slot {off} is 0, but the per-cpu slot cache is disabled, so this check does not "
            f"stop {c.me}: it goes on to allocate a folio (swapcache_prepare() decides below)."
        )
    else:
        c.say(f"Slot {off} is still in use (count {slot.count}), so {c.me} goes on to allocate a folio.")
    c.goto("R4")


@step_def("R4")
def r4_alloc(c: Ctx) -> None:
    c.might_sleep("folio allocation (GFP_KERNEL)")
    name = "F_wb" if c.get("r_skip") else "F_sw"
    addr = c.alloc("folio", "struct folio", "page", 64, name, "__read_swap_cache_async")
    c.folios[addr] = Folio(addr, None, False, None, False, False, None, 1)
    c.set("new_folio", addr)
    c.say(f"{c.me} allocates a new folio {addr:#x} ({name}); it is not visible to anyone yet.")
    c.goto("R5")


@step_def("R5")
def r5_prepare(c: Ctx) -> None:
    off = c.get("r_off")
    slot = c.slot(off)  # type: ignore[arg-type]
    new = c.get("new_folio")
    if slot.count > 0 and not slot.has_cache:
        c.set_slot(off, has_cache=True)  # type: ignore[arg-type]
        c.say(f"swapcache_prepare() sets SWAP_HAS_CACHE on slot {off}: the slot cannot be freed while {c.me} owns it.")
        c.goto("R6")
        return
    folio_put(c, new)  # type: ignore[arg-type]
    c.set("new_folio", None)
    if slot.has_cache:
        if c.get("r_skip"):
            c.say(
                f"swapcache_prepare() returns -EEXIST: someone else set SWAP_HAS_CACHE on slot {off} "
                "but has not inserted its folio yet. With skip_if_exists, writeback gives up: no folio."
            )
            c.goto("R9")
            return
        c.say(f"swapcache_prepare() returns -EEXIST: {c.me} frees its folio and will retry after a short sleep.")
        c.goto("R5w")
        return
    c.say(f"swapcache_prepare() returns -ENOENT: slot {off} was freed. No folio.")
    c.goto("R9")


@step_def("R5w")
def r5_wait(c: Ctx) -> None:
    off = c.get("r_off")
    slot = c.slot(off)  # type: ignore[arg-type]
    if slot.has_cache and c.swapcache_folio(off) is None:  # type: ignore[arg-type]
        # Retrying now would reproduce the same state: the model lets the CPU
        # sleep until the SWAP_HAS_CACHE owner inserts its folio or gives up.
        raise Blocked(
            "sleeping",
            f"sleeping in schedule_timeout_uninterruptible(1): slot {off} has SWAP_HAS_CACHE but no folio yet",
        )
    c.might_sleep("schedule_timeout_uninterruptible()")
    c.say(f"{c.me} wakes from schedule_timeout_uninterruptible(1) and looks the swap cache up again.")
    c.goto("R2")


@step_def("R6")
def r6_lock(c: Ctx) -> None:
    new = c.get("new_folio")
    c.set_folio(new, locked_by=c.cpu_id)  # type: ignore[arg-type]
    c.mark("locks")
    c.say(f"{c.me} locks its new folio {new:#x} (__folio_set_locked) before anyone can see it.")
    c.goto("R7")


@step_def("R7")
def r7_add(c: Ctx) -> None:
    new = c.get("new_folio")
    off = c.get("r_off")
    folio = c.folios[new]  # type: ignore[index]
    c.set_folio(new, in_swapcache=True, offset=off, refs=folio.refs + 1)  # type: ignore[arg-type]
    c.say(f"add_to_swap_cache(): folio {new:#x} is now in the swap cache for slot {off}, locked and not uptodate.")
    c.goto("R8")


@step_def("R8")
def r8_allocated(c: Ctx) -> None:
    c.set("folio", c.get("new_folio"))
    c.set("new_folio", None)
    c.set("allocated", True)
    c.say(f"folio_add_lru(); *new_page_allocated = true: {c.me} owns a newly allocated, locked swap-cache folio.")
    c.goto("R9")


@step_def("R9")
def r9_put_device(c: Ctx) -> None:
    if c.get("si_ref"):
        refs = list(c.swap.refs)
        refs.remove(c.cpu_id)
        c.set_swap(refs=tuple(refs))
        c.set("si_ref", False)
        if c.actor.id == SWAPOFF_ACTOR:
            c.say(f"put_swap_device(): {c.me} (swapoff itself) drops the device pin it took in this call.")
        else:
            held = swapoff_holders(c)
            c.say(f"put_swap_device(): {c.me} drops the device pin it took in this call; "
                  + (f"{' and '.join(held)} still {'hold' if len(held) > 1 else 'holds'} swapoff off." if held
                     else f"nothing {c.me} holds keeps swapoff from finishing any more."))
    else:
        c.say("__read_swap_cache_async() returns without a device pin.")
    c.ret()


def swapin_readahead(offset_local: str, then: str, say: str) -> Callable[[Ctx], None]:
    """swapin_readahead() -> __read_swap_cache_async(skip_if_exists = false), for the slot in
    local ``offset_local``; continues at ``then`` with ``folio`` and ``allocated`` set.
    Used by the page fault (L3) and by swapoff's unuse_pte_range (S3d)."""

    def run(c: Ctx) -> None:
        c.set("r_off", c.get(offset_local))
        c.set("r_skip", False)
        c.say(say)
        c.call("R1", then)

    return run


def read_if_new(then: str, say_new: str, say_old: str, no_folio: str | None = None, say_none: str = "") -> Callable[[Ctx], None]:
    """After swapin_readahead: a newly allocated folio is filled by swap_read_folio() (L4...)."""

    def run(c: Ctx) -> None:
        if c.get("allocated"):
            c.say(say_new)
            c.call("L4", then)
            return
        if no_folio is not None and c.get("folio") is None:
            c.say(say_none)
            c.goto(no_folio)
            return
        c.say(say_old)
        c.goto(then)

    return run
