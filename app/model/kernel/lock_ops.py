"""The locking primitives of a step (a mixin of engine.Ctx): the LRU lock, each tree's spinlock
and each folio's lock, taken or waited for; sleeping while holding a spinlock is a violation.
"""
from __future__ import annotations

from app.model.kernel.state import Tree, evolve
from app.model.kernel.step_context import StepContext
from app.model.kernel.stops import Blocked

# The kernel functions a tree->lock access happens in, innermost first (reports.py prints
# them; "[inline]" ones are folded into the next out-of-line one by the compiler).
LOCK_FRAMES = ("queued_spin_lock", "do_raw_spin_lock", "__raw_spin_lock", "_raw_spin_lock")
UNLOCK_FRAMES = ("queued_spin_unlock", "do_raw_spin_unlock", "__raw_spin_unlock", "_raw_spin_unlock")


class LockOps:
    """Taking, releasing and waiting for the kernel's locks."""

    def holds_spinlock(self: StepContext) -> bool:
        if self.lru.lock == self.cpu_id:
            return True
        return any(t.lock == self.cpu_id for t in self.trees.values())

    def might_sleep(self: StepContext, what: str) -> None:
        if self.holds_spinlock():
            self.violate(
                "sleep-in-atomic",
                None,
                f"{what} may sleep while {self.me} holds a spinlock",
            )
            self.say(f"{self.me} would sleep in {what} while holding a spinlock: BUG: sleeping function called from invalid context.")
            self.crash()

    def lru_lock(self: StepContext) -> None:
        holder = self.lru.lock
        if holder is not None:
            who = "itself" if holder == self.cpu_id else f"CPU{holder}"
            raise Blocked("waiting", f"waiting for the LRU lock (nlru->lock), held by {who}: its next step takes it",
                          "lru-lock")
        self.lru = evolve(self.lru, lock=self.cpu_id)
        self.mark("lru")
        self.mark("locks")

    def lru_unlock(self: StepContext) -> None:
        self.lru = evolve(self.lru, lock=None)
        self.mark("lru")
        self.mark("locks")

    def tree_root(self: StepContext, addr: int, write: bool, frames: tuple[str, ...]) -> Tree:
        """An access to tree->rbroot (walk, insert, erase): checked like every other access."""
        self.touch(addr, "tree->rbroot (struct zswap_tree)", write=write, size=8, frames=frames, base=addr)
        return self.trees[addr]

    def tree_at(self: StepContext, addr: int) -> Tree:
        return self.trees[addr]  # callers touch() first: addr is a live or freed tree here

    def tree_lock(self: StepContext, addr: int) -> None:
        # KASAN checks the access before the lock word is even looked at: the atomic
        # cmpxchg on the 4-byte qspinlock word, inside _raw_spin_lock.
        self.touch(addr + 8, "tree->lock (spinlock in struct zswap_tree)", write=True, size=4, frames=LOCK_FRAMES, base=addr)
        tree = self.trees[addr]
        if tree.lock is not None:
            who = "itself" if tree.lock == self.cpu_id else f"CPU{tree.lock}"
            raise Blocked("waiting", f"waiting for tree->lock at {addr + 8:#x}, held by {who}: its next step takes it",
                          "tree-lock")
        self.trees[addr] = evolve(tree, lock=self.cpu_id)
        self.mark(f"tree:{addr:#x}")
        self.mark("locks")

    def tree_unlock(self: StepContext, addr: int) -> None:
        # queued_spin_unlock(): a release store of 0 to the lock's 1-byte 'locked' field.
        self.touch(addr + 8, "tree->lock (spinlock in struct zswap_tree)", write=True, size=1, frames=UNLOCK_FRAMES, base=addr)
        self.trees[addr] = evolve(self.trees[addr], lock=None)
        self.mark(f"tree:{addr:#x}")
        self.mark("locks")

    def folio_lock(self: StepContext, addr: int) -> None:
        self.might_sleep("folio_lock()")
        folio = self.folios[addr]
        if folio.locked_by is not None:
            who = "itself" if folio.locked_by == self.cpu_id else f"CPU{folio.locked_by}"
            raise Blocked("sleeping", f"sleeping in folio_lock on folio {addr:#x} held by {who}", "folio-lock")
        self.set_folio(addr, locked_by=self.cpu_id)
        self.mark("locks")

    def folio_unlock(self: StepContext, addr: int) -> None:
        self.set_folio(addr, locked_by=None)
        self.mark("locks")
