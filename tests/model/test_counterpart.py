"""The fixed code's answer to the old code's crash on the same schedule (app/model/explorer/counterpart.py)."""
from __future__ import annotations

from app.model import api

SEED = "lru-writeback-vs-swapoff"


def _tour(name: str) -> dict:
    scenario = next(s for s in api.list_scenarios() if s["id"] == SEED)
    return next(t for t in scenario["tours"] if t["name"] == name)


def test_the_uaf_schedule_on_the_fixed_code_names_the_old_crash_and_what_ran_instead():
    t = _tour("uaf-a")["schedule"]
    old = api.build_view(SEED, "old", t)
    crash = next(v for v in old["violations"] if v["kind"] == "use-after-free")
    fix = api.old_code_crash(SEED, "new", t)
    assert fix is not None
    assert fix["old"]["step"] == crash["step"] and fix["old"]["line_label"] == crash["line_label"]
    assert fix["cpu"] == crash["cpu"]
    new = api.build_view(SEED, "new", t)
    assert fix["instead"] == new["events"][crash["step"]]
    assert fix["old_event"]["text"] == old["events"][crash["step"]]["text"]


def test_no_counterpart_on_the_old_code_before_the_crash_or_without_one():
    t = _tour("uaf-a")["schedule"]
    assert api.old_code_crash(SEED, "old", t) is None
    assert api.old_code_crash(SEED, "new", "") is None
    assert api.old_code_crash(SEED, "new", t[:-1]) is None  # the old code has not crashed yet
    sleeps = _tour("fixed-swapoff-sleeps")["schedule"]
    if api.validate(SEED, "old", sleeps) is None and not any(
            v["kind"] == "use-after-free" for v in api.build_view(SEED, "old", sleeps)["violations"]):
        assert api.old_code_crash(SEED, "new", sleeps) is None


def test_a_variant_that_crashes_too_gets_no_green_counterpart():
    t = _tour("variant-tree-before-folio")["schedule"]
    view = api.build_view(SEED, "new-tree-before-folio", t)
    assert any(v["kind"] == "use-after-free" for v in view["violations"])
    assert api.old_code_crash(SEED, "new-tree-before-folio", t) is None


def test_the_fixed_codes_freed_entry_is_compared_not_dangling():
    """On the fixed code the shrinker still holds the freed entry's address, but only ever compares
    it (zswap_rb_search(...) != entry): the view says so instead of calling it dangling."""
    t = _tour("uaf-a")["schedule"]
    new = api.build_view(SEED, "new", t)
    entry = next(o for o in new["world"]["heap"] if o["name"] == "E")
    assert entry["freed"] and entry["dangling_from"] == [] and entry["compared_from"] == ["CPU1 entry"]
    local = next(x for x in new["cpus"][0]["locals"] if x["name"] == "entry")
    assert local["dangling"] and local["compare_only"]
    old = api.build_view(SEED, "old", t)
    old_entry = next(o for o in old["world"]["heap"] if o["name"] == "E")
    assert "CPU1 entry" in old_entry["dangling_from"] and old_entry["compared_from"] == []
