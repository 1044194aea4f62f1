"""A scenario written by a user, carried in a link: validated with errors placed on their lines,
bounded so that it costs no more than a shipped scenario, and encoded into the URL (zlib, then
base64url) so that it can be shared without any server storage.

A user scenario is untrusted input: besides the scenario file's own bounds (app/model/scenarios/scenario.py)
it may have at most USER_LIMITS of each thing, and its explorer searches get USER_MAX_STATES.
"""
from __future__ import annotations

import base64
import binascii
import re
import tomllib
import zlib
from collections import OrderedDict

from app.model.errors import ModelInputError
from app.model.kernel.records import replace
from app.model.scenarios.scenario import Scenario, ScenarioFileError, check_schema
from app.model.scenarios.loader import check_tours

# The shipped scenarios use at most 5 CPUs (the I/O completion included), 2 slots, 2 entries,
# 5 tours and 65-step tours; their largest whole search visits 156,440 states.
MAX_TEXT = 16 * 1024  # bytes of TOML
MAX_LINK = 8 * 1024  # characters of the encoded `s` parameter
USER_LIMITS = {"cpus": 5, "slots": 2, "entries": 2, "tours": 8, "challenges": 8, "tour_steps": 200}
# Worlds a search keeps (a state budget): the reductions and compact storage (issue 23) made a world
# about 0.3 kB and 15-20 us, so a million is about 0.3 GB and the 30 s of a user's search
# (searches.py) on a loaded machine; the two-entry scenario keeps 771,138.
USER_MAX_STATES = 1_000_000
REGISTRY_SIZE = 64


class UserScenarioError(ModelInputError):
    """A scenario link or text that cannot be used: `error` names the kind, `problems` are
    (line, message) pairs (line None when the problem has no line)."""

    def __init__(self, error: str, message: str, problems: list[tuple[int | None, str]] | None = None) -> None:
        super().__init__(message)
        self.error, self.problems = error, problems or []


# -- the link ---------------------------------------------------------------------------------

def encode(text: str) -> str:
    return base64.urlsafe_b64encode(zlib.compress(text.encode(), 9)).decode().rstrip("=")


def decode(link: str) -> str:
    """The TOML a link carries; a named error when it is too long, corrupted or inflates too far."""
    if len(link) > MAX_LINK:
        raise UserScenarioError("scenario-link-too-long", f"The scenario link has {len(link):,} characters; "
                                                          f"at most {MAX_LINK:,} are read.")
    if not re.fullmatch(r"[A-Za-z0-9_-]+", link):
        raise UserScenarioError("scenario-link-corrupted", "The scenario link is corrupted: it holds characters "
                                                           "that base64url does not use.")
    try:
        packed = base64.urlsafe_b64decode(link + "=" * (-len(link) % 4))
        inflater = zlib.decompressobj()
        data = inflater.decompress(packed, MAX_TEXT + 1)  # never inflates past the bound
    except (binascii.Error, ValueError, zlib.error):
        raise UserScenarioError("scenario-link-corrupted", "The scenario link is corrupted: it does not "
                                                           "decompress.") from None
    if len(data) > MAX_TEXT or inflater.unconsumed_tail:
        raise UserScenarioError("scenario-too-large", f"The scenario is larger than {MAX_TEXT // 1024} KiB.")
    if not inflater.eof:
        raise UserScenarioError("scenario-link-corrupted", "The scenario link is corrupted: it is cut short.")
    if inflater.unused_data:  # one scenario, one link: nothing may ride after the compressed text
        raise UserScenarioError("scenario-link-corrupted", "The scenario link is corrupted: it has bytes after "
                                                           "the end of its compressed text.")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UserScenarioError("scenario-link-corrupted", "The scenario link is corrupted: not UTF-8 text.") from None


# -- the text's shape, checked before it is parsed ---------------------------------------------
# tomllib and the schema check take time quadratic in a dotted key's depth (a key of 8,000 parts
# took 1.4 s) and recurse on nested arrays and tables. A scenario needs keys of at most 3 parts
# and nesting of at most 3: far more than that is refused from one linear scan of the text.
MAX_KEY_PARTS = 8
MAX_NESTING = 16
_SPECIAL = re.compile(r"[\"'#.\n=\[\]{},]")


def _escaped(text: str, at: int) -> bool:
    """Whether the quote at `at` is escaped (an odd run of backslashes before it)."""
    run = 0
    while at - run - 1 >= 0 and text[at - run - 1] == "\\":
        run += 1
    return run % 2 == 1


def _string_end(text: str, start: int, quote: str) -> int:
    """The index after the string that opens at `start` (the end of its line when it is unterminated,
    the end of the text for a multi-line one: the parser then names the error)."""
    basic = quote == '"'
    if text.startswith(quote * 3, start):
        at = start + 3
        while (k := text.find(quote * 3, at)) >= 0:
            if basic and _escaped(text, k):
                at = k + 1
                continue
            return k + 3
        return len(text)
    line_end = text.find("\n", start)
    line_end = len(text) if line_end < 0 else line_end
    at = start + 1
    while 0 <= (k := text.find(quote, at, line_end)):
        if basic and _escaped(text, k):
            at = k + 1
            continue
        return k + 1
    return line_end


def shape_problem(text: str) -> tuple[int, str] | None:
    """(line, why) when a dotted key has more than MAX_KEY_PARTS parts or arrays and tables nest
    deeper than MAX_NESTING, outside strings and comments; None otherwise. Linear in the text."""
    at, dots, depth = 0, 0, 0
    while (m := _SPECIAL.search(text, at)) is not None:
        c, at = m.group(), m.end()
        if c == ".":
            dots += 1
            if dots >= MAX_KEY_PARTS:
                return text.count("\n", 0, at) + 1, f"a dotted key of more than {MAX_KEY_PARTS} parts"
        elif c in "\"'":
            at = _string_end(text, m.start(), c)
        elif c == "#":
            end = text.find("\n", at)
            at = len(text) if end < 0 else end
        else:
            dots = 0
            if c in "[{":
                depth += 1
                if depth > MAX_NESTING:
                    return text.count("\n", 0, at) + 1, f"arrays or tables nested more than {MAX_NESTING} deep"
            elif c in "]}":
                depth = max(0, depth - 1)
    return None


# -- errors on their lines --------------------------------------------------------------------

_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.-]+)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")


def key_lines(text: str) -> dict[tuple[str | int, ...], int]:
    """Each table and key of a TOML text by its path (as pydantic names it: ("cpus", 1, "actor"))
    and its 1-based line."""
    out: dict[tuple[str | int, ...], int] = {}
    counts: dict[tuple[str | int, ...], int] = {}
    path: tuple[str | int, ...] = ()
    for number, line in enumerate(text.splitlines(), 1):
        header = _HEADER.match(line)
        if header:
            names = header.group(2).split(".")
            # Array tables nest under the latest element of their parents ([[tours.segments]]).
            built: tuple[str | int, ...] = ()
            for i, name in enumerate(names):
                built += (name,)
                last = i == len(names) - 1
                if last and header.group(1) == "[[":
                    counts[built] = counts.get(built, -1) + 1
                    built += (counts[built],)
                elif not last and built in counts:
                    built += (counts[built],)
            path = built
            out.setdefault(path, number)
            continue
        key = _KEY.match(line)
        if key:
            out.setdefault(path + (key.group(1),), number)
    return out


def line_of(lines: dict[tuple[str | int, ...], int], loc: tuple[str | int, ...]) -> int | None:
    """The line of a field, or of its nearest enclosing key or table."""
    for n in range(len(loc), 0, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


def _loc(text: str) -> tuple[str | int, ...]:
    """"world.entries[0].slot" as ("world", "entries", 0, "slot")."""
    out: list[str | int] = []
    for part in re.findall(r"[A-Za-z_][A-Za-z0-9_-]*|\[\d+\]", text):
        out.append(int(part[1:-1]) if part.startswith("[") else part)
    return tuple(out)


def _limits(s: Scenario) -> list[tuple[tuple[str | int, ...], str]]:
    lim = USER_LIMITS
    found = []
    for field, n in (("cpus", len(s.cpus)), ("tours", len(s.tours)), ("challenges", len(s.challenges))):
        if n > lim[field]:
            found.append(((field,), f"{n} {field}; a scenario in a link may have at most {lim[field]}"))
    for field, n in (("slots", len(s.world.slots)), ("entries", len(s.world.entries))):
        if n > lim[field]:
            found.append((("world", field), f"{n} {field}; a scenario in a link may have at most {lim[field]}"))
    for i, t in enumerate(s.tours):
        if len(t.schedule) > lim["tour_steps"]:
            found.append((("tours", i), f"the tour has {len(t.schedule)} steps; at most {lim['tour_steps']}"))
    return found


def check(text: str) -> Scenario:
    """The scenario of a user's TOML, or UserScenarioError("scenario-invalid") with every problem
    placed on its line."""
    if len(text.encode()) > MAX_TEXT:
        raise UserScenarioError("scenario-too-large", f"The scenario is larger than {MAX_TEXT // 1024} KiB.")
    shape = shape_problem(text)
    if shape is not None:
        line, why = shape
        raise UserScenarioError("scenario-too-deep", f"The scenario has {why}: no scenario needs that.",
                                [(line, f"{why}: a scenario needs at most 3")])
    lines = key_lines(text)
    scenario = _validated(text, lines)
    problems = [(line_of(lines, loc), f"{'.'.join(map(str, loc))}: {why}") for loc, why in _limits(scenario)]
    if problems:
        raise UserScenarioError("scenario-invalid", "The scenario is larger than a link may carry.", problems)
    try:
        check_tours(scenario, "scenario")
    except ScenarioFileError as e:
        message = str(e).removeprefix("scenario: ")
        raise UserScenarioError("scenario-invalid", "A tour does not replay.",
                                [(line_of(lines, _loc(message.split(" ", 1)[0])), message)]) from None
    return scenario


def _validated(text: str, lines: dict[tuple[str | int, ...], int]) -> Scenario:
    """The scenario's schema checks, each problem on its line (the structured errors of
    scenario.check_schema: no parsing of the joined message of a scenario file's error)."""
    def invalid(problems: list[tuple[int | None, str]]) -> UserScenarioError:
        return UserScenarioError("scenario-invalid", "The scenario has errors.", problems)

    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        at = re.search(r"\(at line (\d+), column \d+\)", str(err))
        raise invalid([(int(at.group(1)) if at else None, f"not valid TOML: {err}")]) from None
    except (RecursionError, ValueError) as err:  # nested too deeply; an integer of 4300 digits
        raise invalid([(None, f"not valid TOML: {str(err)[:200] or 'nested too deeply'}")]) from None
    scenario, errors = check_schema(raw)
    if scenario is None:
        problems: list[tuple[int | None, str]] = []
        for loc, msg in errors[:20]:
            message = f"{'.'.join(map(str, loc))}: {msg}"
            if not loc:  # a check across fields: its message starts with the field's path
                message = msg.removeprefix("Value error, ")
                loc = _loc(message.split(":", 1)[0])
            problems.append((line_of(lines, loc) if loc else None, message))
        raise invalid(problems)
    return replace(scenario, source=text)


# -- lookup: a user scenario's id is its link ---------------------------------------------------

PREFIX = "u~"  # a scenario id that starts with this is a link: "u~" + encode(text)
_checked: OrderedDict[str, Scenario] = OrderedDict()  # a bounded cache of decoded links, not storage


def is_user(scenario_id: str) -> bool:
    return scenario_id.startswith(PREFIX)


def scenario_id(text: str) -> str:
    return PREFIX + encode(text)


# Refused links too, bounded (a link is at most MAX_LINK characters): a client looping on a bad link
# costs one check, not one a request. The error's parts are kept, not the exception (each raise
# of one instance would lengthen its traceback).
_refused: OrderedDict[str, tuple[str, str, list[tuple[int | None, str]]]] = OrderedDict()
REFUSED_SIZE = 256


def known(sid: str) -> bool:
    """Whether `load(sid)` answers from its caches (a scenario, or the error of a refused link)."""
    return sid in _checked or sid in _refused


def load(sid: str) -> Scenario:
    """The scenario a user id carries (UserScenarioError when the link is bad), its id the link's."""
    found = _checked.get(sid)
    if found is not None:
        _checked.move_to_end(sid)
        return found
    refused = _refused.get(sid)
    if refused is not None:
        _refused.move_to_end(sid)
        raise UserScenarioError(*refused)
    try:
        scenario = replace(check(decode(sid.removeprefix(PREFIX))), id=sid)
    except UserScenarioError as e:
        _remember(_refused, sid, (e.error, str(e), e.problems), REFUSED_SIZE)
        raise
    _remember(_checked, sid, scenario, REGISTRY_SIZE)
    return scenario


def _remember(cache: OrderedDict, key: str, value: object, size: int) -> None:
    cache[key] = value
    while len(cache) > size:
        cache.popitem(last=False)
