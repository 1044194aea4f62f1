"""The write I/O completion as its own schedulable pseudo-CPU (issue 8).

end_swap_bio_write() -> folio_end_writeback() runs later (the model's device has no SWP_SYNCHRONOUS_IO),
usually in interrupt context, independently
of the CPU that submitted the write: the submitter can return from zswap_writeback_entry()
while its folio is still under writeback, and swapoff sleeps in folio_wait_writeback() until
the completion runs.
"""
from __future__ import annotations

import pytest

from app.model.api import build_view
from app.model.kernel.engine import Blocked, enabled, try_step
from app.model.explorer.explore import explore
from app.model.scenarios.replay import all_violations
from app.model.scenarios.loader import load_all

SEED = "lru-writeback-vs-swapoff"

# The verdicts before the completion became its own CPU: (kind, step id) per scenario and code,
# for the two-CPU scenarios (the three-CPU ones are checked by `python -m app check --all`).
VERDICTS = {
    ("lru-writeback-vs-swapoff", "old"): {("use-after-free", "O6"), ("use-after-free", "O7"),
                                          ("use-after-free", "O18"), ("use-after-free", "O22")},
    ("lru-writeback-vs-swapoff", "new-tree-before-folio"): {("null-deref", "V2"), ("use-after-free", "V2"),
                                                            ("use-after-free", "V3")},
    ("slot-reuse", "new-no-rotate"): {("leak", None)},
    ("slot-reuse", "new-no-recheck"): {("use-after-free", "N11")},
    ("slot-reuse-same-address", "new-no-rotate"): {("leak", None)},
    ("slot-reuse-same-address", "new-no-recheck"): {("use-after-free", "N11")},
    ("writeback-vs-swapin", "new-no-rotate"): {("leak", None)},
}
SMALL = ["lru-writeback-vs-swapoff", "slot-reuse", "slot-reuse-same-address", "two-shrinkers",
         "writeback-vs-invalidate", "writeback-vs-swapin", "writeback-vs-swapin-exclusive"]
CODES = ["old", "new", "new-no-rotate", "new-tree-before-folio", "new-no-recheck"]


def test_every_scenario_declares_the_completion_as_its_last_cpu() -> None:
    for s in load_all().values():
        assert s.cpus[-1].actor == "io", s.id
        assert [c.actor for c in s.cpus].count("io") == 1


def test_the_completion_is_idle_with_nothing_in_flight(Drv) -> None:  # type: ignore[no-untyped-def]
    d = Drv.of(SEED, "new")
    r = try_step(d.world, 3)
    assert isinstance(r, Blocked) and r.kind == "idle" and "no write I/O in flight" in r.text
    view = build_view(SEED, "new", "")
    io = next(c for c in view["cpus"] if c["id"] == 3)
    assert (io["actor"], io["status"], io["status_text"]) == ("io", "idle", "idle: no write I/O in flight")
    assert io["actor_title"].startswith("I/O completion")
    assert view["lanes"]["cpus"] == [1, 2, 3]


def test_the_submitter_returns_while_the_write_is_in_flight(Drv) -> None:  # type: ignore[no-untyped-def]
    d = Drv.of(SEED, "new")
    d.through(1, "N20")  # __swap_writepage(): writeback started, folio unlocked
    folio = d.world.cpu(1).local("folio")
    assert d.world.folio(folio).writeback
    assert 3 in enabled(d.world)
    d.run(1)  # CPU1 finishes zswap_writeback_entry() and the walk
    assert d.world.cpu(1).state == "done" and "written back" in (d.world.cpu(1).result or "")
    assert d.world.folio(folio).writeback  # still in flight
    d.step(3)
    assert not d.world.folio(folio).writeback
    assert d.executed[-1] == (3, "W1")
    assert 3 not in enabled(d.world)  # idle again
    d.finish(2)
    assert all_violations(d.world) == []
    assert not enabled(d.world)  # an idle completion is not a deadlock
    d.check_replay()


def test_swapoff_sleeps_on_the_write_until_the_completion_runs(Drv) -> None:  # type: ignore[no-untyped-def]
    d = Drv.of(SEED, "new")
    d.through(1, "N20")
    d.run(1)
    d.run(2)  # swapoff locks the folio, then sleeps in folio_wait_writeback()
    r = d.blocked(2)
    assert r is not None and r.kind == "sleeping" and "folio_wait_writeback" in r.text
    assert enabled(d.world) == [3]
    d.step(3)
    assert 2 in enabled(d.world)


@pytest.mark.parametrize("scenario", SMALL)
def test_two_cpu_verdicts_are_unchanged(scenario: str) -> None:
    s = load_all()[scenario]
    for code in CODES:
        ex = explore(s, code)
        assert ex.complete
        assert {g.key for g in ex.groups} == VERDICTS.get((scenario, code), set()), code
