"""The stage's "changed" marks come from what a step wrote (app/model/views/changes.py)."""
from __future__ import annotations

from app.model import api

SEED = "lru-writeback-vs-swapoff"


def _uaf_a() -> str:
    scenario = next(s for s in api.list_scenarios() if s["id"] == SEED)
    return next(t["schedule"] for t in scenario["tours"] if t["name"] == "uaf-a")


def _changes_after(step_id: str, cpu: int) -> tuple[dict, dict]:
    t = _uaf_a()
    full = api.build_view(SEED, "old", t)
    k = next(e["index"] for e in full["events"] if e["step"] == step_id and e["cpu"] == cpu)
    view = api.build_view(SEED, "old", t[: k + 1])
    return view["changes"], view


def test_kvfree_of_the_trees_array_changes_the_tree_its_lock_and_the_pointer():
    changes, view = _changes_after("S8", 2)
    trees = next(o["addr"] for o in view["world"]["heap"] if o["name"] == "trees")
    tree = view["world"]["trees"][0]["addr"]
    assert changes["heap"] == [f"heap:{trees}"]
    assert set(changes["tree"]) == {f"tree:{tree}", "zswap_trees"}
    assert changes["locks"] == [f"lock:tree:{tree}"]
    assert "lru" not in changes and "swapcache" not in changes


def test_taking_the_lru_lock_changes_the_lru_and_its_lock_row_only():
    changes, _ = _changes_after("K1", 1)
    assert changes == {"lru": [""], "locks": ["lock:lru"]}


def test_a_step_that_writes_only_its_own_cpu_changes_no_pane():
    changes, view = _changes_after("O2", 1)  # swpoffset = swp_offset(...): a local
    assert view["changed"] == ["cpu:1"] and changes == {}


def test_lock_rows_in_the_view_carry_the_keys_the_changes_use():
    changes, view = _changes_after("L5", 2)  # zswap_load takes tree->lock
    keys = {lock["key"] for lock in view["world"]["locks"]}
    assert set(changes["locks"]) <= keys and changes["locks"]
