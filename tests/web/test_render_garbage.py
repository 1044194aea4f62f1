"""A rendered state leaves no reference cycles behind: its view, page context and strings are
freed by reference counting as soon as the answer is made, not kept until the cyclic collector
runs. A macro defined inside a partial was made anew at every render, in a cycle with the render's
context, which kept the whole page context alive until then (about 300 objects a step)."""
from __future__ import annotations

import gc
import random

from app.web import modelapi
from app.web.routes import pages


def _walk(rng: random.Random, sid: str, code: str, steps: int) -> str:
    t = ""
    for _ in range(steps):
        enabled = modelapi.replay(sid, code, t)["enabled"]
        if not enabled:
            break
        t += str(rng.choice(enabled))
    return t


def test_rendering_states_leaves_nothing_for_the_cyclic_collector():
    rng = random.Random(4)
    walks = [(sid, code, _walk(rng, sid, code, 30)) for sid in modelapi.scenario_ids() for code in ("old", "new")]
    for sid, code, t in walks:  # what a process builds once (scenarios, listings, templates) is built here
        pages.state_html(False, sid, code, t[:1], None)
        pages.state_html(True, sid, code, t[:1], None)
    gc.collect()
    gc.disable()
    try:
        rendered = 0
        for sid, code, t in walks:
            for i in range(2, len(t) + 1):  # each state right after its parent, as a click asks
                pages.state_gzip(True, sid, code, t[:i], None)
                rendered += 1
            pages.state_html(False, sid, code, t, None)
            rendered += 1
        left = gc.collect()
    finally:
        gc.enable()
    assert rendered > 200
    assert left == 0, f"{left} objects in reference cycles after {rendered} renders"
