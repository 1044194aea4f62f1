"""Every tour sentence is true of the state it is shown with (issue 18, section 3).

A segment's note is shown after each of its steps. Where it names a state (a folio in the swap
cache or not, a locked folio, an entry erased from the tree, an entry or the trees array freed
or still allocated), that state must hold in the view (app/model/views/view.py RunView) after
every step the note is shown with. A note that tells what its steps are about to do begins "Over
these N steps," (N the segment's length): each state it names must then hold after one of them.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Any

import pytest

from app.model.api import build_view
from app.model.scenarios.loader import load_all

View = dict[str, Any]
TOURS = [(s.id, t.name) for s in load_all().values() for t in s.tours]
AHEAD = re.compile(r"^Over these (\d+) steps,")
NAME = r"([EF]\d?)"  # the entries of the shipped files: E, E2, F


def _folios(view: View) -> list[dict[str, Any]]:
    return [f for f in view["world"]["swapcache"] if f["in_swapcache"]]


def _heap(view: View, name: str) -> dict[str, Any] | None:
    return next((h for h in view["world"]["heap"] if h["name"] == name), None)


def _in_tree(view: View, name: str) -> bool:
    return any(e["name"] == name for t in view["world"]["trees"] for e in t["entries"])


def _freed(view: View, name: str) -> bool:
    h = _heap(view, name)
    return h is not None and h["freed"]


# (what the sentence names, pattern, does the view show it?)
CLAIMS: list[tuple[str, re.Pattern[str], Callable[[View, re.Match[str]], bool]]] = [
    ("a folio in the swap cache", re.compile(r"(?<!not )(?<!no longer )\bin the swap cache\b"),
     lambda v, m: bool(_folios(v))),
    ("no folio in the swap cache", re.compile(r"\bnot in the swap cache\b"), lambda v, m: not _folios(v)),
    ("a locked folio", re.compile(r"\blocks (?:it|the folio)\b|\block(?:ed|s) (?:new |its )?(?:swap-cache )?folio\b"
                                   r"|\bfolio (?:is |stays )?locked\b|\blocked (?:swap-cache )?folio\b"),
     lambda v, m: any(f["locked_by"] is not None for f in v["world"]["swapcache"] if not f["freed"])),
    ("erased from the tree", re.compile(rf"\b{NAME}\b[^.;:]*?\b(?:is )?erased from the tree|erases {NAME} from the tree"
                                        rf"|\binvalidates {NAME}\b|\b{NAME} is invalidated\b"),
     lambda v, m: not _in_tree(v, next(g for g in m.groups() if g))),
    ("an entry freed", re.compile(rf"\b{NAME} is freed\b|\bfrees {NAME}\b|\b{NAME}\b[^.;:]*?\band freed\b|"
                                  rf"\b{NAME}\b[^.;:]*?\bfrees it\b"),
     lambda v, m: _freed(v, next(g for g in m.groups() if g))),
    ("an entry still allocated", re.compile(rf"\bkeeps? {NAME}(?: itself)? (?:alive|allocated)|\b{NAME} is still allocated"),
     lambda v, m: not _freed(v, next(g for g in m.groups() if g))),
    ("a KASAN report", re.compile(r"\bKASAN reports an? ([\w-]+)"),
     lambda v, m: any(x["kind"].replace("null-deref", "null-ptr-deref") == m[1] and x["report"].startswith("=")
                      and x["step"] == len(v["schedule"]) - 1 for x in v["violations"])),
    ("no KASAN report", re.compile(r"\bKASAN prints nothing\b"),
     lambda v, m: any(not x["report"].startswith("=") and x["step"] == len(v["schedule"]) - 1
                      for x in v["violations"])),
    ("the trees array freed", re.compile(r"\bfrees the trees array\b|\btrees array is freed\b|\bthen the trees array\b"),
     lambda v, m: _freed(v, "trees")),
]


@cache
def _view(scenario_id: str, code: str, schedule: str) -> View:
    return build_view(scenario_id, code, schedule)  # type: ignore[return-value]


def _shown(scenario_id: str, name: str) -> list[tuple[str, int, int, str]]:
    """(note, first step it is shown at, last step, the tour's code), 1-based steps."""
    tour = next(t for t in load_all()[scenario_id].tours if t.name == name)
    out, at = [], 0
    for seg in tour.segments:
        out.append((seg.note, at + 1, at + len(seg.cpus), tour.code))
        at += len(seg.cpus)
    return out


def _claims(note: str) -> list[tuple[str, re.Match[str], Callable[[View, re.Match[str]], bool]]]:
    found = []
    for sentence in re.split(r"(?<=[.!?])\s+", note):
        for what, pattern, holds in CLAIMS:
            found += [(what, m, holds) for m in pattern.finditer(sentence)]
    return found


@pytest.mark.parametrize("scenario_id,name", TOURS)
def test_each_sentence_is_true_of_the_panes_it_is_shown_with(scenario_id: str, name: str) -> None:
    tour = next(t for t in load_all()[scenario_id].tours if t.name == name)
    wrong = []
    for note, first, last, code in _shown(scenario_id, name):
        ahead = AHEAD.match(note)
        if ahead:
            assert int(ahead[1]) == last - first + 1, f"{note!r} covers {last - first + 1} steps"
        for what, m, holds in _claims(note):
            shown = [(step, holds(_view(scenario_id, code, tour.schedule[:step]), m)) for step in range(first, last + 1)]
            if ahead and not any(ok for _, ok in shown):
                wrong.append(f"steps {first}-{last}: {what!r} ({m[0]!r}) happens at none of them: {note!r}")
            elif not ahead and not all(ok for _, ok in shown):
                step = next(step for step, ok in shown if not ok)
                wrong.append(f"step {step}: {what!r} ({m[0]!r}) is not what the panes show: {note!r}")
    assert not wrong, "\n".join(wrong)


def test_every_kind_of_claim_is_checked_on_some_shipped_sentence() -> None:
    """The check above is not vacuous: each pattern matches at least one sentence that ships."""
    notes = [note for s, n in TOURS for note, *_ in _shown(s, n)]
    for what, pattern, _ in CLAIMS:
        assert any(pattern.search(note) for note in notes), what


def test_the_examples_of_the_issue_are_caught() -> None:
    """The two sentences issue 18 quotes, at the steps it names, fail the check."""
    cases = [
        ("lru-writeback-vs-swapoff", "uaf-a", 15,
         "swapoff allocates a folio for slot 3, locks it and puts it in the swap cache."),
        ("two-shrinkers-vs-swapoff", "old-relinked-null-deref", 40,
         "Freeing slot 3 invalidates E: it is erased from the tree, but CPU1's reference keeps it allocated."),
    ]
    for scenario_id, name, step, note in cases:
        tour = next(t for t in load_all()[scenario_id].tours if t.name == name)
        view = _view(scenario_id, tour.code, tour.schedule[:step])
        claims = _claims(note)
        assert claims and not all(holds(view, m) for _, m, holds in claims), note
