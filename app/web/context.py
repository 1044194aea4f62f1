"""Presentation-only context for the scenario page, derived from one RunView.

No kernel logic here: links, labels and lookups over what the model returned.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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


@dataclass
class PageContext:
    scenario: dict[str, Any]
    view: dict[str, Any]
    code: str
    t: str
    tour: TourState | None
    controls: dict[int, CpuControls]
    code_links: list[CodeLink]
    changed: frozenset[str]
    heap_by_addr: dict[str, dict[str, Any]]
    event_urls: list[str]
    verdicts: list[dict[str, Any]] = field(default_factory=list)

    def url(self, t: str | None = None, code: str | None = None) -> str:
        """This page's URL with another schedule or code (the tour is kept)."""
        return urls.scenario(self.view["scenario"], code or self.code, self.t if t is None else t,
                             self.tour.name if self.tour else None)

    def step_url(self, index: int) -> str:
        """The state right after schedule step `index` (0-based)."""
        return self.url(self.t[: index + 1])

    @property
    def undo_url(self) -> str | None:
        return self.url(self.t[:-1]) if self.t else None

    @property
    def reset_url(self) -> str:
        return self.url("")

    def is_changed(self, key: str) -> bool:
        return key in self.changed


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
    """Replay `t` on every code of the scenario and say how far it stays valid."""
    links = []
    for c in scenario["codes"]:
        link = CodeLink(id=c["id"], title=c["title"], description=c.get("description", ""),
                        current=c["id"] == code, url=urls.scenario(scenario["id"], c["id"], t, tour),
                        valid=True, valid_steps=len(t))
        if not link.current and t:
            try:
                modelapi.replay(scenario["id"], c["id"], t)
            except modelapi.ScheduleError as e:
                link.valid, link.valid_steps = False, len(e.valid_prefix)
                link.position, link.reason = e.position, e.reason
                link.url = urls.scenario(scenario["id"], c["id"], e.valid_prefix, tour)
        links.append(link)
    return links


def _tour(scenario: dict[str, Any], name: str, code: str, t: str) -> TourState:
    tour = next(x for x in scenario["tours"] if x["name"] == name)
    sched: str = tour["schedule"]
    steps: list[str] = tour["steps"]
    common = 0
    while common < min(len(t), len(sched)) and t[common] == sched[common]:
        common += 1
    on_tour = common == len(t) and tour["code"] == code
    pos = len(t) if on_tour else common

    def sentence(i: int) -> str | None:
        return steps[i] if 0 <= i < len(steps) else None

    nxt = on_tour and pos < len(sched)
    return TourState(
        name=name, title=tour["title"], code=tour["code"], total=len(sched), position=pos,
        on_tour=on_tour, wrong_code=tour["code"] != code,
        done_sentence=sentence(pos - 1) if on_tour else None,
        next_sentence=sentence(pos) if nxt else None,
        next_cpu=int(sched[pos]) if nxt else None,
        next_url=urls.scenario(scenario["id"], code, sched[: pos + 1], name) if nxt else None,
        start_url=urls.scenario(scenario["id"], tour["code"], "", name),
        rejoin_url=None if on_tour else urls.scenario(scenario["id"], tour["code"], sched[:common], name),
    )


def page_context(scenario: dict[str, Any], view: dict[str, Any], tour: str | None) -> PageContext:
    code, t = view["code"], view["schedule"]
    ctx = PageContext(
        scenario=scenario, view=view, code=code, t=t,
        tour=_tour(scenario, tour, code, t) if tour else None,
        controls={}, code_links=code_links(scenario, code, t, tour),
        changed=frozenset(view.get("changed") or ()),
        heap_by_addr={o["addr"]: o for o in view["world"]["heap"]},
        event_urls=[],
    )
    ctx.controls = _controls(view, ctx)
    ctx.event_urls = [ctx.step_url(i) for i in range(len(t))]
    ctx.verdicts = verdicts(scenario)
    return ctx


def verdicts(scenario: dict[str, Any]) -> list[dict[str, Any]]:
    """The explorer's verdict under each code, with a link to each shortest counterexample."""
    out = []
    if modelapi.check is None:
        return out
    for c in scenario["codes"]:
        result = modelapi.verdict(scenario["id"], c["id"])
        if result is None:
            continue
        crashes = [dict(v, url=urls.scenario(scenario["id"], c["id"], v["shortest"]))
                   for v in result.get("violations", [])]
        out.append({"code": c["id"], "title": c["title"], "result": result, "violations": crashes})
    return out
