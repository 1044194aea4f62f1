"""Kernel lines as the plain-text diagrams print them: `;` and `{` and declaration types dropped,
long lines wrapped the way kernel code wraps, never inside an identifier, and the kernel line
that takes or drops a step's lock as a line of its own (diagram.py, story.py and lanes.py).
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from app.model.kernel.lines import line_of
from app.model.views.viewtypes import CodeLine

WIDTH = 72
_DECLARATION = re.compile(r"^(?:const\s+)?(?:struct\s+\w+|unsigned\s+\w+|\w+)(?:\s*\*\s*|\s+)(?=\w+\s*=[^=])")
_WORD_NEXT = re.compile(r"\s*[^\s)]")  # a wrapped line must not start with a lone `)`
# Kernel calls that take or drop a lock (spinlock or folio lock): the only lines a lock mark may sit on.
LOCK_CALL = re.compile(r"\b(?:spin_lock|spin_unlock|spin_trylock|folio_lock|folio_unlock|folio_trylock|"
                       r"__folio_set_locked|__folio_clear_locked|folio_lock_or_retry)\b")
_CALL = re.compile(r"(?:^|[=(!]\s*)\(?\s*([A-Za-z_]\w*)\s*\(")


def code(text: str) -> str:
    """A quoted kernel line as diagrams write it: no `;` or `{`, no declaration type."""
    text = text.strip().rstrip("{").rstrip().rstrip(";").rstrip()
    return _DECLARATION.sub("", text, count=1)


def called(text: str) -> str:
    """The function a line calls, as commit messages name a call (`list_lru_isolate`); for a
    paraphrase "(folio_alloc_swap: ...)" its first name; else the line itself."""
    line = code(text)
    if line.startswith("(") and ":" in line:
        return line[1:].split(":", 1)[0].split(";", 1)[0].strip()
    m = _CALL.search(line)
    return m.group(1) if m and not line.startswith(("if ", "if(", "while", "for ", "switch")) else line


def is_lock_line(text: str) -> bool:
    return LOCK_CALL.search(text) is not None


def _cut(text: str, room: int, lead: int, nice: bool = True) -> int:
    """Where to break ``text`` so that its first line fits ``room`` columns, the way kernel code
    wraps: after a call's `(` or a `,` (the longest such line), else after `x =`; unless ``nice``,
    also at any space or `(`. Never inside an identifier (0: no break fits)."""
    third = max(lead, room // 3)
    tiers: list[tuple[tuple[tuple[str, int], ...], int]] = [  # ((mark, columns kept), ...), floor
        ((("(", 1), (", ", 1)), third),
        (((" = ", 2),), lead),
    ]
    if not nice:
        tiers.append((((" ", 0), ("(", 1), (", ", 1)), lead))
    for marks, floor in tiers:
        cuts = [m.start() + keep for mark, keep in marks for m in re.finditer(re.escape(mark), text)]
        cuts = [c for c in cuts if floor < c <= room and _WORD_NEXT.match(text, c)]
        if cuts:
            return max(cuts)
    return 0


def wrap(text: str, width: int, continuation: int, hard: int | None = None) -> list[str]:
    """Lines of at most ``width`` columns; a continuation is indented (or stays a `//` comment).
    A piece that cannot break nicely within ``width`` may run on to ``hard`` columns (the room up
    to the diagram's right edge); only then is it broken at any space, never inside an identifier."""
    hard = max(width, hard or width)
    more = "// " if text.startswith("//") else " " * continuation
    if len(more) * 2 >= width:  # a very narrow column: no room for indented continuations
        more = ""
    lines: list[str] = []
    lead = 0
    while len(text) > width:
        cut = _cut(text, width, lead)
        if not cut:  # no nice break within the column: run on into the empty room beside it
            if len(text) <= hard:
                break
            cut = _cut(text, hard, lead) or _cut(text, hard, lead, nice=False)
            if not cut:
                break
        lines.append(text[:cut].rstrip())
        rest = text[cut:].lstrip()
        # A continuation is indented, unless its unbreakable piece then would not fit the room.
        fits = len(more) + len(rest) <= hard or _cut(more + rest, hard, len(more), nice=False)
        text = (more if fits else "") + rest
        lead = len(more) if fits else 0
    lines.append(text)
    return lines


def _synthesised(name: str, taken: bool) -> str:
    """The lock call for a lock name, when kernel_lines.toml gives no line (a user's variant)."""
    if name.startswith("folio lock"):
        return "folio_lock(folio)" if taken else "folio_unlock(folio)"
    return f"{'spin_lock' if taken else 'spin_unlock'}(&{name})"


def step_lines(event: Mapping[str, Any]) -> list[CodeLine]:
    """The kernel lines of one step, in order, each with the locks it takes or drops: a step
    whose quoted line is not the lock call (`__zswap_load(entry, page)` after `spin_unlock(&tree->lock)`)
    gets the lock call as a line of its own, so lock marks sit only on lines that take or drop them."""
    taken, released = list(event["locks_taken"]), list(event["locks_released"])
    text = code(event["text"])
    if not (taken or released) or is_lock_line(text):
        return [{"text": text, "inside": False, "locks_taken": taken, "locks_released": released}]
    try:
        line = line_of(event["step"])
    except KeyError:  # not a model step (a hand-built event): the lock call is made up below
        line = None
    main: CodeLine = {"text": text, "inside": False, "locks_taken": [], "locks_released": []}
    if line is not None and (line.before or line.after or line.inside):
        lock: CodeLine = {"text": code(line.before or line.after or line.inside), "inside": bool(line.inside),
                          "locks_taken": taken, "locks_released": released}
        return [lock, main] if line.before else [main, lock]
    extra: list[CodeLine] = [{"text": _synthesised(n, False), "inside": False, "locks_taken": [], "locks_released": [n]}
                             for n in released]
    extra += [{"text": _synthesised(n, True), "inside": False, "locks_taken": [n], "locks_released": []} for n in taken]
    return [main, *extra]
