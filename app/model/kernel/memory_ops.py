"""The memory primitives of a step (a mixin of engine.Ctx): every access checked against the heap
as KASAN would, allocation and freeing through slab caches with stable fake addresses, and the
violations that stop a CPU.
"""
from __future__ import annotations

from app.model.kernel.state import MEMORY_ERRORS, HeapObject, Violation, evolve
from app.model.kernel.step_context import StepContext
from app.model.kernel.stops import Stop

# Cache layout for fake but stable addresses.
CACHES: dict[str, tuple[int, int]] = {
    # cache name: (first address, stride)
    "kmalloc-16": (0xFFFF888004B2E000, 0x10),
    "zswap_entry": (0xFFFF888003C1D000, 0x50),
    "page": (0xFFFFEA0000124000, 0x40),
}


class MemoryOps:
    """Heap accesses, allocation and freeing, violations."""

    def touch(
        self: StepContext, addr: int | None, what: str, write: bool, size: int, frames: tuple[str, ...] = (), base: int | None = None
    ) -> None:
        """One memory access of ``size`` bytes at ``addr``. On freed memory: a KASAN report and this CPU stops.

        ``frames``: the kernel functions the access happens in below the model's line, innermost
        first (see reports.py). ``base``: the object's address when ``addr`` is a field inside it.
        """
        if addr is None:
            return
        if addr < 4096:
            reported = self._reported()
            self.violations.append(
                Violation(
                    "null-deref", self.cpu_id, self.step_id, None,
                    f"{'Write' if write else 'Read'} of size {size} at {addr:#x}: {what}", self.index, frames,
                )
            )
            kasan = (f"KASAN, which already reported the {reported} of this run, prints nothing (one report per boot); "
                     if reported else "KASAN reports a null-ptr-deref first; then ")
            self.say(
                f"{self.me} accesses {what} through a NULL-based pointer ({addr:#x}): "
                f"{kasan}the access faults: BUG: kernel NULL pointer dereference, an oops, and it stops."
            )
            self.crash()
        obj = self.heap.get(addr if base is None else base) or self._containing(addr)
        if obj is None or not obj.freed:
            return
        access = "Write" if write else "Read"
        reported = self._reported()
        self.violations.append(
            Violation(
                kind="use-after-free",
                cpu=self.cpu_id,
                step_id=self.step_id,
                object=obj.addr,
                detail=f"{access} of size {size} at {addr:#x}: {what}",
                at=self.index,
                frames=frames,
            )
        )
        if reported:
            self.say(
                f"{self.me} touches {what} at {addr:#x}, but that memory was freed: a use-after-free. KASAN already "
                f"reported the {reported} of this run and prints only one report per boot (no kasan_multi_shot), so "
                f"nothing is printed; the model stops {self.me} here all the same."
            )
        else:
            self.say(
                f"{self.me} touches {what} at {addr:#x}, but that memory was freed: KASAN reports a use-after-free. "
                "(By default KASAN only reports and the kernel carries on; the model stops "
                f"{self.me} here, as kasan.fault=panic or panic_on_warn would.)"
            )
        self.crash()

    def _reported(self: StepContext) -> str | None:
        """The kind of the memory error KASAN already reported in this run, if any: it prints one
        report per boot unless booted with kasan_multi_shot (mm/kasan/report.c report_enabled())."""
        return next((v.kind for v in self.violations if v.kind in MEMORY_ERRORS), None)

    def _containing(self: StepContext, addr: int) -> HeapObject | None:
        for obj in self.heap.values():
            if obj.addr <= addr < obj.addr + obj.size:
                return obj
        return None

    def crash(self: StepContext) -> None:
        self.cpu_state = "crashed"
        self.mark(f"cpu:{self.cpu_id}")
        raise Stop()

    def violate(self: StepContext, kind: str, obj: int | None, detail: str, stop: bool = False) -> None:
        self.violations.append(Violation(kind, self.cpu_id, self.step_id, obj, detail, self.index))
        if stop:
            self.crash()

    def alloc(self: StepContext, kind: str, type_: str, cache: str, size: int, name: str, function: str) -> int:
        free = self.free_lists.setdefault(cache, [])
        reuse = kind != "entry" or self.w0.config.slab_reuse
        if free and reuse:
            addr = free.pop()
        else:
            base, stride = CACHES[cache]
            addr = self.next_addr.get(cache, base)
            self.next_addr[cache] = addr + stride
        self.heap[addr] = HeapObject(
            addr, kind, type_, cache, size, False, name, self.origin(function), None  # type: ignore[arg-type]
        )
        self.allocated.append(addr)
        self.mark(f"heap:{addr:#x}")
        return addr

    def free(self: StepContext, addr: int, function: str) -> None:
        obj = self.heap[addr]
        if obj.freed:
            self.violate("double-free", addr, f"{function} frees {obj.type} {addr:#x} a second time", stop=True)
        self.heap[addr] = evolve(obj, freed=True, free=self.origin(function))
        self.free_lists.setdefault(obj.cache, []).append(addr)
        self.freed.append(addr)
        self.mark(f"heap:{addr:#x}")
        for other in self.w0.cpus:  # narration only: which pointers now dangle
            if other.id == self.cpu_id or other.state == "done":
                continue
            names = [
                f"'{name}'"
                for name, value in other.locals
                if name != "item" and isinstance(value, int) and not isinstance(value, bool) and obj.addr <= value < obj.addr + obj.size
            ]
            if names:
                self.say_after(
                    f"CPU{other.id} still holds a pointer to it in {' and '.join(names)}, and nothing pins it: "
                    "that pointer now dangles."
                )
