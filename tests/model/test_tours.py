"""Every tour of every scenario replays, runs to the end, and narrates every step."""
from __future__ import annotations

import pytest

from app.model.engine import enabled
from app.model.replay import all_violations, replay
from app.model.scenario import all_codes, load_all

TOURS = [(s.id, t.name) for s in load_all().values() for t in s.tours]

# What each shipped tour is for: the kinds of violation it must end with (empty: none).
EXPECTED = {
    ("lru-writeback-vs-swapoff", "uaf-a"): ["use-after-free"],
    ("lru-writeback-vs-swapoff", "uaf-b"): ["use-after-free"],
    ("lru-writeback-vs-swapoff", "fixed-swapoff-sleeps"): [],
    ("lru-writeback-vs-swapoff", "fixed-enomem"): [],
    ("lru-writeback-vs-swapoff", "variant-tree-before-folio"): ["use-after-free"],
    ("slot-reuse-same-address", "aba-is-fine"): [],
    ("slot-reuse", "new-recheck"): [],
    ("slot-reuse", "old-recheck"): [],
    ("slot-reuse", "variant-no-recheck"): ["use-after-free"],
    ("two-shrinkers", "old-isolated"): [],
    ("two-shrinkers", "new-loser-eexist"): [],
    ("writeback-vs-invalidate", "old-skips"): [],
    ("writeback-vs-invalidate", "new-enomem"): [],
    ("writeback-vs-swapin", "old-swapin-first"): [],
    ("writeback-vs-swapin", "new-writeback-first"): [],
    ("writeback-vs-swapin", "variant-no-rotate-leaks"): ["leak"],
}


def test_the_required_scenarios_and_tours_ship() -> None:
    ids = set(load_all())
    assert {
        "lru-writeback-vs-swapoff",
        "writeback-vs-invalidate",
        "writeback-vs-swapin",
        "two-shrinkers",
        "slot-reuse",
        "slot-reuse-same-address",
    } <= ids
    seed = {t.name: t.code for t in load_all()["lru-writeback-vs-swapoff"].tours}
    assert seed["uaf-a"] == "old" and seed["uaf-b"] == "old" and seed["fixed-swapoff-sleeps"] == "new"


def test_the_pinned_tours_ship() -> None:
    assert set(EXPECTED) <= set(TOURS)


@pytest.mark.parametrize("scenario_id,name", TOURS)
def test_tour_replays_to_the_end(scenario_id: str, name: str) -> None:
    s = load_all()[scenario_id]
    t = next(t for t in s.tours if t.name == name)
    assert t.code in all_codes()
    assert len(t.steps) == len(t.schedule) > 0
    assert all(note.strip() for note in t.steps)
    run = replay(s, t.code, t.schedule)
    assert len(run.worlds) == len(t.schedule) + 1
    assert len(run.steps) == len(t.schedule)
    assert enabled(run.world) == [], "a tour should end where nothing can move"
    if (scenario_id, name) in EXPECTED:
        assert sorted(v.kind for v in all_violations(run.world)) == EXPECTED[scenario_id, name]
    for cpu, _, result in run.steps:
        assert result.narration, f"a step of CPU{cpu} has no narration"


@pytest.mark.parametrize("scenario_id", sorted(load_all()))
@pytest.mark.parametrize("code", ["old", "new"])
def test_every_scenario_runs_under_both_codes(scenario_id: str, code: str) -> None:
    """Round-robin until nothing can move: both codes are runnable on every scenario."""
    s = load_all()[scenario_id]
    from app.model.initial import initial_world
    from app.model.engine import step

    w = initial_world(s, code)
    schedule = ""
    while en := enabled(w):
        cpu = en[len(schedule) % len(en)]
        w = step(w, cpu)
        schedule += str(cpu)
        assert len(schedule) <= 500
    assert replay(s, code, schedule).world == w


def test_program_ticks_land_under_the_caller_that_ran_the_helper() -> None:
    """The exit actor lists zswap_invalidate under both of its callers (X2 and X3); a run through
    X2 ticks only the block under X2, and the crash line of uaf-a is marked exactly once."""
    from app.model.api import build_view

    view = build_view("slot-reuse", "new", "1111111" + "222222222")
    program = view["cpus"][1]["program"]
    blocks = [i for i, line in enumerate(program) if line["step"] == "I1"]
    assert len(blocks) == 2
    assert program[blocks[0]]["executed"] and not program[blocks[1]]["executed"]
    uaf = next(t for t in load_all()["lru-writeback-vs-swapoff"].tours if t.name == "uaf-a")
    cpu1 = build_view("lru-writeback-vs-swapoff", "old", uaf.schedule)["cpus"][0]["program"]
    assert [line["step"] for line in cpu1 if line["is_crash"]] == ["O6"]
    assert [line["line"] for line in cpu1 if line["is_crash"]] == [883]


def test_step_over_runs_until_the_current_kernel_function_returns() -> None:
    """From O6 (shrink_memcg_cb) it runs through zswap_writeback_entry, a plain C call, and stops
    when shrink_memcg_cb returns to the walker (K4); from O11 it stops back in shrink_memcg_cb (O18)."""
    from app.model.api import build_view

    seed = "lru-writeback-vs-swapoff"
    at_o6 = build_view(seed, "old", "1" * 8)["cpus"][0]
    after = build_view(seed, "old", "1" * 8 + at_o6["step_over"])["cpus"][0]
    assert at_o6["next"]["step"] == "O6" and after["next"]["step"] == "K4"
    at_o11 = build_view(seed, "old", "1" * 12)["cpus"][0]
    after = build_view(seed, "old", "1" * 12 + at_o11["step_over"])["cpus"][0]
    assert at_o11["next"]["step"] == "O11" and after["next"]["step"] == "O18"
    assert len(at_o11["step_over"]) < len(at_o11["run_until_blocked"])
