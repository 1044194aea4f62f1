"""The stage's help: its keys and its glossary (app/web/page/help.toml), and the marking of the
glossary's terms where a sentence or a heading uses them.

A marked term is a link to its entry on the help page (``/help#g-ID``), described by that entry
(``aria-describedby``: the page carries the help, closed, in templates/_help.html): without
JavaScript it goes there; with it, static/app.js shows the definition beside the word while it
is hovered or focused, and a click opens the help over the stage.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from markupsafe import Markup, escape

from app.web import urls

SOURCE = Path(__file__).with_name("help.toml")
# b:883, f:1394-1395: a line of mm/zswap.c before (b:) or after (f:) the fix.
LINE_LABEL = r"\b[bf]:\d+(?:-\d+)?\b"
LINE_LABELS = "line-labels"


@dataclass(frozen=True)
class Term:
    id: str
    term: str
    words: tuple[str, ...]
    text: str


@dataclass(frozen=True)
class Key:
    keys: tuple[str, ...]
    does: str


@dataclass(frozen=True)
class Help:
    keys: tuple[Key, ...]
    terms: tuple[Term, ...]
    pattern: re.Pattern[str]  # every term's words (and line labels), longest first
    by_word: dict[str, str]   # a word as written (lower case unless all capitals) -> its term's id


def _one_line(text: str) -> str:
    return " ".join(text.split())


@lru_cache(maxsize=1)
def load() -> Help:
    data = tomllib.loads(SOURCE.read_text(encoding="utf-8"))
    keys = tuple(Key(tuple(k["keys"]), k["does"]) for k in data["key"])
    terms = tuple(Term(t["id"], t["term"], tuple(t["words"]), _one_line(t["text"])) for t in data["term"])
    by_word: dict[str, str] = {}
    for t in terms:
        for w in t.words:
            by_word[w if w.isupper() else w.lower()] = t.id
    words = sorted(by_word, key=len, reverse=True)
    # A word counts whole: not inside an identifier, nor the "tree" of tree->lock.
    alternatives = [("(?-i:" + re.escape(w) + ")") if w.isupper() else re.escape(w) for w in words]
    pattern = re.compile(rf"(?<![\w>.-])(?:{'|'.join(alternatives)})(?![\w(]|->)|{LINE_LABEL}", re.IGNORECASE)
    return Help(keys, terms, pattern, by_word)


def term_id(word: str) -> str | None:
    h = load()
    if re.fullmatch(LINE_LABEL, word):
        return LINE_LABELS
    return h.by_word.get(word) or h.by_word.get(word.lower())


def link(term: str, shown: str) -> Markup:
    """`shown`, marked as the glossary's term `term`."""
    return Markup('<a class="term" href="{}" data-term="{}" aria-describedby="g-{}-d">{}</a>').format(
        urls.help_page(term), term, term, shown)


def mark(text: str) -> Markup:
    """`text` escaped, with the first use of each glossary term in it marked (a link to its entry)."""
    h = load()
    out: list[str] = []
    seen: set[str] = set()
    last = 0
    for m in h.pattern.finditer(text):
        tid = term_id(m.group(0))
        if tid is None or tid in seen:
            continue
        seen.add(tid)
        out.append(str(escape(text[last:m.start()])))
        out.append(str(link(tid, m.group(0))))
        last = m.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))
