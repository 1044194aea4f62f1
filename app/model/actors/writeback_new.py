"""W-new: shrink_memcg_cb() + zswap_writeback_entry() after the fix (f: lines).

Spec section 4.2, steps N1-N23. The three "break the fix" variants reuse these
steps and swap in one changed step each (see variants.py).
"""
from __future__ import annotations

from app.model.kernel.engine import ActorDef, Ctx, actor_def, step_def
from app.model.actors.common import (
    entry_get,
    entry_name,
    entry_put,
    invalidate_entry,
    need_tree,
    rb_search,
    touch_entry,
)
from app.model.actors.writeback_old import WB_PID, WB_TASK
from app.model.actors.writeback_shared import (
    back_out,
    back_out_unlock,
    got_folio,
    mark_uptodate,
    newly_allocated,
    return_0,
    start_write,
)

actor_def(ActorDef("writeback-new", "LRU writeback: shrink_memcg_cb (fixed code)", "K1", WB_TASK, WB_PID, callback="N1"))


@step_def("N1")
def n1(c: Ctx) -> None:
    item = c.get("item")
    c.set("entry", item)
    c.set("ret", "LRU_REMOVED_RETRY")
    c.say(f"container_of(): entry = {entry_name(c, item)} at {item:#x}; safe to read, {c.me} holds the LRU lock.")  # type: ignore[arg-type]
    c.goto("N2")


@step_def("N2")
def n2(c: Ctx) -> None:
    addr = c.get("entry")
    c.lru_set(tuple(a for a in c.lru.order if a != addr) + (addr,))  # type: ignore[operator]
    c.say(
        f"list_move_tail(): {entry_name(c, addr)} is rotated to the LRU tail and stays linked, "  # type: ignore[arg-type]
        "so whoever frees it later will unlink it."
    )
    c.goto("N3")


@step_def("N3")
def n3(c: Ctx) -> None:
    addr = c.get("entry")
    touch_entry(c, addr, "swpentry")  # type: ignore[arg-type]
    c.set("swpentry", c.entry(addr).offset)  # type: ignore[arg-type]
    c.say(f"swpentry = entry->swpentry (slot {c.entry(addr).offset}) is copied to the stack.")  # type: ignore[arg-type]
    c.goto("N4")


@step_def("N4")
def n4(c: Ctx) -> None:
    c.lru_unlock()
    c.say(
        f"{c.me} drops the LRU lock. 'entry' is now just a pointer value that may dangle; "
        "it will not be dereferenced until it is validated."
    )
    c.goto("N5")


@step_def("N5")
def n5(c: Ctx) -> None:
    c.set("r_off", c.get("swpentry"))
    c.set("r_skip", True)
    c.say("zswap_writeback_entry() first asks __read_swap_cache_async(skip_if_exists = true) for the slot's folio.")
    c.call("R1", "N6")


step_def("N6")(got_folio(then="N7", failed="N22", aside="The tree and the entry were never touched."))
step_def("N7")(
    newly_allocated(
        then="N8",
        failed="N22",
        existed="The folio already existed (swapin or another shrinker): folio_put() and return -EEXIST, "
        "without touching the tree.",
        allocated="The folio is new and locked by {me}: SWAP_HAS_CACHE keeps the slot in use, "
        "so try_to_unuse() cannot finish.",
    )
)


@step_def("N8")
def n8(c: Ctx) -> None:
    tree = need_tree(c)
    c.set("tree", tree)
    if tree == 0:
        c.say("tree = swap_zswap_tree(swpentry): zswap_trees[type] is NULL, so the tree pointer is NULL-based.")
    else:
        c.say(f"Only now: tree = swap_zswap_tree(swpentry) = {tree:#x}. It is alive: {c.me}'s locked folio holds swapoff off.")
    c.goto("N9")


@step_def("N9")
def n9(c: Ctx) -> None:
    c.tree_lock(c.get("tree"))  # type: ignore[arg-type]
    c.say(f"{c.me} takes tree->lock.")
    c.goto("N10")


@step_def("N10")
def n10(c: Ctx) -> None:
    addr = c.get("entry")
    found = rb_search(c, c.get("tree"), c.get("swpentry"))  # type: ignore[arg-type]
    if found != addr:
        c.say(
            f"zswap_rb_search() returns {found and hex(found) or 'NULL'}, not {addr:#x}: the entry was invalidated "  # type: ignore[str-format]
            "(and the slot maybe reused). Pointer comparison only; back out with -ENOMEM."
        )
        c.goto("N10x")
        return
    c.say(f"zswap_rb_search() returns {addr:#x}: the entry is alive and still the slot's entry.")
    c.goto("N11")


step_def("N10x")(back_out(then="N10y"))
step_def("N10y")(back_out_unlock(then="N22"))


@step_def("N11")
def n11(c: Ctx) -> None:
    addr = c.get("entry")
    entry_get(c, addr)  # type: ignore[arg-type]
    c.say(f"First dereference of the entry since the LRU lock was dropped: zswap_entry_get() (refcount {c.entry(addr).refcount}).")  # type: ignore[arg-type]
    c.goto("N12")


@step_def("N12")
def n12(c: Ctx) -> None:
    c.tree_unlock(c.get("tree"))  # type: ignore[arg-type]
    c.say(f"{c.me} releases tree->lock.")
    c.goto("N13")


@step_def("N13")
def n13(c: Ctx) -> None:
    addr, folio = c.get("entry"), c.get("folio")
    c.might_sleep("__zswap_load()")
    touch_entry(c, addr, "handle")  # type: ignore[arg-type]
    c.set_folio(folio, data=c.entry(addr).data)  # type: ignore[arg-type]
    c.say(f"__zswap_load() decompresses {entry_name(c, addr)} into the locked folio.")  # type: ignore[arg-type]
    c.goto("N14")


@step_def("N14")
def n14(c: Ctx) -> None:
    touch_entry(c, c.get("entry"), "objcg")  # type: ignore[arg-type]
    c.say("count_vm_event(ZSWPWB) and the objcg event.")
    c.goto("N15")


@step_def("N15")
def n15(c: Ctx) -> None:
    c.tree_lock(c.get("tree"))  # type: ignore[arg-type]
    c.say(f"{c.me} takes tree->lock again (still safe: the folio is still locked).")
    c.goto("N16")


@step_def("N16")
def n16(c: Ctx) -> None:
    addr = c.get("entry")
    erased = invalidate_entry(c, c.get("tree"), addr)  # type: ignore[arg-type]
    if erased:
        c.say(f"zswap_invalidate_entry() erases {entry_name(c, addr)} from the tree and drops the tree's reference.")  # type: ignore[arg-type]
    else:
        c.say("zswap_invalidate_entry(): the entry is no longer in the tree, nothing to erase.")
    c.goto("N17")


@step_def("N17")
def n17(c: Ctx) -> None:
    entry_put(c, c.get("entry"), "zswap_entry_put")  # type: ignore[arg-type]
    c.say(f"zswap_entry_put() drops {c.me}'s reference.")
    c.goto("N18")


@step_def("N18")
def n18(c: Ctx) -> None:
    c.tree_unlock(c.get("tree"))  # type: ignore[arg-type]
    c.say(f"{c.me} releases tree->lock: all tree and entry work is done while the folio is still locked.")
    c.goto("N19")


step_def("N19")(mark_uptodate(then="N20"))
step_def("N20")(start_write(then="N21", aside="From here on this CPU touches neither the tree nor the entry; the write completes later, on the I/O completion."))
step_def("N21")(return_0(then="N22"))


@step_def("N22")
def n22(c: Ctx) -> None:
    wb = c.get("wb")
    if wb != "0":
        c.set("ret", "LRU_RETRY")
        c.say(f"writeback_result = {wb}: zswap_reject_reclaim_fail++, ret = LRU_RETRY. No dereference of the entry.")
    else:
        c.say("writeback_result = 0: zswap_written_back_pages++.")
    c.goto("N23")


@step_def("N23")
def n23(c: Ctx) -> None:
    c.lru_lock()
    c.say(f"{c.me} re-takes the LRU lock and returns {c.get('ret')} to the walker.")
    c.ret()
