"""__reenable_swap_slots_cache() sets swap_slot_cache_enabled = has_usable_swap(): after swapoff of
the only swap device the per-cpu slot caches stay disabled (issue 18)."""
from __future__ import annotations

from app.model.scenarios.loader import load_all
from app.model.scenarios.replay import replay


def _tour(scenario: str, name: str):  # type: ignore[no-untyped-def]
    return next(t for t in load_all()[scenario].tours if t.name == name)


def test_after_swapoff_of_the_only_device_the_slot_cache_stays_disabled() -> None:
    tour = _tour("lru-writeback-vs-swapoff", "uaf-a")
    run = replay(load_all()["lru-writeback-vs-swapoff"], tour.code, tour.schedule)
    swapoff = next(c for c in run.world.cpus if c.actor == "swapoff")
    assert swapoff.pc is None or swapoff.pc in ("S5", "S5b", "S5c", "S6", "S8", "S9")  # past S4
    assert not run.world.swap.writeok
    assert run.world.swap.slot_cache_enabled is False
    # ... and S4 is the step that left it so: every world from S2 on has it off.
    s4 = next(i for i, (cpu, step_id, _) in enumerate(run.steps) if step_id == "S4")
    assert not any(w.swap.slot_cache_enabled for w in run.worlds[s4 + 1:])
