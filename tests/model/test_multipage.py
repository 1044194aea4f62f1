"""A process owning several swapped pages: one PTE per page, each found by swapoff's
unuse_pte_range() and each cleared by the process's exit (issue 18, part 1)."""
from __future__ import annotations

import pytest

from app.model.explorer.explore import explore
from app.model.kernel.engine import enabled, step
from app.model.scenarios.initial import initial_world
from app.model.scenarios.replay import replay
from app.model.scenarios.scenario import ScenarioFileError, parse_scenario
from app.model.views.view import build_run_view


def _scenario(second_owner: str = "A", actors: tuple[str, ...] = ("writeback", "swapoff", "io"), extra: str = ""):  # type: ignore[no-untyped-def]
    cpus = "".join(f'[[cpus]]\nid = {i}\nactor = "{a}"\n' + (extra if a in ("exit", "swapin") else "")
                   for i, a in enumerate(actors, 1))
    text = f'''
id = "two-pages"
title = "Two swapped pages"
summary = "Process A owns slots 3 and 5."
{cpus}
[world]
slots = [{{ offset = 3, owner = "A" }}, {{ offset = 5, owner = "{second_owner}" }}]
entries = [{{ name = "E", slot = 3 }}, {{ name = "F", slot = 5 }}]
lru = ["E", "F"]
'''
    return parse_scenario(text, "<two-pages>")


def test_each_page_of_a_process_has_its_own_pte() -> None:
    world = initial_world(_scenario(), "old")
    assert [(p.process, p.page, p.offset) for p in world.ptes] == [("A", 0, 3), ("A", 1, 5)]
    names = [p["name"] for p in build_run_view(replay(_scenario(), "old", ""))["world"]["ptes"]]
    assert names == ["process A, page 0", "process A, page 1"]


@pytest.mark.parametrize("second_owner", ["A", "B"])
def test_two_pages_of_one_process_old_code_reaches_the_uaf_at_b883(second_owner: str) -> None:
    """Before: with both slots owned by A, swapoff found one PTE and looped for ever, and the
    explorer said "no violation" with no complete run. Now both owners give the same verdict."""
    result = explore(_scenario(second_owner), "old")
    assert result.complete and result.terminal_states > 0 and result.complete_runs
    sites = {(g.kind, g.step_id) for g in result.groups}
    assert ("use-after-free", "O6") in sites and ("use-after-free", "O18") in sites
    run = replay(_scenario(second_owner), "old", next(g for g in result.groups if g.step_id == "O6").shortest)
    assert any(v.step_id == "O6" for v in run.world.violations)


def test_two_pages_of_one_process_new_code_is_safe_and_finishes() -> None:
    result = explore(_scenario(), "new")
    assert result.complete and result.groups == [] and result.complete_runs


def test_swapoff_unuses_every_pte_of_the_process() -> None:
    scenario = _scenario(actors=("swapoff",))
    world = initial_world(scenario, "old")
    while enabled(world):
        world = step(world, 1)
    assert world.cpu(1).result == "swapoff returned 0"
    assert all(p.offset is None and p.folio is not None for p in world.ptes)
    assert world.swap.inuse_pages == 0 and world.zswap_trees is None


def test_exit_frees_every_page_of_the_process() -> None:
    scenario = _scenario(actors=("exit",), extra='process = "A"\n')
    world = initial_world(scenario, "old")
    while enabled(world):
        world = step(world, 1)
    assert all(p.offset is None for p in world.ptes)
    assert all(s.count == 0 and not s.owner for s in world.swap.slots)
    assert all(world.heap_object(e.addr).freed for e in world.entries)  # type: ignore[union-attr]
    assert world.cpu(1).result == "slot 3: slot freed; slot 5: slot freed"


@pytest.mark.parametrize(("slot", "faulted"), [(None, 3), (5, 5)])
def test_a_fault_touches_the_page_in_the_slot_it_names(slot: int | None, faulted: int) -> None:
    extra = 'process = "A"\n' + (f"slot = {slot}\n" if slot is not None else "")
    scenario = _scenario(actors=("swapin",), extra=extra)
    world = initial_world(scenario, "old")
    while enabled(world):
        world = step(world, 1)
    mapped = {p.page for p in world.ptes if p.folio is not None}
    assert [p.offset for p in world.ptes if p.page in mapped] == [None]
    assert [p.offset for p in world.ptes if p.page not in mapped] == [8 - faulted]


def test_a_fault_on_a_slot_of_another_process_is_refused_by_name() -> None:
    with pytest.raises(ScenarioFileError, match=r"cpus\[0\]\.slot: swapin touches a page of process A; slot 5"):
        _scenario("B", actors=("swapin",), extra='process = "A"\nslot = 5\n')
    with pytest.raises(ScenarioFileError, match=r"cpus\[0\]\.slot: exit takes no slot"):
        _scenario(actors=("exit",), extra='process = "A"\nslot = 3\n')
