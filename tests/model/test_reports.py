"""The crash reports, site by site, against the rules of issue 8 (mm/kasan/report.c's format).

Each use-after-free and NULL-dereference site the explorer finds is replayed on its shortest
schedule and its report is checked line by line: the header names the innermost out-of-line
function of the access, the access line has the field's size and offset, the call trace runs
from the access down to the task's entry point, the "Allocated by" / "Freed by" stacks have the
frames KASAN shows, and everything of ours sits after the closing rule.
"""
from __future__ import annotations

import re
from functools import cache

import pytest

from app.model.api import build_view
from app.model.explorer.explore import explore
from app.model.views.reports import RULE, free_chain
from app.model.scenarios.loader import load_all

SHRINKER_PATH = [
    "shrink_memcg_cb", "__list_lru_walk_one", "list_lru_walk_one", "shrink_memcg", "shrink_worker",
    "process_one_work", "worker_thread", "kthread", "ret_from_fork", "ret_from_fork_asm",
]
# The memcg shrinker's path below list_lru_walk_one(), from kswapd0's reclaim (issue 18).
SCAN_PATH = [
    "list_lru_shrink_walk", "zswap_shrinker_scan", "do_shrink_slab", "shrink_slab_memcg", "shrink_slab",
    "shrink_node_memcgs", "shrink_node", "kswapd_shrink_node", "balance_pgdat", "kswapd", "kthread", "ret_from_fork",
    "ret_from_fork_asm",
]
TREES_ALLOC = [
    "kasan_save_stack", "kasan_save_track", "__kasan_kmalloc", "__kmalloc_node", "kvmalloc_node", "zswap_swapon",
    "__do_sys_swapon", "__se_sys_swapon", "__x64_sys_swapon", "do_syscall_64", "entry_SYSCALL_64_after_hwframe",
]
TREES_FREE = [
    "kasan_save_stack", "kasan_save_track", "kasan_save_free_info", "poison_slab_object", "__kasan_slab_free",
    "kfree", "kvfree", "zswap_swapoff", "__do_sys_swapoff", "__se_sys_swapoff", "__x64_sys_swapoff",
    "do_syscall_64", "entry_SYSCALL_64_after_hwframe",
]
FRAME = re.compile(r"^ (?P<name>[\w.]+)(?:(?P<off>\+0x[0-9a-f]+/0x[0-9a-f]+) (?P<file>\S+)| (?P<ifile>\S+) \[inline\])$")

# (scenario, code, kind, step id): header function, access line, bytes inside the object, frames
# below the KASAN frames (innermost first, as far as they are checked), object cache.
SITES = {
    ("lru-writeback-vs-swapoff", "old", "O6"): (
        "_raw_spin_lock", "Write of size 4", 8,
        ["instrument_atomic_read_write", "atomic_try_cmpxchg_acquire", "queued_spin_lock", "do_raw_spin_lock",
         "__raw_spin_lock", "_raw_spin_lock"] + SHRINKER_PATH, "mm/zswap.c:883",
    ),
    ("lru-writeback-vs-swapoff", "old", "O7"): (
        "shrink_memcg_cb", "Read of size 8", 0, ["zswap_rb_search"] + SHRINKER_PATH, "mm/zswap.c:884",
    ),
    ("lru-writeback-vs-swapoff", "old", "O18"): (
        "_raw_spin_lock", "Write of size 4", 8,
        ["instrument_atomic_read_write", "atomic_try_cmpxchg_acquire", "queued_spin_lock", "do_raw_spin_lock",
         "__raw_spin_lock", "_raw_spin_lock"] + SHRINKER_PATH, "mm/zswap.c:893",
    ),
    ("lru-writeback-vs-swapoff", "old", "O22"): (
        "_raw_spin_unlock", "Write of size 1", 8,
        ["queued_spin_unlock", "do_raw_spin_unlock", "__raw_spin_unlock", "_raw_spin_unlock"] + SHRINKER_PATH,
        "mm/zswap.c:926",
    ),
    ("lru-writeback-vs-swapoff", "new-tree-before-folio", "V2"): (
        "_raw_spin_lock", "Write of size 4", 8,
        ["instrument_atomic_read_write", "atomic_try_cmpxchg_acquire", "queued_spin_lock", "do_raw_spin_lock",
         "__raw_spin_lock", "_raw_spin_lock", "zswap_writeback_entry"] + SHRINKER_PATH, None,
    ),
    ("lru-writeback-vs-swapoff", "new-tree-before-folio", "V3"): (
        "shrink_memcg_cb", "Read of size 8", 0, ["zswap_rb_search", "zswap_writeback_entry"] + SHRINKER_PATH, None,
    ),
    ("slot-reuse", "new-no-recheck", "N11"): (
        "shrink_memcg_cb", "Read of size 4", 32, ["zswap_entry_get", "zswap_writeback_entry"] + SHRINKER_PATH,
        "mm/zswap.c:1427",
    ),
}


@cache
def _shortest(scenario: str, code: str) -> dict[tuple[str, str | None], str]:
    ex = explore(load_all()[scenario], code)
    return {g.key: ex.schedules[g.first_state] for g in ex.groups}


def _report(scenario: str, code: str, kind: str, step_id: str) -> tuple[dict, str]:  # type: ignore[type-arg]
    schedule = _shortest(scenario, code)[(kind, step_id)]
    view = build_view(scenario, code, schedule)
    (v,) = [v for v in view["violations"] if v["kind"] == kind and v["step_id"] == step_id]
    return v, v["report"]  # type: ignore[return-value]


def _blocks(report: str) -> tuple[list[str], list[str]]:
    """The lines inside the ==== rules, and the lines after the closing one."""
    lines = report.split("\n")
    assert lines[0] == RULE
    end = lines.index(RULE, 1)
    return lines[1:end], lines[end + 1:]


def _stack(block: list[str], title: str) -> list[str]:
    start = next(i for i, line in enumerate(block) if line.startswith(title))
    names = []
    for line in block[start + 1:]:
        if not line.strip() or line.strip() in ("<TASK>",):
            if names:
                break
            continue
        if line.strip() == "</TASK>":
            break
        m = FRAME.match(line)
        assert m, f"not a frame line: {line!r}"
        names.append(m["name"])
    return names


@pytest.mark.parametrize("site", sorted(SITES), ids=lambda s: "-".join(s))
def test_use_after_free_report(site: tuple[str, str, str]) -> None:
    scenario, code, step_id = site
    header_fn, access, inside, frames, where = SITES[site]
    v, report = _report(scenario, code, "use-after-free", step_id)
    block, ours = _blocks(report)
    assert re.fullmatch(rf"BUG: KASAN: slab-use-after-free in {header_fn}\+0x[0-9a-f]+/0x[0-9a-f]+", block[0])
    size = access.split()[-1]
    m = re.fullmatch(rf"{access} at addr (?P<addr>[0-9a-f]{{16}}) by task kworker/1:1/57", block[1])
    assert m, block[1]
    assert int(m["addr"], 16) - int(v["object"], 16) == inside
    assert f"The buggy address is located {inside} bytes inside of" in block
    assert re.fullmatch(r"CPU: 1 PID: 57 Comm: kworker/1:1 Not tainted \S+ #1", block[3])
    assert block[4] == "Workqueue: zswap-shrink shrink_worker"  # the shrinker runs on a bound workqueue
    trace = _stack(block, "Call Trace:")
    assert trace[:3] == ["dump_stack_lvl", "print_report", "kasan_report"]
    below = trace[3:]
    if header_fn == "_raw_spin_lock":  # an instrumented atomic is checked out of line
        assert below[0] == "kasan_check_range"
        below = below[1:]
    assert below[: len(frames)] == frames
    assert below[-len(SHRINKER_PATH):] == SHRINKER_PATH
    if where:
        assert any(line.startswith(" ") and line.endswith(where) or where + " [inline]" in line for line in block)
    # The header names the innermost frame that is not [inline].
    first_outline = next(line for line in block[block.index(" <TASK>") + 4:] if "[inline]" not in line and "kasan_check_range" not in line)
    assert first_outline.startswith(f" {block[0].split(' in ')[1]} ")  # same function, same +offset/size
    # No model-only words inside the KASAN block.
    text = "\n".join(block)
    for word in ("model", "CPU2", "step ", "'trees'", "'E'", "(old code)", "illustrative"):
        assert word not in text, word
    assert any("kasan.fault=panic" in line and "carries on" in line for line in ours)
    assert any("one zswap tree per swap device" in line and "64 MB" in line for line in ours)
    assert any(re.search(rf"at step {v['step'] + 1} of the schedule", line) for line in ours)  # 1-based, as the UI
    assert size


@pytest.mark.parametrize("site", [s for s in sorted(SITES) if s[1] != "new-no-recheck"], ids=lambda s: "-".join(s))
def test_trees_array_alloc_and_free_stacks(site: tuple[str, str, str]) -> None:
    v, report = _report(site[0], site[1], "use-after-free", site[2])
    block, ours = _blocks(report)
    assert _stack(block, "Allocated by task ") == TREES_ALLOC  # kvcalloc/kvmalloc are inline: never shown
    assert _stack(block, "Freed by task ") == TREES_FREE
    assert "kvcalloc" not in report
    assert " which belongs to the cache kmalloc-16 of size 16" in block
    assert re.fullmatch(r" freed 16-byte region \[[0-9a-f]{16}, [0-9a-f]{16}\)", block[block.index(" which belongs to the cache kmalloc-16 of size 16") + 2])
    assert any(line.startswith("Freed by CPU2 (swapoff) at step ") for line in ours)
    assert f"Freed by CPU2 (swapoff) at step {v['free_step'] + 1} of the schedule." in ours
    assert "The object is struct zswap_tree[1] 'trees' in the model." in ours
    # The crash banner's chain is the "Freed by" stack without KASAN's frames, innermost first.
    assert free_chain("zswap_swapoff") == ["kfree", "kvfree", "zswap_swapoff", "__do_sys_swapoff"]
    assert v["free_chain"] == TREES_FREE[5:9]


def test_entry_alloc_and_free_stacks() -> None:
    v, report = _report("slot-reuse", "new-no-recheck", "use-after-free", "N11")
    block, ours = _blocks(report)
    freed = _stack(block, "Freed by task ")
    assert freed[5:8] == ["kmem_cache_free", "zswap_free_entry", "zswap_entry_put"]
    assert v["free_chain"] == ["kmem_cache_free", "zswap_free_entry", "zswap_entry_put"]
    assert " which belongs to the cache zswap_entry of size 80" in block
    assert "The buggy address is located 32 bytes inside of" in block  # entry->refcount, not offset 0


def test_null_dereference_report_in_the_kernels_format() -> None:
    s = load_all()["two-shrinkers-vs-swapoff"]
    t = next(t for t in s.tours if t.name == "old-relinked-null-deref")
    view = build_view(s.id, "old", t.schedule)
    (v,) = [v for v in view["violations"] if v["kind"] == "null-deref"]
    lines = v["report"].split("\n")
    assert lines[0] == "BUG: kernel NULL pointer dereference, address: 0000000000000008"
    assert lines[1] == "#PF: supervisor write access in kernel mode"
    assert lines[2] == "#PF: error_code(0x0002) - not-present page"
    assert lines[4].startswith("Oops: 0002 [#1] PREEMPT SMP")
    # The second shrinker, which picks the relinked entry, is the memcg shrinker in kswapd0 (issue 18).
    assert re.fullmatch(r"CPU: 2 PID: 77 Comm: kswapd0 Not tainted \S+ #1", lines[5])
    assert re.fullmatch(r"RIP: 0010:_raw_spin_lock\+0x[0-9a-f]+/0x[0-9a-f]+", lines[6])
    trace = _stack(lines, "Call Trace:")
    assert trace == SHRINKER_PATH[:3] + SCAN_PATH
    assert "KASAN: null-ptr-deref" in v["report"]  # what a KASAN kernel would print first, said after the oops


def test_variant_null_dereference_is_in_zswap_writeback_entry() -> None:
    v, report = _report("lru-writeback-vs-swapoff", "new-tree-before-folio", "null-deref", "V2")
    lines = report.split("\n")
    assert lines[0].startswith("BUG: kernel NULL pointer dereference, address: ")
    assert _stack(lines, "Call Trace:") == ["zswap_writeback_entry"] + SHRINKER_PATH


def test_erasing_from_a_freed_tree_is_a_use_after_free(Drv) -> None:  # type: ignore[no-untyped-def]
    """Erase (and insert) go through the same freed-memory check as lock and search."""
    from dataclasses import replace

    from app.model.kernel.engine import try_step

    d = Drv.of("lru-writeback-vs-swapoff", "new")
    d.until(1, "N16")  # about to zswap_invalidate_entry() under tree->lock
    w = d.world
    tree = w.cpu(1).local("tree")
    freed = replace(w, heap=tuple(replace(o, freed=True) if o.addr == tree else o for o in w.heap))
    r = try_step(freed, 1)
    (v,) = r.world.violations
    assert (v.kind, v.step_id, v.object) == ("use-after-free", "N16", tree)
    assert v.detail.startswith(f"Write of size 8 at {tree:#x}: tree->rbroot")
    assert v.frames == ("rb_erase", "zswap_rb_erase")


def test_inserting_into_a_freed_tree_is_checked() -> None:
    import inspect

    from app.model.actors import store

    assert "tree_root(" in inspect.getsource(store) and "tree_at(" not in inspect.getsource(store)


def test_text_replay_numbers_steps_like_the_ui(capsys: pytest.CaptureFixture[str]) -> None:
    from app.cli import main

    s = load_all()["lru-writeback-vs-swapoff"]
    t = next(t for t in s.tours if t.name == "uaf-a")
    main(["replay", s.id, "--code", "old", "--schedule", t.schedule])
    out = capsys.readouterr().out
    view = build_view(s.id, "old", t.schedule)
    s8 = next(e["index"] for e in view["events"] if e["step"] == "S8")
    assert re.search(rf"^\s+{s8 + 1} CPU2 S8 ", out, re.MULTILINE)
    assert f"Freed by CPU2 (swapoff) at step {s8 + 1} of the schedule." in out
