"""swap_read_folio() -> zswap_load() (base code), spec section 4.5 L4-L10.

Callers set ``folio`` (locked, newly allocated, in the swap cache for the slot
to read: folio->swap gives the offset).
"""
from __future__ import annotations

from app.model.kernel.engine import Ctx, step_def
from app.model.actors.common import (
    entry_get,
    entry_name,
    entry_put,
    invalidate_entry,
    lru_add_tail,
    lru_del,
    need_tree,
    rb_search,
    touch_entry,
    why_the_tree_is_safe,
)


def _offset(c: Ctx) -> int:
    offset = c.folios[c.get("folio")].offset  # type: ignore[index]
    assert offset is not None
    return offset


@step_def("L4")
def l4_read(c: Ctx) -> None:
    folio = c.peek("folios")[c.get("folio")]
    c.say(f"swap_read_folio() first asks zswap for slot {folio.offset} (zswap_load).")
    c.goto("L5")


@step_def("L5")
def l5_lock(c: Ctx) -> None:
    tree = need_tree(c)
    c.set("load_tree", tree)
    c.tree_lock(tree)
    c.say(f"zswap_load() takes tree->lock ({why_the_tree_is_safe(c)}).")
    c.goto("L6")


@step_def("L6")
def l6_find_get(c: Ctx) -> None:
    tree = c.get("load_tree")
    found = rb_search(c, tree, _offset(c))
    c.set("load_entry", found)
    if found is None:
        c.tree_unlock(tree)  # type: ignore[arg-type]
        c.say("No zswap entry for the slot: zswap_load() returns false and the page is read from disk.")
        c.goto("L4d")
        return
    entry_get(c, found)
    c.say(f"zswap_entry_find_get() finds {entry_name(c, found)} and takes a reference (refcount {c.entry(found).refcount}).")
    c.goto("L7")


@step_def("L7")
def l7_decompress(c: Ctx) -> None:
    tree, addr, folio = c.get("load_tree"), c.get("load_entry"), c.get("folio")
    c.tree_unlock(tree)  # type: ignore[arg-type]
    c.might_sleep("__zswap_load()")
    touch_entry(c, addr, "handle")  # type: ignore[arg-type]  (entry->value shares its union)
    c.set_folio(folio, data=c.entry(addr).data)  # type: ignore[arg-type]
    if c.entry(addr).length:  # type: ignore[arg-type]
        c.say(f"{c.me} drops tree->lock and decompresses {entry_name(c, addr)} into folio {folio:#x}.")  # type: ignore[arg-type]
    else:
        c.say(f"{c.me} drops tree->lock; {entry_name(c, addr)} is same-filled (length 0), so zswap_fill_page() "  # type: ignore[arg-type]
              f"fills folio {folio:#x} with its repeated value.")
    c.goto("L8")


@step_def("L8")
def l8_exclusive(c: Ctx) -> None:
    tree, addr, folio = c.get("load_tree"), c.get("load_entry"), c.get("folio")
    c.tree_lock(tree)  # type: ignore[arg-type]
    if c.w0.config.exclusive_loads:
        invalidate_entry(c, tree, addr)  # type: ignore[arg-type]
        c.set_folio(folio, data=c.folios[folio].data)  # type: ignore[index,arg-type]
        c.say(
            f"Exclusive loads (this scenario turns zswap.exclusive_loads on; the base's default is off): "
            f"{c.me} erases {entry_name(c, addr)} from the tree (the folio is marked dirty)."  # type: ignore[arg-type]
        )  # type: ignore[arg-type]
    elif not c.entry(addr).length:  # type: ignore[arg-type]
        # } else if (entry->length) { ... relink ... }: a same-filled entry has no LRU link.
        c.say(f"Non-exclusive loads: {entry_name(c, addr)} is same-filled (length 0), never on the LRU, "  # type: ignore[arg-type]
              "so zswap_load() does not relink it (else if (entry->length)).")
    else:
        lru_del(c, addr)  # type: ignore[arg-type]
        lru_add_tail(c, addr)  # type: ignore[arg-type]
        c.say(
            f"Non-exclusive loads (the base's default, which this scenario keeps): zswap_lru_del() + zswap_lru_add() "
            f"put {entry_name(c, addr)} back at the LRU tail, "  # type: ignore[arg-type]
            "even if a shrinker had isolated it."
        )
    c.goto("L9")


@step_def("L9")
def l9_put(c: Ctx) -> None:
    tree, addr = c.get("load_tree"), c.get("load_entry")
    entry_put(c, addr, "zswap_load")  # type: ignore[arg-type]
    c.tree_unlock(tree)  # type: ignore[arg-type]
    c.say(f"zswap_entry_put() drops the load's reference; {c.me} releases tree->lock.")
    c.goto("L10")


@step_def("L10")
def l10_uptodate(c: Ctx) -> None:
    folio = c.get("folio")
    c.set_folio(folio, uptodate=True, locked_by=None)  # type: ignore[arg-type]
    c.mark("locks")
    c.set("load_tree", None)
    c.set("load_entry", None)
    c.say(f"folio_mark_uptodate(); folio_unlock(): folio {folio:#x} holds the page and is unlocked.")  # type: ignore[arg-type]
    c.ret()


@step_def("L4d")
def l4_disk(c: Ctx) -> None:
    folio = c.get("folio")
    slot = c.slot(_offset(c))
    c.set_folio(folio, data=slot.disk or None, uptodate=True, locked_by=None)  # type: ignore[arg-type]
    c.mark("locks")
    c.set("load_tree", None)
    c.say(f"The page is read from the swap device; the read completes, marks folio {folio:#x} uptodate and unlocks it.")  # type: ignore[arg-type]
    c.ret()
