"""The README stays a five-minute read, and every link between the README and docs/ resolves:
the file exists and, for a link with an anchor, so does the heading (GitHub's anchor rules)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
LINK = re.compile(r"\]\(([^)\s]+)\)")  # [text](target)


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return {anchor(m.group(1)) for m in re.finditer(r"^#{1,6} (.+)$", text, re.M)}


def local_links(page: Path) -> list[str]:
    return [t for t in LINK.findall(page.read_text()) if not re.match(r"[a-z]+:", t)]


def test_anchor_follows_githubs_rules():
    assert anchor("Sustained load (`bench/bench_load.py`)") == "sustained-load-benchbench_loadpy"
    assert anchor("Hardening: what a request may cost") == "hardening-what-a-request-may-cost"


def test_the_readme_is_at_most_200_lines_and_links_every_guide():
    lines = README.read_text().splitlines()
    assert len(lines) <= 200
    linked = {t.split("#")[0] for t in local_links(README)}
    assert {f"docs/{p.name}" for p in DOCS} <= linked


@pytest.mark.parametrize("page", [README, *DOCS], ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_local_link_resolves(page):
    broken = []
    for target in local_links(page):
        path, _, fragment = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        if not dest.exists():
            broken.append(f"{target}: no such file")
        elif fragment and dest.suffix == ".md" and fragment not in anchors(dest):
            broken.append(f"{target}: no heading #{fragment}")
    assert broken == []
