"""A room's questions: a tour's predict stop, or one the presenter asks at any state (issue 24).

The presenter's two ad-hoc questions take their answer from the explorer, computed when asked
(through the bounded search path the verdict pages use: app.web.modelapi.search) and stored with
the poll; the API shows it only after the reveal.

- "crash": "Which CPU crashes first?" at the state shown. Choices: each CPU lane (as the stage
  names it) and "None". The answer is the CPU that makes a memory error (KASAN's use-after-free,
  double free, or a NULL dereference) in the fewest steps from here; equally short crashes on
  two CPUs go to the lower-numbered CPU (the reveal says the other crashes as soon). "None" only
  when the search from here is complete and finds no crash: a search cut by its budget decides
  nothing, and the question is refused (409 "undecided") rather than asked.
- "safe": "Safe or not?" on the code shown, from the scenario's start. Not safe when any
  interleaving goes wrong: a crash, and also a deadlock, a livelock (a hang) or a leak, which the
  reveal names as such, never as a crash. A violation found by a cut search is still real (not
  safe); a cut search that found none is refused like "crash".
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from app.web import modelapi, urls
from app.web.page import context

QUESTIONS = {"crash": "Which CPU crashes first?", "safe": "Safe or not?"}
NO_CRASH = "None: no schedule from here crashes"
SAFE_CHOICES = ["Safe: no interleaving goes wrong", "Not safe: some interleaving crashes, hangs or leaks"]
HANGS = ("deadlock", "livelock")


@dataclass(frozen=True)
class Question:
    """What a room's poll asks: its kind ("" for a tour's predict stop), the question, the choices'
    texts, the answer's index, and for an ad-hoc question the explorer's line and the schedule it
    names (shown once revealed)."""
    kind: str
    question: str
    choices: list[str]
    answer: int
    explain: str = ""
    link: str | None = None
    lanes: list[int] = field(default_factory=list)  # "crash": the CPU id of each choice but "None"

    def json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> "Question":
        return cls(**json.loads(text))


class Undecided(Exception):
    """The explorer's search was cut by its budget before it could answer."""


def of_predict(stop: context.PredictState) -> Question:
    return Question("", stop.question, [text for _, text, _ in stop.choices], stop.answer)


def _steps(n: int) -> str:
    return f"{n} step" + ("" if n == 1 else "s")


def _site(v: dict[str, Any]) -> str:
    where = f"{v['file']}:{v['line']}" if v.get("file") and v.get("line") else (v.get("step_id") or "?")
    return f"{v['kind']} at {where}" + (f" ({v['function']})" if v.get("function") else "")


def crash(scenario_id: str, code: str, t: str, lanes: list[dict[str, Any]], verdict: dict[str, Any]) -> Question:
    """"Which CPU crashes first?" at the state after `t`, from the explorer's verdict from there."""
    if not verdict["complete"]:
        raise Undecided(f"the explorer's search from this state was cut ({verdict.get('stopped_reason')}), "
                        "so it cannot tell which CPU crashes first, nor that none does; ask at a later state")
    crashes = verdict.get("crashes", [])
    cpus = [c for c in lanes if c.get("actor") != "io" or any(x["cpu"] == c["id"] for x in crashes)]
    label = {c["id"]: c["label"] for c in cpus}
    choices = [c["label"] for c in cpus] + [NO_CRASH]
    ids = [c["id"] for c in cpus]
    if not crashes:
        others = sorted({v["kind"] for v in verdict.get("violations", [])})
        line = f"No schedule from here crashes: the explorer searched every one ({verdict['states']:,} states)."
        if others:
            line += f" It does find {', '.join(others)}: no crash, but not right either."
        return Question("crash", QUESTIONS["crash"], choices, len(choices) - 1, line, None, ids)
    first = crashes[0]
    if first["steps"] == 0:
        line = f"{label[first['cpu']]} has crashed already at this state: {_site(first)}."
    else:
        line = f"Shortest crash from here: {label[first['cpu']]}, {_site(first)}, after {_steps(first['steps'])}."
    for other in crashes[1:]:
        if other["steps"] == first["steps"]:
            line += (f" {label[other['cpu']]} can crash as soon ({_steps(other['steps'])}): "
                     "a tie goes to the lower-numbered CPU.")
        else:
            line += f" {label[other['cpu']]} can crash too (after {_steps(other['steps'])})."
    return Question("crash", QUESTIONS["crash"], choices, ids.index(first["cpu"]), line,
                    urls.scenario(scenario_id, code, first["shortest"]), ids)


def safe(scenario_id: str, code: str, code_title: str, verdict: dict[str, Any]) -> Question:
    """"Safe or not?" for `code` from the scenario's start, from the explorer's whole verdict."""
    found = verdict.get("violations", [])
    if not found and not verdict["complete"]:
        raise Undecided(f"the explorer's search of this code was cut ({verdict.get('stopped_reason')}) "
                        "before it found anything wrong, which does not make it safe")
    if not found:
        runs = verdict.get("complete_runs_text")
        covered = f"{runs} complete runs" if runs else f"{verdict['states']:,} states"  # never states called runs
        line = (f"Safe: the explorer ran every interleaving of {code_title} in this scenario "
                f"({covered}): no crash, hang or leak.")
        return Question("safe", QUESTIONS["safe"], SAFE_CHOICES, 0, line)
    crashes = [v for v in found if v["kind"] in modelapi.MEMORY_ERRORS]
    shown = crashes[0] if crashes else found[0]
    steps = len(shown["shortest"])
    if crashes:
        sites = sorted({_site(v) for v in crashes})
        line = f"Not safe: {code_title} crashes: {'; '.join(sites[:3])}" + (" and more" if len(sites) > 3 else "")
        line += f". Shortest: {_steps(steps)}."
    elif shown["kind"] in HANGS:
        line = f"Not safe, though nothing crashes: a {shown['kind']} (the CPUs hang: {shown['detail']}), after {_steps(steps)}."
    else:
        line = f"Not safe, though nothing crashes: {_site(shown)} ({shown['detail']}), after {_steps(steps)}."
    if not verdict["complete"]:
        line += " (The search was cut by its budget; what it found is real.)"
    return Question("safe", QUESTIONS["safe"], SAFE_CHOICES, 1, line, urls.scenario(scenario_id, code, shown["shortest"]))
