"""S: sys_swapoff() at the patch's base, spec section 4.3.

try_to_unuse() is a real loop: it swaps in every slot a PTE still refers to,
sleeps on locked folios and on writeback, frees the slots (which invalidates
their zswap entries), sweeps swap-cache-only slots, and retries until
inuse_pages is 0. Only then does swapoff kill the device ref and, last,
zswap_swapoff() frees the trees array.
"""
from __future__ import annotations

from app.model.kernel.engine import ActorDef, Blocked, Ctx, actor_def, step_def
from app.model.kernel.state import Pte
from app.model.actors.common import SWAPOFF_ACTOR, drop_swap_cache, folio_put, lock_folio, map_swapped_page
from app.model.actors.readahead import read_if_new, swapin_readahead

actor_def(ActorDef(SWAPOFF_ACTOR, "swapoff(2): sys_swapoff", "S1", "swapoff", 1234))


def _next_pte(c: Ctx) -> Pte | None:
    """The next PTE into the device that this pass of unuse_pte_range() has not visited: one per
    swapped page, a process with several pages has several."""
    visited = c.get("visited") or ()
    for pte in sorted(c.ptes.values(), key=lambda p: p.key):
        if pte.offset is not None and pte.key not in visited:  # type: ignore[operator]
            return pte
    return None


def _progress_possible(c: Ctx) -> bool:
    if any(p.offset is not None for p in c.ptes.values()):
        return True
    return any(
        f.in_swapcache and f.offset is not None for f in c.folios.values()
    )


@step_def("S1")
def s1(c: Ctx) -> None:
    c.set_swap(writeok=False)
    c.say("swapoff clears SWP_WRITEOK: no new pages will be swapped out to this device.")
    c.goto("S2")


@step_def("S2")
def s2(c: Ctx) -> None:
    c.set_swap(slot_cache_enabled=False)
    c.say("disable_swap_slots_cache_lock(): the per-cpu swap slot caches are drained and disabled.")
    c.goto("S3")


@step_def("S3")
def s3(c: Ctx) -> None:
    c.say("swapoff calls try_to_unuse() to bring every page back from this device.")
    c.goto("S3a")


@step_def("S3a")
def s3a(c: Ctx) -> None:
    if c.swap.inuse_pages == 0:
        c.say("inuse_pages is 0: nothing to do (goto success).")
        c.goto("S3m")
        return
    c.set("visited", ())
    c.say(f"inuse_pages is {c.swap.inuse_pages}: walk every mm's page tables for PTEs into this device.")
    c.goto("S3c")


@step_def("S3c")
def s3c(c: Ctx) -> None:
    pte = _next_pte(c)
    if pte is None:
        c.say("No more swap PTEs in this pass: sweep the swap map for slots still in use.")
        c.set("sweep_from", -1)
        c.goto("S3k")
        return
    c.set("visited", tuple(c.get("visited") or ()) + (pte.key,))  # type: ignore[operator]
    c.set("uo_pte", pte.key)
    c.set("uo_off", pte.offset)
    folio = c.swapcache_folio(pte.offset)  # type: ignore[arg-type]
    if folio is not None:
        c.set_folio(folio.addr, refs=folio.refs + 1)
        c.set("folio", folio.addr)
        c.say(f"Process {pte.process} maps slot {pte.offset}; swap_cache_get_folio() finds folio {folio.addr:#x} in the swap cache.")
        c.goto("S3f")
        return
    c.say(f"Process {pte.process} maps slot {pte.offset}; not in the swap cache, so swapoff swaps it in.")
    c.goto("S3d")


step_def("S3d")(
    swapin_readahead("uo_off", then="S3d2", say="swapin_readahead() -> __read_swap_cache_async(skip_if_exists = false).")
)
step_def("S3d2")(
    read_if_new(then="S3e", say_new="The folio is new: swap_read_folio() fills it.", say_old="No new folio to read into.")
)


@step_def("S3e")
def s3e(c: Ctx) -> None:
    if c.get("folio") is None:
        slot = c.slot(c.get("uo_off"))  # type: ignore[arg-type]
        if slot.count == 0:
            c.say("No folio and the slot's count is 0: continue with the next PTE.")
            c.goto("S3c")
            return
        # The error path: reinsert_swap_info() puts the device back on the lists with SWP_WRITEOK,
        # then reenable_swap_slots_cache_unlock() finds usable swap again.
        c.set_swap(writeok=True, slot_cache_enabled=True)
        c.say("No folio although the slot is in use: try_to_unuse() returns -ENOMEM and swapoff fails; "
              "reinsert_swap_info() makes the device writable again and the slot caches are re-enabled.")
        c.finish("swapoff failed: -ENOMEM")
        return
    c.say(f"swapoff has folio {c.get('folio'):#x} for slot {c.get('uo_off')}.")
    c.goto("S3f")


step_def("S3f")(lock_folio(then="S3g", say="folio_lock() on folio {folio} succeeds."))


def _wait_writeback(c: Ctx) -> None:
    folio = c.folios[c.get("folio")]  # type: ignore[index]
    if folio.writeback:
        raise Blocked("sleeping", f"sleeping in folio_wait_writeback on folio {folio.addr:#x}: its write I/O is in flight",
                          "writeback")
    c.might_sleep("folio_wait_writeback()")


@step_def("S3g")
def s3g(c: Ctx) -> None:
    _wait_writeback(c)
    c.say("folio_wait_writeback(): no write I/O in flight on the folio.")
    c.goto("S3h")


@step_def("S3h")
def s3h(c: Ctx) -> None:
    key, off, folio = c.get("uo_pte"), c.get("uo_off"), c.get("folio")
    name = key[0]  # type: ignore[index]
    count = map_swapped_page(c, key, off, folio)  # type: ignore[arg-type]
    if count is None:
        c.say(f"unuse_pte(): pte_same() fails, process {name}'s PTE was already resolved (by a fault); nothing to do.")
    else:
        c.say(f"unuse_pte(): process {name}'s PTE now maps folio {folio:#x}; swap_free() drops the slot's count to {count}.")  # type: ignore[arg-type]
    c.goto("S3i")


def _free_swap(c: Ctx, then: str) -> None:
    """folio_free_swap(): drop the folio from the swap cache if nothing else needs it."""
    folio = c.folios[c.get("folio")]  # type: ignore[index]
    if not folio.in_swapcache or folio.writeback:
        c.say("folio_free_swap(): nothing to free.")
        c.goto(then)
        return
    slot = c.slot(folio.offset)  # type: ignore[arg-type]
    if slot.count > 0:
        c.say(f"folio_free_swap(): slot {folio.offset} is still referenced (count {slot.count}); keep it.")
        c.goto(then)
        return
    c.say(f"folio_free_swap(): delete_from_swap_cache() drops SWAP_HAS_CACHE of slot {folio.offset}.")
    drop_swap_cache(c, folio.addr, then)


@step_def("S3i")
def s3i(c: Ctx) -> None:
    _free_swap(c, "S3j")


@step_def("S3j")
def s3j(c: Ctx) -> None:
    folio = c.get("folio")
    c.folio_unlock(folio)  # type: ignore[arg-type]
    folio_put(c, folio)  # type: ignore[arg-type]
    c.set("folio", None)
    c.say("folio_unlock(); folio_put(); on to the next PTE.")
    c.goto("S3c")


@step_def("S3k")
def s3k(c: Ctx) -> None:
    start = c.get("sweep_from")
    for slot in c.swap.slots:
        if slot.offset > start and (slot.count or slot.has_cache):  # type: ignore[operator]
            c.set("sweep_from", slot.offset)
            folio = c.swapcache_folio(slot.offset)
            if folio is None:
                c.say(f"find_next_to_unuse() finds slot {slot.offset} in use but no folio for it in the swap cache.")
                c.goto("S3k")
                return
            c.set_folio(folio.addr, refs=folio.refs + 1)
            c.set("folio", folio.addr)
            c.say(f"find_next_to_unuse() finds slot {slot.offset}; filemap_get_folio() returns folio {folio.addr:#x}.")
            c.goto("S3k2")
            return
    c.say("The sweep reached the end of the swap map.")
    c.goto("S3l")


step_def("S3k2")(lock_folio(then="S3k3", say="The sweep locks folio {folio}."))


@step_def("S3k3")
def s3k3(c: Ctx) -> None:
    _wait_writeback(c)
    c.say("folio_wait_writeback(): no write I/O in flight.")
    c.goto("S3k4")


@step_def("S3k4")
def s3k4(c: Ctx) -> None:
    _free_swap(c, "S3k5")


@step_def("S3k5")
def s3k5(c: Ctx) -> None:
    folio = c.get("folio")
    c.folio_unlock(folio)  # type: ignore[arg-type]
    folio_put(c, folio)  # type: ignore[arg-type]
    c.set("folio", None)
    c.say("folio_unlock(); folio_put(); continue the sweep.")
    c.goto("S3k")


@step_def("S3l")
def s3l(c: Ctx) -> None:
    if c.swap.inuse_pages == 0:
        c.say("inuse_pages is 0: every slot is free.")
        c.goto("S3m")
        return
    if not _progress_possible(c):
        # A retry now would find exactly what this pass found: the model lets
        # the loop wait until another CPU changes the swap map or the cache.
        raise Blocked(
            "waiting",
            f"looping in try_to_unuse(): inuse_pages is {c.swap.inuse_pages} but no PTE or swap-cache folio to work on yet",
        )
    c.set("visited", ())
    c.say(f"inuse_pages is still {c.swap.inuse_pages}: goto retry.")
    c.goto("S3c")


@step_def("S3m")
def s3m(c: Ctx) -> None:
    for name in ("visited", "uo_pte", "uo_off", "sweep_from", "folio", "allocated", "r_off", "r_skip", "si_ref", "new_folio"):
        c.set(name, None)
    c.say("smp_mb(); try_to_unuse() returns 0: every zswap entry of this device has been invalidated.")
    c.goto("S4")


def has_usable_swap(c: Ctx) -> bool:
    """has_usable_swap(): is swap_active_head non-empty? The model's one device left that list
    with SWP_WRITEOK at S1 (del_from_avail_list + plist_del), so only while it is writable."""
    return c.swap.writeok


@step_def("S4")
def s4(c: Ctx) -> None:
    usable = has_usable_swap(c)
    c.set_swap(slot_cache_enabled=usable)
    if usable:
        c.say("reenable_swap_slots_cache_unlock(): swap_slot_cache_enabled = has_usable_swap(), true.")
    else:
        c.say("reenable_swap_slots_cache_unlock(): swap_slot_cache_enabled = has_usable_swap(), which is false: "
              "this was the only swap device, so the per-cpu slot caches stay disabled.")
    c.goto("S5")


@step_def("S5")
def s5(c: Ctx) -> None:
    c.set_swap(users_live=False)
    c.say("percpu_ref_kill(&p->users): from now on get_swap_device() fails for this device.")
    c.goto("S5b")


@step_def("S5b")
def s5b(c: Ctx) -> None:
    for other in c.other_cpus():
        if other.id == c.cpu_id or other.state != "run":
            continue
        holds = c.lru.lock == other.id or any(t.lock == other.id for t in c.trees.values())
        if holds:
            raise Blocked(
                "sleeping",
                f"sleeping in synchronize_rcu(): CPU{other.id} holds a spinlock, a non-preemptible (RCU read-side) section",
            )
    c.might_sleep("synchronize_rcu()")
    c.say("synchronize_rcu() returns: every other CPU has passed a quiescent state (a preempted task counts).")
    c.goto("S5c")


@step_def("S5c")
def s5c(c: Ctx) -> None:
    if c.swap.refs:
        who = ", ".join(f"CPU{r}" for r in c.swap.refs)
        raise Blocked("sleeping", f"sleeping in wait_for_completion(&p->comp): {who} still holds get_swap_device()",
                          "completion")
    c.say("wait_for_completion(&p->comp): no get_swap_device() holder is left.")
    c.goto("S6")


@step_def("S6")
def s6(c: Ctx) -> None:
    c.say("Teardown under swapon_mutex, swap_lock and p->lock: p->swap_map = NULL and friends.")
    c.goto("S8")


@step_def("S8")
def s8(c: Ctx) -> None:
    array = c.zswap_trees
    if array is None:
        c.say("zswap_swapoff(): there are no trees.")
        c.goto("S9")
        return
    left = [addr for t in c.trees.values() if t.array == array for _, addr in t.rb]
    if left:
        c.violate("leak", left[0], "zswap_swapoff: WARN_ON_ONCE(!RB_EMPTY_ROOT(&trees[i].rbroot)); its entries are leaked")
        c.say("WARN_ON_ONCE: a tree is not empty; its entries are leaked.")
    c.free(array, "zswap_swapoff")
    c.zswap_trees = None
    c.mark("swap")
    c.say(
        f"zswap_swapoff(): kvfree(trees) frees the trees array at {array:#x}, with every tree->lock in it; "
        "zswap_trees[type] = NULL."
    )
    c.goto("S9")


@step_def("S9")
def s9(c: Ctx) -> None:
    c.set_swap(swap_map_freed=True)
    c.say("vfree(swap_map); exit_swap_address_space(); p->flags = 0. swapoff returns 0.")
    c.finish("swapoff returned 0")
