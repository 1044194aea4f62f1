"""The quoted kernel lines (kernel_lines.toml, GPL-2.0 material): each step's line of mm/*.c.

A step's line is quoted from the base blob of mm/zswap.c ("b:" numbers) unless it says otherwise.
An actor that reads another blob (ActorDef.blob, e.g. "p" before patch 1/3) gets every "b:" line
renumbered through that blob's diff hunk, kept in the same file under ``_hunks``: a line before
the hunk keeps its number, a line after it moves by the hunk's difference in length, a line
inside it by the hunk's own correspondence of context lines.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, replace
from functools import cache

from app import paths
from app.model.kernel.engine import STEPS

_LINES_FILE = paths.KERNEL_LINES
_HEADER = re.compile(r"@@ -(\d+),(\d+) \+(\d+),(\d+) @@")
_LABEL = re.compile(r"^b:(\d+)(?:-(\d+))?$")


@dataclass(frozen=True)
class KernelLine:
    step: str
    function: str
    file: str
    line: int | None
    label: str
    text: str
    verified: bool
    # The kernel line that takes or drops this step's lock when ``text`` does not: before it,
    # after it, or inside the function it calls (kernel_lines.toml); "" when ``text`` does.
    before: str = ""
    after: str = ""
    inside: str = ""
    frees: str = ""  # the line that frees, when the step frees in a line other than ``text``


@dataclass(frozen=True)
class Hunk:
    """One diff hunk from another blob (the old side) to the base (the new side)."""

    old_start: int
    old_len: int
    new_start: int
    new_len: int
    context: dict[int, int]  # base line -> its line in the other blob, for the hunk's context lines

    def to_old(self, n: int) -> int:
        """A base line's number in the other blob (a changed line: the old line at its place)."""
        if n < self.new_start:
            return n
        if n >= self.new_start + self.new_len:
            return n + self.old_len - self.new_len
        return self.context.get(n, n - self.new_start + self.old_start)


def _hunk(fields: dict[str, object]) -> Hunk:
    m = _HEADER.match(str(fields["header"]))
    if m is None:
        raise RuntimeError(f"kernel_lines.toml: bad hunk header {fields['header']!r}")
    old_start, old_len, new_start, new_len = (int(g) for g in m.groups())
    old, new, context = old_start, new_start, {}
    for line in fields["lines"]:  # type: ignore[attr-defined]
        mark = line[:1]
        if mark == " ":
            context[new] = old
        if mark in (" ", "-"):
            old += 1
        if mark in (" ", "+"):
            new += 1
    if (old - old_start, new - new_start) != (old_len, new_len):
        raise RuntimeError(f"kernel_lines.toml: hunk {fields['header']!r} does not match its lines")
    return Hunk(old_start, old_len, new_start, new_len, context)


@cache
def _data() -> tuple[dict[str, KernelLine], dict[str, Hunk]]:
    raw = tomllib.loads(_LINES_FILE.read_text())
    hunks = {blob: _hunk(fields) for blob, fields in raw.pop("_hunks", {}).items()}
    lines: dict[str, KernelLine] = {}
    for step, fields in raw.items():
        line = fields.get("line")
        label = fields.get("label", "")
        lines[step] = KernelLine(
            step=step,
            function=fields["function"],
            file=fields["file"],
            line=line,
            label=label,
            text=fields["text"],
            verified=fields.get("verified", True),
            before=fields.get("before", ""),
            after=fields.get("after", ""),
            inside=fields.get("inside", ""),
            frees=fields.get("frees", ""),
        )
    missing = set(STEPS) - set(lines)
    if missing:
        raise RuntimeError(f"kernel_lines.toml has no line for steps {sorted(missing)}")
    return lines, hunks


def kernel_lines() -> dict[str, KernelLine]:
    return _data()[0]


@cache
def _in_blob(line: KernelLine, blob: str) -> KernelLine:
    m = _LABEL.match(line.label)
    if not blob or m is None:
        return line
    hunk = _data()[1][blob]
    first = hunk.to_old(int(m.group(1)))
    last = hunk.to_old(int(m.group(2))) if m.group(2) else None
    label = f"{blob}:{first}" + (f"-{last}" if last is not None else "")
    return replace(line, line=hunk.to_old(line.line) if line.line else None, label=label)


def line_of(step_id: str, blob: str = "") -> KernelLine:
    """The step's quoted line; ``blob``: the blob the running actor's "b:" lines are read in."""
    return _in_blob(kernel_lines()[STEPS[step_id].source_key], blob)
