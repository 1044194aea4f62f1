"""Bad schedules: a ScheduleError naming the 0-based position and the reason; valid_prefix replays."""
from __future__ import annotations

import pytest

from app.model import api
from app.model.scenarios.replay import MAX_STEPS, ScheduleError, check_syntax, replay
from app.model.scenarios.loader import load_all

SEED = "lru-writeback-vs-swapoff"


def _seed():  # type: ignore[no-untyped-def]
    return load_all()[SEED]


def _tour(name: str) -> str:
    return next(t for t in _seed().tours if t.name == name).schedule


def _error(schedule: str, code: str = "old") -> ScheduleError:
    with pytest.raises(ScheduleError) as info:
        replay(_seed(), code, schedule)
    err = info.value
    assert str(err).startswith(f"position {err.position}:")
    assert err.reason and err.reason in str(err)
    return err


def _prefix_is_longest_valid(err: ScheduleError, schedule: str, code: str = "old") -> None:
    assert err.valid_prefix == schedule[: err.position]
    replay(_seed(), code, err.valid_prefix)  # does not raise
    with pytest.raises(ScheduleError):
        replay(_seed(), code, schedule[: err.position + 1])


def test_empty_schedule_is_the_initial_world() -> None:
    run = replay(_seed(), "old", "")
    assert len(run.worlds) == 1 and run.steps == ()


@pytest.mark.parametrize(
    "schedule,position,words",
    [
        ("11a2", 2, ["'a'", "not a CPU number"]),
        ("a", 0, ["not a CPU number"]),
        ("111 1", 3, ["not a CPU number"]),
        ("11-1", 2, ["not a CPU number"]),
        ("1\u0661", 1, ["not a CPU number"]),  # ARABIC-INDIC DIGIT ONE is a digit, but not ours
        ("1\u00b2", 1, ["not a CPU number"]),  # superscript two
        ("0", 0, ["no CPU0"]),
        ("110", 2, ["no CPU0"]),
        ("9", 0, ["no CPU9"]),
        ("14", 1, ["no CPU4"]),  # the seed has two CPUs and the I/O completion (CPU3)
    ],
)
def test_syntax_errors(schedule: str, position: int, words: list[str]) -> None:
    err = _error(schedule)
    assert err.position == position
    for w in words:
        assert w in err.reason
    _prefix_is_longest_valid(err, schedule)


def test_check_syntax_alone() -> None:
    check_syntax("1212", 2)
    with pytest.raises(ScheduleError) as info:
        check_syntax("1213", 2)
    assert info.value.position == 3


def test_blocked_cpu_names_position_and_why() -> None:
    sleeps = _tour("fixed-swapoff-sleeps")
    # Find the first prefix at which CPU2 is asleep on CPU1's folio, then try to step CPU2.
    from app.model.kernel.engine import enabled

    run = replay(_seed(), "new", sleeps)
    k = next(i for i, w in enumerate(run.worlds) if w.cpu(2).pc == "S3f" and 2 not in enabled(w))
    bad = sleeps[:k] + "2" + sleeps[k:]
    err = _error(bad, "new")
    assert err.position == k
    assert "CPU2" in err.reason and "sleeping in folio_lock" in err.reason and "CPU1" in err.reason
    _prefix_is_longest_valid(err, bad, "new")


def test_spinning_cpu_is_blocked_too() -> None:
    # Two shrinkers: CPU1 holds the LRU lock after K1, so CPU2 spins at K1.
    s = load_all()["two-shrinkers"]
    with pytest.raises(ScheduleError) as info:
        replay(s, "new", "12")
    assert info.value.position == 1
    assert "waiting for" in info.value.reason and "LRU lock" in info.value.reason and "CPU1" in info.value.reason
    assert info.value.valid_prefix == "1"


def test_finished_cpu() -> None:
    uaf_a = _tour("uaf-a")
    bad = uaf_a + "2"  # swapoff already returned
    err = _error(bad)
    assert err.position == len(uaf_a)
    assert "CPU2" in err.reason and "finished" in err.reason
    _prefix_is_longest_valid(err, bad)


def test_crashed_cpu() -> None:
    uaf_a = _tour("uaf-a")
    bad = uaf_a + "1"  # CPU1 crashed at O6
    err = _error(bad)
    assert err.position == len(uaf_a)
    assert "CPU1" in err.reason and "crashed" in err.reason
    _prefix_is_longest_valid(err, bad)


def test_errors_after_a_valid_stretch_report_the_first_bad_position() -> None:
    uaf_a = _tour("uaf-a")
    bad = uaf_a + "1" + "x"  # position len(uaf_a): CPU1 has crashed; one later: a letter
    err = _error(bad)
    assert err.position == len(uaf_a)  # the crash, not the later letter
    replay(_seed(), "old", err.valid_prefix)


def _long_scenario(slots: int = 18):  # type: ignore[no-untyped-def]
    """A generated scenario whose runs exceed MAX_STEPS: swapoff over many slots."""
    from app.model.scenarios.scenario import parse_scenario

    text = "\n".join(
        [
            'id = "long"',
            'title = "long"',
            'summary = "many slots"',
            "[[cpus]]",
            "id = 1",
            'actor = "writeback"',
            "[[cpus]]",
            "id = 2",
            'actor = "swapoff"',
            "[world]",
            "slots = [" + ", ".join(f'{{ offset = {i}, owner = "P{i}" }}' for i in range(slots)) + "]",
            "entries = [" + ", ".join(f'{{ name = "E{i}", slot = {i} }}' for i in range(slots)) + "]",
            "lru = [" + ", ".join(f'"E{i}"' for i in range(slots)) + "]",
        ]
    )
    return parse_scenario(text, "<long>")


def _long_schedule(scenario, n: int) -> str:  # type: ignore[no-untyped-def]
    from app.model.kernel.engine import enabled, step
    from app.model.scenarios.initial import initial_world

    w = initial_world(scenario, "new")
    out = ""
    while len(out) < n and (en := enabled(w)):
        cpu = en[-1]  # swapoff first: the longest runs
        w = step(w, cpu)
        out += str(cpu)
    return out


def test_too_long() -> None:
    assert MAX_STEPS == 500
    s = _long_scenario()
    schedule = _long_schedule(s, MAX_STEPS + 1)
    assert len(schedule) == MAX_STEPS + 1
    replay(s, "new", schedule[:MAX_STEPS])  # 500 steps are fine
    with pytest.raises(ScheduleError) as info:
        replay(s, "new", schedule)
    err = info.value
    assert err.position == MAX_STEPS
    assert "501" in err.reason and "500" in err.reason
    assert err.valid_prefix == schedule[:MAX_STEPS]


def test_too_long_reports_an_earlier_error_first() -> None:
    bad = "1" * (MAX_STEPS + 1)  # CPU1 finishes after a few dozen steps
    err = _error(bad)
    assert err.position < MAX_STEPS and "finished" in err.reason
    _prefix_is_longest_valid(err, bad)


def test_too_long_valid_prefix_replays() -> None:
    """Was a model bug (valid_prefix = schedule[:500] without replaying it), fixed in 30cd2ee."""
    for bad in ("1" * (MAX_STEPS + 1), "x" * (MAX_STEPS + 1), "12" * 300):
        with pytest.raises(ScheduleError) as info:
            replay(_seed(), "old", bad)
        replay(_seed(), "old", info.value.valid_prefix)


def test_api_wraps_schedule_errors_as_model_input_errors() -> None:
    with pytest.raises(api.ScheduleError) as info:
        api.build_view(SEED, "old", "11a")
    assert isinstance(info.value, api.ModelInputError)
    assert info.value.position == 2 and info.value.valid_prefix == "11"
    assert "position 2" in info.value.message
    with pytest.raises(api.UnknownScenario) as info2:
        api.build_view("no-such-scenario", "old", "")
    assert "no-such-scenario" in info2.value.message and SEED in info2.value.message
    with pytest.raises(api.UnknownCode) as info3:
        api.build_view(SEED, "ancient", "")
    assert "'ancient'" in info3.value.message and "old" in info3.value.message
