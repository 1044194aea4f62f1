"""The explorer: verdicts per code, shortest counterexamples that replay, and exact k-of-N counts."""
from __future__ import annotations

from collections import Counter

import pytest

from app.model.kernel.engine import Blocked, try_step
from app.model.explorer.explore import explore
from app.model.scenarios.replay import all_violations, replay
from app.model.scenarios.loader import load_all
from app.model.kernel.lines import line_of
from app.model.kernel.state import World

SEED = "lru-writeback-vs-swapoff"


def _groups(result) -> dict[tuple[str, str | None], dict]:  # type: ignore[no-untyped-def]
    return {(v["kind"], v["step_id"]): v for v in result.to_dict()["violations"]}


@pytest.fixture(scope="module")
def seed_old():  # type: ignore[no-untyped-def]
    return explore(load_all()[SEED], "old")


def test_old_code_has_use_after_free_at_b883_and_b893(seed_old) -> None:  # type: ignore[no-untyped-def]
    groups = _groups(seed_old)
    assert ("use-after-free", "O6") in groups
    assert ("use-after-free", "O18") in groups
    assert groups[("use-after-free", "O6")]["line"] == 883
    assert groups[("use-after-free", "O18")]["line"] == 893
    assert groups[("use-after-free", "O6")]["function"] == "shrink_memcg_cb"
    assert seed_old.complete and seed_old.states > 1000


def test_every_counterexample_replays_to_its_violation(seed_old) -> None:  # type: ignore[no-untyped-def]
    scenario = load_all()[SEED]
    for (kind, step_id), group in _groups(seed_old).items():
        run = replay(scenario, "old", group["shortest"])
        found = {(v.kind, v.step_id) for v in all_violations(run.world)}
        assert (kind, step_id) in found
        # the violation happens at the very last step of the shortest schedule
        last = [v for v in run.world.violations if (v.kind, v.step_id) == (kind, step_id)]
        assert last and last[0].at == len(group["shortest"]) - 1


def test_uaf_a_counterexample_frees_the_trees_array_not_the_entry(seed_old) -> None:  # type: ignore[no-untyped-def]
    group = _groups(seed_old)[("use-after-free", "O6")]
    run = replay(load_all()[SEED], "old", group["shortest"])
    violation = next(v for v in run.world.violations if v.step_id == "O6")
    obj = run.world.heap_object(violation.object)
    assert obj is not None and obj.kind == "trees" and obj.free is not None
    assert obj.free.function == "zswap_swapoff"


def test_new_code_has_no_violation_in_the_whole_state_space() -> None:
    result = explore(load_all()[SEED], "new")
    assert result.complete
    assert result.groups == []
    assert result.states > 1000
    assert result.complete_runs and result.complete_runs > 0


@pytest.mark.parametrize(
    ("scenario", "code", "kind", "step_id"),
    [
        (SEED, "new-tree-before-folio", "use-after-free", "V2"),
        ("slot-reuse", "new-no-recheck", "use-after-free", "N11"),
        ("writeback-vs-swapin", "new-no-rotate", "leak", None),
    ],
)
def test_each_break_the_fix_variant_brings_its_bug_back(scenario: str, code: str, kind: str, step_id: str | None) -> None:
    result = explore(load_all()[scenario], code)
    groups = _groups(result)
    assert (kind, step_id) in groups
    assert explore(load_all()[scenario], "new").groups == []
    run = replay(load_all()[scenario], code, groups[(kind, step_id)]["shortest"])
    assert (kind, step_id) in {(v.kind, v.step_id) for v in all_violations(run.world)}


def test_old_code_pointer_check_only_crashes_on_the_tree() -> None:
    """Checklist item 1: the old code never dereferences a freed entry, it only compares it."""
    for scenario in ("writeback-vs-invalidate", "writeback-vs-swapin", "slot-reuse", "slot-reuse-same-address"):
        assert explore(load_all()[scenario], "old").groups == [], scenario


def _enumerate(world: World, path: str, counts: Counter, total: list[int]) -> None:  # type: ignore[type-arg]
    """Brute force: every maximal schedule from ``world``, with no state merging at all."""
    moved = False
    for cpu in world.cpus:
        if cpu.state != "run":
            continue
        result = try_step(world, cpu.id)
        if isinstance(result, Blocked):
            continue
        moved = True
        _enumerate(result.world, path + str(cpu.id), counts, total)
    if not moved:
        total[0] += 1
        for key in {(v.kind, v.step_id) for v in all_violations(world)}:
            counts[key] += 1


@pytest.mark.parametrize(
    ("scenario", "code", "prefix"),
    [
        ("two-shrinkers", "old", ""),
        ("two-shrinkers", "new-no-rotate", ""),
        # From mid-race states, where old code can still crash in several ways.
        (SEED, "old", "11111111" + "2" * 40),
        (SEED, "old", "1" * 30 + "3" + "1" + "2" * 20),  # CPU3: the write I/O completes
        ("writeback-vs-swapin", "new-no-rotate", "2" * 20),
    ],
)
def test_k_of_n_counts_equal_brute_force_enumeration(scenario: str, code: str, prefix: str) -> None:
    s = load_all()[scenario]
    result = explore(s, code, prefix=prefix)
    counts: Counter = Counter()  # type: ignore[type-arg]
    total = [0]
    start = replay(s, code, prefix).world
    _enumerate(start, "", counts, total)
    assert result.complete_runs == total[0]
    assert {g.key: g.count for g in result.groups} == dict(counts)
    assert total[0] > 10  # a real interleaving space, not a single path


def test_a_mid_race_prefix_reaches_violations_for_the_enumeration_test() -> None:
    # Keeps the brute-force test honest: at least one of its prefixes has violations to count.
    s = load_all()[SEED]
    result = explore(s, "old", prefix="11111111" + "2" * 40)
    assert any(g.kind == "use-after-free" for g in result.groups)


def test_state_budget_stops_the_search_and_says_so() -> None:
    result = explore(load_all()[SEED], "old", max_states=100)
    assert not result.complete
    assert result.stopped_reason and "100" in result.stopped_reason
    assert result.states == 100
    assert result.complete_runs is None


def test_a_search_stopped_early_counts_no_group_and_says_why(seed_old) -> None:  # type: ignore[no-untyped-def]
    """Runs are counted over the whole graph: a cut search found its groups but cannot count
    them, so each count is None with the reason, never a 0 that reads as "no schedule"."""
    cut = explore(load_all()[SEED], "old", max_states=3000).to_dict()
    assert not cut["complete"] and cut["violations"]
    for v in cut["violations"]:
        assert v["count"] is None and v["count_unknown"] == "the search stopped after 3,000 states"
    whole = {(v["kind"], v["step_id"]): v for v in seed_old.to_dict()["violations"]}
    assert all(whole[(v["kind"], v["step_id"])]["shortest"] == v["shortest"] for v in cut["violations"])
    assert all(v["count"] > 0 and v["count_unknown"] is None for v in whole.values())


def test_reduction_finds_the_same_violations() -> None:
    s = load_all()[SEED]
    for code in ("old", "new", "new-tree-before-folio"):
        plain = {g.key for g in explore(s, code).groups}
        reduced = {g.key for g in explore(s, code, reduction=True).groups}
        assert plain == reduced, code


def test_line_numbers_in_the_verdict_come_from_the_quoted_source(seed_old) -> None:  # type: ignore[no-untyped-def]
    for group in seed_old.to_dict()["violations"]:
        if group["step_id"]:
            assert group["line"] == line_of(group["step_id"]).line


@pytest.mark.parametrize(
    ("scenario", "code"),
    [(SEED, "old"), (SEED, "new"), ("slot-reuse-same-address", "old"), ("writeback-vs-swapin", "new-no-rotate")],
)
def test_the_transition_memo_changes_nothing_but_speed(scenario: str, code: str) -> None:
    s = load_all()[scenario]
    fast, slow = explore(s, code), explore(s, code, memo=False)
    assert (fast.states, fast.transitions, fast.depth, fast.complete_runs, fast.terminal_states) == (
        slow.states,
        slow.transitions,
        slow.depth,
        slow.complete_runs,
        slow.terminal_states,
    )
    assert [(g.key, g.count) for g in fast.groups] == [(g.key, g.count) for g in slow.groups]
    assert fast.to_dict()["violations"] == slow.to_dict()["violations"]


@pytest.mark.parametrize(("tour", "step_id"), [("uaf-a", "O6"), ("uaf-b", "O18")])
def test_the_uaf_tours_are_a_shortest_path_plus_swapoffs_last_step(seed_old, tour: str, step_id: str) -> None:  # type: ignore[no-untyped-def]
    """The tours let swapoff finish (vfree(swap_map)) before CPU1 resumes: one step more than
    the explorer's shortest schedule, which stops right after kvfree(trees)."""
    schedule = next(t for t in load_all()[SEED].tours if t.name == tour).schedule
    shortest = _groups(seed_old)[("use-after-free", step_id)]["shortest"]
    assert len(schedule) == len(shortest) + 1
