"""Same-filled entries (length 0): never on the LRU, and zswap_load() relinks only
`else if (entry->length)` (checklist point 9; issue 18)."""
from __future__ import annotations

import pytest

from app.model.scenarios.loader import load_all
from app.model.scenarios.scenario import ScenarioFileError, parse_scenario

SID = "same-filled-vs-swapoff"


def _addr(world, name: str) -> int:  # type: ignore[no-untyped-def]
    return next(o.addr for o in world.heap if o.name == name)


def test_the_same_filled_entry_has_length_0_and_is_on_no_lru(Drv) -> None:  # type: ignore[no-untyped-def]
    d = Drv.of(SID, "old")
    s, e = d.world.entry(_addr(d.world, "S")), d.world.entry(_addr(d.world, "E"))
    assert s.length == 0 and not s.on_lru and s.in_tree
    assert e.length > 0 and e.on_lru


def test_zswap_load_relinks_the_compressed_entry_but_not_the_same_filled_one(Drv) -> None:  # type: ignore[no-untyped-def]
    """CPU1 isolates E and is preempted; swapoff loads both pages: E goes back on the LRU (the
    non-exclusive relink), S does not."""
    d = Drv.of(SID, "old").through(1, "O5")
    s_addr, e_addr = _addr(d.world, "S"), _addr(d.world, "E")
    assert not d.world.entry(e_addr).on_lru  # isolated
    relinked: dict[int, bool] = {}
    while d.world.cpu(2).pc not in ("S3k", None):
        if d.pc(2) == "L8":
            loading = d.world.cpu(2).local("load_entry")
            d.step(2)
            relinked[loading] = d.world.entry(loading).on_lru  # type: ignore[arg-type,union-attr]
        else:
            d.step(2)
    assert relinked == {e_addr: True, s_addr: False}
    d.check_replay()


def test_the_explorer_finds_the_seed_race_and_no_leak() -> None:
    from app.model.explorer.explore import explore

    old, new = explore(load_all()[SID], "old"), explore(load_all()[SID], "new")
    assert ("use-after-free", "O6") in {(g.kind, g.step_id) for g in old.groups}
    assert new.groups == [] and new.complete_runs


def test_a_same_filled_entry_on_the_lru_is_refused_by_name() -> None:
    text = load_all()[SID].source.replace('lru = ["E"]', 'lru = ["E", "S"]')
    with pytest.raises(ScenarioFileError, match=r"world\.lru\[1\]: entry 'S' is same-filled \(length 0\)"):
        parse_scenario(text, "<bad>")
