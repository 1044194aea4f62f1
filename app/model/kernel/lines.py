"""The quoted kernel lines (kernel_lines.toml, GPL-2.0 material): each step's line of mm/*.c."""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import cache

from app import paths
from app.model.kernel.engine import STEPS

_LINES_FILE = paths.KERNEL_LINES


@dataclass(frozen=True)
class KernelLine:
    step: str
    function: str
    file: str
    line: int | None
    label: str
    text: str
    verified: bool


@cache
def kernel_lines() -> dict[str, KernelLine]:
    raw = tomllib.loads(_LINES_FILE.read_text())
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
        )
    missing = set(STEPS) - set(lines)
    if missing:
        raise RuntimeError(f"kernel_lines.toml has no line for steps {sorted(missing)}")
    return lines


def line_of(step_id: str) -> KernelLine:
    return kernel_lines()[STEPS[step_id].source_key]
