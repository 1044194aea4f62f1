"""The list_lru walker (__list_lru_walk_one), as called by shrink_memcg().

shrink_memcg() walks with nr_to_walk = 1: exactly one callback per node.
"""
from __future__ import annotations

from app.model.kernel.engine import Ctx, step_def
from app.model.actors.common import entry_name


@step_def("K1")
def k1_lock(c: Ctx) -> None:
    c.lru_lock()
    c.set("nr_to_walk", 1)
    c.say(f"{c.me} takes the LRU lock (nlru->lock) to walk the zswap LRU.")
    c.goto("K2")


@step_def("K2")
def k2_next(c: Ctx) -> None:
    if not c.lru.order:
        c.say(f"The LRU list is empty: {c.me} finds nothing (more) to write back.")
        if c.get("ret") is None:
            c.set("ret", "empty")
        c.goto("K5")
        return
    if c.get("nr_to_walk") == 0:
        c.say(f"nr_to_walk is 0: {c.me} has made its one attempt and stops walking.")
        c.goto("K5")
        return
    item = c.lru.order[0]
    c.set("nr_to_walk", 0)
    c.set("item", item)
    c.say(f"{c.me} takes the LRU head, {entry_name(c, item)}, and decrements nr_to_walk to 0.")
    c.goto("K3")


@step_def("K3")
def k3_isolate(c: Ctx) -> None:
    first = c.actor.callback
    c.say(f"{c.me} calls the isolate callback shrink_memcg_cb() with the LRU lock held.")
    c.call(first, "K4")


@step_def("K4")
def k4_switch(c: Ctx) -> None:
    ret = c.get("ret")
    if ret == "LRU_REMOVED_RETRY":
        c.say("shrink_memcg_cb returned LRU_REMOVED_RETRY: the walker counts one item removed and restarts.")
    else:
        c.say(f"shrink_memcg_cb returned {ret}: the walker restarts from the head.")
    c.goto("K2")


@step_def("K5")
def k5_unlock(c: Ctx) -> None:
    c.lru_unlock()
    wb = c.get("wb")
    ret = c.get("ret")
    if ret == "empty":
        result = "nothing to write back (LRU empty)"
    elif wb == "0":
        result = "written back: LRU_REMOVED_RETRY"
    elif wb is None:
        result = f"{ret} (entry was invalidated: skipped)"
    else:
        result = f"{ret} ({wb})"
    c.say(f"{c.me} drops the LRU lock; shrink_memcg() is done: {result}.")
    c.finish(result)
