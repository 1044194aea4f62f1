"""W-pre: shrink_memcg_cb() before patch 1/3 of the series (mm/zswap.c at 00e90b9b5417, "p:" lines).

Patch 1/3, "mm/zswap: don't return LRU_SKIP if we have dropped lru lock" (upstream 27d3969b47cc,
v2 posting Message-Id 20240126-zswap-writeback-race-v2-1-b10479847099@bytedance.com), is one hunk
of mm/zswap.c, index 00e90b9b5417..81cb3790e0dd, @@ -901,10 +901,8 @@: before it, a writeback
that failed with -EEXIST in the memcg shrinker's context (encountered_page_in_swapcache != NULL)
set ret = LRU_SKIP (p:904-907), although shrink_memcg_cb() had dropped the LRU lock at p:880.
__list_lru_walk_one() then went on with the cursor n that list_for_each_safe() had read before the
callback (lru_walk.py): an entry another CPU may have unlinked and freed meanwhile.

Nothing else differs between the two blobs, so this code is the old code (writeback_old.py) with
one step replaced, and only where the callback gets an arg: shrink_memcg() (shrink_worker) passes
NULL and never returns LRU_SKIP, zswap_shrinker_scan() passes &encountered_page_in_swapcache. Its
lines after the hunk are two lower in the base: kernel_lines.toml maps every b: line to its p:
line from the hunk.
"""
from __future__ import annotations

from app.model.kernel.engine import ActorDef, Ctx, actor_def, step_def
from app.model.actors.writeback_old import WB_PID, WB_TASK, putback

PRE_CODE = "pre-lru-skip-fix"
BLOB = "p"

actor_def(
    ActorDef(
        f"writeback-{PRE_CODE}", "LRU writeback: shrink_memcg_cb (before patch 1/3)", "K1", WB_TASK, WB_PID,
        callback="O1", scan_overrides=(("O19", "O19p"),), blob=BLOB,
    )
)


@step_def("O19p")
def o19p(c: Ctx) -> None:
    """O19 with an arg: zswap_lru_putback(), ret = LRU_RETRY, then the -EEXIST test of p:904."""
    putback(c)
    if c.get("wb") == "-EEXIST":
        c.say_after("The folio was already in the swap cache and this is the memcg shrinker (encountered_page_in_swapcache "
                    "is not NULL): the test of p:904 holds.")
        c.goto("O19s")
        return
    c.goto("O21")


@step_def("O19s")
def o19s(c: Ctx) -> None:
    c.set("ret", "LRU_SKIP")
    c.say(
        f"ret = LRU_SKIP and *encountered_page_in_swapcache = true: a sign of shrinking into the warm region. But {c.me} "
        "dropped the LRU lock at p:880, and LRU_SKIP tells the walker to go on from its cursor n, read before that "
        "(patch 1/3 removes this line: LRU_RETRY restarts from the head)."
    )
    c.goto("O21")
