"""The second writeback path of the two-shrinker scenarios is the memcg shrinker,
zswap_shrinker_scan() from kswapd0's reclaim, not a second shrink_worker(): one pool has one
shrink_work and a work item never runs on two workers at once (issue 18, part 3)."""
from __future__ import annotations

import pytest

from app.model.explorer.symmetry import classes
from app.model.kernel.engine import ACTORS
from app.model.scenarios.initial import initial_world
from app.model.scenarios.loader import load_all
from app.model.scenarios.scenario import ScenarioFileError, parse_scenario
from app.model.views.reports import call_chain, report

TWO = ("two-shrinkers", "two-shrinkers-vs-swapoff")


@pytest.mark.parametrize("scenario_id", TWO)
def test_the_second_shrinker_is_the_memcg_shrinker_from_kswapd(scenario_id: str) -> None:
    world = initial_world(load_all()[scenario_id], "old")
    first, second = ACTORS[world.cpu(1).actor], ACTORS[world.cpu(2).actor]
    assert first.task_on(1) == "kworker/1:1" and second.task_on(2) == "kswapd0"
    assert first.pid != second.pid  # distinct tasks, distinct PIDs
    assert "zswap_shrinker_scan" in second.title and "zswap_shrinker_scan" not in first.title
    assert second.program == first.program == "writeback-old"  # the same steps: still interchangeable
    assert classes(world) == ((1, 2),)


def _crash(Drv, cpu: int):  # type: ignore[no-untyped-def]
    """CPU ``cpu`` caches the tree pointer and drops the LRU lock, swapoff (CPU3) runs to its end,
    then ``cpu`` takes tree->lock: the use-after-free at b:883."""
    d = Drv.of("two-shrinkers-vs-swapoff", "old").until(cpu, "O6").finish(3).step(cpu)
    (v,) = [v for v in d.world.violations if v.cpu == cpu]
    assert v.step_id == "O6"
    return d.world, v


def test_a_uaf_by_the_memcg_shrinker_reports_kswapd0_and_its_reclaim_path(Drv) -> None:  # type: ignore[no-untyped-def]
    world, v = _crash(Drv, 2)
    chain = call_chain(world, 2)
    below = chain[chain.index("list_lru_walk_one") + 1:]
    assert below[:5] == ["list_lru_shrink_walk", "zswap_shrinker_scan", "do_shrink_slab", "shrink_slab_memcg",
                         "shrink_slab"]
    assert below[-4:] == ["kswapd", "kthread", "ret_from_fork", "ret_from_fork_asm"]
    assert "shrink_worker" not in chain and "process_one_work" not in chain
    text = report(world, v)
    assert "by task kswapd0/77" in text and "Comm: kswapd0" in text
    assert "Workqueue:" not in text and " zswap_shrinker_scan+0x" in text and "mm/shrinker.c" in text


def test_a_uaf_by_shrink_worker_still_reports_the_kworker(Drv) -> None:  # type: ignore[no-untyped-def]
    world, v = _crash(Drv, 1)
    text = report(world, v)
    assert "by task kworker/1:1/57" in text and "Workqueue: zswap-shrink shrink_worker" in text
    assert "zswap_shrinker_scan" not in text


BASE = '''
id = "x"
title = "t"
summary = "s"
{cpus}
[world]
slots = [{{ offset = 3, owner = "A" }}]
entries = [{{ name = "E", slot = 3 }}]
lru = ["E"]
'''


def _file(*actors: str, extra: str = "") -> str:
    cpus = "".join(f'[[cpus]]\nid = {i}\nactor = "{a}"\n' + (extra if a == "store" else "") for i, a in enumerate(actors, 1))
    return BASE.format(cpus=cpus)


def test_two_shrink_worker_runs_are_refused_by_name() -> None:
    with pytest.raises(ScenarioFileError, match=r'cpus\[1\]\.actor: a second "writeback": the zswap pool has one '
                                               r"shrink_work.*use \"shrinker\""):
        parse_scenario(_file("writeback", "writeback"), "<two>")
    parse_scenario(_file("writeback", "shrinker"), "<ok>")


def test_kswapd0_cannot_run_on_two_cpus() -> None:
    with pytest.raises(ScenarioFileError, match=r'cpus\[2\]\.actor: "shrinker" and "store" run in kswapd0'):
        parse_scenario(_file("writeback", "shrinker", "store", extra='process = "Q"\nslot = 3\n'), "<kswapd>")


# -- three shrinkers: the memcg shrinker from a task's direct reclaim too (issue 23) -----------

def test_four_cpus_and_the_io_completion_are_accepted_and_a_fifth_cpu_is_refused() -> None:
    four = parse_scenario(_file("writeback", "shrinker", "reclaim", "swapoff", "io"), "<four>")
    assert [c.actor for c in four.cpus] == ["writeback", "shrinker", "reclaim", "swapoff", "io"]
    with pytest.raises(ScenarioFileError, match=r"cpus\[4\]: at most 4 CPUs besides the I/O completion"):
        parse_scenario(_file("writeback", "shrinker", "reclaim", "reclaim", "swapoff"), "<five>")
    with pytest.raises(ScenarioFileError, match=r"cpus"):  # six entries: the list itself is too long
        parse_scenario(_file("writeback", "shrinker", "reclaim", "reclaim", "swapoff", "io"), "<six>")


def test_direct_reclaimers_are_twins_of_shrink_worker_each_in_its_own_task() -> None:
    s = parse_scenario(_file("writeback", "shrinker", "reclaim", "reclaim", "io"), "<three>")
    world = initial_world(s, "new")
    actors = [ACTORS[c.actor] for c in world.cpus[:4]]
    assert {a.program for a in actors} == {"writeback-new"}  # the same steps: interchangeable
    assert classes(world) == ((1, 2, 3, 4),)
    assert [a.task_on(i) for i, a in enumerate(actors, 1)][2:] == ["usemem", "usemem"]
    assert len({a.pid_on(i) for i, a in enumerate(actors, 1)}) == 4  # four tasks, four PIDs
    assert "zswap_shrinker_scan" in actors[2].title and "direct reclaim" in actors[2].title


def test_a_uaf_by_a_direct_reclaimer_reports_its_task_and_the_allocation_that_reclaims(Drv) -> None:  # type: ignore[no-untyped-def]
    text = _file("reclaim", "swapoff", "io")
    d = Drv(parse_scenario(text, "<reclaim>"), "old").until(1, "O6").finish(2).step(1)
    (v,) = [v for v in d.world.violations if v.cpu == 1]
    chain = call_chain(d.world, 1)
    below = chain[chain.index("shrink_slab") + 1:]
    assert below[:6] == ["shrink_node_memcgs", "shrink_node", "shrink_zones", "do_try_to_free_pages",
                         "try_to_free_pages", "__perform_reclaim"]
    assert "do_anonymous_page" in below and below[-1] == "asm_exc_page_fault"
    assert "kswapd" not in chain and "shrink_worker" not in chain
    report_text = report(d.world, v)
    assert "by task usemem/1201" in report_text and "PID: 1201 Comm: usemem" in report_text
    assert "Workqueue:" not in report_text and "mm/vmscan.c" in report_text
