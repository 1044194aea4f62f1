"""T: reclaim swaps page Q of another process out into a reused slot (zswap_store).

Only needed for slot-reuse (ABA) schedules; spec section 4.7. The allocator is
pinned to the scenario's slot so that reuse is what happens.
"""
from __future__ import annotations

from app.model.kernel.engine import ActorDef, Ctx, actor_def, step_def
from app.model.kernel.state import Entry, Folio, Pte
from app.model.actors.common import data_tag, entry_name, invalidate_entry, lru_add_tail, need_tree, rb_search

actor_def(ActorDef("store", "reclaim: swap-out into a reused slot (zswap_store)", "T1", "kswapd0", 77, params=("process", "slot")))


@step_def("T1")
def t1(c: Ctx) -> None:
    off = c.get("slot")
    if not c.swap.writeok:
        c.say("get_swap_pages(): the device is being swapped off (no SWP_WRITEOK); the page stays in memory.")
        c.finish("no swap space")
        return
    slot = c.slot(off)  # type: ignore[arg-type]
    if slot.count or slot.has_cache:
        # The model only follows the swap-out that reuses this slot; while the
        # slot is busy, reclaim would simply take another one.
        c.say(f"Slot {off} is still in use, so reclaim puts process {c.get('process')}'s page elsewhere (not modelled).")
        c.finish("page went to another slot")
        return
    name = c.get("process")
    gen = slot.gen + 1
    c.set_slot(off, has_cache=True, owner=name, gen=gen)  # type: ignore[arg-type]
    c.set_swap(inuse_pages=c.swap.inuse_pages + 1)
    addr = c.alloc("folio", "struct folio", "page", 64, "Q", "add_to_swap")
    c.folios[addr] = Folio(addr, off, True, c.cpu_id, True, False, data_tag(name, gen), 2)  # type: ignore[arg-type]
    c.set("folio", addr)
    c.say(f"Reclaim picks process {name}'s page: folio_alloc_swap() hands out the freed slot {off} again and the locked folio {addr:#x} enters the swap cache.")
    c.goto("T2")


@step_def("T2")
def t2(c: Ctx) -> None:
    name, off = c.get("process"), c.get("slot")
    c.ptes[(name, 0)] = Pte(name, off, None)  # type: ignore[arg-type,index]
    c.mark(f"pte:{name}")
    slot = c.slot(off)  # type: ignore[arg-type]
    c.set_slot(off, count=slot.count + 1)  # type: ignore[arg-type]
    c.say(f"try_to_unmap(): process {name}'s PTE now holds swp_entry(0, {off}); the slot's count is 1.")
    c.goto("T3")


@step_def("T3")
def t3(c: Ctx) -> None:
    tree = need_tree(c)
    c.set("tree", tree)
    c.tree_lock(tree)
    dup = rb_search(c, tree, c.get("slot"))  # type: ignore[arg-type]
    if dup is not None:
        invalidate_entry(c, tree, dup)
        c.say(f"zswap_store(): a stale duplicate {entry_name(c, dup)} is invalidated first.")
    c.tree_unlock(tree)
    c.say("zswap_store() checks the tree for a duplicate entry under tree->lock.")
    c.goto("T4")


@step_def("T4")
def t4(c: Ctx) -> None:
    c.might_sleep("zswap_entry_cache_alloc(GFP_KERNEL)")
    off, folio = c.get("slot"), c.get("folio")
    addr = c.alloc("entry", "struct zswap_entry", "zswap_entry", 80, "E2", "zswap_store")
    c.entries[addr] = Entry(addr, off, 1, 2048, False, False, c.folios[folio].data or "")  # type: ignore[arg-type,index]
    c.set("new_entry", addr)
    reused = addr in c.w0.index("heap")  # narration only: was this address handed out before?
    c.say(
        f"zswap_entry_cache_alloc() returns {addr:#x}"
        + (", the very address of an entry freed earlier (slab reuse)." if reused else ".")
        + " The page is compressed into it."
    )
    c.goto("T5")


@step_def("T5")
def t5(c: Ctx) -> None:
    tree, addr, off = c.get("tree"), c.get("new_entry"), c.get("slot")
    c.tree_lock(tree)  # type: ignore[arg-type]
    # zswap_rb_insert() walks down from root->rb_node (checked like every tree access), then zswap_lru_add().
    t = c.tree_root(tree, write=False, frames=("zswap_rb_insert",))  # type: ignore[arg-type]
    lru_add_tail(c, addr)  # type: ignore[arg-type]
    c.set_tree(tree, type(t)(t.addr, t.array, t.index, t.lock, tuple(sorted(t.rb + ((off, addr),)))))  # type: ignore[arg-type,operator]
    c.set_entry(addr, in_tree=True)  # type: ignore[arg-type]
    c.tree_unlock(tree)  # type: ignore[arg-type]
    c.say(f"zswap_rb_insert() + zswap_lru_add(): {entry_name(c, addr)} is the slot's entry, in the tree and on the LRU.")  # type: ignore[arg-type]
    c.goto("T6")


@step_def("T6")
def t6(c: Ctx) -> None:
    folio, off = c.get("folio"), c.get("slot")
    f = c.folios[folio]  # type: ignore[index]
    c.set_folio(folio, in_swapcache=False, locked_by=None, refs=0)  # type: ignore[arg-type]
    c.mark("locks")
    c.set_slot(off, has_cache=False)  # type: ignore[arg-type]
    c.free(f.addr, "__remove_mapping")
    c.say("The page is clean in zswap: reclaim drops the folio from the swap cache (SWAP_HAS_CACHE cleared) and frees it.")
    c.finish("page swapped out to zswap")
