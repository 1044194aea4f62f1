"""Challenges (app/model/challenges.py): the shipped ones, their goals checked on the model's
states (never on text), the shortest schedules against the explorer, and bad challenge specs
refused like bad tours."""
from __future__ import annotations

import pytest

from app.model import api, challenges
from app.model.kernel.engine import Blocked, try_step
from app.model.scenarios.loader import SCENARIO_DIR, load_all
from app.model.scenarios.scenario import ScenarioFileError, parse_scenario

SEED = "lru-writeback-vs-swapoff"
ABA = "slot-reuse-same-address"


def tour(scenario_id: str, name: str) -> str:
    return next(t.schedule for t in api.scenario(scenario_id).tours if t.name == name)


def spec_of(scenario_id: str, name: str):
    return challenges.challenge(scenario_id, name)[1]


def test_at_least_five_challenges_across_the_scenarios_all_valid():
    shipped = [(s.id, c) for s in load_all().values() for c in s.challenges]
    assert len(shipped) >= 5 and len({sid for sid, _ in shipped}) >= 2
    assert {c.goal.kind for _, c in shipped} == {"violation", "blocked", "reused-address"}
    assert {"crash-the-old-code", "crash-the-fixed-code", "swapoff-sleeps-on-the-folio",
            "reach-the-aba-case"} <= {c.name for _, c in shipped}


def test_crashing_the_old_code_is_met_at_the_use_after_free_and_its_shortest_is_the_explorers():
    t = tour(SEED, "uaf-a")
    tried = challenges.attempt(SEED, "crash-the-old-code", t)
    assert tried.met_at == len(t) and tried.over
    assert challenges.attempt(SEED, "crash-the-old-code", t[:-1]).met_at is None
    best = challenges.shortest(SEED, "crash-the-old-code")
    explorer = api.check(SEED, "old")
    uaf = min(len(v["shortest"]) for v in explorer["violations"] if v["kind"] == "use-after-free")
    assert best.complete and best.schedule is not None and len(best.schedule) == uaf
    assert any(v.kind == "use-after-free" for v in api.run(SEED, "old", best.schedule).world.violations)


def test_the_fixed_code_cannot_be_crashed_and_the_search_is_complete():
    best = challenges.shortest(SEED, "crash-the-fixed-code")
    assert best.schedule is None and best.complete and best.states > 1000
    assert not any(v["kind"] == "use-after-free" for v in api.check(SEED, "new")["violations"])
    tried = challenges.attempt(SEED, "crash-the-fixed-code", tour(SEED, "fixed-swapoff-sleeps"))
    assert tried.met_at is None and tried.over


def test_swapoff_sleeping_on_the_folio_lock_is_read_from_the_model():
    t = tour(SEED, "fixed-swapoff-sleeps")
    tried = challenges.attempt(SEED, "swapoff-sleeps-on-the-folio", t)
    world = api.run(SEED, "new", t[: tried.met_at]).world
    blocked = try_step(world, 2)
    assert isinstance(blocked, Blocked) and blocked.kind == "sleeping" and blocked.on == "folio-lock"
    assert not challenges.met(spec_of(SEED, "swapoff-sleeps-on-the-folio"),
                              api.run(SEED, "new", t[: tried.met_at - 1]).world, challenges.EMPTY)
    best = challenges.shortest(SEED, "swapoff-sleeps-on-the-folio")
    assert best.schedule is not None and len(best.schedule) <= tried.met_at
    assert challenges.attempt(SEED, "swapoff-sleeps-on-the-folio", best.schedule).met_at == len(best.schedule)
    # Sleeping on the folio's writeback (later in the same tour) is another wait: it does not count.
    spec = spec_of(SEED, "swapoff-sleeps-on-the-folio")
    run = api.run(SEED, "new", t)
    on_writeback = [w for w in run.worlds if w.cpu(2).state == "run" and w.cpu(2).pc is not None
                    and isinstance(r := try_step(w, 2), Blocked) and r.on == "writeback"]
    assert on_writeback and not any(challenges.met(spec, w, challenges.EMPTY) for w in on_writeback)


def test_the_aba_case_needs_the_pointer_held_across_the_free_and_the_reuse():
    t = tour(ABA, "aba-is-fine")
    tried = challenges.attempt(ABA, "reach-the-aba-case", t)
    assert tried.met_at is not None
    run = api.run(ABA, "new", t[: tried.met_at])
    addr = run.world.cpu(1).local("entry")
    obj = run.world.heap_object(addr)
    assert obj is not None and not obj.freed and obj.name == "E2"  # E's address, now the new entry
    assert challenges.attempt(ABA, "reach-the-aba-case", t[: tried.met_at - 1]).met_at is None
    best = challenges.shortest(ABA, "reach-the-aba-case")
    assert best.schedule is not None and challenges.attempt(ABA, "reach-the-aba-case", best.schedule).met_at == len(best.schedule)
    # The store first, then the shrinker: CPU1 picks up E2 itself, which is no ABA.
    assert challenges.attempt(ABA, "reach-the-aba-case", "222222222333333" + "1111111").met_at is None


def test_unknown_challenge_and_bad_schedules_are_model_input_errors():
    with pytest.raises(challenges.UnknownChallenge) as info:
        challenges.attempt(SEED, "nope", "")
    assert "crash-the-old-code" in str(info.value)
    with pytest.raises(api.ScheduleError):
        challenges.attempt(SEED, "crash-the-old-code", "9")
    with pytest.raises(api.UnknownScenario):
        challenges.shortest("nope", "crash-the-old-code")


# A shipped scenario (a shrinker, a process exit, the I/O completion) with challenges appended.
BASE = (SCENARIO_DIR / "writeback-vs-invalidate.toml").read_text()


def challenge(goal: str, code: str = "old", name: str = "c", why: str = "Because.") -> str:
    return f'''
[[challenges]]
name = "{name}"
title = "T"
code = "{code}"
prompt = "Do it."
why = "{why}"
goal = {goal}
'''


def test_a_good_challenge_parses():
    s = parse_scenario(BASE + challenge('{ kind = "blocked", cpu = 2, on = "folio-lock" }'), "good.toml")
    assert s.challenges[0].goal.kind == "blocked"


@pytest.mark.parametrize("text,where", [
    (challenge('{ kind = "violation", violation = "use-after-free" }', code="older"), "challenges[0].code"),
    (challenge('{ kind = "blocked", cpu = 4, on = "folio-lock" }'), "challenges[0].goal.cpu: CPU4 does not exist"),
    (challenge('{ kind = "violation", violation = "crash" }'), "challenges.0.goal.violation"),
    (challenge('{ kind = "win" }'), "challenges.0.goal"),
    (challenge('{ kind = "blocked", cpu = 2, on = "mutex" }'), "challenges.0.goal.blocked.on"),
    (challenge('{ kind = "reused-address", cpu = 1, extra = 1 }'), "challenges.0.goal.reused-address.extra"),
    (challenge('{ kind = "violation", violation = "leak" }', why=""), "challenges.0.why"),
    (challenge('{ kind = "violation", violation = "leak" }') * 2, "two challenges share a name"),
    (challenge('{ kind = "violation", violation = "leak" }', name="Bad Name"), "challenges.0.name"),
])
def test_a_bad_challenge_is_refused_naming_its_field(text, where):
    with pytest.raises(ScenarioFileError) as info:
        parse_scenario(BASE + text, "bad.toml")
    assert str(info.value).startswith("bad.toml: ") and where in str(info.value), str(info.value)


@pytest.mark.parametrize("scenario_id,name", [(s.id, c.name) for s in load_all().values() for c in s.challenges])
def test_every_shipped_challenge_is_searched_to_the_end_and_its_shortest_meets_the_goal(scenario_id, name):
    best = challenges.shortest(scenario_id, name)
    assert best.complete
    if best.schedule is None:
        assert name == "crash-the-fixed-code"  # the one challenge that cannot be won
    else:
        assert challenges.attempt(scenario_id, name, best.schedule).met_at == len(best.schedule)
        assert challenges.attempt(scenario_id, name, best.schedule[:-1]).met_at is None
