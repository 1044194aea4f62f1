"""Spec 4.5 / 6.1 / checklist 14: the exclusive-loads toggle (base default off)."""
from __future__ import annotations

from app.model.scenarios.replay import all_violations
from app.model.scenarios.loader import SCENARIO_DIR
from app.model.scenarios.scenario import parse_scenario


def _seed(exclusive: bool):  # type: ignore[no-untyped-def]
    text = (SCENARIO_DIR / "lru-writeback-vs-swapoff.toml").read_text()
    if exclusive:
        text = text.replace('lru = ["E"]', 'lru = ["E"]\nexclusive_loads = true', 1)
    return parse_scenario(text, "exclusive")


def test_default_is_non_exclusive() -> None:
    assert _seed(False).world.exclusive_loads is False


def _uaf_a(Drv, exclusive: bool):  # type: ignore[no-untyped-def]
    d = Drv(_seed(exclusive), "old")
    d.until(1, "O6")
    d.finish(2)
    entry = d.world.cpu(1).local("entry")
    frees = d.world.heap_object(entry).free
    d.step(1)
    return d, frees


def test_uaf_a_with_exclusive_loads_same_result(Drv) -> None:  # type: ignore[no-untyped-def]
    """Spec 6.1: with exclusive loads, E is freed already by the load (L8/L9); the UAF is the same."""
    d, free = _uaf_a(Drv, True)
    (v,) = all_violations(d.world)
    assert (v.kind, v.step_id) == ("use-after-free", "O6")
    assert d.world.heap_object(v.object).kind == "trees"
    assert free.cpu == 2 and free.step < d.position_of(2, "S3h")  # freed by the swapin's zswap_load, before mapping
    assert "L8" in d.steps_of(2)


def test_uaf_a_non_exclusive_entry_freed_by_the_slot_free(Drv) -> None:  # type: ignore[no-untyped-def]
    d, free = _uaf_a(Drv, False)
    (v,) = all_violations(d.world)
    assert (v.kind, v.step_id) == ("use-after-free", "O6")
    assert free.cpu == 2 and free.step > d.position_of(2, "S3h")  # invalidated when the slot was freed (S3i -> I4)
