"""Presentation-only context for the scenario page, derived from one RunView.

No kernel logic here: links, labels and lookups over what the model returned.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

from markupsafe import Markup

from app.web.page import lanerows, listing, panes
from app.web import modelapi, urls


@dataclass
class CpuControls:
    """The buttons of one CPU column: URLs when it can run, the reason when it cannot."""

    step_url: str | None
    step_over_url: str | None
    run_url: str | None
    reason: str | None


@dataclass
class CodeLink:
    """One entry of the old/new/variant switch, with how far the current schedule replays on it."""

    id: str
    title: str
    description: str
    current: bool
    url: str
    valid: bool
    valid_steps: int
    position: int | None = None
    reason: str | None = None
    kernel: bool = True  # kernel code (the series), not a "break the fix" variant
    series: int = 0  # its place in the series: before 1/3, old, new


@dataclass
class TourState:
    name: str
    title: str
    code: str
    total: int
    position: int  # steps of the tour already taken (len(t) while on the tour)
    on_tour: bool
    wrong_code: bool
    done_sentence: str | None  # the sentence of the step just taken
    next_sentence: str | None
    next_cpu: int | None
    next_url: str | None
    start_url: str
    rejoin_url: str | None  # back to where the schedule left the tour
    predict: "PredictState | None" = None  # the question asked before the next step, if any


@dataclass
class PredictState:
    """A tour's "predict" stop: the question before the next step, its choices (key, text, the
    URL that picks it) and, once one is picked, the answer."""

    question: str
    choices: list[tuple[str, str, str]]
    answer: int
    picked: int | None

    @property
    def right(self) -> bool:
        return self.picked == self.answer


@dataclass
class TourLink:
    """One entry of the scenario page's tour menu."""

    name: str
    title: str
    code: str
    steps: int
    url: str
    current: bool


@dataclass
class PageContext:
    scenario: dict[str, Any]
    view: dict[str, Any]
    code: str
    t: str
    tour: TourState | None
    controls: dict[int, CpuControls]
    code_links: list[CodeLink]
    heap_by_addr: dict[str, dict[str, Any]]
    changes: dict[str, list[str]] = field(default_factory=dict)
    listings: dict[int, Markup] = field(default_factory=dict)  # each CPU's rendered listing
    whole_listing: bool = False  # every line of each listing, or only the window around the next
    tours: list[TourLink] = field(default_factory=list)
    start_tour_url: str | None = None  # where → goes when no tour is followed
    start_tour_title: str | None = None
    fix: dict[str, Any] | None = None  # the old code's crash on this schedule, when this code survived it
    real_cpus: int = 0  # CPUs other than the write I/O completion (the stage's density)

    def label(self, cpu_id: int | None) -> str:
        """"CPU1", ... or "I/O": how the page names the actor with this digit."""
        return next((c["label"] for c in self.view["cpus"] if c["id"] == cpu_id), f"CPU{cpu_id}")

    def url(self, t: str | None = None, code: str | None = None) -> str:
        """This page's URL with another schedule or code (the tour is kept)."""
        return urls.scenario(self.view["scenario"], code or self.code, self.t if t is None else t,
                             self.tour.name if self.tour else None)

    @cached_property
    def linked_names(self) -> tuple[tuple[Any, ...], ...]:
        """(address, name, type, freed) of every heap object: what a pane's object links show
        (once per page; four panes key their memo on it, app/web/page/panes.py)."""
        return tuple((a, o["name"], o["type"], o["freed"]) for a, o in self.heap_by_addr.items())

    def pane(self, name: str) -> Markup:
        """One kernel-state pane of this state, rendered (app/web/page/panes.py)."""
        return panes.html(self, self.view, name)

    def lane_row(self, lanes: dict[str, Any], row: dict[str, Any]) -> Markup:
        """One row of the lane diagram, rendered (app/web/page/lanerows.py)."""
        return lanerows.html(self, lanes, row)

    @property
    def kasan_url(self) -> str | None:
        """The download of the run's KASAN report (.txt), once it has one."""
        has = any(v["kind"] in modelapi.MEMORY_ERRORS for v in self.view["violations"])
        return urls.kasan_txt(self.view["scenario"], self.code, self.t) if has else None

    @property
    def compare_link(self) -> tuple[str, str]:
        """("compare with the fixed code" or "... the old code", the compare page of this schedule
        on both codes; the other side cut where the schedule stops replaying on its code)."""
        other = "old" if self.code == "new" else "new"
        link = next((c for c in self.code_links if c.id == other), None)
        steps = link.valid_steps if link is not None else len(self.t)
        label = "Compare with the old code" if other == "old" else "Compare with the fixed code"
        return label, urls.compare(self.view["scenario"], self.code, self.t, other, self.t[:steps])

    def step_url(self, index: int) -> str:
        """The state right after schedule step `index` (0-based)."""
        return self.url(self.t[: index + 1])

    @property
    def undo_url(self) -> str | None:
        return self.url(self.t[:-1]) if self.t else None

    @property
    def reset_url(self) -> str:
        return self.url("")

    @cached_property
    def tour_end(self) -> "TourEnd | None":
        """The verdict shown at the end of a tour that does not crash (a fixed code's tour)."""
        tr = self.tour
        if tr is None or not tr.on_tour or tr.next_url is not None or tr.position == 0 or self.view["violations"]:
            return None
        return tour_end(self.view)

    def pane_changed(self, pane: str) -> bool:
        """The last step wrote something this pane shows."""
        return pane in self.changes

    def row_changed(self, pane: str, row: str) -> bool:
        return row in self.changes.get(pane, ())


@dataclass
class TourEnd:
    """A run that ended without a crash, in facts of the run: what each CPU returned, and when the
    trees array was freed against the other CPUs' last tree->lock (the race the fix closes)."""

    results: list[tuple[int, str, str]]         # (cpu id, label, result) of each CPU that finished
    freed: tuple[str, int, int] | None          # (object, step number, cpu id) of the trees' free
    before: list[tuple[int, str, int | None]]   # (cpu id, label, its last tree->lock step or None)


def tour_end(view: dict[str, Any]) -> TourEnd:
    labels = {c["id"]: c["label"] for c in view["cpus"]}
    results = [(c["id"], c["label"], c["result"]) for c in view["cpus"] if c["status"] == "done" and c["result"]]
    freed = next(((o["name"], e["index"] + 1, e["cpu"]) for e in view["events"] for o in e["freed"]
                  if o["type"].startswith("struct zswap_tree")), None)
    before: list[tuple[int, str, int | None]] = []
    if freed is not None:
        for cpu in sorted(labels):
            if cpu == freed[2] or not any(e["cpu"] == cpu for e in view["events"]) or labels[cpu] == "I/O":
                continue
            last = [e["index"] + 1 for e in view["events"] if e["cpu"] == cpu and "tree->lock" in e["locks_taken"]]
            before.append((cpu, labels[cpu], last[-1] if last else None))
    return TourEnd(results, freed, before)


def _controls(view: dict[str, Any], base: PageContext) -> dict[int, CpuControls]:
    out = {}
    for cpu in view["cpus"]:
        if cpu["id"] in view["enabled"]:
            t = base.t
            out[cpu["id"]] = CpuControls(
                step_url=base.url(t + str(cpu["id"])),
                step_over_url=base.url(t + cpu["step_over"]) if cpu["step_over"] else None,
                run_url=base.url(t + cpu["run_until_blocked"]) if cpu["run_until_blocked"] else None,
                reason=None,
            )
        else:
            out[cpu["id"]] = CpuControls(None, None, None, cpu.get("blocked_on") or cpu["status_text"])
    return out


def code_links(scenario: dict[str, Any], code: str, t: str, tour: str | None) -> list[CodeLink]:
    """Validate `t` on every other code of the scenario (replay only) and say how far it stays valid."""
    links = []
    for c in scenario["code_info"]:
        link = CodeLink(id=c["id"], title=c["title"], description=c.get("description", ""),
                        current=c["id"] == code, url=urls.scenario(scenario["id"], c["id"], t, tour),
                        valid=True, valid_steps=len(t), kernel=c["kernel"], series=c["series"] or 0)
        if not link.current and t:
            e = modelapi.validate(scenario["id"], c["id"], t)
            if e is not None:
                link.valid, link.valid_steps = False, len(e.valid_prefix)
                link.position, link.reason = e.position, e.reason
                link.url = urls.scenario(scenario["id"], c["id"], e.valid_prefix, tour)
        links.append(link)
    return links


def common_prefix(a: str, b: str) -> int:
    """How many leading steps two schedules share."""
    return len(os.path.commonprefix([a, b]))


PICK_KEYS = "abcde"  # a predict stop's choices: letters, since digits step the CPUs


def _tour(scenario: dict[str, Any], name: str, code: str, t: str, pick: int | None = None) -> TourState:
    tour = next(x for x in scenario["tours"] if x["name"] == name)
    sched: str = tour["schedule"]
    steps: list[str] = tour["steps"]
    common = common_prefix(t, sched)
    on_tour = common == len(t) and tour["code"] == code
    pos = len(t) if on_tour else common

    def sentence(i: int) -> str | None:
        return steps[i] if 0 <= i < len(steps) else None

    nxt = on_tour and pos < len(sched)
    stop = next((p for p in tour["predict"] if p["step"] == pos), None) if nxt else None
    predict = None
    if stop is not None:
        predict = PredictState(stop["question"],
                               [(PICK_KEYS[i], text, urls.scenario(scenario["id"], code, t, name, pick=i))
                                for i, text in enumerate(stop["choices"])], stop["answer"], pick)
    return TourState(
        predict=predict,
        name=name, title=tour["title"], code=tour["code"], total=len(sched), position=pos,
        on_tour=on_tour, wrong_code=tour["code"] != code,
        done_sentence=sentence(pos - 1) if on_tour else None,
        next_sentence=sentence(pos) if nxt else None,
        next_cpu=int(sched[pos]) if nxt else None,
        next_url=urls.scenario(scenario["id"], code, sched[: pos + 1], name) if nxt else None,
        start_url=urls.scenario(scenario["id"], tour["code"], "", name),
        rejoin_url=None if on_tour else urls.scenario(scenario["id"], tour["code"], sched[:common], name),
    )


def predict_stop(scenario: dict[str, Any], tour: str | None, code: str, t: str) -> PredictState | None:
    """The question a tour asks at this state (a room's poll), or None when it asks none."""
    if tour is None or not any(x["name"] == tour for x in scenario["tours"]):
        return None
    state = _tour(scenario, tour, code, t)
    return state.predict if state.on_tour else None


def tour_links(scenario: dict[str, Any], code: str, current: str | None) -> list[TourLink]:
    """The scenario's tours, those written for the current code first."""
    tours = sorted(scenario["tours"], key=lambda x: x["code"] != code)
    return [TourLink(x["name"], x["title"], x["code"], len(x["schedule"]),
                     urls.scenario(scenario["id"], x["code"], "", x["name"]), x["name"] == current)
            for x in tours]


def matching_tour(scenario: dict[str, Any], code: str, t: str) -> tuple[str, str] | None:
    """(url, title) of the tour of `code` that shares the longest prefix with `t`, entered at
    the end of that shared prefix: the same moment of the race on this code's tour."""
    best: tuple[int, dict[str, Any]] | None = None
    for x in scenario["tours"]:
        if x["code"] != code:
            continue
        common = common_prefix(t, x["schedule"])
        if best is None or common > best[0]:
            best = (common, x)
    if best is None:
        return None
    common, x = best
    return urls.scenario(scenario["id"], code, x["schedule"][:common], x["name"]), x["title"]


def page_context(scenario: dict[str, Any], view: dict[str, Any], tour: str | None,
                 whole_listing: bool = False, make: type[PageContext] = PageContext,
                 pick: int | None = None, **extra: Any) -> PageContext:
    """The page's context, with each CPU's whole listing or only its window; `make` a subclass
    whose url() sends the stage's links elsewhere (the embed, a challenge), `extra` its own fields."""
    code, t = view["code"], view["schedule"]
    ctx = make(**extra,
        scenario=scenario, view=view, code=code, t=t,
        tour=_tour(scenario, tour, code, t, pick) if tour else None,
        controls={}, code_links=code_links(scenario, code, t, tour),
        heap_by_addr={o["addr"]: o for o in view["world"]["heap"]},
        changes=view.get("changes") or {},
        tours=tour_links(scenario, code, tour),
    )
    ctx.controls = _controls(view, ctx)
    ctx.real_cpus = sum(1 for c in view["cpus"] if c["actor"] != "io")
    window = listing.WINDOW_3CPU if ctx.real_cpus >= 3 else listing.WINDOW
    ctx.whole_listing = whole_listing
    ctx.listings = {c["id"]: listing.html(code, c, window, whole_listing) for c in view["cpus"]}
    if ctx.tour is None or ctx.tour.wrong_code:
        # → starts (or, off a tour of another code, joins) a tour written for this code.
        found = matching_tour(scenario, code, t) if t else None
        if found is None:
            first = next((x for x in ctx.tours if x.code == code), None)
            found = (first.url, first.title) if first else None
        if found:
            ctx.start_tour_url, ctx.start_tour_title = found
    ctx.fix = modelapi.old_code_crash(scenario["id"], code, t)
    return ctx


# -- the explorer's verdicts --------------------------------------------------------------------

_WORDS = ((10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (10**3, "thousand"))


def _sig(x: float) -> str:
    """Two significant digits, never in e-notation: 1.4, 9.7, 50, 480."""
    return f"{x:.2g}" if x < 10 else f"{int(float(f'{x:.2g}')):d}"


def one_in(count: int, total: int | None) -> str:
    """How rare `count` of `total` is, in words a room can read: 'about 1 in 1.4 trillion'."""
    if not total or not count:
        return ""
    if count * 2 > total:
        return f"{100 * count / total:.0f}% of them"
    ratio = Decimal(total) / Decimal(count)
    if ratio < 1000:
        return f"about 1 in {_sig(float(ratio))}"
    for size, word in _WORDS:
        if size <= ratio < size * 1000:
            return f"about 1 in {_sig(float(ratio / size))} {word}"
    exp = ratio.adjusted()
    return f"about 1 in {_sig(float(ratio.scaleb(-exp)))} × 10^{exp}"


def is_kernel_label(label: str) -> bool:
    """b:/f:/p: labels are lines of the real mm/zswap.c (p: before patch 1/3); anything else is a
    variant's invented line."""
    return label.startswith(("b:", "f:", "p:"))


@dataclass
class ViolationGroup:
    kind: str
    where: str          # "shrink_memcg_cb b:883", or a sentence when the group has no location
    function: str
    line_label: str
    kernel_line: bool   # False for a variant's own line (not kernel code)
    detail: str
    count: int | None   # None: found, not counted (count_unknown says why)
    count_text: str | None
    one_in: str
    shortest: str
    url: str            # the shortest counterexample, replayed on this code
    story: str = ""     # the race in a few lines, as a commit message tells it (app/model/views/story.py)
    count_unknown: str = ""  # why count is None ("the search stopped after 3,000 states")


@dataclass
class CodeVerdict:
    """One code's verdict, or (result None) the link that runs the explorer for it."""

    scenario: str
    code: str
    title: str
    description: str
    is_variant: bool
    result: dict[str, Any] | None
    run_url: str
    heavy: bool
    cost: str = ""  # how long its first search takes, in words (modelapi.cost_hint)
    groups: list[ViolationGroup] = field(default_factory=list)
    t: str = ""  # explored from the state after this schedule ("" = from the start)
    running_url: str = ""  # the block while the search runs (its progress, a cancel button)

    @property
    def dom_id(self) -> str:
        return f"verdict-{self.code}" + ("-here" if self.t else "")


def code_verdict(scenario: dict[str, Any], code: dict[str, Any], result: dict[str, Any] | None,
                 t: str = "") -> CodeVerdict:
    sid = scenario["id"]
    v = CodeVerdict(scenario=sid, code=code["id"], title=code["title"], description=code.get("description", ""),
                    is_variant=not code.get("kernel", code["id"] in modelapi.MAIN_CODES), result=result,
                    run_url=urls.verdict(sid, code["id"], t), heavy=modelapi.is_heavy(sid), cost=modelapi.cost_hint(sid), t=t,
                    running_url=urls.verdict_running(sid, code["id"], t))
    if result is None:
        return v
    total = result.get("complete_runs")
    for g in result.get("violations", []):
        label = g.get("line_label") or ""
        # A kernel line unless the step is a variant's own (mm/swapfile.c lines have no b:/f: label).
        kernel = not g.get("step_id") or is_kernel_label(label) or not (g.get("file") or "").startswith("variant")
        if not g.get("function"):
            where = "the end of the run (no single line)"
        elif kernel:
            where = f"{g['function']} {label}".strip()
        else:
            where = f"{g['function']} (variant step {g['step_id']})"
        v.groups.append(ViolationGroup(
            kind=g["kind"], where=where, function=g.get("function") or "", line_label=label,
            kernel_line=kernel, detail=g.get("detail") or "",
            count=g["count"], count_text=g.get("count_text", None if g["count"] is None else str(g["count"])),
            one_in=one_in(g["count"], total) if g["count"] is not None else "",
            count_unknown=g.get("count_unknown") or "",
            shortest=g["shortest"], url=urls.scenario(sid, code["id"], g["shortest"]),
            story=(g.get("story") or {}).get("text", "")))
    return v


def here_verdict(scenario: dict[str, Any], code: str, t: str) -> CodeVerdict | None:
    """The "from this state" explorer button of a state page (none at the start: that is the
    scenario's own verdict, further down)."""
    if not t:
        return None
    info = next(c for c in scenario["code_info"] if c["id"] == code)
    return code_verdict(scenario, info, None, t)


@dataclass
class SearchProgress:
    """A running search as its block shows it: worlds kept so far, their rate, the time since it
    started, the first violation found (as a verdict's group, with its shortest schedule)."""

    verdict: CodeVerdict
    running: bool  # False: not started yet (queued, or its request not arrived)
    states: int
    per_second: float
    seconds: float
    first: ViolationGroup | None
    cancelled: bool
    progress_url: str
    cancel_url: str


def search_progress(scenario: dict[str, Any], code: dict[str, Any], t: str,
                    progress: dict[str, Any] | None) -> SearchProgress:
    sid = scenario["id"]
    v = code_verdict(scenario, code, None, t)
    p = progress or {}
    first = None
    if p.get("first"):
        first = code_verdict(scenario, code, {"violations": [p["first"]], "complete_runs": None}, t).groups[0]
    return SearchProgress(verdict=v, running=bool(p.get("running")), states=int(p.get("states", 0)),
                          per_second=float(p.get("per_second", 0.0)), seconds=float(p.get("seconds", 0.0)),
                          first=first, cancelled=bool(p.get("cancelled")),
                          progress_url=urls.verdict_progress(sid, code["id"], t),
                          cancel_url=urls.verdict_cancel(sid, code["id"], t))


@dataclass
class VerdictPane:
    main: list[CodeVerdict]       # the series: before 1/3 (on request), old and new side by side
    variants: list[CodeVerdict]   # "break the fix", on request


def verdict_pane(scenario: dict[str, Any]) -> VerdictPane:
    """Old and new verdicts computed now for a light scenario, links for a heavy one and for the
    variants: what the page shows depends only on the URL, never on what happens to be cached."""
    sid = scenario["id"]
    light = not modelapi.is_heavy(sid)
    main, variants = [], []
    for c in sorted(scenario["code_info"], key=lambda c: c["series"] if c["kernel"] else 9):
        if c["id"] in modelapi.MAIN_CODES:
            main.append(code_verdict(scenario, c, modelapi.verdict(sid, c["id"]) if light else None))
        elif c["kernel"]:  # the code before patch 1/3: a kernel code, its verdict on request
            main.append(code_verdict(scenario, c, None))
        else:
            variants.append(code_verdict(scenario, c, None))
    return VerdictPane(main=main, variants=variants)


def index_verdicts(scenario: dict[str, Any]) -> list[tuple[str, str, str]]:
    """One line per main code for the index: (code, state, text), state one of ok / bad / pending /
    heavy. Never computes: the index shows what the startup thread or a scenario page has found."""
    out = []
    for code in modelapi.MAIN_CODES:
        r = modelapi.cached_verdict(scenario["id"], code)
        if r is None:
            if modelapi.is_heavy(scenario["id"]):
                out.append((code, "heavy", f"run the explorer on the scenario page ({modelapi.cost_hint(scenario['id'])})"))
            else:
                out.append((code, "pending", "the explorer is still computing; reload in a few seconds"))
            continue
        groups = code_verdict(scenario, {"id": code, "title": code}, r).groups
        if not groups:
            out.append((code, "ok", "no violation in any schedule"))
        else:
            kinds = sorted({f"{g.kind} at {g.where}" for g in groups}, key=lambda k: k)
            first = next(f"{g.kind} at {g.where}" for g in groups)
            more = f" (+{len(kinds) - 1} more)" if len(kinds) > 1 else ""
            out.append((code, "bad", f"{first}{more}"))
    return out
