"""The use-after-free families of the old code, from every state the explorer reaches.

docs/scenarios.md describes them from this: for each crash site, what zswap_writeback_entry() had
returned on the crashing CPU (None: it was never called).
"""
from __future__ import annotations

from collections import deque

from app.model.kernel.engine import enabled, step
from app.model.scenarios.initial import initial_world
from app.model.scenarios.loader import load_all


def _families(scenario: str, code: str = "old") -> dict[str, set[str | None]]:
    w0 = initial_world(load_all()[scenario], code)
    seen = {w0}
    queue = deque([w0])
    found: dict[str, set[str | None]] = {}
    while queue:
        w = queue.popleft()
        if any(c.state == "crashed" for c in w.cpus):
            for v in w.violations:
                assert v.kind == "use-after-free" and v.step_id is not None
                found.setdefault(v.step_id, set()).add(w.cpu(v.cpu).local("wb"))  # type: ignore[arg-type]
            continue
        for cpu in enabled(w):
            n = step(w, cpu)
            if n not in seen:
                seen.add(n)
                queue.append(n)
    return found


def test_uaf_families_of_the_seed_scenario() -> None:
    assert _families("lru-writeback-vs-swapoff") == {
        "O6": {None},  # b:883, UAF-A: before any writeback
        "O7": {None},  # b:884, UAF-A too: the array freed between the first lock and the search
        "O18": {"0", "-EEXIST", "-ENOMEM"},  # b:893, UAF-B: also with no write at all
        "O22": {None, "0", "-EEXIST", "-ENOMEM"},  # b:925-926: from both families
    }
