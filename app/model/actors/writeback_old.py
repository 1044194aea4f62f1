"""W-old: shrink_memcg_cb() + zswap_writeback_entry() before the fix (b: lines).

Spec section 4.1, steps O1-O23.
"""
from __future__ import annotations

from app.model.kernel.engine import ActorDef, Ctx, actor_def, step_def
from app.model.actors.common import (
    entry_get,
    entry_name,
    entry_put,
    invalidate_entry,
    lru_add_tail,
    need_tree,
    rb_search,
    touch_entry,
)
from app.model.actors.writeback_shared import (
    back_out,
    back_out_unlock,
    got_folio,
    mark_uptodate,
    newly_allocated,
    return_0,
    start_write,
)

WB_TASK = "kworker/{cpu}:1"  # shrink_wq is a bound workqueue (create_workqueue): a per-CPU worker
WB_PID = 56  # kworker/N:1 is PID 56 + N (ActorDef.pid_on): 57 on CPU1, 58 on CPU2

actor_def(ActorDef("writeback-old", "LRU writeback: shrink_memcg_cb (old code)", "K1", WB_TASK, WB_PID, callback="O1"))


@step_def("O1")
def o1(c: Ctx) -> None:
    item = c.get("item")
    c.set("entry", item)
    c.set("ret", "LRU_REMOVED_RETRY")
    c.say(f"container_of(): entry = {entry_name(c, item)} at {item:#x}; safe to read, {c.me} holds the LRU lock.")  # type: ignore[arg-type]
    c.goto("O2")


@step_def("O2")
def o2(c: Ctx) -> None:
    addr = c.get("entry")
    touch_entry(c, addr, "swpentry")  # type: ignore[arg-type]
    c.set("swpoffset", c.entry(addr).offset)  # type: ignore[arg-type]
    c.say(f"swpoffset = {c.entry(addr).offset}, copied to the stack while the LRU lock keeps the entry alive.")  # type: ignore[arg-type]
    c.goto("O3")


@step_def("O3")
def o3(c: Ctx) -> None:
    tree = need_tree(c)
    c.set("tree", tree)
    if tree == 0:
        c.say("tree = swap_zswap_tree(): zswap_trees[type] is already NULL, so the cached tree pointer is NULL-based.")
    else:
        c.say(
            f"tree = swap_zswap_tree(): {c.me} caches a pointer {tree:#x} into the trees array. For now the LRU lock "
            f"{c.me} holds keeps swapoff off it, indirectly: no zswap entry can be freed without that lock "
            "(zswap_free_entry() -> zswap_lru_del() takes it), so the entry's invalidation, try_to_unuse() and with it "
            "zswap_swapoff() cannot finish. Nothing pins the array once the LRU lock is dropped (b:880)."
        )
    c.goto("O4")


@step_def("O4")
def o4(c: Ctx) -> None:
    addr = c.get("entry")
    c.lru_set(tuple(a for a in c.lru.order if a != addr))
    c.set_entry(addr, on_lru=False)  # type: ignore[arg-type]
    c.say(f"list_lru_isolate() unlinks {entry_name(c, addr)} from the LRU: other shrinkers cannot see it now.")  # type: ignore[arg-type]
    c.goto("O5")


@step_def("O5")
def o5(c: Ctx) -> None:
    c.lru_unlock()
    c.say(
        f"{c.me} drops the LRU lock. From here it holds no reference on the entry, the tree or the swap device, "
        "and nothing of its own holds swapoff off "
        "(the model assumes a preemptible kernel, which may preempt it right here; on a !PREEMPT kernel "
        "the window needs some other quiescent state)."
    )
    c.goto("O6")


@step_def("O6")
def o6(c: Ctx) -> None:
    c.tree_lock(c.get("tree"))  # type: ignore[arg-type]
    c.say(f"{c.me} takes tree->lock through its cached tree pointer to check for an invalidation race.")
    c.goto("O7")


@step_def("O7")
def o7(c: Ctx) -> None:
    addr = c.get("entry")
    found = rb_search(c, c.get("tree"), c.get("swpoffset"))  # type: ignore[arg-type]
    if found != addr:
        c.set("ret", "LRU_REMOVED_RETRY")
        c.say(
            f"zswap_rb_search() returns {found and hex(found) or 'NULL'}, not {addr:#x}: the entry was invalidated. "  # type: ignore[str-format]
            "Only the pointer is compared; the entry is not dereferenced."
        )
        c.goto("O8")
        return
    c.say(f"zswap_rb_search() returns {addr:#x}: the entry is still in the tree.")
    c.goto("O9")


@step_def("O8")
def o8(c: Ctx) -> None:
    c.say("goto unlock: the entry is skipped (it already left the LRU at the isolate).")
    c.goto("O22")


@step_def("O9")
def o9(c: Ctx) -> None:
    addr = c.get("entry")
    entry_get(c, addr)  # type: ignore[arg-type]
    c.say(f"zswap_entry_get(): {c.me} pins the entry against a free during writeback (refcount {c.entry(addr).refcount}).")  # type: ignore[arg-type]
    c.goto("O10")


@step_def("O10")
def o10(c: Ctx) -> None:
    c.tree_unlock(c.get("tree"))  # type: ignore[arg-type]
    c.say(f"{c.me} releases tree->lock and calls zswap_writeback_entry(entry, tree).")
    c.goto("O11")


@step_def("O11")
def o11(c: Ctx) -> None:
    addr = c.get("entry")
    touch_entry(c, addr, "swpentry")  # type: ignore[arg-type]
    c.set("r_off", c.entry(addr).offset)  # type: ignore[arg-type]
    c.say(f"swpentry = entry->swpentry (safe: {c.me} holds a reference).")
    c.goto("O12")


@step_def("O12")
def o12(c: Ctx) -> None:
    c.set("r_skip", True)
    c.say(f"{c.me} calls __read_swap_cache_async(skip_if_exists = true) to get a swap-cache folio for the slot.")
    c.call("R1", "O13")


step_def("O13")(got_folio(then="O14", failed="O18"))
step_def("O14")(
    newly_allocated(
        then="O15a",
        failed="O18",
        existed="The folio already existed (swapin got there first): folio_put() and return -EEXIST. "
        "It was never locked by this CPU.",
        allocated="The folio is newly allocated and locked by {me}: it holds SWAP_HAS_CACHE, so swapoff cannot finish.",
    )
)


@step_def("O15a")
def o15a(c: Ctx) -> None:
    c.tree_lock(c.get("tree"))  # type: ignore[arg-type]
    c.say(f"{c.me} takes tree->lock again (safe now: its locked folio holds swapoff off).")
    c.goto("O15b")


@step_def("O15b")
def o15b(c: Ctx) -> None:
    addr = c.get("entry")
    touch_entry(c, addr, "swpentry")  # type: ignore[arg-type]
    found = rb_search(c, c.get("tree"), c.entry(addr).offset)  # type: ignore[arg-type]
    if found != addr:
        c.say("The tree no longer holds this entry for the slot: it was invalidated and maybe reused. Back out with -ENOMEM.")
        c.goto("O15x")
        return
    c.say("The entry is still the tree's entry for the slot: safe to write it back.")
    c.goto("O16")


step_def("O15x")(back_out(then="O15y"))
step_def("O15y")(back_out_unlock(then="O18"))


@step_def("O16")
def o16(c: Ctx) -> None:
    addr, folio = c.get("entry"), c.get("folio")
    c.tree_unlock(c.get("tree"))  # type: ignore[arg-type]
    c.might_sleep("__zswap_load()")
    touch_entry(c, addr, "handle")  # type: ignore[arg-type]
    c.set_folio(folio, data=c.entry(addr).data)  # type: ignore[arg-type]
    c.say(f"{c.me} releases tree->lock and decompresses {entry_name(c, addr)} into the locked folio.")  # type: ignore[arg-type]
    c.goto("O17a")


step_def("O17a")(mark_uptodate(then="O17b"))
step_def("O17b")(start_write(then="O17c", aside="The folio no longer holds swapoff off; the write completes later, on the I/O completion."))
step_def("O17c")(return_0(then="O18"))


@step_def("O18")
def o18(c: Ctx) -> None:
    c.tree_lock(c.get("tree"))  # type: ignore[arg-type]
    c.say(f"Back in shrink_memcg_cb, {c.me} takes tree->lock through the cached tree pointer again.")
    c.goto("O19" if c.get("wb") != "0" else "O20")


def putback(c: Ctx) -> None:
    """if (writeback_result) { zswap_lru_putback(); ret = LRU_RETRY; ... }: O19, and O19p before patch 1/3."""
    addr = c.get("entry")
    touch_entry(c, addr, "pool")  # type: ignore[arg-type]
    lru_add_tail(c, addr)  # type: ignore[arg-type]
    c.set("ret", "LRU_RETRY")
    c.say(
        f"Writeback failed ({c.get('wb')}): zswap_lru_putback() puts {entry_name(c, addr)} back at the LRU tail "  # type: ignore[arg-type]
        "(taking the LRU lock inside tree->lock) and bumps nr_zswap_protected; ret = LRU_RETRY."
    )


@step_def("O19")
def o19(c: Ctx) -> None:
    putback(c)
    c.goto("O21")


@step_def("O20")
def o20(c: Ctx) -> None:
    addr = c.get("entry")
    touch_entry(c, addr, "objcg")  # type: ignore[arg-type]
    erased = invalidate_entry(c, c.get("tree"), addr)  # type: ignore[arg-type]
    if erased:
        c.say(f"Writeback succeeded: zswap_invalidate_entry() erases {entry_name(c, addr)} and drops the tree's reference.")  # type: ignore[arg-type]
    else:
        c.say("Writeback succeeded; the entry was already erased by an invalidation, so there is nothing to erase.")
    c.goto("O21")


@step_def("O21")
def o21(c: Ctx) -> None:
    entry_put(c, c.get("entry"), "zswap_entry_put")  # type: ignore[arg-type]
    c.say(f"put_unlock: zswap_entry_put() drops {c.me}'s own reference.")
    c.goto("O22")


@step_def("O22")
def o22(c: Ctx) -> None:
    c.tree_unlock(c.get("tree"))  # type: ignore[arg-type]
    c.say(f"unlock: {c.me} releases tree->lock.")
    c.goto("O23")


@step_def("O23")
def o23(c: Ctx) -> None:
    c.lru_lock()
    c.say(f"{c.me} re-takes the LRU lock and returns {c.get('ret')} to the walker.")
    c.ret()
