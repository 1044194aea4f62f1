"""The story of a run (app/model/views/story.py, issue 22): the few steps a violation depends on,
told as the fix's commit message tells the race, and the step-level diagram it folds."""
from __future__ import annotations

import re

import pytest

from app.model import api
from app.model.api import ScheduleError, build_view, list_scenarios
from app.model.kernel.lines import line_of
from app.model.scenarios.loader import load_all
from app.model.scenarios.scenario import all_codes
from app.model.views.codetext import LOCK_CALL, code
from app.model.views.diagram import CALLERS, WIDTH, commit_diagram, full_diagram
from app.model.views.story import story

SEED = "lru-writeback-vs-swapoff"
# The commit message of 5878303c5353 (the seed mail), quoted: its diagram, tabs as 8 columns.
COMMIT_MESSAGE = (
    "CPU1\t\t\tCPU2\n"
    "shrink_memcg_cb\t\tswap_off\n"
    "  list_lru_isolate\t  zswap_invalidate\n"
    "\t\t\t  zswap_swapoff\n"
    "\t\t\t    kfree(tree)\n"
    "  // UAF\n"
    "  spin_lock(&tree->lock)\n"
)
# Its names that the model spells as the kernel at the patch's base: sys_swapoff is swapoff(2)'s
# function, and the trees are one array freed by kvfree() (spec 4.3: "kfree(tree)" is the v1 wording).
MODEL_NAMES = {"swap_off": "sys_swapoff", "kfree(tree)": "kvfree(trees)"}


def tour(scenario: str, name: str) -> str:
    s = next(x for x in list_scenarios() if x["id"] == scenario)
    return next(t["schedule"] for t in s["tours"] if t["name"] == name)


def cells(diagram: str, width: int) -> list[tuple[int, str]]:
    """(column, text) of every entry of a two-column diagram, row by row, left to right."""
    out = []
    for line in diagram.splitlines()[1:]:
        for col, start in enumerate((0, width)):
            text = line[start:start + width] if col == 0 else line[start:]
            if text.strip():
                out.append((col, text.strip()))
    return out


def story_body(text: str) -> str:
    """The columns of a rendered story: between its title and its legend (blank-line separated)."""
    return text.split("\n\n")[1] + "\n"


def test_uaf_a_story_is_the_commit_messages_race_in_its_order_and_names():
    view = build_view(SEED, "old", tour(SEED, "uaf-a"))
    text = commit_diagram(view)
    expected = [(col, MODEL_NAMES.get(t, t)) for col, t in cells(COMMIT_MESSAGE.expandtabs(8), 24)]
    assert cells(story_body(text), WIDTH // 2) == expected
    assert len(text.splitlines()) <= 12  # the commit message's lines, a title and a legend
    told = view["story"]
    # What it depends on, by step: CPU1 caches `tree` (b:874), isolates E and drops the LRU lock
    # (b:875, b:880), swapoff frees E and the trees, CPU1 takes the freed lock (b:883).
    roles = {view["events"][int(i)]["step"]: role for i, role in told["roles"].items()}
    assert roles == {"O3": "cache", "O4": "unpin", "O5": "unpin", "I4": "free", "S8": "free", "O6": "access"}
    assert told["legend"] == "tree cached at b:874 (step 6), nlru->lock dropped at b:880 (step 8)"
    assert told["end"] == len(view["events"]) - 1


def test_uaf_b_story_is_the_folio_unlock_that_let_swapoff_go():
    view = build_view(SEED, "old", tour(SEED, "uaf-b"))
    body = [t for _, t in cells(story_body(commit_diagram(view)), WIDTH // 2)]
    assert body == ["shrink_memcg_cb", "sys_swapoff", "zswap_writeback_entry", "__swap_writepage", "zswap_swapoff",
                    "kvfree(trees)", "// UAF", "spin_lock(&tree->lock)"]
    assert "folio lock F_wb dropped at b:1464" in view["story"]["legend"]


def test_the_pre_1_3_walker_story_lets_go_of_the_lru_lock_that_guarded_its_cursor():
    """The walker caches its cursor n under the LRU lock and reads it under that lock again; the
    isolate callback dropped the lock in between (p:880) and returned LRU_SKIP: that drop let go of
    n, not the later tree->lock drop after zswap_entry_put() (the last lock dropped, which the rule
    for uaf-a and uaf-b picks: it guarded nothing the walker reads)."""
    sid = "walker-cursor-vs-exit"
    view = build_view(sid, "pre-lru-skip-fix", tour(sid, "pre-skip-reads-freed-entry"))
    text = commit_diagram(view)
    body = [t for _, t in cells(story_body(text), WIDTH // 2)]
    assert body[:3] == ["shrink_memcg_cb", "zap_pte_range", "spin_unlock(lock)"], body
    assert "zswap_entry_put" not in text and "    list_for_each_safe(item, n, &l->list)\n" in text
    told = view["story"]
    assert told["legend"].startswith("n cached at __list_lru_walk_one()")
    assert "nlru->lock dropped at p:880" in told["legend"]
    roles = {view["events"][int(i)]["step"]: role for i, role in told["roles"].items()}
    assert roles["O5"] == "unpin" and "O21" not in roles and "O22" not in roles


def _groups() -> list[tuple[str, str, dict]]:
    out = []
    for sid in load_all():
        for c in all_codes():
            for g in api.check(sid, c)["violations"]:
                out.append((sid, c, g))
    return out


@pytest.fixture(scope="module")
def groups() -> list[tuple[str, str, dict]]:
    return _groups()


def test_every_violation_group_of_check_all_has_a_short_story_ending_at_its_line(groups):
    assert len(groups) >= 30
    for sid, c, g in groups:
        told = g["story"]
        assert told is not None, (sid, c, g["kind"])
        lines = told["text"].splitlines()
        assert len(lines) <= 16 and all(len(line) <= WIDTH for line in lines), (sid, c, g["kind"], told["text"])
        last = told["rows"][-1]
        assert last["role"] == "access", (sid, c, g["kind"])
        view = api.build_view(sid, c, g["shortest"])
        if g["step_id"]:  # a memory error: the story ends at the violating step and line
            assert told["end"] == len(g["shortest"]) - 1 and view["events"][told["end"]]["step"] == g["step_id"]
            assert last["text"] == code(line_of(g["step_id"]).text)
        else:  # a leak: at the last step that changed the leaked object
            assert told["end"] is not None and last["step"] == told["end"]
        body = story_body(told["text"]).splitlines()
        assert body[-1].strip() == last["text"].split("\n")[-1].strip() or last["text"].endswith(body[-1].strip())


def test_the_story_is_derived_from_the_steps_not_from_the_scenario(groups):
    """A variant and a three-CPU scenario tell the same race with their own steps: the shrinker
    in two-shrinkers-vs-swapoff that dereferences NULL is CPU2, after swapoff freed the trees."""
    null = next(g for sid, c, g in groups if sid == "two-shrinkers-vs-swapoff" and c == "old" and g["kind"] == "null-deref")
    assert null["story"]["cpus"] == [2, 3] and "// NULL deref" in null["story"]["text"]
    assert "kvfree(trees)" in null["story"]["text"]
    leak = next(g for sid, c, g in groups if sid == "writeback-vs-swapin" and g["kind"] == "leak")
    assert "// leak" in leak["story"]["text"] and "list_lru_isolate" in leak["story"]["text"]


def test_a_livelock_is_told_by_its_loop():
    view = build_view(SEED, "old", "")
    told = story(view, {"kind": "livelock", "step_id": "S3l", "detail": "swapoff never finishes"})
    assert told is not None and told["end"] is None
    assert told["rows"][-2]["text"] == "// loops for ever" and told["rows"][-1]["text"] == code(line_of("S3l").text)


# -- the full diagram ----------------------------------------------------------------------------

def _tour_views() -> list[tuple[str, dict]]:
    out = []
    for s in list_scenarios():
        for t in s["tours"]:
            for c in all_codes():
                try:
                    view = build_view(s["id"], c, t["schedule"])
                except ScheduleError as e:
                    view = build_view(s["id"], c, e.valid_prefix)
                out.append((f"{s['id']}/{t['name']}/{c}", view))
    return out


TOURS = _tour_views()


@pytest.mark.parametrize("name,view", TOURS, ids=[n for n, _ in TOURS])
def test_full_diagram_puts_lock_marks_only_on_lock_lines(name, view):
    lines = full_diagram(view).splitlines()
    for i, line in enumerate(lines):
        if re.search(r"// (takes|drops) ", line):
            indent = len(line) - len(line.lstrip())
            above = next(lines[j] for j in range(i - 1, 0, -1)
                         if len(lines[j]) - len(lines[j].lstrip()) <= indent and lines[j].strip())
            assert LOCK_CALL.search(above), (name, above, line)
    # ... and every lock change of the run is a lock line of its own
    changes = sum(len(e["locks_taken"]) + len(e["locks_released"]) for e in view["events"])
    assert sum(1 for line in lines if LOCK_CALL.search(line) and "//" not in line) >= changes


def _identifiers(view: dict) -> set[str]:
    words: set[str] = set()
    for e in view["events"]:
        line = line_of(e["step"])
        for text in (e["text"], line.before, line.after, line.inside, e["function"], *e["locks_taken"],
                     *e["locks_released"], *(r["name"] for r in e["freed"] + e["allocated"])):
            words.update(re.findall(r"\w+", text))
    words.update(c["label"] for c in view["cpus"])
    words.update(CALLERS.values())  # a caller's heading before its first step (swap_range_free())
    return words


@pytest.mark.parametrize("name,view", TOURS, ids=[n for n, _ in TOURS])
def test_no_line_over_72_columns_and_no_identifier_split(name, view):
    text = full_diagram(view)
    known = _identifiers(view) | set(re.findall(r"\w+", "f(): its steps that take no lock and touch no zswap state "
                                                        "are left out takes drops frees allocates UAF NULL deref "
                                                        "double free lock folio"))
    for line in text.splitlines():
        assert len(line) <= WIDTH, (name, line)
        for word in re.findall(r"\w+", line):
            assert word in known, (name, word, line)
    if view.get("story"):
        assert all(len(line) <= WIDTH for line in view["story"]["text"].splitlines())


def test_full_diagram_nests_calls_as_in_the_kernel():
    lines = full_diagram(build_view(SEED, "old", tour(SEED, "uaf-a"))).splitlines()

    def at(text: str) -> tuple[int, int]:
        i = next(i for i, line in enumerate(lines) if line.strip() == text)
        return i, len(lines[i]) - len(lines[i].lstrip())

    walk, inner = at("list_lru_walk_one()"), at("__list_lru_walk_one()")
    assert inner[1] > walk[1]  # __list_lru_walk_one() under its caller
    srf, inv = at("swap_range_free()"), at("zswap_invalidate()")
    assert srf[0] < inv[0] and inv[1] > srf[1]  # zswap_invalidate() under swap_range_free(), its caller
    unlock = max(i for i, line in enumerate(lines) if line.strip() == "folio_unlock(folio)")
    assert len(lines[unlock]) - len(lines[unlock].lstrip()) <= srf[1]  # not inside swap_range_free()
    load = at("__zswap_load(entry, page)")
    assert lines[load[0] - 1].strip() == "spin_unlock(&tree->lock)"  # the lock line of its own
    assert "if (zswap_exclusive_loads_" not in "\n".join(lines).replace("if (zswap_exclusive_loads_enabled", "")


def test_docs_show_the_generated_uaf_a_story_beside_the_commit_message():
    from pathlib import Path

    page = (Path(__file__).resolve().parents[2] / "docs" / "story.md").read_text()
    blocks = page.split("```")[1::2]
    view = build_view(SEED, "old", tour(SEED, "uaf-a"))
    assert blocks[0].strip("\n") == COMMIT_MESSAGE.expandtabs(8).strip("\n")
    assert blocks[1].strip("\n") == commit_diagram(view).strip("\n")
    assert blocks[2].strip("\n") == commit_diagram(build_view(SEED, "old", tour(SEED, "uaf-b"))).strip("\n")
