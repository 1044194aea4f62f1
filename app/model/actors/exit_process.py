"""X: a process exits and frees its swap slot (zap_pte_range -> free_swap_and_cache).

The model frees the slot directly (as with the per-cpu slot cache disabled):
invalidation is immediate. Spec section 4.4. A process with several swapped pages has one PTE
per page: zap_pte_range() clears them in turn, each through free_swap_and_cache().
"""
from __future__ import annotations

from app.model.kernel.engine import ActorDef, Ctx, actor_def, step_def
from app.model.kernel.state import Pte
from app.model.actors.common import drop_swap_cache, folio_put, pages_of

actor_def(ActorDef("exit", "process exit: zap_pte_range -> free_swap_and_cache", "X1", "exit", 4242, params=("process",)))


@step_def("X1")
def x1(c: Ctx) -> None:
    name = c.get("process")
    start = c.get("x_page") or 0
    pages = [p for p in pages_of(c, name) if p.page >= start]  # type: ignore[arg-type,operator]
    pte = next((p for p in pages if p.offset is not None), None)
    if pte is None:
        if start == 0:
            c.say(f"Process {name} has no swap PTE left: nothing to free.")
            c.finish("nothing to free")
        else:
            c.say(f"Process {name} has no further swap PTE: zap_pte_range() is done.")
            c.finish("; ".join(c.get("x_results") or ()))  # type: ignore[arg-type]
        return
    c.ptes[pte.key] = Pte(pte.process, None, None, pte.page)
    c.mark(f"pte:{pte.label}")
    c.set("x_off", pte.offset)
    # A later page of the process: zap_pte_range() comes back for it once this slot is dealt with.
    c.set("x_more", pte.page + 1 if any(p.page > pte.page for p in pages) else None)
    if start == 0:
        c.say(f"Process {name} exits: zap_pte_range() clears its PTE for slot {pte.offset} and calls free_swap_and_cache().")
    else:
        c.say(f"zap_pte_range() moves on to process {name}'s next PTE: it clears the one for slot {pte.offset} "
              "and calls free_swap_and_cache().")
    c.goto("X2")


def _done(c: Ctx, result: str) -> None:
    """free_swap_and_cache() is done with this PTE: on to the process's next page, or finish."""
    more = c.get("x_more")
    results = tuple(c.get("x_results") or ())  # type: ignore[arg-type]
    if more is not None:
        c.set("x_results", results + (f"slot {c.get('x_off')}: {result}",))
        c.set("x_page", more)
        c.set("x_more", None)
        c.goto("X1")
        return
    c.finish("; ".join(results + (f"slot {c.get('x_off')}: {result}",)) if results else result)


@step_def("X2")
def x2(c: Ctx) -> None:
    off = c.get("x_off")
    slot = c.slot(off)  # type: ignore[arg-type]
    count = slot.count - 1
    c.set_slot(off, count=count)  # type: ignore[arg-type]
    if count > 0:
        c.say(f"__swap_entry_free(): slot {off} still has {count} users.")
        _done(c, "slot still in use")
        return
    if slot.has_cache:
        c.say(f"__swap_entry_free(): the count of slot {off} is 0 but SWAP_HAS_CACHE is set: try to reclaim the folio.")
        c.goto("X3")
        return
    c.set_slot(off, owner="")  # type: ignore[arg-type]
    c.set("inv_offset", off)
    c.say(
        f"__swap_entry_free(): slot {off} has no users: it is freed and swap_range_free() calls zswap_invalidate() "
        "(the model frees it at once; a per-cpu slot cache could defer this, which the model does not model)."
    )
    c.call("I1", "X5")


@step_def("X3")
def x3(c: Ctx) -> None:
    off = c.get("x_off")
    folio = c.swapcache_folio(off)  # type: ignore[arg-type]
    if folio is None:
        c.say("__try_to_reclaim_swap(): no folio in the swap cache any more.")
        _done(c, "slot left to its SWAP_HAS_CACHE owner")
        return
    if folio.locked_by is not None:
        c.say(f"__try_to_reclaim_swap(): folio_trylock() fails, CPU{folio.locked_by} holds the folio lock; the slot stays.")
        _done(c, "folio locked: slot not freed")
        return
    if folio.writeback:
        c.say("__try_to_reclaim_swap(): the folio is under writeback; the slot stays.")
        _done(c, "folio under writeback: slot not freed")
        return
    c.set_folio(folio.addr, locked_by=c.cpu_id, refs=folio.refs + 1)
    c.set("folio", folio.addr)
    c.say("__try_to_reclaim_swap(): folio_trylock() succeeds; folio_free_swap() deletes it from the swap cache.")
    drop_swap_cache(c, folio.addr, "X4")


@step_def("X4")
def x4(c: Ctx) -> None:
    folio = c.get("folio")
    c.folio_unlock(folio)  # type: ignore[arg-type]
    folio_put(c, folio)  # type: ignore[arg-type]
    c.set("folio", None)
    c.say("folio_unlock(); folio_put().")
    _done(c, "slot freed")


@step_def("X5")
def x5(c: Ctx) -> None:
    c.say("free_swap_and_cache() returns: the slot and its zswap entry are gone.")
    _done(c, "slot freed")
