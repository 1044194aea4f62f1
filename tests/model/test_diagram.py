"""The commit-message race diagram (app/model/views/diagram.py): the step-level one (full_diagram,
`replay --format diagram-full`) and the default (commit_diagram: the story once a violation happened)."""
from __future__ import annotations

import re
from collections import Counter
import subprocess
import sys
from pathlib import Path

import pytest

from app.model.api import ScheduleError, build_view, list_scenarios
from app.model.views.diagram import WIDTH, commit_diagram, full_diagram

ROOT = Path(__file__).resolve().parents[2]
SEED = "lru-writeback-vs-swapoff"
CODES = ("old", "new")


def tour_schedule(scenario: str, name: str) -> str:
    s = next(x for x in list_scenarios() if x["id"] == scenario)
    return next(t["schedule"] for t in s["tours"] if t["name"] == name)


def _cases() -> list[tuple[str, str, str]]:
    """(scenario, code, schedule): every tour of every scenario on both codes (its valid prefix
    where the tour was written for the other code)."""
    out = []
    for s in list_scenarios():
        for t in s["tours"]:
            for code in CODES:
                try:
                    build_view(s["id"], code, t["schedule"])
                    out.append((s["id"], code, t["schedule"]))
                except ScheduleError as e:
                    out.append((s["id"], code, e.valid_prefix))
    return out


CASES = _cases()
IDS = [f"{s}/{c}/{len(t)}" for s, c, t in CASES]


def column_of(line: str, cpus: int) -> int:
    """0-based column (CPU index) a diagram line's text starts in."""
    return (len(line) - len(line.lstrip(" "))) // (WIDTH // cpus)


@pytest.fixture(scope="module")
def uaf_a() -> tuple[dict, str]:
    view = build_view(SEED, "old", tour_schedule(SEED, "uaf-a"))
    return view, full_diagram(view)


@pytest.mark.parametrize("scenario,code,t", CASES, ids=IDS)
def test_every_line_fits_a_commit_message(scenario, code, t):
    view = build_view(scenario, code, t)
    text = full_diagram(view)
    lines = text.splitlines()
    assert "\t" not in text
    assert all(len(line) <= WIDTH for line in lines), max(lines, key=len)
    assert all(line == line.rstrip() for line in lines)
    stepped = {e["cpu"] for e in view["events"]}  # the I/O completion: a column once it has stepped
    cpus = [c["id"] for c in view["cpus"] if c["actor"] != "io" or c["id"] in stepped]
    labels = {c["id"]: c["label"] for c in view["cpus"]}
    assert lines[0].split() == [labels[c] for c in cpus]
    assert all(labels[c] == ("I/O" if view["cpus"][c - 1]["actor"] == "io" else f"CPU{c}") for c in cpus)


@pytest.mark.parametrize("scenario,code,t", CASES, ids=IDS)
def test_every_lock_and_free_and_crash_is_drawn(scenario, code, t):
    view = build_view(scenario, code, t)
    text = full_diagram(view)
    flat = re.sub(r"\s+|//", "", text)  # wrapped lines joined back
    locks = Counter(re.sub(r"\s", "", n) for e in view["events"] for n in [*e["locks_taken"], *e["locks_released"]])
    for lock, changes in locks.items():  # each change names its lock, in the code or a comment
        assert flat.count(lock) >= changes, (lock, changes)
    frees = Counter(ref["name"] for e in view["events"] for ref in e["freed"])
    for name, freed in frees.items():
        assert len(re.findall(rf"\b{re.escape(name)}\b", text)) >= freed, name
    for v in view["violations"]:
        if v["kind"] == "use-after-free":
            assert "// UAF" in text
        if v["kind"] == "null-deref":
            assert "// NULL deref" in text


def test_uaf_a_shows_swapoff_freeing_the_trees_before_cpu1_takes_the_lock(uaf_a):
    _, text = uaf_a
    lines = text.splitlines()
    assert lines[0].startswith("CPU1") and lines[0].split() == ["CPU1", "CPU2"]
    swapoff = next(i for i, line in enumerate(lines) if line.strip() == "zswap_swapoff()")
    kvfree = next(i for i, line in enumerate(lines) if line.strip() == "kvfree(trees)")
    crash = max(i for i, line in enumerate(lines) if line.strip() == "spin_lock(&tree->lock)")
    assert swapoff < kvfree < crash
    assert column_of(lines[swapoff], 2) == column_of(lines[kvfree], 2) == 1  # CPU2's column
    assert column_of(lines[crash], 2) == 0  # CPU1's column
    assert lines[crash - 1].strip() == "// UAF"  # marked like the seed's diagram
    assert lines[crash] == " " * (len(lines[crash]) - len(lines[crash].lstrip())) + "spin_lock(&tree->lock)"
    # CPU1's half of the race: it caches `tree` and isolates the entry before swapoff starts
    isolate = next(i for i, line in enumerate(lines) if "list_lru_isolate(l, item)" in line)
    sys_swapoff = next(i for i, line in enumerate(lines) if line.strip() == "sys_swapoff()")
    assert column_of(lines[isolate], 2) == 0 and isolate < sys_swapoff < swapoff
    assert "try_to_unuse()" in text and "// frees E" in text
    assert len(lines) < len(uaf_a[0]["events"]) + 10, "long stretches are folded into their function"


def test_three_cpus_get_three_narrower_columns():
    scenario = "two-shrinkers-vs-swapoff"
    view = build_view(scenario, "old", tour_schedule(scenario, "old-relinked-null-deref"))
    lines = full_diagram(view).splitlines()
    assert lines[0] == "CPU1" + " " * 20 + "CPU2" + " " * 20 + "CPU3"
    used = {column_of(line, 3) for line in lines[1:] if line.strip() and not line.startswith("f():")}
    assert used == {0, 1, 2}
    assert all(len(line) <= WIDTH for line in lines)


def test_long_lines_wrap_without_losing_a_character():
    """A synthetic three-CPU run with long kernel lines: every piece fits, nothing is lost."""
    long = "entry = zswap_entry_find_get_with_a_remarkably_long_name(&tree->rbroot, offset, more_args);"
    cpus = [{"id": i, "label": f"CPU{i}", "program": [{"step": f"S{i}", "depth": 0}]} for i in (1, 2, 3)]
    events = [{"index": i, "cpu": cpu, "step": f"S{cpu}", "function": "a_function_with_a_long_name_indeed",
               "text": long, "line_label": "", "narration": "", "changed": [],
               "locks_taken": ["tree->lock"], "locks_released": [], "freed": [], "allocated": [], "pointers": []}
              for i, cpu in enumerate((1, 2, 3))]
    text = commit_diagram({"cpus": cpus, "events": events, "violations": []})
    assert all(len(line) <= WIDTH for line in text.splitlines())
    flat = re.sub(r"\s+", "", text)
    assert flat.count(re.sub(r"\s+", "", long.rstrip(";"))) == 3
    assert flat.count("spin_lock(&tree->lock)") == 3  # the lock taken: a line of its own, not a comment


def test_no_step_yet():
    text = commit_diagram(build_view(SEED, "old", ""))
    assert text == full_diagram(build_view(SEED, "old", ""))
    assert text.splitlines() == ["CPU1                                CPU2", "(no step taken yet)"]


# -- the CLI -----------------------------------------------------------------------------------

def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_cli_prints_the_diagram(uaf_a):
    view, text = uaf_a
    r = cli("replay", SEED, "--code", "old", "--schedule", view["schedule"], "--format", "diagram-full")
    assert r.returncode == 0, r.stderr
    assert r.stdout == text
    r = cli("replay", SEED, "--code", "old", "--schedule", view["schedule"], "--format", "diagram")
    assert r.returncode == 0, r.stderr
    assert r.stdout == commit_diagram(view) == view["story"]["text"] and len(r.stdout.splitlines()) <= 12


@pytest.mark.parametrize("args", [
    ("replay", SEED, "--code", "old", "--schedule", "11x", "--format", "diagram"),
    ("replay", SEED, "--code", "nope", "--format", "diagram"),
    ("replay", "no-such-scenario", "--format", "diagram"),
])
def test_cli_bad_input_exits_2_with_one_line(args):
    r = cli(*args)
    assert r.returncode == 2 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
