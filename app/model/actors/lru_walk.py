"""The list_lru walker (__list_lru_walk_one), as called by shrink_memcg() and zswap_shrinker_scan().

Both walk with nr_to_walk = 1: exactly one callback per node.

The cursor is real: K2 is `list_for_each_safe(item, n, &l->list)`, the macro
`for (pos = (head)->next, n = pos->next; !list_is_head(pos, (head)); pos = n, n = pos->next)`.
Its first part runs at the start and after every `goto restart` (K4 on LRU_RETRY and
LRU_REMOVED_RETRY): item = the head's next, n = item->next, a read of the first entry's
`lru.next` under the LRU lock. Its increment runs when the loop goes on, which for zswap's
callback is only after LRU_SKIP: item = n, n = item->next, a read of the entry that holds the
list node `n`, read back before the callback dropped the LRU lock. Each read is a checked access
to the entry holding that node (on a freed entry: a KASAN report in __list_lru_walk_one). The
model keeps `item` as the entry's address (O1's container_of() is then the identity) and `n` as
the address of the list node, `&entry->lru`.
"""
from __future__ import annotations

from app.model.kernel.engine import Ctx, step_def
from app.model.actors.common import ENTRY_FIELDS, entry_name, touch_entry

LRU_NODE = ENTRY_FIELDS["lru"][0]  # offsetof(struct zswap_entry, lru): a list node's entry is at node - this


@step_def("K1")
def k1_lock(c: Ctx) -> None:
    c.lru_lock()
    c.set("nr_to_walk", 1)
    c.say(f"{c.me} takes the LRU lock (nlru->lock) to walk the zswap LRU.")
    c.goto("K2")


def _next_node(c: Ctx, item: int) -> int | None:
    """`n = item->next`: a read of item's lru.next (a checked access: item may have been freed).
    The node after item on the LRU, None for the list head; an unlinked entry's list_del_init()
    left its node pointing at itself."""
    touch_entry(c, item, "lru.next")
    order = c.lru.order
    if item not in order:
        return item + LRU_NODE
    i = order.index(item)
    return order[i + 1] + LRU_NODE if i + 1 < len(order) else None


def _node_name(c: Ctx, node: int | None) -> str:
    return "the list head" if node is None else entry_name(c, node - LRU_NODE)


@step_def("K2")
def k2_next(c: Ctx) -> None:
    if c.get("continue"):
        # The loop's increment (after LRU_SKIP): item = n; n = item->next.
        c.set("continue", None)
        node = c.get("n")  # kept until the read below succeeds: at a crash the stage shows it dangling
        if node is None:
            c.say(f"{c.me} moves its cursor on: item = n, the list head, so the walk is over.")
            c.goto("K5")
            return
        item = node - LRU_NODE  # type: ignore[operator]
        nxt = _next_node(c, item)
        verb = "moves its cursor on"
    else:
        # The loop's start, or `goto restart`: item = the head's next; n = item->next.
        if not c.lru.order:
            c.say(f"The LRU list is empty: {c.me} finds nothing (more) to write back.")
            if c.get("ret") is None:
                c.set("ret", "empty")
            c.goto("K5")
            return
        item = c.lru.order[0]
        nxt = _next_node(c, item)
        verb = "takes the LRU head"
    if c.get("nr_to_walk") == 0:
        c.set("n", None)  # the loop is left: the cursor is dead
        c.say(f"{c.me} {verb}, {entry_name(c, item)}, but nr_to_walk is 0: it has made its one attempt and stops walking.")
        c.goto("K5")
        return
    c.set("nr_to_walk", 0)
    c.set("item", item)
    c.set("n", nxt)  # the cursor, kept across the callback (None: the list head)
    c.say(f"{c.me} {verb}, {entry_name(c, item)}, reads its lru.next into the cursor n ({_node_name(c, nxt)}) "
          "and decrements nr_to_walk to 0.")
    c.goto("K3")


@step_def("K3")
def k3_isolate(c: Ctx) -> None:
    first = c.actor.callback
    c.say(f"{c.me} calls the isolate callback shrink_memcg_cb() with the LRU lock held.")
    c.call(first, "K4")


@step_def("K4")
def k4_switch(c: Ctx) -> None:
    ret = c.get("ret")
    if ret == "LRU_SKIP":
        # case LRU_SKIP: break; -> the loop goes on with the cursor n read before the callback.
        c.set("continue", True)
        node = c.get("n")
        c.say(f"shrink_memcg_cb returned LRU_SKIP: the walker goes on from its cursor n ({_node_name(c, node)}), "  # type: ignore[arg-type]
              "read before the callback dropped the LRU lock.")
        c.goto("K2")
        return
    # goto restart: the cursor is read again from the head, so the old one is dead (not kept).
    c.set("n", None)
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
    caller = "zswap_shrinker_scan()" if c.actor.callers else "shrink_memcg()"  # the memcg shrinker's own callers
    c.say(f"{c.me} drops the LRU lock; {caller} is done: {result}.")
    c.finish(result)
