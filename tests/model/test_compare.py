"""Two runs compared (app/model/views/compare.py): where they part and what differs, pinned on the
seed's use-after-free schedule under old and new code and on two schedules of one code."""
from __future__ import annotations

from app.model import api
from app.model.views.compare import PANES, compare, facts

SEED = "lru-writeback-vs-swapoff"


def tour(name: str) -> str:
    return next(t["schedule"] for s in api.list_scenarios() if s["id"] == SEED
                for t in s["tours"] if t["name"] == name)


def test_old_and_new_code_part_where_the_fix_reorders_the_writeback():
    t = tour("uaf-a")
    old, new = api.build_view(SEED, "old", t), api.build_view(SEED, "new", t)
    result = compare(old, new)
    part = result["parting"]
    assert part is not None and part["index"] == 4
    assert [e["text"] for e in old["events"][:4]] == [e["text"] for e in new["events"][:4]]
    assert part["a"] == "CPU1 shrink_memcg_cb b:873: swpoffset = swp_offset(entry->swpentry);"
    assert part["b"] == "CPU1 shrink_memcg_cb f:864: list_move_tail(item, &l->list);"
    by = {d["what"]: d for d in result["differences"]}
    assert by["violations"]["a"] == "use-after-free in shrink_memcg_cb b:883" and by["violations"]["b"] == "none"
    assert by["CPU1 status"]["a"].startswith("crashed") and by["CPU1 status"]["b"] == "runnable"
    assert by["CPU1 tree"]["a"].endswith("(dangling)") and by["CPU1 tree"]["b"] == "—"
    assert [d["pane"] for d in result["differences"]] == sorted((d["pane"] for d in result["differences"]),
                                                                 key=PANES.index)
    assert result["by_pane"]["report"] == [by["violations"]]


def test_the_same_run_has_no_parting_and_no_difference():
    t = tour("uaf-a")[:30]
    v = api.build_view(SEED, "old", t)
    assert compare(v, v) == {"parting": None, "differences": [], "by_pane": {p: [] for p in PANES}}


def test_a_prefix_parts_where_it_stops():
    t = tour("fixed-swapoff-sleeps")
    short, full = api.build_view(SEED, "new", t[:25]), api.build_view(SEED, "new", t)
    part = compare(short, full)["parting"]
    assert part is not None and part["index"] == 25 and part["a"] is None
    assert part["b"] is not None and part["b"].startswith(f"CPU{t[25]} ")
    assert compare(full, short)["parting"]["b"] is None


def test_two_schedules_of_one_code_part_at_the_first_different_cpu():
    a, b = api.build_view(SEED, "old", "1112"), api.build_view(SEED, "old", "1121")
    part = compare(a, b)["parting"]
    assert part is not None and part["index"] == 2 and part["a"].startswith("CPU1 ") and part["b"].startswith("CPU2 ")


def test_heap_objects_are_matched_by_name_across_codes():
    t = tour("uaf-a")
    fa, fb = facts(api.build_view(SEED, "old", t)), facts(api.build_view(SEED, "new", t))
    assert "heap.trees" in fa and "heap.trees" in fb
    assert fa["heap.trees"][2] == "freed by CPU2 at step 53" == fb["heap.trees"][2]
