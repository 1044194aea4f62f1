"""The story of a run: the few steps a violation depends on, told as a kernel commit message
tells a race.

The patch that fixed this race explains it in eight lines:

    CPU1                    CPU2
    shrink_memcg_cb         swap_off
      list_lru_isolate        zswap_invalidate
                              zswap_swapoff
                                kfree(tree)
      // UAF
      spin_lock(&tree->lock)

A found schedule is 55 steps. `story` keeps what the violation depends on and folds the rest,
using only what the steps recorded (the pointers a step cached, the locks it took or dropped, the
objects it freed, what it wrote), never per-scenario text, so it tells every violation the
explorer finds, in every scenario, code and variant, and in a user's scenario:

- the **access**: the violating step, as `// UAF` and its line;
- the **pointer** the crashing CPU used, and the step that cached it (told in the legend);
- the **unpinning**: the last lock the crashing CPU dropped before the object was freed (the
  legend names it; the diagram shows the call that let go of the object, as the commit message
  shows `list_lru_isolate` and not the `spin_unlock(lock)` after it); but the drop of the lock
  the pointer was cached under, when the access is made under it again (the pre-1/3 walker's
  cursor, read under the LRU lock the isolate callback dropped: ``_guards``), and that unlock;
- the **frees** by the other CPUs of every object the crashing CPU still pointed to, each under
  its CPU's entry function and the function that freed it, and the freeing line for the object
  the access touched (`zswap_swapoff` / `kvfree(trees)`), to the commit message's depth.

A leak ends at the last step that changed the leaked object (after which nothing links it); a
livelock has no violating access at all: its story is the line its loop goes back from. Other
kinds (deadlock, sleeping in atomic context) end at their step, after the lock the CPU holds.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from app.model.kernel.engine import ACTORS
from app.model.kernel.lines import line_of
from app.model.views.codetext import WIDTH, called, code, is_lock_line, wrap
from app.model.views.viewtypes import Story, StoryRow

# The comment a commit message puts above the violating line.
COMMENTS = {"use-after-free": "// UAF", "double-free": "// double free", "null-deref": "// NULL deref",
            "leak": "// leak", "livelock": "// loops for ever", "deadlock": "// deadlock",
            "sleep-in-atomic": "// sleeps in atomic context"}
NAMES = {"use-after-free": "use-after-free", "double-free": "double free", "null-deref": "NULL dereference"}
MEMORY = ("use-after-free", "double-free", "null-deref")
RACE_STATE = ("lru", "tree:", "entry:", "folio:")  # written parts a letting-go call is about
UNIT = 2  # columns a nested line is indented by
# A story step's part, as the lane diagram's rows say it.
ROLE_WORDS = {"cache": "◆ the pointer", "unpin": "◆ lets go", "free": "◆ the free",
              "access": "◆ the violation", "change": "◆ changes it", "hold": "◆ holds the lock"}


Event = Mapping[str, Any]


def _target(view: Mapping[str, Any], violation: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The violation to tell: the one asked for (by kind and step id), else the first memory
    error of the run, else its first violation."""
    found = view["violations"]
    if violation is not None:
        same = [v for v in found if v["kind"] == violation["kind"] and v.get("step_id") == violation.get("step_id")]
        return same[0] if same else (violation if violation["kind"] == "livelock" else None)
    memory = [v for v in found if v["kind"] in MEMORY]
    return (memory or list(found) or [None])[0]


def _heading(view: Mapping[str, Any], cpu: int) -> str:
    """The function a CPU's column starts with: a shrinker's isolate callback (shrink_memcg_cb,
    as the commit message), else the function of the CPU's first step."""
    actor = next((c["actor"] for c in view["cpus"] if c["id"] == cpu), "")
    a = ACTORS.get(actor)
    if a is not None and a.callback:
        return line_of(a.callback).function
    first = next((e for e in view["events"] if e["cpu"] == cpu), None)
    if first is not None:
        return str(first["function"])
    return line_of(a.entry).function if a is not None else f"CPU{cpu}"


def _where(e: Event) -> str:
    return e["line_label"] or f"{e['function']}()"


def _at(e: Event) -> str:
    """ "shrink_memcg_cb b:883, step 55": where a step is, for a title."""
    return f"{e['function']}{' ' + e['line_label'] if e['line_label'] else ''}, step {e['index'] + 1}"


def _freeing_line(e: Event) -> str:
    """The line of a step that frees, as code: the step's own, or the line in it that frees
    when the quoted one does not (zswap_store() invalidates a duplicate under the tree lock)."""
    return code(line_of(e["step"]).frees or e["text"])


def _held_pointers(events: Sequence[Event], cpu: int, end: int) -> dict[str, tuple[str, int]]:
    """local -> (heap address, event index that cached it), for the pointers ``cpu`` holds at ``end``."""
    held: dict[str, tuple[str, int]] = {}
    for e in events[:end]:
        if e["cpu"] == cpu:
            for p in e["pointers"]:
                held[p["local"]] = (p["addr"], e["index"])
    return held


def _mentions(text: str, name: str) -> bool:
    return re.search(rf"(?<![\w>.]){re.escape(name)}\b", text) is not None


def _assigns(text: str, name: str) -> bool:
    return re.match(rf"^\s*(?:[\w\s]*[\s*])?{re.escape(name)}\s*=[^=]", text) is not None


def _cache(events: Sequence[Event], cpu: int, access: Event, obj: str | None) -> tuple[str, int] | None:
    """(local, event index) of the pointer the violating access went through: a pointer to the
    object it touched (the one its line names, if several), else the last assignment of a local
    the line names (a NULL-based pointer is no heap pointer)."""
    held = _held_pointers(events, cpu, access["index"])
    if obj is not None:
        to_obj = [(local, i) for local, (addr, i) in held.items() if addr == obj]
        named = [c for c in to_obj if _mentions(access["text"], c[0])]
        if named or to_obj:
            return max(named or to_obj, key=lambda c: c[1])
    names = re.findall(r"([A-Za-z_]\w*)\s*->", access["text"])
    for e in reversed(events[: access["index"]]):
        if e["cpu"] == cpu:
            for name in names:
                if _assigns(e["text"], name):
                    return name, e["index"]
    return None


def _frees(events: Sequence[Event], v: Mapping[str, Any], cpu: int, end: int) -> tuple[list[int], int | None]:
    """(the free events the violation depends on, the one of the touched object): the frees, by
    the other CPUs before ``end``, of every object ``cpu`` still points to, and of the touched
    object; for a NULL dereference, the frees of the objects of the struct it went for."""
    first_free: dict[str, int] = {}
    for e in events[:end]:
        for r in e["freed"]:
            first_free.setdefault(r["addr"], e["index"])
    obj = v.get("object")
    wanted = {addr for addr, _ in _held_pointers(events, cpu, end).values()}
    if obj:
        wanted.add(obj)
    elif v["kind"] == "null-deref":
        struct = re.search(r"struct (\w+)", v.get("detail") or "")
        for e in events[:end]:
            for r in e["freed"]:
                if struct and r["type"].startswith(f"struct {struct.group(1)}"):
                    wanted.add(r["addr"])
    primary = first_free.get(obj) if obj else None
    picked = {i for addr, i in first_free.items() if addr in wanted and (events[i]["cpu"] != cpu or addr == obj)}
    if primary is None and v["kind"] == "null-deref" and picked:
        primary = max(picked)
    return sorted(picked), primary


def _locks_held(events: Sequence[Event], cpu: int, end: int) -> set[str]:
    """The locks ``cpu`` holds after the events before ``end``."""
    held: set[str] = set()
    for e in events[:end]:
        if e["cpu"] == cpu:
            held = (held | set(e["locks_taken"])) - set(e["locks_released"])
    return held


def _guards(events: Sequence[Event], cpu: int, cached: int, access: int) -> set[str]:
    """The locks ``cpu`` held when it cached the pointer (event ``cached``) and holds again at the
    access: the pointer is used under the lock it was read under, so what made it stale is that
    lock's drop in between (the pre-1/3 walker's cursor, read under the LRU lock that the isolate
    callback drops), not the last lock dropped."""
    return _locks_held(events, cpu, cached + 1) & _locks_held(events, cpu, access)


def _unpin(events: Sequence[Event], cpu: int, before: int, guards: set[str] | None = None,
           after: int = -1) -> tuple[int | None, int | None]:
    """(the last lock ``cpu`` dropped before event ``before`` (with ``guards``: the last drop of one
    of them after event ``after``), the step the diagram shows for it):
    a call that dropped it is shown itself; for a bare unlock, the call just before it (since the
    CPU last took a lock) that wrote what the race is about, as `list_lru_isolate` before
    `spin_unlock(lock)`; else the unlock."""
    mine = [e for e in events[:before] if e["cpu"] == cpu]
    drops = [e for e in mine if e["locks_released"]
             and (guards is None or (e["index"] > after and guards & set(e["locks_released"])))]
    if not drops:
        return None, None
    u = drops[-1]
    if not is_lock_line(code(u["text"])):
        return u["index"], u["index"]
    for e in reversed(mine):
        if e["index"] >= u["index"]:
            continue
        if e["locks_taken"] or e["function"] != u["function"]:
            break
        if not is_lock_line(code(e["text"])) and any(k.startswith(RACE_STATE) for k in e["changed"]):
            return u["index"], e["index"]
    return u["index"], u["index"]


class _Builder:
    """Rows in time order, each CPU under its heading and the function a row's step runs in."""

    def __init__(self, view: Mapping[str, Any]) -> None:
        self.view = view
        self.events = view["events"]
        self.rows: list[StoryRow] = []
        self.open: dict[int, str] = {}  # CPU -> the function its last row ran in ("" = its heading's)
        self.headings: dict[int, str] = {}

    def enter(self, cpu: int, function: str) -> int:
        """The depth of a row of ``cpu`` in ``function``, after its heading and sub-heading."""
        if cpu not in self.headings:
            self.headings[cpu] = _heading(self.view, cpu)
            self.rows.append({"cpu": cpu, "depth": 0, "text": self.headings[cpu], "step": None, "role": "heading"})
        if function == self.headings[cpu]:
            self.open[cpu] = ""
            return 1
        if self.open.get(cpu) != function:
            self.rows.append({"cpu": cpu, "depth": 1, "text": function, "step": None, "role": "call"})
            self.open[cpu] = function
        return 2

    def add(self, index: int, role: str, text: str, comment: str = "") -> None:
        e = self.events[index]
        depth = self.enter(e["cpu"], e["function"])
        if comment:
            self.rows.append({"cpu": e["cpu"], "depth": depth, "text": comment, "step": None, "role": "comment"})
        self.rows.append({"cpu": e["cpu"], "depth": depth, "text": text, "step": index, "role": role})

    def add_call(self, index: int, role: str) -> None:
        """A step told by the function it runs in, one level under its CPU's heading, as the commit
        message tells `zswap_invalidate` (or by the call on its line, in the heading's function)."""
        e = self.events[index]
        if e["function"] == self.headings.get(e["cpu"]) or self.open.get(e["cpu"]) == e["function"]:
            self.add(index, role, called(e["text"]))
            return
        self.enter(e["cpu"], self.headings.get(e["cpu"]) or _heading(self.view, e["cpu"]))
        self.rows.append({"cpu": e["cpu"], "depth": 1, "text": e["function"], "step": index, "role": role})
        self.open[e["cpu"]] = e["function"]

    def add_line(self, cpu: int, function: str, role: str, text: str, comment: str) -> None:
        depth = self.enter(cpu, function)
        self.rows.append({"cpu": cpu, "depth": depth, "text": comment, "step": None, "role": "comment"})
        self.rows.append({"cpu": cpu, "depth": depth, "text": text, "step": None, "role": role})


def _fit(text: str) -> str:
    return text if len(text) <= WIDTH else text[: WIDTH - 1] + "…"


def _memory_story(view: Mapping[str, Any], v: Mapping[str, Any], b: _Builder, roles: dict[int, str]) -> tuple[str, str]:
    events = b.events
    access = events[v["step"]]
    cpu = access["cpu"]
    cached = _cache(events, cpu, access, v.get("object"))
    frees, primary = _frees(events, v, cpu, access["index"])
    first_free = frees[0] if frees else access["index"]
    unpin = shown = None
    guarded = False
    if cached is not None and (guards := _guards(events, cpu, cached[1], access["index"])):
        unpin, _ = _unpin(events, cpu, first_free, guards, after=cached[1])
        shown = unpin  # the drop itself lets go of what the lock guarded: the diagram shows it
        guarded = unpin is not None
    if unpin is None:
        unpin, shown = _unpin(events, cpu, first_free)
    if cached is not None:
        roles[cached[1]] = "cache"
    if unpin is not None:
        roles[unpin] = "unpin"
    if shown is not None:
        roles.setdefault(shown, "unpin")
        b.add(shown, "unpin", (code if guarded else called)(events[shown]["text"]))
    for i in frees:
        roles[i] = "free"
        if i == primary:  # the freeing function, then its freeing line under it
            b.add(i, "free", _freeing_line(events[i]))
        else:
            b.add_call(i, "free")
    roles[access["index"]] = "access"
    b.add(access["index"], "access", code(access["text"]), COMMENTS[v["kind"]])
    name = v.get("object_name") or ""
    title = f"{NAMES[v['kind']]}{f' of {name}' if name else ''} in {_at(access)}"
    legend = []
    if cached is not None:
        legend.append(f"{cached[0]} cached at {_where(events[cached[1]])} (step {cached[1] + 1})")
    if unpin is not None:
        legend.append(f"{', '.join(events[unpin]['locks_released'])} dropped at {_where(events[unpin])} (step {unpin + 1})")
    text = ", ".join(legend)
    if len(text) > WIDTH:
        text = ", ".join(re.sub(r" \(step \d+\)", "", part) for part in legend)
    return title, text


def _leak_story(view: Mapping[str, Any], v: Mapping[str, Any], b: _Builder, roles: dict[int, str]) -> tuple[str, str, int | None]:
    key = f"entry:{v['object']}"
    touched = [e for e in b.events if key in e["changed"] or any(r["addr"] == v["object"] for r in e["allocated"])]
    if not touched:
        return f"leak of {v.get('object_name') or v['object']}", _fit(v["detail"]), None
    last = touched[-1]
    before = {}
    for e in touched[:-1]:
        if e["cpu"] != last["cpu"]:
            before[e["cpu"]] = e  # each other CPU's last change of the object
    for e in sorted(before.values(), key=lambda e: e["index"]):
        roles[e["index"]] = "change"
        b.add(e["index"], "change", called(e["text"]))
    roles[last["index"]] = "access"
    b.add(last["index"], "access", code(last["text"]), COMMENTS["leak"])
    name = v.get("object_name") or v["object"]
    return _fit(f"leak of {name} after {_at(last)}"), _fit(v["detail"]), last["index"]


def _loop_story(view: Mapping[str, Any], v: Mapping[str, Any], b: _Builder) -> tuple[str, str]:
    """A livelock: no access goes wrong; the loop does. Its story is the line the loop goes back
    from, on the CPU whose program has it."""
    site = v.get("step_id") or ""
    cpu = next((c["id"] for c in view["cpus"] if any(p["step"] == site for p in c["program"])), view["cpus"][0]["id"])
    line = line_of(site)
    b.add_line(cpu, line.function, "access", code(line.text), COMMENTS["livelock"])
    return _fit(f"livelock in {line.function} {line.label or ''}".rstrip()), _fit(v.get("detail") or "")


def _other_story(view: Mapping[str, Any], v: Mapping[str, Any], b: _Builder, roles: dict[int, str]) -> tuple[str, str, int | None]:
    """Deadlock, sleeping in atomic context and the rest: the lock the CPU still holds, then the line."""
    cpu = v.get("cpu") or view["cpus"][0]["id"]
    end = v["step"] if v.get("step") is not None else len(b.events)
    held: dict[str, int] = {}
    for e in b.events[:end]:
        if e["cpu"] == cpu:
            for n in e["locks_released"]:
                held.pop(n, None)
            for n in e["locks_taken"]:
                held[n] = e["index"]
    for i in sorted(held.values())[-1:]:
        roles[i] = "hold"
        b.add(i, "hold", code(b.events[i]["text"]))
    comment = COMMENTS.get(v["kind"], f"// {v['kind']}")
    if v.get("step") is not None:
        roles[v["step"]] = "access"
        b.add(v["step"], "access", code(b.events[v["step"]]["text"]), comment)
    elif v.get("step_id"):
        line = line_of(v["step_id"])
        b.add_line(cpu, line.function, "access", code(line.text), comment)
    return _fit(f"{v['kind']} in {v.get('function') or ''} {v.get('line_label') or ''}".strip()), _fit(v.get("detail") or ""), v.get("step")


def story(view: Mapping[str, Any], violation: Mapping[str, Any] | None = None) -> Story | None:
    """The story of the run's violation (``violation``: the one to tell, by kind and step id,
    e.g. an explorer group; a livelock group is told from its own fields); None without one."""
    v = _target(view, violation)
    if v is None:
        return None
    b = _Builder(view)
    roles: dict[int, str] = {}
    end: int | None
    if v["kind"] in MEMORY and v.get("step") is not None:
        title, legend = _memory_story(view, v, b, roles)
        end = v["step"]
    elif v["kind"] == "leak" and v.get("object"):
        title, legend, end = _leak_story(view, v, b, roles)
    elif v["kind"] == "livelock":
        title, legend = _loop_story(view, v, b)
        end = None
    else:
        title, legend, end = _other_story(view, v, b, roles)
    cpus = sorted(b.headings) or [c["id"] for c in view["cpus"][:1]]
    labels = {c["id"]: c["label"] for c in view["cpus"]}
    out: Story = {"kind": v["kind"], "title": _fit(title), "legend": legend, "cpus": cpus, "rows": b.rows,
                  "steps": sorted(roles), "roles": {str(i): r for i, r in sorted(roles.items())}, "end": end,
                  "text": ""}
    out["text"] = render(out, labels)
    return out


def columns(story_: Story, labels: Mapping[int, str]) -> list[str]:
    """The story's rows as commit-message columns: every CPU's heading on the first line, then
    one line per row in time order (a row never shares a line with a later one of another CPU)."""
    cpus = story_["cpus"]
    width = WIDTH // max(len(cpus), 1)
    x = {cpu: i * width for i, cpu in enumerate(cpus)}
    lines = ["".join(labels.get(cpu, f"CPU{cpu}").ljust(width) for cpu in cpus).rstrip()]
    top = [r for r in story_["rows"] if r["role"] == "heading"]
    lines.append("".join(next((r["text"] for r in top if r["cpu"] == cpu), "").ljust(width) for cpu in cpus).rstrip())
    for r in story_["rows"]:
        if r["role"] == "heading":
            continue
        start = x[r["cpu"]] + r["depth"] * UNIT  # alone on its line: it may run on past its column
        for chunk in wrap(r["text"], WIDTH - start, UNIT):
            lines.append((" " * start + chunk).rstrip())
    return lines


def render(story_: Story, labels: Mapping[int, str]) -> str:
    """The story as text: its title, the columns, its legend."""
    lines = [story_["title"], "", *columns(story_, labels)]
    if story_["legend"]:
        lines += ["", story_["legend"]]
    return "\n".join(lines) + "\n"
