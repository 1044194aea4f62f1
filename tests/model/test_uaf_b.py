"""Spec 6.2 / 5: UAF-B, old code: after a successful writeback the folio is unlocked, swapoff
finishes, and CPU1's spin_lock(&tree->lock) at b:893 hits the freed trees array."""
from __future__ import annotations

from collections import Counter, deque

import pytest

from app.model.api import build_view
from app.model.kernel.engine import enabled, step
from app.model.scenarios.initial import initial_world
from app.model.scenarios.replay import all_violations, replay
from app.model.scenarios.loader import load_all
from app.model.kernel.lines import line_of

SCENARIO = "lru-writeback-vs-swapoff"


@pytest.fixture(scope="module")
def run():  # type: ignore[no-untyped-def]
    s = load_all()[SCENARIO]
    t = next(t for t in s.tours if t.name == "uaf-b")
    assert t.code == "old"
    return replay(s, "old", t.schedule)


def test_o18_is_base_line_893() -> None:
    line = line_of("O18")
    assert (line.function, line.line) == ("shrink_memcg_cb", 893)


def test_uaf_b_at_o18_on_the_trees_array_after_a_successful_writeback(run) -> None:  # type: ignore[no-untyped-def]
    w = run.world
    violations = all_violations(w)
    assert len(violations) == 1
    v = violations[0]
    assert (v.kind, v.cpu, v.step_id) == ("use-after-free", 1, "O18")
    assert v.at == len(run.schedule) - 1
    obj = w.heap_object(v.object)
    assert obj.kind == "trees" and obj.freed
    assert obj.free.function == "zswap_swapoff" and obj.free.cpu == 2
    cpu1 = [sid for c, sid, _ in run.steps if c == 1]
    assert "O17b" in cpu1  # __swap_writepage ran: the writeback succeeded ...
    assert cpu1.index("O17b") < cpu1.index("O17c")
    assert w.cpu(1).local("wb") == "0"  # ... and zswap_writeback_entry returned 0
    assert w.swap.slots[0].disk == "page A#1"  # the right data went to the device
    # swapoff could lock the folio only after O17b unlocked it.
    o17b = next(i for i, (c, sid, _) in enumerate(run.steps) if c == 1 and sid == "O17b")
    s3f = next(i for i, (c, sid, _) in enumerate(run.steps) if c == 2 and sid == "S3f")
    assert o17b < s3f


def test_entry_itself_is_alive_at_uaf_b(run) -> None:  # type: ignore[no-untyped-def]
    """Spec 5: E is still alive (CPU1 holds a ref); only the lock around it was freed."""
    w = run.world
    entry = w.cpu(1).local("entry")
    assert not w.heap_object(entry).freed
    assert w.entry(entry).refcount == 1
    assert not w.entry(entry).in_tree  # swapoff's invalidation erased it


def test_view_reports_line_893(run) -> None:  # type: ignore[no-untyped-def]
    view = build_view(SCENARIO, "old", run.schedule)
    (v,) = view["violations"]
    assert (v["function"], v["line"]) == ("shrink_memcg_cb", 893)
    assert "BUG: KASAN: slab-use-after-free in _raw_spin_lock+0x" in v["report"]
    assert " shrink_memcg_cb+0x" in v["report"] and "mm/zswap.c:893" in v["report"]
    assert "zswap_swapoff" in v["report"]


def test_old_code_state_space_every_uaf_is_on_the_trees_array_in_shrink_memcg_cb() -> None:
    """Exhaustive, old code, seed scenario: UAF-A (O6/O7) and UAF-B (O18/O22) are reachable and every
    use-after-free is on the trees array (checklist 1: never on the entry)."""
    s = load_all()[SCENARIO]
    w0 = initial_world(s, "old")
    seen = {w0}
    queue = deque([w0])
    kinds: Counter = Counter()
    while queue:
        w = queue.popleft()
        en = enabled(w)
        if not en:
            for v in all_violations(w):
                kinds[v.kind, v.step_id] += 1
                assert v.kind == "use-after-free", v
                assert w.heap_object(v.object).kind == "trees", v
                assert line_of(v.step_id).function == "shrink_memcg_cb"
            continue
        for cpu in en:
            nxt = step(w, cpu)
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    assert kinds["use-after-free", "O6"] >= 1
    assert kinds["use-after-free", "O18"] >= 1
