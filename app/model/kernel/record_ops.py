"""The record primitives of a step (a mixin of engine.Ctx): reading and replacing the world's
records (entries, folios, swap slots, trees, the LRU order), each change marked for the page.
"""
from __future__ import annotations

from app.model.kernel.state import Entry, Folio, Slot, Tree, evolve
from app.model.kernel.step_context import StepContext

class RecordOps:
    """Reading and replacing the world's records."""

    def set_entry(self: StepContext, addr: int, **changes: object) -> None:
        self.entries[addr] = evolve(self.entries[addr], **changes)  # type: ignore[arg-type]
        self.mark(f"entry:{addr:#x}")

    def set_folio(self: StepContext, addr: int, **changes: object) -> None:
        self.folios[addr] = evolve(self.folios[addr], **changes)  # type: ignore[arg-type]
        self.mark(f"folio:{addr:#x}")

    def set_slot(self: StepContext, offset: int, **changes: object) -> None:
        slots = tuple(evolve(s, **changes) if s.offset == offset else s for s in self.swap.slots)  # type: ignore[arg-type]
        if any(s.count < 0 for s in slots):
            raise AssertionError(f"model bug: swap_map count of slot {offset} below zero at step {self.step_id}")
        self.swap = evolve(self.swap, slots=slots)
        self.mark("swap")

    def slot(self: StepContext, offset: int) -> Slot:
        for s in self.swap.slots:
            if s.offset == offset:
                return s
        raise KeyError(offset)

    def set_swap(self: StepContext, **changes: object) -> None:
        self.swap = evolve(self.swap, **changes)  # type: ignore[arg-type]
        self.mark("swap")

    def swapcache_folio(self: StepContext, offset: int) -> Folio | None:
        for f in self.folios.values():
            if f.in_swapcache and f.offset == offset:
                return f
        return None

    def set_tree(self: StepContext, addr: int, tree: Tree) -> None:
        self.trees[addr] = tree
        self.mark(f"tree:{addr:#x}")

    def lru_set(self: StepContext, order: tuple[int, ...]) -> None:
        self.lru = evolve(self.lru, order=order)
        self.mark("lru")

    def entry(self: StepContext, addr: int) -> Entry:
        return self.entries[addr]
