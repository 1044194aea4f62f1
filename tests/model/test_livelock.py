"""Liveness: states from which no run can end are a verdict of their own ("livelock"), never
"no violation" (issue 18, part 1).

The livelocking world: swapoff alone, its one slot still counted in the swap map (count 1) while
no page table refers to it, and a clean folio for it in the swap cache. try_to_unuse() finds no
PTE, its sweep locks the folio, folio_free_swap() keeps it (the slot is still referenced), and
inuse_pages stays 1: "goto retry" for ever, as the kernel itself would loop on a swap count
nobody drops (no scenario file can build this world now that every swapped page has its PTE, so
the test builds it). How this differs from the "deadlock" kind: a deadlock is a final state, one
in which no CPU can move although some have not finished; here a CPU always can move, and
every run from here goes round the same cycle, so there is no final state at all.
"""
from __future__ import annotations

import json

import pytest

from app.model.explorer import explore as explore_module
from app.model.explorer.explore import check_command, explore
from app.model.kernel.engine import step
from app.model.kernel.state import Folio, World, evolve
from app.model.scenarios.initial import initial_world
from app.model.scenarios.loader import load_all
from app.model.scenarios.scenario import parse_scenario

GHOST = parse_scenario('''
id = "ghost-count"
title = "A swap count no page table holds"
summary = "swapoff alone"
[[cpus]]
id = 1
actor = "swapoff"
[[cpus]]
id = 2
actor = "io"
[world]
slots = [{ offset = 3, owner = "A" }]
entries = []
lru = []
''', "<ghost>")


def ghost_world(scenario=GHOST, code: str = "old") -> World:  # type: ignore[no-untyped-def]
    world = initial_world(scenario, code)
    folio = Folio(0xFFFFEA0000100000, 3, True, None, True, False, "page A#1", 1)
    return evolve(world, ptes=(), folios=(folio,), part_hashes=())


@pytest.fixture()
def ghost(monkeypatch: pytest.MonkeyPatch) -> World:
    world = ghost_world()
    monkeypatch.setattr(explore_module, "initial_world", lambda scenario, code: world)
    monkeypatch.setattr(explore_module, "load_one", lambda sid: GHOST if sid == GHOST.id else None)
    return world


@pytest.mark.parametrize("reduction", [False, True])
def test_a_cycle_no_run_leaves_is_a_livelock_at_try_to_unuse(ghost: World, reduction: bool) -> None:
    result = explore(GHOST, "old", reduction=reduction)
    assert result.complete and result.terminal_states == 0 and result.complete_runs is None
    (group,) = result.groups
    assert (group.kind, group.step_id) == ("livelock", "S3l")
    out = result.to_dict()
    (v,) = out["violations"]
    assert v["function"] == "try_to_unuse"
    assert v["detail"].startswith("swapoff never finishes: CPU1 loops in try_to_unuse()")
    assert v["count"] == out["livelock_states"] == result.states  # no state of this search can end
    # The shortest schedule leads into the cycle: from where it ends, swapoff comes back to the
    # same world without finishing.
    world = ghost
    for digit in v["shortest"]:
        world = step(world, int(digit))
    seen = {world}
    for _ in range(100):
        world = step(world, 1)
        assert world.cpu(1).state == "run"
        if world in seen:
            break
        seen.add(world)
    else:
        pytest.fail("swapoff did not come back to a world it had been in")


def test_a_search_cut_by_its_budget_is_not_a_livelock(ghost: World) -> None:
    result = explore(GHOST, "old", max_states=5)
    assert not result.complete and result.groups == [] and result.to_dict()["livelock_states"] == 0


def test_check_prints_the_livelock_and_exits_1(ghost: World, capsys: pytest.CaptureFixture[str]) -> None:
    assert check_command(GHOST.id, "old", False, False, 1000) == 1
    out = capsys.readouterr().out
    assert "no violation" not in out
    assert "livelock at try_to_unuse" in out and "swapoff never finishes" in out
    assert check_command(GHOST.id, "old", False, True, 1000) == 1
    body = json.loads(capsys.readouterr().out)
    assert [v["kind"] for v in body["violations"]] == ["livelock"] and body["complete_runs"] is None


def test_a_final_state_where_a_cpu_cannot_move_stays_a_deadlock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same ghost count without a folio: try_to_unuse() has nothing left to try, which the
    model folds into a wait (S3l blocks): a final state with swapoff unfinished, a deadlock."""
    world = evolve(ghost_world(), folios=(), part_hashes=())
    monkeypatch.setattr(explore_module, "initial_world", lambda scenario, code: world)
    result = explore(GHOST, "old")
    assert [g.kind for g in result.groups] == ["deadlock"] and result.terminal_states == 1


# Every shipped scenario but the two scaled ones of issue 23 (10-30 s each here; bench_explore.py runs them).
SHIPPED = sorted(set(load_all()) - {"two-entries-two-shrinkers-vs-swapoff", "three-shrinkers-vs-swapoff"})


@pytest.mark.parametrize("scenario_id", SHIPPED)
@pytest.mark.parametrize("code", ["old", "new"])
def test_every_no_violation_verdict_of_a_shipped_scenario_has_complete_runs(scenario_id: str, code: str) -> None:
    """The property the issue asks for, over every shipped scenario: a search that finds no
    violation has final states and complete runs (and, whatever it finds, no livelock)."""
    scenario = load_all()[scenario_id]
    result = explore(scenario, code, reduction=explore_module.reduced(scenario))
    assert result.complete
    assert "livelock" not in {g.kind for g in result.groups}
    if not result.groups:
        assert result.terminal_states > 0 and result.complete_runs
