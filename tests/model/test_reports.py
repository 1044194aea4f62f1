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
from app.model.kernel.engine import ACTORS
from app.model.views.reports import RULE, free_chain
from app.model.scenarios.loader import load_all

SHRINKER_PATH = [
    "spin_lock", "shrink_memcg_cb", "__list_lru_walk_one", "list_lru_walk_one", "shrink_memcg", "shrink_worker",
    "process_one_work", "process_scheduled_works", "worker_thread", "kthread", "ret_from_fork", "ret_from_fork_asm",
]
# The memcg shrinker's path below list_lru_walk_one(), from kswapd0's reclaim (issue 18).
SCAN_PATH = [
    "list_lru_shrink_walk", "zswap_shrinker_scan", "do_shrink_slab", "shrink_slab_memcg", "shrink_slab",
    "shrink_node_memcgs", "shrink_node", "kswapd_shrink_node", "balance_pgdat", "kswapd", "kthread", "ret_from_fork",
    "ret_from_fork_asm",
]
TREES_ALLOC = [
    "kasan_save_stack", "kasan_save_track", "poison_kmalloc_redzone", "__kasan_kmalloc", "kasan_kmalloc",
    "__do_kmalloc_node", "__kmalloc_node", "kvmalloc", "kvmalloc_array", "kvcalloc", "zswap_swapon",
    "__do_sys_swapon", "__se_sys_swapon", "__x64_sys_swapon", "do_syscall_x64", "do_syscall_64",
    "entry_SYSCALL_64_after_hwframe",
]
TREES_FREE = [
    "kasan_save_stack", "kasan_save_track", "kasan_save_free_info", "poison_slab_object", "__kasan_slab_free",
    "kasan_slab_free", "slab_free_hook", "slab_free", "kfree", "kvfree", "zswap_swapoff", "__do_sys_swapoff",
    "__se_sys_swapoff", "__x64_sys_swapoff", "do_syscall_x64", "do_syscall_64", "entry_SYSCALL_64_after_hwframe",
]
# A decoded frame: out of line with its offset and file:line (":?" where the line is not known;
# entry_SYSCALL_64_after_hwframe has none in a real decode), or inlined with its file:line.
FRAME = re.compile(
    r"^ (?P<name>[\w.]+)(?:(?P<off>\+0x(?:[0-9a-f]+|\?)/0x(?:[0-9a-f]+|\?))(?: (?P<file>[\w./-]+:(?:\d+|\?)))?"
    r"| (?P<ifile>[\w./-]+:(?:\d+|\?)) \[inline\])$"
)
LOCK_CHAIN = ["instrument_atomic_read_write", "atomic_try_cmpxchg_acquire", "queued_spin_lock", "do_raw_spin_lock",
              "__raw_spin_lock", "_raw_spin_lock"]
# Frames, offsets and lines as syzbot's v6.8 build 04b8076df253 printed them (docs/model.md, "The KASAN report").
REAL = [
    " __dump_stack lib/dump_stack.c:88 [inline]",
    " dump_stack_lvl+0xd9/0x1b0 lib/dump_stack.c:106",
    " kasan_report+0xda/0x110 mm/kasan/report.c:601",
    " process_one_work+0x889/0x15e0 kernel/workqueue.c:2633",
    " process_scheduled_works kernel/workqueue.c:2706 [inline]",
    " worker_thread+0x8b9/0x12a0 kernel/workqueue.c:2787",
    " kthread+0x2c6/0x3b0 kernel/kthread.c:388",
    " ret_from_fork+0x45/0x80 arch/x86/kernel/process.c:147",
    " ret_from_fork_asm+0x1b/0x30 arch/x86/entry/entry_64.S:243",
]
REAL_SLAB = [
    " kasan_save_stack+0x33/0x60 mm/kasan/common.c:47",
    " kasan_save_track+0x14/0x30 mm/kasan/common.c:68",
    " poison_kmalloc_redzone mm/kasan/common.c:370 [inline]",
    " __kasan_kmalloc+0xaa/0xb0 mm/kasan/common.c:387",
    " kasan_save_free_info+0x3b/0x60 mm/kasan/generic.c:589",
    " poison_slab_object mm/kasan/common.c:240 [inline]",
    " __kasan_slab_free+0x11d/0x1a0 mm/kasan/common.c:256",
    " kasan_slab_free include/linux/kasan.h:184 [inline]",
    " slab_free_hook mm/slub.c:2121 [inline]",
    " slab_free mm/slub.c:4299 [inline]",
    " kfree+0x124/0x370 mm/slub.c:4409",
    " do_syscall_x64 arch/x86/entry/common.c:52 [inline]",
    " do_syscall_64+0xd5/0x270 arch/x86/entry/common.c:83",
    " entry_SYSCALL_64_after_hwframe+0x6f/0x77",
]
HARDWARE = "Hardware name: QEMU Standard PC (Q35 + ICH9, 2009), BIOS 1.16.2-debian-1.16.2-1 04/01/2014"


def _shrinker_task(actor: str, cpu: int) -> str:
    """'kworker/1:1/57': the task and PID the report names, from the actor's definition."""
    a = ACTORS[actor]
    return f"{a.task_on(cpu)}/{a.pid_on(cpu)}"


# (scenario, code, kind, step id): header function, access line, bytes inside the object, frames
# below the KASAN frames (innermost first, as far as they are checked), the model's file:line.
SITES = {
    ("lru-writeback-vs-swapoff", "old", "O6"): (
        "_raw_spin_lock", "Write of size 4", 8, LOCK_CHAIN + SHRINKER_PATH, "mm/zswap.c:883",
    ),
    ("lru-writeback-vs-swapoff", "old", "O7"): (
        "shrink_memcg_cb", "Read of size 8", 0, ["zswap_rb_search"] + SHRINKER_PATH[1:], "mm/zswap.c:884",
    ),
    ("lru-writeback-vs-swapoff", "old", "O18"): (
        "_raw_spin_lock", "Write of size 4", 8, LOCK_CHAIN + SHRINKER_PATH, "mm/zswap.c:893",
    ),
    ("lru-writeback-vs-swapoff", "old", "O22"): (
        "_raw_spin_unlock", "Write of size 1", 8,
        ["queued_spin_unlock", "do_raw_spin_unlock", "__raw_spin_unlock", "_raw_spin_unlock", "spin_unlock"]
        + SHRINKER_PATH[1:], "mm/zswap.c:926",
    ),
    ("lru-writeback-vs-swapoff", "new-tree-before-folio", "V2"): (
        "_raw_spin_lock", "Write of size 4", 8, LOCK_CHAIN + ["spin_lock", "zswap_writeback_entry"] + SHRINKER_PATH[1:],
        None,
    ),
    ("lru-writeback-vs-swapoff", "new-tree-before-folio", "V3"): (
        "zswap_writeback_entry", "Read of size 8", 0, ["zswap_rb_search", "zswap_writeback_entry"] + SHRINKER_PATH[1:],
        None,
    ),
    ("slot-reuse", "new-no-recheck", "N11"): (
        "zswap_writeback_entry", "Read of size 4", 32, ["zswap_entry_get", "zswap_writeback_entry"] + SHRINKER_PATH[1:],
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


def _headers(block: list[str], kind: str) -> tuple[list[str], str]:
    """The header lines (one per inlined frame, then the out-of-line one) and the rest of the first one."""
    heads = [line for line in block if line.startswith(f"BUG: KASAN: {kind} in ")]
    assert block[: len(heads)] == heads, "the header lines come first"
    return [h.split(" in ", 1)[1] for h in heads], heads[-1]


@pytest.mark.parametrize("site", sorted(SITES), ids=lambda s: "-".join(s))
def test_use_after_free_report(site: tuple[str, str, str]) -> None:
    scenario, code, step_id = site
    header_fn, access, inside, frames, where = SITES[site]
    v, report = _report(scenario, code, "use-after-free", step_id)
    block, ours = _blocks(report)
    heads, last = _headers(block, "slab-use-after-free")
    # syzbot's decode: the inlined frames of the bad access, then the function they are inlined into.
    assert all(h.endswith(" [inline]") for h in heads[:-1])
    assert re.fullmatch(rf"{header_fn}\+0x\?/0x\? \S+:(\d+|\?)", heads[-1]), last
    n = len(heads)
    cpu = v["cpu"]
    task = _shrinker_task(code_actor(scenario, code, cpu), cpu)
    m = re.fullmatch(rf"{access} at addr (?P<addr>[0-9a-f]{{16}}) by task {re.escape(task)}", block[n])
    assert m, block[n]
    assert int(m["addr"], 16) - int(v["object"], 16) == inside
    assert f"The buggy address is located {inside} bytes inside of" in block
    comm, pid = task.rsplit("/", 1)
    assert block[n + 2] == f"CPU: {cpu} PID: {pid} Comm: {comm} Not tainted 6.8.0-rc1+ #1"
    assert block[n + 3] == HARDWARE
    assert block[n + 4] == "Workqueue: zswap-shrink shrink_worker"  # the shrinker runs on a bound workqueue
    trace = _stack(block, "Call Trace:")
    assert trace[:5] == ["__dump_stack", "dump_stack_lvl", "print_address_description", "print_report", "kasan_report"]
    below = trace[5:]
    if header_fn == "_raw_spin_lock":  # an instrumented atomic is checked out of line
        assert below[:2] == ["check_region_inline", "kasan_check_range"]
        below = below[2:]
    assert below[: len(frames)] == frames
    assert below[-len(SHRINKER_PATH) + 1:] == SHRINKER_PATH[1:]
    if where:
        assert any(line.startswith(" ") and line.endswith(where) or where + " [inline]" in line for line in block)
    # The header names the innermost out-of-line frame, with the same offset and line as the trace.
    assert f" {heads[-1]}" in block[block.index(" <TASK>"):]
    for line in REAL:
        assert line in block, line
    # zswap's own functions: no offset is made up.
    for line in block:
        if line.startswith((" shrink_memcg_cb", " zswap_", " shrink_worker", " __list_lru_walk_one", " list_lru_walk_one")):
            assert "+0x?/0x? " in line or line.endswith(" [inline]"), line
    # Out of line in real v6.8/6.9 traces (the research's 30fb6a8d9e33 and kswapd traces).
    for name in ("shrink_memcg_cb", "__list_lru_walk_one", "list_lru_walk_one", "zswap_writeback_entry"):
        assert not any(line.startswith(f" {name} ") and line.endswith("[inline]") for line in block), name
    # No model-only words inside the KASAN block.
    text = "\n".join(block)
    for word in ("model", "CPU2", "step ", "'trees'", "'E'", "(old code)", "illustrative"):
        assert word not in text, word
    assert any("kasan.fault=panic" in line and "carries on" in line for line in ours)
    assert any("one zswap tree per swap device" in line and "64 MB" in line and "kmalloc-256" in line for line in ours)
    assert any("kasan_multi_shot" in line for line in ours)
    assert any(re.search(rf"at step {v['step'] + 1} of the schedule", line) for line in ours)  # 1-based, as the UI


def code_actor(scenario: str, code: str, cpu: int) -> str:
    """The actor a CPU of a scenario runs under a code, from the scenario and the code's writeback."""
    from app.model.scenarios.initial import initial_world

    return initial_world(load_all()[scenario], code).cpu(cpu).actor


@pytest.mark.parametrize("site", [s for s in sorted(SITES) if s[1] != "new-no-recheck"], ids=lambda s: "-".join(s))
def test_trees_array_alloc_and_free_stacks(site: tuple[str, str, str]) -> None:
    v, report = _report(site[0], site[1], "use-after-free", site[2])
    block, ours = _blocks(report)
    assert _stack(block, "Allocated by task ") == TREES_ALLOC  # kvcalloc -> kvmalloc_array -> kvmalloc, all inline
    assert _stack(block, "Freed by task ") == TREES_FREE  # poison_slab_object and the slab hooks inline (gcc, 6.8)
    for line in REAL_SLAB:
        assert line in block, line
    assert " which belongs to the cache kmalloc-16 of size 16" in block
    assert re.fullmatch(r" freed 16-byte region \[[0-9a-f]{16}, [0-9a-f]{16}\)", block[block.index(" which belongs to the cache kmalloc-16 of size 16") + 2])
    assert f"Freed by CPU{v['free_cpu']} (swapoff) at step {v['free_step'] + 1} of the schedule." in ours
    assert "The object is struct zswap_tree[1] 'trees' in the model." in ours
    # The crash banner's chain is the "Freed by" stack without KASAN's and the slab's hooks, innermost first.
    assert free_chain("zswap_swapoff") == ["kfree", "kvfree", "zswap_swapoff", "__do_sys_swapoff"]
    assert v["free_chain"] == ["kfree", "kvfree", "zswap_swapoff", "__do_sys_swapoff"]


def test_entry_alloc_and_free_stacks() -> None:
    v, report = _report("slot-reuse", "new-no-recheck", "use-after-free", "N11")
    block, ours = _blocks(report)
    freed = _stack(block, "Freed by task ")
    assert freed[5:12] == ["kasan_slab_free", "slab_free_hook", "slab_free", "kmem_cache_free",
                           "zswap_entry_cache_free", "zswap_free_entry", "zswap_entry_put"]
    assert v["free_chain"] == ["kmem_cache_free", "zswap_free_entry", "zswap_entry_put"]
    assert " which belongs to the cache zswap_entry of size 80" in block
    assert "The buggy address is located 32 bytes inside of" in block  # entry->refcount, not offset 0


def _null_deref_tour() -> tuple[dict, str]:  # type: ignore[type-arg]
    s = load_all()["two-shrinkers-vs-swapoff"]
    t = next(t for t in s.tours if t.name == "old-relinked-null-deref")
    return build_view(s.id, "old", t.schedule), t.schedule


def test_null_dereference_is_reported_by_kasan_then_oopses() -> None:
    """On a KASAN kernel spin_lock() on a NULL-based tree is checked by kasan_check_range()
    first: 'BUG: KASAN: null-ptr-deref' with no object sections, then the access faults and the
    kernel oopses, tainted B by that report."""
    view, _ = _null_deref_tour()
    (v,) = [v for v in view["violations"] if v["kind"] == "null-deref"]
    cpu = v["cpu"]
    task = _shrinker_task(code_actor("two-shrinkers-vs-swapoff", "old", cpu), cpu)
    comm, pid = task.rsplit("/", 1)
    lines = v["report"].split("\n")
    assert lines[0] == RULE
    end = lines.index(RULE, 1)
    block = lines[1:end]
    heads, last = _headers(block, "null-ptr-deref")
    assert re.fullmatch(r"_raw_spin_lock\+0x\?/0x\? kernel/locking/spinlock\.c:154", heads[-1])
    assert block[len(heads)] == f"Write of size 4 at addr 0000000000000008 by task {task}"
    assert f"CPU: {cpu} PID: {pid} Comm: {comm} Not tainted 6.8.0-rc1+ #1" in block
    trace = _stack(block, "Call Trace:")
    assert trace[:6] == ["__dump_stack", "dump_stack_lvl", "print_report", "kasan_report", "check_region_inline",
                         "kasan_check_range"]  # no print_address_description: the address has no shadow
    assert trace[6:] == LOCK_CHAIN + SHRINKER_PATH[:4] + SCAN_PATH
    assert not any(line.startswith(("Allocated by", "Freed by", "The buggy address")) for line in block)
    oops = lines[end + 1:]
    assert oops[0] == "Disabling lock debugging due to kernel taint"
    assert oops[1] == "BUG: kernel NULL pointer dereference, address: 0000000000000008"
    assert oops[2] == "#PF: supervisor write access in kernel mode"
    assert oops[3] == "#PF: error_code(0x0002) - not-present page"
    assert oops[5].startswith("Oops: 0002 [#1] PREEMPT SMP KASAN")
    assert oops[6] == f"CPU: {cpu} PID: {pid} Comm: {comm} Tainted: G    B              6.8.0-rc1+ #1"
    assert oops[7] == HARDWARE
    # The second shrinker, which picks the relinked entry, is the memcg shrinker in kswapd0 (issue 18):
    # no workqueue, reclaim's path below list_lru_walk_one().
    assert (comm, pid) == ("kswapd0", "77")
    assert oops[8] == "RIP: 0010:_raw_spin_lock+0x?/0x? kernel/locking/spinlock.c:154"
    assert _stack(oops, "Call Trace:") == SHRINKER_PATH[:4] + SCAN_PATH
    assert "---[ end trace 0000000000000000 ]---" in oops
    assert "without KASAN" not in v["report"]


def test_only_the_first_memory_error_of_a_run_is_reported() -> None:
    """No kasan_multi_shot: after the null-ptr-deref report, CPU1's use-after-free at b:893 prints
    no second KASAN report, and the product says so."""
    view, _ = _null_deref_tour()
    first, second = [v for v in view["violations"] if v["kind"] in ("null-deref", "use-after-free")]
    assert first["kind"] == "null-deref" and second["kind"] == "use-after-free" and first["step"] < second["step"]
    assert RULE not in second["report"]
    assert second["report"].startswith(
        f"(no KASAN report: use-after-free here, but KASAN already reported the null-deref at step {first['step'] + 1}")
    assert "kasan_multi_shot" in second["report"]


def test_kasan_format_prints_the_null_dereference(capsys: pytest.CaptureFixture[str]) -> None:
    from app.cli import main

    _, schedule = _null_deref_tour()
    assert main(["replay", "two-shrinkers-vs-swapoff", "--code", "old", "--schedule", schedule, "--format", "kasan"]) == 0
    out = capsys.readouterr().out
    assert "No KASAN report" not in out and "no KASAN report: no memory error" not in out
    assert "BUG: KASAN: null-ptr-deref in " in out and "BUG: kernel NULL pointer dereference" in out


def test_variant_null_dereference_is_in_zswap_writeback_entry() -> None:
    v, report = _report("lru-writeback-vs-swapoff", "new-tree-before-folio", "null-deref", "V2")
    lines = report.split("\n")
    oops = lines[lines.index("Disabling lock debugging due to kernel taint"):]
    assert oops[1].startswith("BUG: kernel NULL pointer dereference, address: ")
    assert _stack(oops, "Call Trace:") == ["spin_lock", "zswap_writeback_entry"] + SHRINKER_PATH[1:]


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


def test_two_tasks_never_share_a_pid() -> None:
    """A report names a task by its PID ("Freed by task 4242:"): two task names with one PID
    (exit and a page fault once; kworker/1:1 and kworker/2:1 once) would make a scenario with
    both ambiguous."""
    tasks_of: dict[int, set[str]] = {}
    for actor in ACTORS.values():
        for cpu in range(1, 5):
            if actor.pid:  # 0: the idle task, one per CPU (swapper/N)
                tasks_of.setdefault(actor.pid_on(cpu), set()).add(actor.task_on(cpu))
    assert {pid: tasks for pid, tasks in tasks_of.items() if len(tasks) > 1} == {}


def test_alloc_and_free_tasks_take_their_pid_from_the_actor_that_ran_them() -> None:
    """'Freed by task N' names the PID of the actor whose task freed it, bound kworkers and direct
    reclaimers (a PID per CPU) included."""
    from app.model.kernel.state import Origin
    from app.model.views.reports import _pid

    for actor in ACTORS.values():
        if actor.pid:
            assert _pid(Origin(2, 5, "zswap_free_entry", actor.task_on(2))) == actor.pid_on(2), actor.id
