"""Every interleaving (breadth-first over distinct worlds) of each small scenario.

Stronger than the hypothesis tests where the state space is small enough:
under the fixed code no reachable final world has any violation; under the
old code the only violation is a use-after-free of the trees array in
shrink_memcg_cb. Scenarios over the state cap are left to test_properties.
"""
from __future__ import annotations

from collections import deque

import pytest

from app.model.kernel.engine import enabled, step
from app.model.scenarios.initial import initial_world
from app.model.scenarios.replay import all_violations
from app.model.scenarios.loader import load_all
from app.model.kernel.lines import line_of

CAP = 9_000


def _small(scenario_id: str) -> bool:
    """Three CPUs with a swapoff run to 10^5 states: too slow here."""
    cpus = load_all()[scenario_id].cpus
    return not (len(cpus) >= 3 and any(c.actor == "swapoff" for c in cpus))


SMALL = [s for s in sorted(load_all()) if _small(s)]


def finals(scenario_id: str, code: str) -> list:
    w0 = initial_world(load_all()[scenario_id], code)
    seen = {w0}
    queue = deque([w0])
    out = []
    while queue:
        w = queue.popleft()
        en = enabled(w)
        if not en:
            out.append(w)
            continue
        for cpu in en:
            nxt = step(w, cpu)
            if nxt not in seen:
                if len(seen) >= CAP:
                    pytest.skip(f"{scenario_id} {code}: more than {CAP} states (covered by test_properties)")
                seen.add(nxt)
                queue.append(nxt)
    return out


@pytest.mark.parametrize("scenario_id", SMALL)
def test_new_code_every_interleaving_is_clean(scenario_id: str) -> None:
    ends = finals(scenario_id, "new")
    assert ends
    for w in ends:
        assert all_violations(w) == [], [v for v in all_violations(w)]
        assert all(c.state == "done" for c in w.cpus if c.actor != "io")  # the I/O completion never finishes
        assert all(slot.count >= 0 for slot in w.swap.slots)


@pytest.mark.parametrize("scenario_id", SMALL)
def test_old_code_only_the_trees_uaf(scenario_id: str) -> None:
    ends = finals(scenario_id, "old")
    has_swapoff = any(c.actor == "swapoff" for c in load_all()[scenario_id].cpus)
    uafs = 0
    for w in ends:
        for v in all_violations(w):
            assert v.kind == "use-after-free", v
            assert w.heap_object(v.object).kind == "trees", v
            assert line_of(v.step_id).function == "shrink_memcg_cb", v
            uafs += 1
    if has_swapoff:
        assert uafs > 0, "old code with swapoff must be able to reach the UAF"
    else:
        assert uafs == 0
