"""Hypothesis stateful testing: random interleavings, with the kernel's structural invariants
checked after every single step (and, under the fixed code, no violation ever)."""
from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from app.model.kernel.engine import enabled, step
from app.model.scenarios.initial import initial_world
from app.model.scenarios.loader import load_all
from app.model.kernel.state import World

SCENARIOS = sorted(load_all())


class Interleavings(RuleBasedStateMachine):
    world: World
    code: str

    @initialize(scenario=st.sampled_from(SCENARIOS), code=st.sampled_from(["old", "new"]))
    def start(self, scenario: str, code: str) -> None:
        self.code = code
        self.world = initial_world(load_all()[scenario], code)

    @precondition(lambda self: bool(enabled(self.world)))
    @rule(data=st.data())
    def step_a_cpu(self, data: st.DataObject) -> None:
        cpu = data.draw(st.sampled_from(enabled(self.world)), label="cpu")
        self.world = step(self.world, cpu)

    @precondition(lambda self: not enabled(self.world))
    @rule(scenario=st.sampled_from(SCENARIOS), code=st.sampled_from(["old", "new"]))
    def the_run_is_over_start_another(self, scenario: str, code: str) -> None:
        self.start(scenario, code)

    @invariant()
    def swap_counts_are_never_negative(self) -> None:
        assert self.world.swap.inuse_pages >= 0
        assert all(slot.count >= 0 for slot in self.world.swap.slots)

    @invariant()
    def lru_links_agree_with_the_entries(self) -> None:
        order = self.world.lru.order
        assert len(order) == len(set(order))
        for entry in self.world.entries:
            assert entry.on_lru == (entry.addr in order)

    @invariant()
    def nothing_freed_is_still_linked(self) -> None:
        w = self.world
        for addr in w.lru.order:
            assert not w.heap_object(addr).freed, "a freed entry on the LRU"
        for tree in w.trees:
            if not w.heap_object(tree.array).freed:
                for _, addr in tree.rb:
                    assert not w.heap_object(addr).freed, "a freed entry in a live tree"
                    assert w.entry(addr).in_tree

    @invariant()
    def locks_are_held_by_cpus_that_can_still_release_them(self) -> None:
        w = self.world
        holders = [w.lru.lock] + [t.lock for t in w.trees] + [f.locked_by for f in w.folios]
        for cpu in (h for h in holders if h is not None):
            assert w.cpu(cpu).state in ("run", "crashed"), f"CPU{cpu} finished holding a lock"

    @invariant()
    def the_fixed_code_never_goes_wrong(self) -> None:
        if self.code == "new":
            assert self.world.violations == (), self.world.violations


Interleavings.TestCase.settings = settings(max_examples=150, stateful_step_count=120, deadline=None)
TestInterleavings = Interleavings.TestCase
