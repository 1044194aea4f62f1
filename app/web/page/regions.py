"""Regions of the state fragment, and a step's answer that carries only the regions that changed.

A step changes a few parts of the stage: the stepping CPU, the panes its step wrote, a row or two
of the lane diagram. The rest (the other CPU's code window, the untouched panes, every older lane
row) comes out of the templates byte for byte as it did on the state before. The templates mark
such parts with REGION_OPEN / REGION_CLOSE (HTML comments: a user's or the kernel's text is
escaped, so nothing else can contain them); every part has an id on its outermost element.

The page tells the server which state it shows (``#state[data-key]``, sent back as the
``HX-Have`` header by static/app.js). When the server still holds that state's regions, a region
whose HTML is the same in both states goes out as an empty twin, ``<TAG id="ID" data-same></TAG>``,
and the browser's morph leaves the element it has in place (static/app.js). The answer is then a
smaller document to parse and a smaller tree to morph: what the click budget of the stage is
spent on. Without that header, or for a state the server no longer holds, the answer is whole.
"""
from __future__ import annotations

import hashlib
import sys
import re
from dataclasses import dataclass

from markupsafe import Markup

from app.model.cache import BoundedCache, share

REGION_OPEN = Markup("<!--R-->")
REGION_CLOSE = Markup("<!--/R-->")
# The template variables that hold the markers: empty by default (env.globals), so every other
# page rendering the same partials gets no comments.
MARKERS = {"R0": REGION_OPEN, "R1": REGION_CLOSE}
NO_MARKERS = {"R0": "", "R1": ""}
# The region's outermost element: its tag and its id (ids are written as id="..." everywhere).
_HEAD = re.compile(r'\s*<([a-z][a-z0-9]*)\b[^>]*?\sid="([^"]+)"')
HAVE_HEADER = "hx-have"


class RegionError(ValueError):
    """A template marked a region badly (unbalanced markers, or a region without an id)."""


@dataclass(frozen=True, slots=True)
class Parts:
    """A rendered state cut at its regions: ``text[0] region[0] text[1] region[1] ... text[n]``."""

    text: tuple[str, ...]
    regions: tuple[str, ...]
    ids: tuple[str, ...]
    tags: tuple[str, ...]

    def whole(self) -> str:
        out = [self.text[0]]
        for region, text in zip(self.regions, self.text[1:]):
            out += (region, text)
        return "".join(out)

    def by_id(self) -> dict[str, str]:
        return dict(zip(self.ids, self.regions))

    def against(self, have: dict[str, str]) -> tuple[str, int]:
        """The document with every region the page already has (same id, same HTML) left as an
        empty twin, and how many were left so."""
        out = [self.text[0]]
        same = 0
        for region, rid, tag, text in zip(self.regions, self.ids, self.tags, self.text[1:]):
            if have.get(rid) == region:
                out.append(f'<{tag} id="{rid}" data-same></{tag}>')
                same += 1
            else:
                out.append(region)
            out.append(text)
        return "".join(out), same


def split(html: str) -> Parts:
    """Cut a rendered state at its markers (and drop them)."""
    chunks = html.split(REGION_OPEN)
    text, regions, ids, tags = [chunks[0]], [], [], []
    for chunk in chunks[1:]:
        region, sep, rest = chunk.partition(REGION_CLOSE)
        if not sep or REGION_CLOSE in rest:
            raise RegionError("a region's markers do not pair up")
        if not region.strip():  # a pane with nothing to show in this state (no report yet)
            text[-1] += region + rest
            continue
        head = _HEAD.match(region)
        if head is None:
            raise RegionError(f"a region has no id on its outermost element: {region[:80]!r}")
        text.append(rest)
        regions.append(region)
        tags.append(head.group(1))
        ids.append(head.group(2))
    if REGION_CLOSE in text[0]:
        raise RegionError("a region's markers do not pair up")
    return Parts(tuple(text), tuple(regions), tuple(ids), tuple(tags))


KEY_LENGTH = 18  # hex digits of a state key
_KEY = re.compile(rf"[0-9a-f]{{{KEY_LENGTH}}}")


def asked_have(header: str | None) -> str | None:
    """The state key a request's HX-Have names, or None when it names none (anything else is
    ignored: the key becomes part of cache keys, so it must stay short)."""
    return header if header is not None and _KEY.fullmatch(header) else None


def state_key(*args: object) -> str:
    """The opaque name of one rendered state (``#state[data-key]``): the same for its full page and
    its fragment, different for any other state or listing mode."""
    return hashlib.blake2b(repr(args).encode(), digest_size=KEY_LENGTH // 2).hexdigest()


def _size(regions: dict[str, str]) -> int:
    """Bytes held by a map of regions: its strings as Python stores them (a page with one arrow or
    box-drawing character takes two bytes a character, so len() counted half) and the map."""
    return sys.getsizeof(regions) + sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in regions.items())


def parts_size(parts: Parts) -> int:
    """Bytes held by a Parts: its strings as Python stores them, and its tuples."""
    return sum(sys.getsizeof(t) + sum(sys.getsizeof(x) for x in t)
               for t in (parts.text, parts.regions, parts.ids, parts.tags))


# The regions of the states pages were last given, by key: about 25 kB each, so 3 % of the cache
# budget holds a few hundred (a room's attendees on their own, each a state or two apart).
_have = BoundedCache(512, share(0.03), _size)


def remember(key: str, parts: Parts) -> None:
    _have.put(key, parts.by_id())


def have(key: str | None) -> dict[str, str] | None:
    """The regions of the state a page says it shows, if this process still holds them."""
    if not key:
        return None
    hit, regions = _have.get(key)
    return regions if hit else None


def clear() -> None:
    _have.clear()
