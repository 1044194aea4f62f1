"""Z: the memcg shrinker, zswap_shrinker_scan(), called from reclaim (kswapd0).

The second writeback path that can really run at the same time as shrink_worker(): one zswap
pool has one shrink_work, and a work item never runs on two workers at once, so two concurrent
shrink_worker() runs cannot happen (research: v6.8:1076 INIT_WORK, the only queue_work in
zswap_store). zswap_shrinker_scan() (b:602, a line number derived from v6.8:595) walks the same
list_lru with the same callback: `list_lru_shrink_walk(&pool->list_lru, sc, &shrink_memcg_cb,
&encountered_page_in_swapcache)`, an inline wrapper of list_lru_walk_one(). So each writeback
actor has a twin here that runs its very steps (the walker K1-K5 and the callback), told apart
only by its title, its task (kswapd0, the same task as the store actor's reclaim) and the callers
below list_lru_walk_one() in its call trace.

What the model leaves out of zswap_shrinker_scan() (docs/model.md says why): the
zswap.shrinker_enabled and memcg writeback checks and the nr_protected check are taken to pass,
sc->nr_to_scan is 1 (one callback, as shrink_memcg()'s nr_to_walk), and the
encountered_page_in_swapcache flag only changes its return value (SHRINK_STOP). Before patch 1/3
the flag's branch also returned LRU_SKIP (writeback_pre.py): that code's memcg shrinker runs one
step of its own and is no twin.
"""
from __future__ import annotations

from app.model.kernel.engine import ACTORS, ActorDef, actor_def
from app.model.actors import variants, writeback_new, writeback_old, writeback_pre  # noqa: F401  (the actors twinned)

SCAN_TASK = "kswapd0"  # the store actor's reclaim is kswapd0 too: one task, one PID
SCAN_PID = 77

# Below list_lru_walk_one(), innermost first: zswap_shrinker_scan() from kswapd's balance_pgdat()
# (without MGLRU: shrink_node_memcgs() -> shrink_slab(); a memcg's shrinkers through
# shrink_slab_memcg(); do_shrink_slab() and shrink_slab() are in mm/shrinker.c since v6.7).
SCAN_CALLERS: tuple[tuple[str, str], ...] = (
    ("list_lru_walk_one", "list_lru_shrink_walk"),
    ("list_lru_shrink_walk", "zswap_shrinker_scan"),
    ("zswap_shrinker_scan", "do_shrink_slab"),
    ("do_shrink_slab", "shrink_slab_memcg"),
    ("shrink_slab_memcg", "shrink_slab"),
    ("shrink_slab", "shrink_node_memcgs"),
    ("shrink_node_memcgs", "shrink_node"),
    ("shrink_node", "kswapd_shrink_node"),
    ("kswapd_shrink_node", "balance_pgdat"),
)


def twin_id(writeback_id: str) -> str:
    """writeback-old -> shrinker-old, writeback-new-no-rotate -> shrinker-new-no-rotate."""
    return "shrinker-" + writeback_id.removeprefix("writeback-")


def _twins(kind: str, words: str, task: str, pid: int, callers: tuple[tuple[str, str], ...],
           pid_per_cpu: bool = False) -> None:
    """Register a twin of every writeback actor (its code variants too) as actor kind ``kind``,
    titled "WORDS: zswap_shrinker_scan (old code)", ...: the same steps, another task."""
    for wb in [a for a in ACTORS.values() if a.id.startswith("writeback-")]:
        actor_def(
            ActorDef(
                kind + "-" + wb.id.removeprefix("writeback-"),
                wb.title.replace("LRU writeback", words).replace("shrink_memcg_cb", "zswap_shrinker_scan"),
                wb.entry, task, pid, callback=wb.callback, overrides=wb.scan_overrides + wb.overrides,
                # Steps that read the callback's arg differ (before patch 1/3): then it is no twin, and the
                # explorer's symmetry does not treat it as interchangeable with shrink_worker().
                same_as="" if wb.scan_overrides else wb.id,
                callers=callers, blob=wb.blob, pid_per_cpu=pid_per_cpu,
            )
        )


_twins("shrinker", "memcg shrinker", SCAN_TASK, SCAN_PID, SCAN_CALLERS)


# The same memcg shrinker from a task's direct reclaim: a task whose page allocation finds too
# little free memory reclaims itself (mm/page_alloc.c __alloc_pages_slowpath() ->
# __alloc_pages_direct_reclaim() -> __perform_reclaim() -> mm/vmscan.c try_to_free_pages() ->
# do_try_to_free_pages() -> shrink_zones() -> shrink_node(), then as kswapd: shrink_node_memcgs()
# -> shrink_slab() -> ... -> zswap_shrinker_scan()). shrink_slab() takes no lock around the
# shrinkers since v6.7 (SRCU), so any number of tasks in direct reclaim run zswap_shrinker_scan()
# at once, each on its own CPU, beside kswapd0 and shrink_worker(). The task here is a process
# that faults in anonymous memory ("usemem", one process per CPU: PID 1200 + the CPU).
RECLAIM_TASK = "usemem"
RECLAIM_PID = 1200
RECLAIM_CALLERS: tuple[tuple[str, str], ...] = SCAN_CALLERS[:6] + (
    ("shrink_node", "shrink_zones"),
    ("shrink_zones", "do_try_to_free_pages"),
    ("do_try_to_free_pages", "try_to_free_pages"),
    ("try_to_free_pages", "__perform_reclaim"),
    ("__perform_reclaim", "__alloc_pages_direct_reclaim"),
    ("__alloc_pages_direct_reclaim", "__alloc_pages_slowpath"),
    ("__alloc_pages_slowpath", "__alloc_pages"),
    ("__alloc_pages", "alloc_pages_mpol"),
    ("alloc_pages_mpol", "vma_alloc_folio"),
    ("vma_alloc_folio", "alloc_anon_folio"),
    ("alloc_anon_folio", "do_anonymous_page"),
    ("do_anonymous_page", "handle_pte_fault"),
)


_twins("reclaim", "direct reclaim", RECLAIM_TASK, RECLAIM_PID, RECLAIM_CALLERS, pid_per_cpu=True)
