"""Locals that are dead after a step, so the explorer does not tell apart states
that differ only in values nobody will read again.

Each entry is a step id and the locals it is the last reader of (on every path
leaving it). A value that is read later must not be listed; tests replay every
tour and explore every scenario with this table in force.
"""
from __future__ import annotations

DEAD_AFTER: dict[str, tuple[str, ...]] = {
    # __read_swap_cache_async returns: its own temporaries are gone.
    "R9": ("r_skip", "si_ref", "new_folio", "r_off"),
    # the caller has looked at folio_was_allocated
    "O14": ("allocated",),
    "N7": ("allocated",),
    "S3d2": ("allocated",),
    "L3b": ("allocated",),
    # shrink_memcg_cb's frame is popped when it returns to the walker
    "O23": ("entry", "tree", "swpoffset", "folio"),
    "N23": ("entry", "tree", "swpentry", "folio"),
    "O1": ("item",),
    "N1": ("item",),
    # last uses in the fixed code: after these nothing reads the value again
    "N10": ("swpentry",),
    "N10x": ("tree",),
    "N17": ("entry",),
    "N18": ("tree",),
    # last uses in the old code
    "O21": ("entry",),
    "O22": ("tree",),
    # the folio reference is dropped
    "O17c": ("folio",),
    "N21": ("folio",),
    # unuse_pte_range moves on to the next PTE
    "S3j": ("uo_pte", "uo_off"),
}
