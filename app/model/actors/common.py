"""Kernel helpers shared by several actors (zswap_entry_put, swap-cache removal, ...).

These run *inside* one step: they are not steps of their own, in the same way
the kernel inlines them into the line that calls them.
"""
from __future__ import annotations

from collections.abc import Callable

from app.model.kernel.engine import Blocked, Ctx
from app.model.kernel.state import Pte

# struct zswap_entry at the patch's base (x86-64): field -> (offset, size). 80 bytes, the
# zswap_entry cache's object size: rbnode 0, swpentry 24, refcount 32, length 36, pool 40,
# handle 48, objcg 56, lru 64.
ENTRY_FIELDS = {
    "rbnode": (0, 24), "swpentry": (24, 8), "refcount": (32, 4), "length": (36, 4),
    "pool": (40, 8), "handle": (48, 8), "objcg": (56, 8), "lru": (64, 16),
    "lru.next": (64, 8),  # the list walker's read of the node's next pointer (struct list_head: next, prev)
}


def touch_entry(c: Ctx, addr: int, name: str, write: bool = False, frames: tuple[str, ...] = ()) -> None:
    """An access to one field of a struct zswap_entry, at its offset and with its size."""
    offset, size = ENTRY_FIELDS[name]
    c.touch(addr + offset, f"entry->{name} (struct zswap_entry)", write=write, size=size, frames=frames, base=addr)


def data_tag(owner: str, gen: int) -> str:
    """What a page's bytes are: whose page, and which use of the slot."""
    return f"page {owner}#{gen}"


SWAPOFF_ACTOR = "swapoff"  # the actor id of sys_swapoff (swapoff.py)


def swapoff_holders(c: Ctx) -> list[str]:
    """For narration: what this CPU holds now that keeps swapoff from freeing the trees array
    (spec 2.3): a locked swap-cache folio (its SWAP_HAS_CACHE keeps try_to_unuse() from
    returning), a get_swap_device() pin (swapoff waits for it after percpu_ref_kill()), the LRU
    lock (a zswap entry cannot be freed without it, so its invalidation, and try_to_unuse(),
    cannot finish). Empty for swapoff itself. Reads with peek: not an access."""
    if c.actor.id == SWAPOFF_ACTOR:
        return []
    held = []
    if any(f.locked_by == c.cpu_id and f.in_swapcache for f in c.peek("folios").values()):
        held.append(f"{c.me}'s locked swap-cache folio")
    if c.cpu_id in c.peek("swap").refs:
        held.append(f"{c.me}'s get_swap_device() pin")
    if c.peek("lru").lock == c.cpu_id:
        held.append(f"the LRU lock {c.me} holds (no zswap entry can be freed without it)")
    return held


def why_the_tree_is_safe(c: Ctx) -> str:
    """For narration: why this CPU may touch the tree now ("safe: ..."), from what it holds."""
    if c.actor.id == SWAPOFF_ACTOR:
        return f"safe: {c.me} is swapoff itself, inside try_to_unuse(); it frees the trees only after that returns"
    held = swapoff_holders(c)
    if not held:
        return f"nothing {c.me} holds keeps swapoff from freeing the trees"
    return f"safe: {' and '.join(held)} {'hold' if len(held) > 1 else 'holds'} swapoff off"


def entry_name(c: Ctx, addr: int) -> str:
    """For narration only: does not count as an access to shared state."""
    obj = c.peek("heap").get(addr)
    return obj.name if obj and obj.name else f"{addr:#x}"


def lru_del(c: Ctx, addr: int) -> None:
    """zswap_lru_del -> list_lru_del: takes the LRU lock, unlinks if linked."""
    if c.lru.lock is not None:
        who = "itself" if c.lru.lock == c.cpu_id else f"CPU{c.lru.lock}"
        raise Blocked("waiting", f"waiting for the LRU lock (inside zswap_lru_del), held by {who}", "lru-lock")
    entry = c.entry(addr)
    if entry.on_lru:
        c.lru_set(tuple(a for a in c.lru.order if a != addr))
        c.set_entry(addr, on_lru=False)


def lru_add_tail(c: Ctx, addr: int) -> None:
    """zswap_lru_add / list_lru_putback: link at the tail if not linked."""
    if c.lru.lock is not None:
        who = "itself" if c.lru.lock == c.cpu_id else f"CPU{c.lru.lock}"
        raise Blocked("waiting", f"waiting for the LRU lock (nlru->lock), held by {who}", "lru-lock")
    entry = c.entry(addr)
    if not entry.on_lru:
        c.lru_set(c.lru.order + (addr,))
        c.set_entry(addr, on_lru=True)


def entry_put(c: Ctx, addr: int, function: str) -> None:
    """zswap_entry_put: refcount-- under tree->lock; at zero, zswap_free_entry."""
    # int refcount = --entry->refcount; the decrement's load is the first access.
    touch_entry(c, addr, "refcount", frames=("zswap_entry_put",))
    entry = c.entry(addr)
    refcount = entry.refcount - 1
    if refcount == 0:
        linked = entry.on_lru
        if entry.length:
            lru_del(c, addr)
        c.set_entry(addr, refcount=0)
        unlink = " and zswap_lru_del() unlinks it from the LRU" if linked else ""
        c.say_after(f"The refcount of {entry_name(c, addr)} drops to 0: zswap_free_entry() frees it{unlink}.")
        c.free(addr, "zswap_free_entry")
    else:
        c.set_entry(addr, refcount=refcount)


def entry_get(c: Ctx, addr: int) -> None:
    # entry->refcount++; at the base (no WARN yet): the increment's load is the first access.
    touch_entry(c, addr, "refcount", frames=("zswap_entry_get",))
    entry = c.entry(addr)
    c.set_entry(addr, refcount=entry.refcount + 1)


def rb_search(c: Ctx, tree_addr: int, offset: int) -> int | None:
    """zswap_rb_search: reads tree->rbroot (and the nodes, i.e. the entries)."""
    # struct rb_node *node = root->rb_node;
    for off, addr in c.tree_root(tree_addr, write=False, frames=("zswap_rb_search",)).rb:
        if off == offset:
            return addr
    return None


def invalidate_entry(c: Ctx, tree_addr: int, addr: int) -> bool:
    """zswap_invalidate_entry: erase from the rbtree if still linked, then put."""
    tree = c.tree_at(tree_addr)
    if not any(a == addr for _, a in tree.rb):
        return False
    # zswap_rb_erase -> rb_erase(): erasing the only node writes root->rb_node.
    tree = c.tree_root(tree_addr, write=True, frames=("rb_erase", "zswap_rb_erase"))
    c.set_tree(tree_addr, type(tree)(tree.addr, tree.array, tree.index, tree.lock, tuple(p for p in tree.rb if p[1] != addr)))
    c.set_entry(addr, in_tree=False)
    entry_put(c, addr, "zswap_invalidate_entry")
    return True


def need_tree(c: Ctx) -> int:
    """swap_zswap_tree(): &zswap_trees[type][offset >> SWAP_ADDRESS_SPACE_SHIFT].

    The model has one tree per device (index 0), so this is the array address.
    It only computes an address: with zswap_trees[type] already NULL the
    result is a pointer near 0, and the fault comes at the first access
    through it (tree->lock), as in the kernel.
    """
    tree = c.zswap_trees
    return 0 if tree is None else tree


def drop_swap_cache(c: Ctx, folio_addr: int, then: str) -> None:
    """delete_from_swap_cache -> put_swap_folio: clear SWAP_HAS_CACHE.

    When that was the slot's last use, the slot is freed directly
    (swap_entry_free -> swap_range_free -> zswap_invalidate): the model assumes
    no per-cpu slot-cache deferral. That continues in the I steps, then at ``then``.
    """
    folio = c.folios[folio_addr]
    offset = folio.offset
    c.set_folio(folio_addr, in_swapcache=False, refs=folio.refs - 1)
    assert offset is not None
    slot = c.slot(offset)
    c.set_slot(offset, has_cache=False)
    if slot.count == 0:
        c.set_slot(offset, owner="")
        c.set("inv_offset", offset)
        c.say(f"Slot {offset} has no users left, so it is freed; swap_range_free() calls zswap_invalidate().")
        c.call("I1", then)
    else:
        c.goto(then)


def folio_put(c: Ctx, folio_addr: int) -> None:
    folio = c.folios[folio_addr]
    refs = folio.refs - 1
    c.set_folio(folio_addr, refs=refs)
    if refs == 0:
        c.free(folio_addr, "folio_put")


def submit_write(c: Ctx, folio_addr: int) -> None:
    """__swap_writepage: start writeback, unlock the folio, submit the bio.

    The bytes written must be the current contents of the slot; otherwise this
    is the stale-data writeback that 04fc7816089c and the recheck guard against.
    """
    folio = c.folios[folio_addr]
    assert folio.offset is not None
    slot = c.slot(folio.offset)
    expected = data_tag(slot.owner, slot.gen) if slot.owner else None
    c.set_folio(folio_addr, writeback=True, locked_by=None)
    c.mark("locks")
    if folio.data != expected:
        c.violate(
            "stale-writeback",
            folio_addr,
            f"writes {folio.data} to slot {folio.offset}, which now holds {expected or 'nothing'}",
        )
        c.say(
            f"{c.me} writes {folio.data} to swap slot {folio.offset}, but that slot now belongs to "
            f"{expected or 'nobody'}: stale data overwrites the slot."
        )
    c.set_slot(folio.offset, disk=folio.data or "")


def lock_folio(then: str, say: str) -> Callable[[Ctx], None]:
    """A step that sleeps in folio_lock() on the local ``folio`` until it gets it.
    ``say`` may use {folio} (its address). Used by swapoff (S3f, S3k2) and the fault (L11a)."""

    def run(c: Ctx) -> None:
        folio = c.get("folio")
        c.folio_lock(folio)  # type: ignore[arg-type]
        c.say(say.format(folio=f"{folio:#x}"))
        c.goto(then)

    return run


def map_swapped_page(c: Ctx, key: tuple[str, int], offset: int, folio: int) -> int | None:
    """Map ``folio`` where the PTE ``key`` ((process, page)) still holds swp_entry(0, offset),
    then swap_free().

    Under the PTE lock, pte_same() first: a PTE someone else already resolved is left alone
    (returns None). Otherwise returns the slot's count after swap_free(). Used by the fault
    (do_swap_page) and by swapoff (unuse_pte).
    """
    pte = c.ptes[key]
    if pte.offset != offset:
        return None
    c.ptes[key] = Pte(pte.process, None, folio, pte.page)
    c.mark(f"pte:{pte.label}")
    c.set_folio(folio, refs=c.folios[folio].refs + 1)  # the mapping's reference
    count = c.slot(offset).count - 1
    c.set_slot(offset, count=count)
    return count


def pages_of(c: Ctx, process: str) -> list[Pte]:
    """Every PTE of ``process``, page by page."""
    return sorted((p for p in c.ptes.values() if p.process == process), key=lambda p: p.page)
