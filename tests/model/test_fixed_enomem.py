"""Spec 6.3 (b): the UAF-A interleaving under the fixed code is safe and ends in -ENOMEM / LRU_RETRY."""
from __future__ import annotations

from app.model.kernel.engine import enabled, step
from app.model.scenarios.replay import all_violations, replay
from app.model.scenarios.loader import load_all

SCENARIO = "lru-writeback-vs-swapoff"


def _uaf_a_schedule() -> str:
    return next(t for t in load_all()[SCENARIO].tours if t.name == "uaf-a").schedule


def _run_alone(world, cpu):  # type: ignore[no-untyped-def]
    executed = []
    while cpu in enabled(world):
        executed.append(world.cpu(cpu).pc)
        world = step(world, cpu)
    return world, executed


def test_same_schedule_under_new_code_does_not_crash() -> None:
    run = replay(load_all()[SCENARIO], "new", _uaf_a_schedule())
    assert run.world.violations == ()
    assert all(c.state != "crashed" for c in run.world.cpus)
    assert run.world.cpu(2).result == "swapoff returned 0"
    # swapoff freed the trees array while CPU1 was preempted ...
    trees = run.worlds[0].zswap_trees
    assert run.world.heap_object(trees).freed
    # ... and CPU1 never took a tree pointer: the new code has no tree before the folio.
    assert run.world.cpu(1).local("tree") is None


def test_cpu1_alone_to_completion_returns_enomem_lru_retry() -> None:
    run = replay(load_all()[SCENARIO], "new", _uaf_a_schedule())
    world, executed = _run_alone(run.world, 1)
    cpu1 = world.cpu(1)
    assert cpu1.state == "done"
    assert "LRU_RETRY" in cpu1.result and "-ENOMEM" in cpu1.result
    assert all_violations(world) == []
    assert enabled(world) == []
    # get_swap_device() failed (R1 after the ref kill): no folio, no tree access at all.
    assert "R2" not in executed
    assert not {"N8", "N9", "N10", "N11"} & set(executed)
    assert world.swap.users_live is False


def test_all_cpu1_steps_of_the_new_code_avoid_the_tree() -> None:
    run = replay(load_all()[SCENARIO], "new", _uaf_a_schedule())
    world, executed = _run_alone(run.world, 1)
    cpu1_steps = [sid for cpu, sid, _ in run.steps if cpu == 1] + executed
    assert cpu1_steps[:7] == ["K1", "K2", "K3", "N1", "N2", "N3", "N4"]
    assert not [s for s in cpu1_steps if s.startswith("O")]  # really the new code
    # The entry stayed linked (rotated, not isolated) until invalidation unlinked and freed it.
    entry = run.worlds[0].entries[0].addr
    after_n2 = run.worlds[[sid for _, sid, _ in run.steps].index("N2") + 1]
    assert after_n2.entry(entry).on_lru
    assert world.heap_object(entry).freed and world.heap_object(entry).free.cpu == 2
    assert entry not in world.lru.order


def test_fixed_enomem_tour_agrees() -> None:
    s = load_all()[SCENARIO]
    t = next(t for t in s.tours if t.name == "fixed-enomem")
    run = replay(s, t.code, t.schedule)
    assert all_violations(run.world) == []
    assert "LRU_RETRY" in run.world.cpu(1).result and "-ENOMEM" in run.world.cpu(1).result
    assert run.world.cpu(2).result == "swapoff returned 0"
