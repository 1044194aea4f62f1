"""The per-step narration says what is true of the CPU that runs the step (issue 18, section 3)."""
from __future__ import annotations

from typing import Any

from app.model.api import build_view
from app.model.kernel.engine import enabled, step
from app.model.scenarios.initial import initial_world
from app.model.scenarios.loader import load_all
from app.model.scenarios.replay import replay


def _tour(scenario_id: str, name: str) -> Any:
    return next(t for t in load_all()[scenario_id].tours if t.name == name)


def _events(scenario_id: str, name: str) -> tuple[Any, list[dict[str, Any]]]:
    tour = _tour(scenario_id, name)
    view = build_view(scenario_id, tour.code, tour.schedule)
    return view, view["events"]


def _cpu_of(view: dict[str, Any], actor: str) -> int:
    return next(c["id"] for c in view["cpus"] if c["actor"] == actor)


def test_swapoffs_own_load_is_not_said_to_be_held_off_by_its_own_folio() -> None:
    """uaf-a step 26: swapoff's own zswap_load() takes tree->lock. The CPU named is the one
    running swapoff, and it is not 'kept out' by its own folio."""
    view, events = _events("lru-writeback-vs-swapoff", "uaf-a")
    swapoff = _cpu_of(view, "swapoff")
    (l5,) = [e for e in events if e["step"] == "L5"]
    assert l5["cpu"] == swapoff
    assert "keeps swapoff out" not in l5["narration"]
    assert f"CPU{swapoff} is swapoff itself" in l5["narration"]


def test_a_faults_load_names_both_things_that_hold_swapoff_off() -> None:
    view, events = _events("writeback-vs-swapin-vs-swapoff", "old-fault-first-eexist")
    fault = _cpu_of(view, "swapin")
    (l5,) = [e for e in events if e["step"] == "L5"]
    assert l5["cpu"] == fault
    assert f"CPU{fault}'s locked swap-cache folio and CPU{fault}'s get_swap_device() pin hold swapoff off" in l5["narration"]


def test_put_swap_device_does_not_forget_the_faults_own_pin() -> None:
    """The fault took get_swap_device() in do_swap_page() for the whole fault: after the
    readahead's put_swap_device() that pin still holds swapoff off, not 'only the folio'."""
    view, events = _events("writeback-vs-swapin-vs-swapoff", "old-fault-first-eexist")
    fault = _cpu_of(view, "swapin")
    r9 = next(e for e in events if e["step"] == "R9" and e["cpu"] == fault)
    at = build_view(view["scenario"], view["code"], view["schedule"][: r9["index"] + 1])
    assert fault in at["world"]["swap"]["device_refs"]  # the fault's own pin, still held
    assert "only the folio" not in r9["narration"]
    assert f"CPU{fault}'s get_swap_device() pin" in r9["narration"]


def test_the_io_completion_is_not_said_to_run_in_interrupt_context_unconditionally() -> None:
    _, events = _events("lru-writeback-vs-swapoff", "uaf-b")
    (w1,) = [e for e in events if e["step"] == "W1"]
    assert "(interrupt context)" not in w1["narration"]
    assert "SWP_SYNCHRONOUS_IO" in w1["narration"] and "usually in interrupt context" in w1["narration"]
    for scenario in load_all().values():
        for tour in scenario.tours:
            for seg in tour.segments:
                assert "(interrupt context)" not in seg.note, (scenario.id, tour.name)


def test_o3_says_the_lru_lock_holds_swapoff_off_and_the_model_agrees() -> None:
    """O3's sentence: while CPU1 holds the LRU lock, swapoff cannot free the trees. Run swapoff
    alone from each of O3, O4 (the LRU lock held) and from O5 (dropped): it frees the trees only
    from O5 on."""
    s = load_all()["lru-writeback-vs-swapoff"]
    tour = _tour(s.id, "uaf-a")
    view, events = _events(s.id, "uaf-a")
    swapoff = _cpu_of(view, "swapoff")
    (o3,) = [e for e in events if e["step"] == "O3"]
    assert "LRU lock" in o3["narration"] and "keeps swapoff off" in o3["narration"]
    assert "Nothing pins that array: not the LRU lock" not in o3["narration"]
    for upto, freed in (("O3", False), ("O4", False), ("O5", True)):
        idx = next(e["index"] for e in events if e["step"] == upto)
        world = replay(s, tour.code, tour.schedule[: idx + 1]).world
        while swapoff in enabled(world):
            world = step(world, swapoff)
        trees = next(o for o in world.heap if o.name == "trees")
        assert trees.freed == freed, upto
    assert initial_world(s, tour.code).lru.lock is None


def test_the_exclusive_loads_tour_title_says_what_happens() -> None:
    """The shrinker has dropped its reference (and finished) before the exclusive load frees E."""
    tour = _tour("writeback-vs-swapin-exclusive", "old-swapin-first")
    view, events = _events("writeback-vs-swapin-exclusive", "old-swapin-first")
    shrinker = next(c["id"] for c in view["cpus"] if c["actor"].startswith("writeback"))
    freed_at = next(e["index"] for e in events if any(h["name"] == "E" for h in e["freed"]))
    last_shrinker = max(e["index"] for e in events if e["cpu"] == shrinker)
    assert last_shrinker < freed_at
    assert "under the shrinker's reference" not in tour.title
    assert "drops its reference" in tour.title


def test_a_second_memory_error_is_not_narrated_as_a_kasan_report() -> None:
    """KASAN reports once per boot: after CPU2's null-ptr-deref, CPU1's use-after-free prints nothing."""
    _, events = _events("two-shrinkers-vs-swapoff", "old-relinked-null-deref")
    null, uaf = events[-6], events[-1]
    assert null["step"] == "O6" and "KASAN reports a null-ptr-deref first" in null["narration"]
    assert uaf["step"] == "O18"
    assert "KASAN reports a use-after-free" not in uaf["narration"]
    assert "KASAN already reported the null-deref of this run" in uaf["narration"]
