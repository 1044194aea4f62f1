""""Break the fix" variants: the fixed code with exactly one ingredient removed.

These lines are NOT kernel code. Each variant is the new code with one step
replaced, to show why that line of the fix is needed:

* new-no-rotate: list_lru_isolate() instead of list_move_tail() (N2). If the
  writeback then fails for a reason that leaves the entry alive (-ENOMEM), the
  entry is in the tree but on no LRU: nobody will ever write it back (leaked
  from reclaim's point of view; the comment in the fix: "or we could leak it").
* new-tree-before-folio: look the tree up, lock it and check the entry right
  after dropping the LRU lock, before the swap-cache folio exists. The tree is
  then unpinned again: swapoff can free it under us (UAF-A returns).
* new-no-recheck: skip the zswap_rb_search() pointer comparison (N10) and
  dereference the entry straight away: it may have been invalidated and freed
  (a use-after-free on the zswap_entry; had the slab handed its memory to an
  entry of another slot, that entry's data would be written instead: no
  shipped scenario sets that up, so the product does not claim it).
"""
from __future__ import annotations

from app.model.kernel.engine import ActorDef, Ctx, actor_def, step_def
from app.model.actors.common import entry_name, need_tree, rb_search
from app.model.actors.writeback_old import WB_PID, WB_TASK

VARIANTS: dict[str, tuple[str, str]] = {
    # code id: (title, description)
    "new-no-rotate": (
        "fix without the rotate",
        "The fixed code, but the entry is isolated (unlinked) from the LRU instead of rotated to its tail. "
        "When writeback fails and the entry survives, it is left in the tree but on no LRU: leaked from reclaim.",
    ),
    "new-tree-before-folio": (
        "fix, but the tree is checked before the folio exists",
        "The fixed code with an early check: the tree is looked up, locked and searched right after the LRU lock "
        "is dropped, before the swap-cache folio pins the slot. Nothing holds swapoff off yet: the use-after-free returns.",
    ),
    "new-no-recheck": (
        "fix without the pointer recheck",
        "The fixed code, but the zswap_rb_search() != entry comparison under tree->lock is skipped. "
        "The entry may have been invalidated and freed meanwhile: zswap_entry_get() on it is a use-after-free "
        "on the zswap_entry (the explorer finds it in slot-reuse).",
    ),
}

actor_def(
    ActorDef(
        "writeback-new-no-rotate",
        "LRU writeback: fixed code without the rotate (variant, not kernel code)",
        "K1", WB_TASK, WB_PID, callback="N1", overrides=(("N2", "N2i"),),
    )
)
actor_def(
    ActorDef(
        "writeback-new-tree-before-folio",
        "LRU writeback: fixed code with an early tree check (variant, not kernel code)",
        "K1", WB_TASK, WB_PID, callback="N1", overrides=(("N5", "V1"),),
    )
)
actor_def(
    ActorDef(
        "writeback-new-no-recheck",
        "LRU writeback: fixed code without the recheck (variant, not kernel code)",
        "K1", WB_TASK, WB_PID, callback="N1", overrides=(("N10", "N10n"),),
    )
)


@step_def("N2i")
def n2_isolate(c: Ctx) -> None:
    addr = c.get("entry")
    c.lru_set(tuple(a for a in c.lru.order if a != addr))
    c.set_entry(addr, on_lru=False)  # type: ignore[arg-type]
    c.say(f"Variant: list_lru_isolate() unlinks {entry_name(c, addr)} instead of rotating it.")  # type: ignore[arg-type]
    c.goto("N3")


@step_def("V1")
def v1_tree(c: Ctx) -> None:
    tree = need_tree(c)
    c.set("tree", tree)
    if tree == 0:
        c.say("Variant: tree = swap_zswap_tree(swpentry): zswap_trees[type] is already NULL, the pointer is NULL-based.")
    else:
        c.say(f"Variant: tree = swap_zswap_tree(swpentry) = {tree:#x} before any folio exists; nothing pins it.")
    c.goto("V2")


@step_def("V2")
def v2_lock(c: Ctx) -> None:
    c.tree_lock(c.get("tree"))  # type: ignore[arg-type]
    c.say(f"Variant: {c.me} takes tree->lock for an early check.")
    c.goto("V3")


@step_def("V3")
def v3_check(c: Ctx) -> None:
    found = rb_search(c, c.get("tree"), c.get("swpentry"))  # type: ignore[arg-type]
    c.tree_unlock(c.get("tree"))  # type: ignore[arg-type]
    if found != c.get("entry"):
        c.set("wb", "-ENOMEM")
        c.say("Variant: the entry is gone from the tree; release tree->lock and give up with -ENOMEM.")
        c.goto("N22")
        return
    c.say("Variant: the entry is still there; release tree->lock and go on to allocate the folio.")
    # Rejoin the fixed code at the folio allocation (N5's body, not its override).
    c.set("r_off", c.get("swpentry"))
    c.set("r_skip", True)
    c.call("R1", "N6")


@step_def("N10n")
def n10_skip(c: Ctx) -> None:
    c.say("Variant: no zswap_rb_search() comparison; the entry is trusted as it is.")
    c.goto("N11")
