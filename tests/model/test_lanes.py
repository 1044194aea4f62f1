"""The lane diagram (app/model/views/lanes.py) and the per-step facts it is built from (Event fields)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from app.model.api import ScheduleError, build_view, list_scenarios
from app.model.views.lanes import MIN_BLOCK, lane_rows, writes_race_state

ROOT = Path(__file__).resolve().parents[2]
SEED = "lru-writeback-vs-swapoff"


def tour_schedule(scenario: str, name: str) -> str:
    s = next(x for x in list_scenarios() if x["id"] == scenario)
    return next(t["schedule"] for t in s["tours"] if t["name"] == name)


def every_tour_view() -> list[tuple[str, dict]]:
    """Every tour of every scenario, on old and new (cut to its longest valid prefix)."""
    out = []
    for s in list_scenarios():
        for t in s["tours"]:
            for code in ("old", "new"):
                try:
                    view = build_view(s["id"], code, t["schedule"])
                except ScheduleError as e:
                    view = build_view(s["id"], code, e.valid_prefix)
                out.append((f"{s['id']}/{t['name']}/{code}", view))
    return out


VIEWS = every_tour_view()


@pytest.fixture(scope="module")
def uaf_a() -> dict:
    return build_view(SEED, "old", tour_schedule(SEED, "uaf-a"))


def flat_rows(view: dict) -> list[dict]:
    """The lane rows with every folded stretch opened (a fold holds its usual rows)."""
    return [q for r in view["lanes"]["rows"] for q in (r["fold"] or [r])]


def row_of(view: dict, index: int) -> dict:
    return next(r for r in flat_rows(view) if r["first"] <= index <= r["last"])


def step_index(view: dict, cpu: int, step: str) -> int:
    return next(e["index"] for e in view["events"] if e["cpu"] == cpu and e["step"] == step)


# -- the event facts ---------------------------------------------------------------------------

def test_events_say_which_locks_a_step_took_and_dropped(uaf_a):
    ev = uaf_a["events"]
    assert ev[step_index(uaf_a, 1, "K1")]["locks_taken"] == ["nlru->lock"]
    assert ev[step_index(uaf_a, 1, "O5")]["locks_released"] == ["nlru->lock"]
    assert ev[step_index(uaf_a, 2, "I2")]["locks_taken"] == ["tree->lock"]
    assert ev[step_index(uaf_a, 2, "I5")]["locks_released"] == ["tree->lock"]
    assert ev[step_index(uaf_a, 2, "S3f")]["locks_taken"] == ["folio lock F_sw"]
    assert ev[step_index(uaf_a, 2, "S3j")]["locks_released"] == ["folio lock F_sw"]
    assert not ev[step_index(uaf_a, 1, "O4")]["locks_taken"] and not ev[step_index(uaf_a, 1, "O4")]["locks_released"]


def test_events_say_what_a_step_freed_and_allocated(uaf_a):
    ev = uaf_a["events"]
    trees = ev[step_index(uaf_a, 2, "S8")]["freed"]
    assert [(o["name"], o["type"]) for o in trees] == [("trees", "struct zswap_tree[1]")]
    assert trees[0]["addr"] == uaf_a["violations"][0]["object"]  # the object CPU1 then touches
    assert [o["name"] for o in ev[step_index(uaf_a, 2, "I4")]["freed"]] == ["E"]
    assert [o["name"] for o in ev[step_index(uaf_a, 2, "R4")]["allocated"]] == ["F_sw"]
    assert sum(len(e["freed"]) for e in ev) == 2 and sum(len(e["allocated"]) for e in ev) == 1


def test_events_say_whether_a_step_touched_shared_state(uaf_a):
    ev = uaf_a["events"]
    assert ev[step_index(uaf_a, 1, "K1")]["shared"] is True
    assert ev[step_index(uaf_a, 1, "K3")]["shared"] is False  # only CPU1's pc and locals
    # the pointer the race is made of: CPU1 caches `tree`, a pointer into the trees array
    assert [(p["local"], p["name"]) for p in ev[step_index(uaf_a, 1, "O3")]["pointers"]] == [("tree", "trees")]


@pytest.mark.parametrize("name,view", VIEWS, ids=[n for n, _ in VIEWS])
def test_lock_facts_add_up_to_the_final_lock_holders(name, view):
    """Replaying the events' taken/released lists gives exactly the locks held at the end."""
    held: dict[str, int] = {}
    for e in view["events"]:
        for lock in e["locks_released"]:
            assert held.pop(lock) == e["cpu"], (name, e["index"], lock)
        for lock in e["locks_taken"]:
            assert lock not in held, (name, e["index"], lock)
            held[lock] = e["cpu"]
    w = view["world"]
    final = {}
    if w["lru"]["lock_holder"] is not None:
        final["nlru->lock"] = w["lru"]["lock_holder"]
    for t in w["trees"]:
        if t["lock_holder"] is not None:
            final["tree->lock"] = t["lock_holder"]
    for f in w["swapcache"]:
        if f["locked_by"] is not None:
            final[f"folio lock {f['name']}"] = f["locked_by"]
    assert held == final


# -- the lane rows -----------------------------------------------------------------------------

def test_uaf_a_lanes_show_the_race(uaf_a):
    lanes = uaf_a["lanes"]
    assert lanes["cpus"] == [1, 2, 3]  # CPU3: the I/O completion's lane (empty here)
    lock = row_of(uaf_a, step_index(uaf_a, 1, "K1"))
    assert (lock["cpu"], lock["count"], lock["marks"], lock["lock_names"]) == (1, 1, ["lock"], ["nlru->lock"])
    unlock = row_of(uaf_a, step_index(uaf_a, 1, "O5"))
    assert (unlock["line_label"], unlock["marks"], unlock["locks_released"]) == ("b:880", ["unlock"], ["nlru->lock"])
    kvfree = row_of(uaf_a, step_index(uaf_a, 2, "S8"))
    assert (kvfree["cpu"], kvfree["function"], kvfree["marks"], kvfree["freed_names"]) == (
        2, "zswap_swapoff", ["free"], ["trees"])
    assert "kvfree(trees)" in kvfree["text"]
    crash = lanes["rows"][-1]
    assert (crash["cpu"], crash["function"], crash["line_label"]) == (1, "shrink_memcg_cb", "b:883")
    assert crash["marks"] == ["crash", "current"] and crash["crash"] == "use-after-free"
    assert crash["first"] == crash["last"] == uaf_a["violations"][0]["step"] == len(uaf_a["events"]) - 1
    assert "spin_lock(&tree->lock)" in crash["text"] and "KASAN" in crash["narration"]
    assert [r["cpu"] for r in lanes["rows"] if "crash" in r["marks"]] == [1]
    assert any(r["count"] >= MIN_BLOCK for r in flat_rows(uaf_a)), "long stretches are blocks"


@pytest.mark.parametrize("name,view", VIEWS, ids=[n for n, _ in VIEWS])
def test_rows_cover_every_step_once_in_order(name, view):
    for rows in (view["lanes"]["rows"], flat_rows(view)):
        assert [i for r in rows for i in range(r["first"], r["last"] + 1)] == list(range(len(view["events"])))
        assert all(r["count"] == r["last"] - r["first"] + 1 for r in rows)
    for fold in (r for r in view["lanes"]["rows"] if r["fold"]):
        assert (fold["fold"][0]["first"], fold["fold"][-1]["last"]) == (fold["first"], fold["last"])
    assert view["lanes"]["cpus"] == [c["id"] for c in view["cpus"]]


@pytest.mark.parametrize("name,view", VIEWS, ids=[n for n, _ in VIEWS])
def test_folding_never_hides_a_lock_free_crash_or_the_current_step(name, view):
    events = view["events"]
    crashes = {v["step"] for v in view["violations"] if v["kind"] in ("use-after-free", "null-deref")}
    for r in flat_rows(view):
        block = events[r["first"]: r["last"] + 1]
        assert len({e["cpu"] for e in block}) == 1
        if r["count"] > 1:
            assert r["count"] >= MIN_BLOCK and r["marks"] == [] and f"×{r['count']} steps" in r["text"]
            for e in block:
                assert not (e["locks_taken"] or e["locks_released"] or e["freed"] or e["allocated"]), (name, e)
                assert not e["pointers"] and not writes_race_state(e), (name, e)
                assert e["index"] not in crashes and e["index"] != len(events) - 1
    for i in crashes:
        assert "crash" in row_of(view, i)["marks"] and row_of(view, i)["count"] == 1
    if events:
        assert "current" in view["lanes"]["rows"][-1]["marks"]


def _event(i: int, cpu: int, function: str, **facts) -> dict:
    base = {"index": i, "cpu": cpu, "step": f"X{i}", "function": function, "line_label": "", "text": f"line {i}",
            "narration": f"step {i}", "locks_taken": [], "locks_released": [], "freed": [], "allocated": []}
    return {**base, **facts}


def _synthetic(events: list[dict]) -> dict:
    return {"events": events, "violations": [], "cpus": [{"id": 1, "label": "CPU1"}, {"id": 2, "label": "CPU2"}]}


def test_collapse_rule_on_a_synthetic_run():
    """Two plain steps stay rows; three become one block; a lock splits a stretch; the current
    (last) step is never folded; a change of CPU or function ends a stretch."""
    ev = [_event(0, 1, "f"), _event(1, 1, "f"),  # 2 plain: kept
          _event(2, 2, "g"), _event(3, 2, "g"), _event(4, 2, "g"),  # 3 plain: a block
          _event(5, 2, "g", locks_taken=["tree->lock"]),  # a lock: its own row
          _event(6, 2, "h"), _event(7, 2, "h"), _event(8, 2, "h"), _event(9, 2, "h")]  # last is current
    rows = lane_rows(_synthetic(ev))["rows"]
    assert [(r["first"], r["last"]) for r in rows] == [(0, 0), (1, 1), (2, 4), (5, 5), (6, 8), (9, 9)]
    assert rows[2]["text"] == "g() ×3 steps" and rows[2]["narration"] == "step 4"
    assert rows[3]["marks"] == ["lock"] and rows[-1]["marks"] == ["current"]


def test_a_block_runs_across_functions_and_a_race_state_write_splits_it():
    ev = [_event(0, 2, "f"), _event(1, 2, "g"), _event(2, 2, "h"), _event(3, 2, "k"),  # one block
          _event(4, 2, "k", changed=["lru", "cpu:2"]),  # list_lru_isolate-like: its own row
          _event(5, 2, "k", pointers=[{"local": "tree", "addr": "0x1", "name": "trees", "type": "t"}]),
          _event(6, 2, "k")]
    rows = lane_rows(_synthetic(ev))["rows"]
    assert [(r["first"], r["last"]) for r in rows] == [(0, 3), (4, 4), (5, 5), (6, 6)]
    assert rows[0]["text"] == "f() → g() → h() → … ×4 steps"
    assert rows[1]["marks"] == [] and rows[2]["marks"] == ["pointer"]
    assert rows[2]["pointer_names"] == ["tree → trees"]


def test_the_tree_pointer_cached_under_the_lru_lock_has_its_own_row(uaf_a):
    row = row_of(uaf_a, step_index(uaf_a, 1, "O3"))
    assert row["count"] == 1 and "pointer" in row["marks"] and row["pointer_names"] == ["tree → trees"]
    isolate = row_of(uaf_a, step_index(uaf_a, 1, "O4"))
    assert isolate["count"] == 1 and "list_lru_isolate" in isolate["text"]


def test_no_step_no_rows():
    view = build_view(SEED, "old", "")
    assert view["lanes"] == {"folded": False, "cpus": [1, 2, 3], "labels": ["CPU1", "CPU2", "I/O"], "rows": []}


def test_lanes_module_is_pure():
    code = ("import sys, app.model.views.lanes, app.model.views.diagram, app.model.views.stepfacts; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('fastapi', 'starlette', 'jinja2') "
            "or m.startswith('app.web')]; print(bad); sys.exit(1 if bad else 0)")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
